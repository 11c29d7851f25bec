import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferRequest, InferResponse } from '../oip/types.js';
import { startIngestBroker, type IngestBroker } from './broker.js';
import { SqliteSampleStore } from './samples.js';
import { IngestService, newIngestClientId, topicMatches, type DataSource, type Prediction } from './service.js';

describe('topicMatches', () => {
  it('follows MQTT wildcards', () => {
    expect(topicMatches('a/+/c', 'a/b/c')).toBe(true);
    expect(topicMatches('a/+/c', 'a/b/d')).toBe(false);
    expect(topicMatches('a/#', 'a/b/c')).toBe(true);
    expect(topicMatches('a/#', 'a')).toBe(true);
    expect(topicMatches('a/b', 'a/b/c')).toBe(false);
  });
});

/** A model that answers its input back as output `y`. */
const echo = {
  infer: async (_name: string, _version: string | undefined, request: InferRequest): Promise<InferResponse> => ({ model_name: 'm', model_version: '1', outputs: [{ ...request.inputs[0]!, name: 'y' }] }),
};

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('IngestService', () => {
  let broker: IngestBroker;
  let dir: string;
  let samples: SqliteSampleStore;
  let client: MqttClient;

  beforeAll(async () => {
    broker = await startIngestBroker({ kind: 'embedded', port: 0, host: '127.0.0.1' });
    dir = mkdtempSync(join(tmpdir(), 'continuum-ingest-service-'));
    samples = SqliteSampleStore.open(dir);
    client = await mqtt.connectAsync(broker.endpoint.url, { username: broker.endpoint.username ?? '', password: broker.endpoint.password ?? '' });
  });

  afterAll(async () => {
    await client.endAsync();
    await samples.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function predictionsOn(topic: string): Promise<Prediction[]> {
    const got: Prediction[] = [];
    client.on('message', (t, payload) => {
      if (topicMatches(topic, t)) got.push(JSON.parse(payload.toString('utf8')) as Prediction);
    });
    await client.subscribeAsync(topic, { qos: 1 });
    return got;
  }

  it('never has more than maxInFlight inferences running, and stores every message', async () => {
    // A model slower than the stream: each call waits until the test lets it finish.
    const pending: (() => void)[] = [];
    let running = 0;
    let peak = 0;
    const inference = {
      infer: async (name: string, version: string | undefined, request: InferRequest): Promise<InferResponse> => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => pending.push(resolve));
        running--;
        return echo.infer(name, version, request);
      },
    };
    const service = await IngestService.start({ endpoint: broker.endpoint, inference, samples, maxInFlight: 2 });
    await service.add({ name: 's', topic: 'line/x', format: 'json', mapping: { fields: ['a'], input: 'x' }, deployment: 'm' });
    try {
      for (let i = 0; i < 8; i++) await client.publishAsync('line/x', JSON.stringify({ a: i, seq: 100 + i }), { qos: 1 });
      const deadline = Date.now() + 10_000;
      while (service.counters('s')?.published !== 8 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        expect(running).toBeLessThanOrEqual(2);
        pending.shift()?.();
      }
      expect(peak).toBe(2);
      expect(service.counters('s')).toMatchObject({ received: 8, inferred: 8, published: 8, dropped: 0 });
      expect((await samples.after('s', 0, 100)).map((s) => [s.values, s.seq])).toEqual(Array.from({ length: 8 }, (_, i) => [[i], 100 + i]));
    } finally {
      await service.close();
    }
  }, 20_000);

  it('infers each full window of a topic as one time-major input carrying the last sample', async () => {
    const predictions = await predictionsOn('press/+/predictions');
    const service = await IngestService.start({ endpoint: broker.endpoint, inference: echo, samples });
    await service.add({ name: 'w', topic: 'press/+', format: 'json', mapping: { fields: ['a', 'b'], input: 'x', timestampField: 'ts' }, deployment: 'm', window: { size: 3, hop: 2 } });
    try {
      const send = (topic: string, i: number): Promise<unknown> => client.publishAsync(topic, JSON.stringify({ a: i, b: 10 * i, seq: i, ts: 1000 * i }), { qos: 1 });
      for (let i = 0; i < 7; i++) await send('press/1', i);
      for (let i = 0; i < 3; i++) await send('press/2', 10 + i);
      await until('four windows', () => predictions.length >= 4);
      const byTopicAndSeq = predictions.map((p) => [p.seq, p.inputTimestamp, p.outputs['y']]).sort((x, y) => Number(x[0]) - Number(y[0]));
      expect(byTopicAndSeq).toEqual([
        [2, new Date(2000).toISOString(), [0, 0, 1, 10, 2, 20]],
        [4, new Date(4000).toISOString(), [2, 20, 3, 30, 4, 40]],
        [6, new Date(6000).toISOString(), [4, 40, 5, 50, 6, 60]],
        [12, new Date(12000).toISOString(), [10, 100, 11, 110, 12, 120]],
      ]);
      expect(service.counters('w')).toMatchObject({ received: 10, inferred: 4 });
    } finally {
      await service.close();
    }
  }, 20_000);

  it('deletes stored samples past the retention of their source, periodically', async () => {
    const service = await IngestService.start({ endpoint: broker.endpoint, inference: echo, samples, retentionIntervalMs: 50 });
    await service.add({ name: 'kept', topic: 'kept/x', format: 'json', mapping: { fields: ['a'], input: 'x' }, deployment: 'm', retention: { maxRows: 3 } });
    try {
      for (let i = 0; i < 10; i++) await client.publishAsync('kept/x', JSON.stringify({ a: i }), { qos: 1 });
      await until('ten stored', () => service.counters('kept')?.inferred === 10);
      const deadline = Date.now() + 10_000;
      let rows = (await samples.window('kept', {})).rows;
      while (rows.length > 3 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        rows = (await samples.window('kept', {})).rows;
      }
      expect(rows.map((r) => r.values[0])).toEqual([7, 8, 9]);
    } finally {
      await service.close();
    }
  }, 20_000);

  it('loses nothing across a restart: what was unpublished is replayed, what came meanwhile is delivered', async () => {
    const clientId = newIngestClientId();
    const source: DataSource = { name: 'r', topic: 'restart/x', format: 'json', mapping: { fields: ['a'], input: 'x' }, deployment: 'm' };
    const predictions = await predictionsOn('restart/x/predictions');
    // The first process's model stalls from the fourth message on: those never get a prediction from it.
    const stalled: (() => void)[] = [];
    const stalling = {
      infer: async (name: string, version: string | undefined, request: InferRequest): Promise<InferResponse> => {
        if ((request.inputs[0]?.data as Float32Array)[0]! >= 3) await new Promise<void>((resolve) => stalled.push(resolve));
        return echo.infer(name, version, request);
      },
    };
    const first = await IngestService.start({ endpoint: broker.endpoint, inference: stalling, samples, clientId, sources: [source] });
    const send = (i: number): Promise<unknown> => client.publishAsync('restart/x', JSON.stringify({ a: i, seq: i }), { qos: 1 });
    for (let i = 0; i < 6; i++) await send(i);
    await until('three predictions and three stalled', () => predictions.length === 3 && stalled.length === 3);
    await first.close();
    // While the service is away the broker queues for its persistent session.
    for (let i = 6; i < 9; i++) await send(i);
    const second = await IngestService.start({ endpoint: broker.endpoint, inference: echo, samples, clientId, sources: [source] });
    try {
      await until('every sequence number predicted', () => new Set(predictions.map((p) => p.seq)).size === 9);
      expect([...new Set(predictions.map((p) => p.seq))].sort((a, b) => Number(a) - Number(b))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      expect(second.counters('r')).toMatchObject({ replayed: 3, received: 3, inferred: 6, published: 6 });
    } finally {
      await second.close();
      for (const release of stalled) release();
    }
  }, 30_000);
});
