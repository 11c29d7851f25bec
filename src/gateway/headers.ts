/** Header access shared by the REST and gRPC front ends. */

/** A header's value (the first, when repeated), as Node's HTTP modules hand headers over. */
export function headerValue(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}
