/** Trace readers: the Azure LLM inference traces as shipped, CSVs of timestamps, and malformed files. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContinuumError } from '../errors.js';
import { parseTraceCsv, readTraceFile } from './trace.js';

const TRACES = new URL('../../../shared/traces/', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'continuum-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function invalid(fn: () => unknown): ContinuumError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ContinuumError);
    expect((err as ContinuumError).code).toBe('CONTINUUM_ERR_INVALID_TRACE');
    return err as ContinuumError;
  }
  throw new Error('expected CONTINUUM_ERR_INVALID_TRACE');
}

describe('Azure LLM inference traces', () => {
  it.each([
    ['AzureLLMInferenceTrace_code.csv', 8819, 3_435_950],
    ['AzureLLMInferenceTrace_conv.csv', 19_366, 3_501_722],
  ])('%s: one arrival per row, sorted, from 0 to the trace length', (file, rows, lastMs) => {
    const path = new URL(file, TRACES).pathname;
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines.length - 1).toBe(rows);
    const arrivals = readTraceFile(path);
    expect(arrivals.length).toBe(rows);
    expect(arrivals[0]).toBe(0);
    for (let i = 1; i < arrivals.length; i++) expect(arrivals[i] as number).toBeGreaterThanOrEqual(arrivals[i - 1] as number);
    expect(arrivals[arrivals.length - 1] as number).toBeCloseTo(lastMs, -1);
  });

  it('reads the seven fraction digits: the conv trace’s second request comes 4.3145790 s after the first', () => {
    // 2023-11-16 18:15:46.6805900 and 18:15:50.9951690.
    const arrivals = readTraceFile(new URL('AzureLLMInferenceTrace_conv.csv', TRACES).pathname);
    expect(arrivals[1] as number).toBeCloseTo(4314.579, 2);
  });

  it('divides the offsets by the speedup', () => {
    const path = new URL('AzureLLMInferenceTrace_code.csv', TRACES).pathname;
    const plain = readTraceFile(path);
    const fast = readTraceFile(path, { speedup: 60 });
    expect(fast.length).toBe(plain.length);
    expect(fast[fast.length - 1] as number).toBeCloseTo((plain[plain.length - 1] as number) / 60, 9);
    expect(fast[100] as number).toBeCloseTo((plain[100] as number) / 60, 9);
  });
});

describe('CSV traces', () => {
  it('takes seconds without a header, in any order, and returns sorted ms offsets', () => {
    expect(parseTraceCsv('12.5,a\n10\n11.25,b,c\n', 'x.csv')).toEqual(Float64Array.from([0, 1250, 2500]));
  });

  it('takes ISO date-times with zones and quoted fields', () => {
    const text = 'time,value\n"2024-03-01T10:00:00Z",1\n2024-03-01T11:00:00.5+01:00,2\n2024-03-01 10:00:01,3\r\n';
    expect(parseTraceCsv(text, 'x.csv')).toEqual(Float64Array.from([0, 500, 1000]));
  });

  it('names the line of a malformed row', () => {
    const err = invalid(() => parseTraceCsv('TIMESTAMP,a\n2023-11-16 18:15:46.68,1\n\n2023-11-16 18:15:47,2\nnot a time,3\n', 't.csv'));
    expect(err.message).toContain('t.csv line 5');
    expect(err.message).toContain("'not a time'");
    expect(err.details).toMatchObject({ line: 5 });
    expect(invalid(() => parseTraceCsv('1.5\n2023-11-16 18:15:47\n', 't.csv')).message).toContain('line 2');
    expect(invalid(() => parseTraceCsv('2023-02-28 00:00:00\n2023-02-30 00:00:00\n', 't.csv')).message).toContain('line 2');
    expect(invalid(() => parseTraceCsv('header\nsecond header\n1\n', 't.csv')).message).toContain('line 2');
    expect(invalid(() => parseTraceCsv('TIMESTAMP\n', 't.csv')).message).toContain('no rows');
  });

  it('enforces the row and size limits', () => {
    expect(invalid(() => parseTraceCsv('1\n2\n3\n', 't.csv', 2)).message).toContain('more than 2 rows');
    const path = join(dir, 'big.csv');
    writeFileSync(path, '1\n2\n3\n4\n');
    expect(invalid(() => readTraceFile(path, { maxBytes: 4 })).message).toContain('limit of 4');
    expect(readTraceFile(path, { maxRows: 4 }).length).toBe(4);
  });

  it('reports a missing file as not found', () => {
    expect(() => readTraceFile(join(dir, 'missing.csv'))).toThrow(expect.objectContaining({ code: 'CONTINUUM_ERR_NOT_FOUND' }));
  });
});
