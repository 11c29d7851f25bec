import sparkplug from 'sparkplug-payload';
import { describe, expect, it } from 'vitest';
import type { Decoded } from './formats.js';
import {
  applySparkplugBirth,
  decodeSparkplugData,
  decodeSparkplugPayload,
  EMPTY_SPARKPLUG_STATE,
  parseSparkplugTopic,
  sparkplugBirthFilter,
  type SparkplugTopic,
} from './sparkplug.js';

const codec = sparkplug.get('spBv1.0');
if (codec === null) throw new Error('no spBv1.0 codec');

function ok<T>(d: Decoded<T>): T {
  if (!d.ok) throw new Error(`refused: ${d.reason} ${d.detail}`);
  return d.value;
}

const device = parseSparkplugTopic('spBv1.0/plant1/DDATA/edge1/press1') as SparkplugTopic;
const birth = codec.encodePayload({
  timestamp: 1_700_000_000_000,
  seq: 0,
  metrics: [
    { name: 'force', alias: 1, type: 'Double', value: 0 },
    { name: 'count', alias: 2, type: 'Int64', value: 0 },
    { name: 'running', alias: 3, type: 'Boolean', value: false },
  ],
});
const data = codec.encodePayload({
  timestamp: 1_700_000_000_500,
  seq: 7,
  metrics: [
    { alias: 1, type: 'Double', value: 12.5 },
    { alias: 2, type: 'Int64', value: -3 },
    { alias: 3, type: 'Boolean', value: true },
  ],
});

describe('Sparkplug B topics', () => {
  it('parses the namespace and finds the BIRTH certificates of a data filter', () => {
    expect(device).toEqual({ group: 'plant1', type: 'DDATA', node: 'edge1', device: 'press1' });
    expect(parseSparkplugTopic('spBv1.0/plant1/NDATA/edge1')).toEqual({ group: 'plant1', type: 'NDATA', node: 'edge1' });
    expect(parseSparkplugTopic('spBv1.0/plant1/DDATA/edge1/press1/predictions')).toBeUndefined();
    expect(parseSparkplugTopic('plant1/DDATA/edge1/press1')).toBeUndefined();
    expect(sparkplugBirthFilter('spBv1.0/plant1/DDATA/+/press1')).toBe('spBv1.0/plant1/DBIRTH/+/press1');
    expect(sparkplugBirthFilter('spBv1.0/plant1/NDATA/edge1')).toBe('spBv1.0/plant1/NBIRTH/edge1');
    expect(sparkplugBirthFilter('spBv1.0/plant1/+/edge1/#')).toBeUndefined();
  });
});

describe('Sparkplug B payloads', () => {
  it('names aliased metrics by their BIRTH, with signed 64-bit integers, booleans, time and seq', () => {
    const state = ok(applySparkplugBirth(EMPTY_SPARKPLUG_STATE, { ...device, type: 'DBIRTH' }, ok(decodeSparkplugPayload(birth))));
    const sample = ok(decodeSparkplugData(state, device, ok(decodeSparkplugPayload(data))));
    expect(Object.fromEntries(sample.values)).toEqual({ force: 12.5, count: -3, running: 1 });
    expect(sample.timestampMs).toBe(1_700_000_000_500);
    expect(sample.seq).toBe(7);
  });

  it('knows aliases only per device and from its latest BIRTH', () => {
    const state = ok(applySparkplugBirth(EMPTY_SPARKPLUG_STATE, { ...device, type: 'DBIRTH' }, ok(decodeSparkplugPayload(birth))));
    const other = { ...device, device: 'press2' };
    expect(ok(decodeSparkplugData(state, other, ok(decodeSparkplugPayload(data)))).values.size).toBe(0);
    const rebirth = codec.encodePayload({ timestamp: 1, seq: 0, metrics: [{ name: 'speed', alias: 1, type: 'Double', value: 0 }] });
    const reborn = ok(applySparkplugBirth(state, { ...device, type: 'DBIRTH' }, ok(decodeSparkplugPayload(rebirth))));
    expect(Object.fromEntries(ok(decodeSparkplugData(reborn, device, ok(decodeSparkplugPayload(data)))).values)).toEqual({ speed: 12.5 });
  });

  it('refuses bytes that are not protobuf, oversized payloads and non-numeric metrics', () => {
    expect(decodeSparkplugPayload(new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]))).toMatchObject({ ok: false, reason: 'malformed_payload' });
    expect(decodeSparkplugPayload(new TextEncoder().encode('{"force": 1}'))).toMatchObject({ ok: false, reason: 'malformed_payload' });
    expect(decodeSparkplugPayload(data, { maxBytes: 8, maxDepth: 16 })).toMatchObject({ ok: false, reason: 'too_large' });
    const text = codec.encodePayload({ timestamp: 1, seq: 1, metrics: [{ name: 'force', type: 'String', value: 'high' }] });
    expect(decodeSparkplugData(EMPTY_SPARKPLUG_STATE, device, ok(decodeSparkplugPayload(text)))).toMatchObject({ ok: false, reason: 'wrong_type' });
  });
});
