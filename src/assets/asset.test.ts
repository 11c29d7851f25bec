import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDatabusMetadata, decodeDatabusData, decodeJsonSample, parseJsonPayload, startIngestBroker, type IngestBroker } from '../ingest/index.js';
import { VirtualAsset } from './asset.js';
import { IMU_CHANNELS } from './imu.js';
import { PCB_INPUTS } from './pcb.js';

/** Collects every message on `filter` as [topic, body]. */
async function listen(url: string, filter: string): Promise<{ client: MqttClient; messages: [string, Buffer][] }> {
  const client = await mqtt.connectAsync(url, { username: 'test', password: 'ctm_token', reconnectPeriod: 0 });
  const messages: [string, Buffer][] = [];
  client.on('message', (topic, body) => messages.push([topic, body]));
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, messages };
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a virtual asset on a real broker (the embedded aedes, token auth)', () => {
  let broker: IngestBroker;
  let url: string;

  beforeAll(async () => {
    broker = await startIngestBroker({ kind: 'embedded', port: 0, host: '127.0.0.1', verifyToken: (token) => token === 'ctm_token' });
    url = `mqtt://127.0.0.1:${broker.port ?? 0}`;
  });

  afterAll(() => broker.close());

  it('publishes PCB pads as JSON the ingest path decodes, at its rate, every one acknowledged', async () => {
    const sub = await listen(url, 'continuum/assets/pcb');
    const asset = new VirtualAsset({ kind: 'pcb', brokerUrl: url, token: 'ctm_token', rateHz: 40, seed: 3 });
    await asset.connect();
    const started = performance.now();
    const counters = await asset.run({ count: 20 });
    const elapsedMs = performance.now() - started;
    await until(() => sub.messages.length === 20);
    expect(counters).toEqual({ sent: 20, acked: 20, failed: 0 });
    // 20 messages at 40/s: the last leaves 475 ms after the first.
    expect(elapsedMs).toBeGreaterThanOrEqual(470);
    const bodies = sub.messages.map(([, body]) => JSON.parse(body.toString('utf8')) as Record<string, unknown>);
    expect(bodies.map((b) => b['seq'])).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(['ok', 'error', 'pseudo-error']).toContain(bodies[0]?.['label']);
    const decoded = decodeJsonSample(bodies[0], { fields: PCB_INPUTS, input: 'input', timestampField: 'ts' });
    expect(decoded.ok).toBe(true);
    if (decoded.ok) expect(Math.abs((decoded.value.timestampMs ?? 0) - Date.now())).toBeLessThan(5000);
    // The next run goes on with the stream.
    await asset.run({ count: 2 });
    await until(() => sub.messages.length === 22);
    expect(JSON.parse(sub.messages[21]?.[1].toString('utf8') ?? '{}')).toMatchObject({ seq: 21 });
    await asset.close();
    await sub.client.endAsync();
  });

  it('speaks the databus format: retained metadata, then values by id that the ingest path resolves', async () => {
    const asset = new VirtualAsset({ kind: 'imu', brokerUrl: url, token: 'ctm_token', format: 'databus', labelField: false, rateHz: 200, seed: 4 });
    await asset.connect();
    await asset.run({ count: 5 });
    // Subscribed after the metadata went out: it is retained, as the S7 Connector's is.
    const sub = await listen(url, 'ie/#');
    await asset.run({ count: 3 });
    await until(() => sub.messages.length === 4);
    const [metaTopic, metaBody] = sub.messages.find(([topic]) => topic === asset.metadataTopic) ?? ['', Buffer.alloc(0)];
    expect(metaTopic).toBe('ie/m/j/simatic/v1/s7c1/dp');
    const meta = parseJsonPayload(metaBody);
    const state = meta.ok ? applyDatabusMetadata(meta.value) : meta;
    expect(state.ok).toBe(true);
    const data = sub.messages.filter(([topic]) => topic === asset.topic);
    expect(asset.topic).toBe('ie/d/j/simatic/v1/s7c1/dp/r/PLC_IMU/default');
    expect(data.map(([, body]) => (JSON.parse(body.toString('utf8')) as { seq: number }).seq)).toEqual([5, 6, 7]);
    if (!state.ok) return;
    const sample = decodeDatabusData(state.value, asset.topic, JSON.parse(data[0]?.[1].toString('utf8') ?? '{}'));
    expect(sample.ok).toBe(true);
    if (sample.ok) expect([...sample.value.values.keys()]).toEqual([...IMU_CHANNELS]);
    expect(asset.counters).toEqual({ sent: 9, acked: 9, failed: 0 });
    await asset.close();
    await sub.client.endAsync();
  });

  it('names the broker’s refusal of a wrong token', async () => {
    const asset = new VirtualAsset({ kind: 'pcb', brokerUrl: url, token: 'ctm_wrong' });
    await expect(asset.connect()).rejects.toThrow(/Bad username or password|Not authorized/i);
  });
});
