/**
 * How CLI commands print: aligned text tables for people, or with `--json` the raw API value
 * as indented JSON for scripts (as kubectl's `-o json`).
 */

/** Where a command writes its result (stdout in the real CLI, a buffer in tests). */
export interface Output {
  write(text: string): void;
}

/** The process's standard output. */
export const stdoutOutput: Output = { write: (text) => void process.stdout.write(text) };

/** One column of a text table. */
export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string;
}

/** Rows as a table with a header line, columns padded to their widest cell; "(none)" when empty. */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  if (rows.length === 0) return '(none)\n';
  const cells = [columns.map((c) => c.header), ...rows.map((row) => columns.map((c) => c.value(row)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => (line[i] ?? '').length)));
  return cells.map((line) => line.map((cell, i) => (i + 1 === line.length ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}

/** `Key:  value` lines with the values aligned. */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([key]) => key.length)) + 1;
  return fields.map(([key, value]) => `${`${key}:`.padEnd(width)}  ${value}`).join('\n') + '\n';
}

/** `k=v,k2=v2`, or `-` for none. */
export function formatLabels(labels: Readonly<Record<string, string>>): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}

/** Bytes in binary units (KiB, MiB, GiB) with one decimal. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit + 1 < units.length) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit] ?? ''}`;
}

/** Prints `value` as JSON when `json` is set, else the text `render` makes of it. */
export function printResult<T>(out: Output, json: boolean, value: T, render: (value: T) => string): void {
  out.write(json ? `${JSON.stringify(value, null, 2)}\n` : render(value));
}
