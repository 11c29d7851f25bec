/**
 * HTTP helpers the end-to-end suites share: the management API as JSON, an OIP JSON inference, a
 * model push, and polling until a condition holds.
 */
import { request } from 'undici';

/** What a test reads of an OIP answer. */
export interface Answer {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly body: { model_version?: string; outputs?: { name: string; data: number[] }[]; error?: string; code?: string };
}

/** An OIP REST JSON inference against `baseUrl`. */
export async function inferJson(baseUrl: string, model: string, body: unknown, headers: Readonly<Record<string, string>> = {}): Promise<Answer> {
  const res = await request(`${baseUrl}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const answer = (await res.body.json()) as Answer['body'];
  const retry = res.headers['retry-after'];
  return { status: res.statusCode, retryAfter: typeof retry === 'string' ? retry : undefined, body: answer };
}

/** A management API call; the JSON answer (undefined for an empty one). */
export async function api<T>(baseUrl: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await request(`${baseUrl}/api/v1${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

/** Pushes ONNX bytes as a new version of `model`; returns the version. */
export async function pushModel(baseUrl: string, model: string, bytes: Uint8Array): Promise<string> {
  const res = await request(`${baseUrl}/api/v1/models/${model}/versions`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  const body = (await res.body.json()) as { version?: string; error?: string };
  if (res.statusCode !== 201 || body.version === undefined) throw new Error(`push of ${model} failed: ${res.statusCode} ${JSON.stringify(body)}`);
  return body.version;
}

/** Polls `probe` every 100 ms until `ok` holds; fails with the last value after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
