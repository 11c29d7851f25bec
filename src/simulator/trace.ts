/**
 * Workload traces: CSV files whose first column is each request's arrival time, such as the Azure
 * LLM inference traces (Patel et al., "Splitwise", ISCA 2024; header
 * `TIMESTAMP,ContextTokens,GeneratedTokens`, times like `2023-11-16 18:17:03.9799600`). The first
 * column holds either date-times (ISO 8601 with `T` or a space, any number of fraction digits,
 * optional zone; no zone reads as UTC, only differences matter) or numbers of seconds. A first
 * line that is neither is a header. Arrivals come out as ms offsets from the earliest, sorted.
 */
import { readFileSync, statSync } from 'node:fs';
import { ContinuumError } from '../errors.js';
import { compressTime, type ArrivalTimes } from './workload.js';

/** Limits and time compression of {@link readTraceFile}. */
export interface TraceReadOptions {
  /** Offsets are divided by this (time compression). @default 1 */
  readonly speedup?: number;
  /** Largest file read. @default 256 MiB */
  readonly maxBytes?: number;
  /** Most data rows. @default 5,000,000 */
  readonly maxRows?: number;
}

/** The defaults of {@link TraceReadOptions}. */
const TRACE_LIMITS = { maxBytes: 256 * 1024 * 1024, maxRows: 5_000_000 } as const;

const SECONDS = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,12}))?(Z|[+-]\d{2}:?\d{2})?$/;

type TimeKind = 'date-time' | 'seconds';

const EXPECTED: Readonly<Record<TimeKind | 'any', string>> = {
  'date-time': 'a date-time like 2023-11-16 18:17:03.98, as in the rows before',
  seconds: 'a number of seconds, as in the rows before',
  any: 'a date-time like 2023-11-16 18:17:03.98 or a number of seconds',
};

/** Reads a timestamp as ms (epoch ms for date-times), or undefined when it is not one of `kind`. */
function parseTimestamp(field: string, kind: TimeKind): number | undefined {
  if (kind === 'seconds') return SECONDS.test(field) ? Number(field) * 1000 : undefined;
  const m = DATE_TIME.exec(field);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const epochMs = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 2023-02-30 over to March: a date that does not round-trip does not exist.
  const check = new Date(epochMs);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return undefined;
  const fractionMs = m[7] === undefined ? 0 : Number(`0.${m[7]}`) * 1000;
  return epochMs + fractionMs - zoneOffsetMs(m[8]);
}

function zoneOffsetMs(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z') return 0;
  const digits = zone.replace(':', '');
  const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5));
  return (zone.startsWith('-') ? -1 : 1) * minutes * 60_000;
}

function kindOf(field: string): TimeKind | undefined {
  if (parseTimestamp(field, 'seconds') !== undefined) return 'seconds';
  if (parseTimestamp(field, 'date-time') !== undefined) return 'date-time';
  return undefined;
}

function firstField(line: string): string {
  const comma = line.indexOf(',');
  const field = (comma < 0 ? line : line.slice(0, comma)).trim();
  return field.length >= 2 && field.startsWith('"') && field.endsWith('"') ? field.slice(1, -1).trim() : field;
}

function invalid(source: string, message: string, line?: number): ContinuumError {
  const where = line === undefined ? source : `${source} line ${line}`;
  return new ContinuumError('CONTINUUM_ERR_INVALID_TRACE', `${where}: ${message}`, { details: { source, line } });
}

/**
 * Parses a trace CSV's text into arrival offsets (ms from the earliest arrival, ascending).
 * `source` names the trace in error messages. Throws CONTINUUM_ERR_INVALID_TRACE naming the line
 * of a row whose first field is not a timestamp of the same kind as the first row's, when there
 * are no rows, or when there are more than `maxRows`.
 */
export function parseTraceCsv(text: string, source: string, maxRows: number = TRACE_LIMITS.maxRows): ArrivalTimes {
  const lines = text.split('\n');
  let kind: TimeKind | undefined;
  let headerAllowed = true;
  const times: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    const field = firstField(line);
    const rowKind = kind ?? kindOf(field);
    const t = rowKind === undefined ? undefined : parseTimestamp(field, rowKind);
    if (t === undefined || !Number.isFinite(t)) {
      // Only the first line may be a header.
      if (headerAllowed) {
        headerAllowed = false;
        continue;
      }
      throw invalid(source, `'${field.slice(0, 40)}' is not a timestamp (expected ${EXPECTED[rowKind ?? 'any']})`, i + 1);
    }
    kind = rowKind;
    headerAllowed = false;
    if (times.length === maxRows) throw invalid(source, `more than ${maxRows} rows; split the trace or raise the row limit`);
    times.push(t);
  }
  if (times.length === 0) throw invalid(source, 'no rows with arrival times');
  const sorted = Float64Array.from(times).sort();
  const first = sorted[0] as number;
  return sorted.map((t) => t - first);
}

/**
 * Reads a trace CSV file (see the module comment) into arrival offsets in ms, divided by
 * `speedup`. Throws CONTINUUM_ERR_INVALID_TRACE for a malformed file or one over the limits,
 * CONTINUUM_ERR_NOT_FOUND when there is no such file.
 */
export function readTraceFile(path: string, options: TraceReadOptions = {}): ArrivalTimes {
  const maxBytes = options.maxBytes ?? TRACE_LIMITS.maxBytes;
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new ContinuumError('CONTINUUM_ERR_NOT_FOUND', `trace file ${path} cannot be read`, { cause: err, details: { path } });
  }
  if (size > maxBytes) throw invalid(path, `${size} bytes, more than the limit of ${maxBytes}`);
  const arrivals = parseTraceCsv(readFileSync(path, 'utf8'), path, options.maxRows);
  return options.speedup === undefined ? arrivals : compressTime(arrivals, options.speedup);
}
