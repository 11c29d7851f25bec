import { describe, expect, it } from 'vitest';
import {
  applyDatabusMetadata,
  decodeDatabusData,
  decodeJsonSample,
  EMPTY_DATABUS_STATE,
  mappedValues,
  parseJsonPayload,
  toInferRequest,
  type DatabusState,
  type Decoded,
  type NamedSample,
} from './formats.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const mapping = { fields: ['temp', 'pressure'], input: 'input', timestampField: 'ts' };

function ok<T>(d: Decoded<T>): T {
  if (!d.ok) throw new Error(`refused: ${d.reason} ${d.detail}`);
  return d.value;
}

describe('parseJsonPayload', () => {
  it('refuses oversized, deeply nested and malformed messages with their reason', () => {
    expect(parseJsonPayload(bytes('{"a":1}'), { maxBytes: 3, maxDepth: 4 })).toMatchObject({ ok: false, reason: 'too_large' });
    expect(parseJsonPayload(bytes('[[[[[1]]]]]'), { maxBytes: 100, maxDepth: 4 })).toMatchObject({ ok: false, reason: 'too_deep' });
    expect(parseJsonPayload(bytes('{"a":'), { maxBytes: 100, maxDepth: 4 })).toMatchObject({ ok: false, reason: 'malformed_json' });
  });

  it('does not count brackets inside strings as nesting', () => {
    expect(ok(parseJsonPayload(bytes('{"s":"[[[[[[\\"{{{{"}'), { maxBytes: 100, maxDepth: 1 }))).toEqual({ s: '[[[[[["{{{{' });
  });
});

describe('plain JSON', () => {
  it('maps fields in order to a [1, n] FP32 input and reads the timestamp', () => {
    const sample = ok(decodeJsonSample({ pressure: 2, temp: 1.5, ts: '2026-01-01T00:00:00Z', other: 'x' }, mapping));
    expect(sample.timestampMs).toBe(Date.parse('2026-01-01T00:00:00Z'));
    const request = toInferRequest('input', [ok(mappedValues(sample, mapping.fields))]);
    expect(request.inputs).toHaveLength(1);
    expect(request.inputs[0]).toMatchObject({ name: 'input', datatype: 'FP32', shape: [1, 2] });
    expect(Array.from(request.inputs[0]?.data as Float32Array)).toEqual([1.5, 2]);
  });

  it('flattens a window of samples time-major into one [1, size × fields] input', () => {
    const request = toInferRequest('input', [[1, 2], [3, 4], [5, 6]]);
    expect(request.inputs[0]).toMatchObject({ shape: [1, 6] });
    expect(Array.from(request.inputs[0]?.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reads the label and the sequence number, by default from "seq"', () => {
    const labelled = { ...mapping, labelField: 'result' };
    expect(ok(decodeJsonSample({ temp: 1, pressure: 2, result: 'ok', seq: 41 }, labelled))).toMatchObject({ label: 'ok', seq: 41 });
    expect(ok(decodeJsonSample({ temp: 1, pressure: 2, result: 2 }, labelled))).toMatchObject({ label: '2' });
    expect(ok(decodeJsonSample({ temp: 1, pressure: 2, seq: 'x' }, mapping)).seq).toBeUndefined();
    expect(ok(decodeJsonSample({ temp: 1, pressure: 2, n: 7, seq: 1 }, { ...mapping, seqField: 'n' })).seq).toBe(7);
    expect(decodeJsonSample({ temp: 1, pressure: 2, n: -1 }, { ...mapping, seqField: 'n' })).toMatchObject({ ok: false, reason: 'wrong_type' });
    expect(decodeJsonSample({ temp: 1, pressure: 2, result: { class: 'ok' } }, labelled)).toMatchObject({ ok: false, reason: 'wrong_type' });
    expect(decodeJsonSample({ temp: 1, pressure: 2, result: 'x'.repeat(300) }, labelled)).toMatchObject({ ok: false, reason: 'wrong_type' });
  });

  it('takes a numeric timestamp as epoch milliseconds and allows none', () => {
    expect(ok(decodeJsonSample({ temp: 1, pressure: 2, ts: 1700000000000 }, mapping)).timestampMs).toBe(1700000000000);
    expect(ok(decodeJsonSample({ temp: 1, pressure: 2 }, mapping)).timestampMs).toBeUndefined();
  });

  it('refuses a missing field, a wrong type, a bad timestamp and a non-object', () => {
    expect(decodeJsonSample({ temp: 1 }, mapping)).toMatchObject({ ok: false, reason: 'missing_field' });
    expect(decodeJsonSample({ temp: '1', pressure: 2 }, mapping)).toMatchObject({ ok: false, reason: 'wrong_type' });
    expect(decodeJsonSample({ temp: 1, pressure: 2, ts: 'yesterday' }, mapping)).toMatchObject({ ok: false, reason: 'bad_timestamp' });
    expect(decodeJsonSample([1, 2], mapping)).toMatchObject({ ok: false, reason: 'not_an_object' });
  });
});

describe('Industrial Edge databus', () => {
  const topic = 'ie/d/j/simatic/v1/s7c1/dp/r/PLC1/default';
  const metadata = (tempId: string, pressureId: string, hashVersion: number): unknown => ({
    seq: 1,
    connections: [
      {
        name: 'PLC1',
        type: 'S7+',
        dataPoints: [
          {
            name: 'default',
            topic,
            publishType: 'bulk',
            dataPointDefinitions: [
              { name: 'temp', id: tempId, dataType: 'Real' },
              { name: 'pressure', id: pressureId, dataType: 'Real' },
            ],
          },
        ],
      },
    ],
    hashVersion,
  });
  const data = { seq: 7, vals: [{ id: '101', val: 20.5, ts: '2026-01-01T00:00:01Z', qc: 3 }, { id: '102', val: 1.1, ts: '2026-01-01T00:00:00Z', qc: 3 }] };

  it('names values by the latest metadata and keeps the oldest timestamp', () => {
    const state = ok(applyDatabusMetadata(metadata('101', '102', 1)));
    expect(state.hashVersion).toBe(1);
    const sample = ok(decodeDatabusData(state, topic, data));
    expect(Object.fromEntries(sample.values)).toEqual({ temp: 20.5, pressure: 1.1 });
    expect(sample.seq).toBe(7);
    expect(sample.timestampMs).toBe(Date.parse('2026-01-01T00:00:00Z'));
  });

  it('remaps ids when the metadata changes', () => {
    const before = ok(applyDatabusMetadata(metadata('101', '102', 1)));
    const after: DatabusState = ok(applyDatabusMetadata(metadata('102', '101', 2)));
    const named = (s: DatabusState): NamedSample => ok(decodeDatabusData(s, topic, data));
    expect(named(before).values.get('temp')).toBe(20.5);
    expect(named(after).values.get('temp')).toBe(1.1);
    expect(named(after).values.get('pressure')).toBe(20.5);
  });

  it('never uses a value of quality code 0, so the mapping refuses the sample', () => {
    const state = ok(applyDatabusMetadata(metadata('101', '102', 1)));
    const sample = ok(decodeDatabusData(state, topic, { seq: 8, vals: [{ id: '101', val: 99, ts: '2026-01-01T00:00:00Z', qc: 0 }, { id: '102', val: 1, qc: 3 }] }));
    expect(sample.values.has('temp')).toBe(false);
    expect(mappedValues(sample, mapping.fields)).toMatchObject({ ok: false, reason: 'missing_field' });
  });

  it('reads the label field as the label (an S7 String), not as a value', () => {
    const state = ok(applyDatabusMetadata(metadata('101', '102', 1)));
    const sample = ok(decodeDatabusData(state, topic, { seq: 9, vals: [{ id: '101', val: 20.5, qc: 3 }, { id: '102', val: 'pseudo-error', qc: 3 }] }, 'pressure'));
    expect(sample.label).toBe('pseudo-error');
    expect(sample.values.has('pressure')).toBe(false);
    expect(decodeDatabusData(state, topic, { vals: [{ id: '102', val: { nested: true }, qc: 3 }] }, 'pressure')).toMatchObject({ ok: false, reason: 'wrong_type' });
  });

  it('refuses data before metadata, invalid metadata and non-numeric values', () => {
    expect(decodeDatabusData(EMPTY_DATABUS_STATE, topic, data)).toMatchObject({ ok: false, reason: 'no_metadata' });
    expect(applyDatabusMetadata({ connections: [{ dataPoints: [{ topic }] }] })).toMatchObject({ ok: false, reason: 'invalid_metadata' });
    expect(applyDatabusMetadata({})).toMatchObject({ ok: false, reason: 'invalid_metadata' });
    const state = ok(applyDatabusMetadata(metadata('101', '102', 1)));
    expect(decodeDatabusData(state, topic, { vals: [{ id: '101', val: 'hot', qc: 3 }] })).toMatchObject({ ok: false, reason: 'wrong_type' });
    expect(decodeDatabusData(state, topic, { seq: 1 })).toMatchObject({ ok: false, reason: 'not_an_object' });
  });
});
