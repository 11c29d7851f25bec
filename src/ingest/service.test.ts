import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferRequest, InferResponse } from '../oip/types.js';
import { startIngestBroker, type IngestBroker } from './broker.js';
import { IngestService, topicMatches } from './service.js';

describe('topicMatches', () => {
  it('follows MQTT wildcards', () => {
    expect(topicMatches('a/+/c', 'a/b/c')).toBe(true);
    expect(topicMatches('a/+/c', 'a/b/d')).toBe(false);
    expect(topicMatches('a/#', 'a/b/c')).toBe(true);
    expect(topicMatches('a/#', 'a')).toBe(true);
    expect(topicMatches('a/b', 'a/b/c')).toBe(false);
  });
});

describe('IngestService backpressure', () => {
  let broker: IngestBroker;

  beforeAll(async () => {
    broker = await startIngestBroker({ kind: 'embedded', port: 0, host: '127.0.0.1' });
  });

  afterAll(() => broker.close());

  it('never has more than maxInFlight inferences running and loses nothing', async () => {
    // A model slower than the stream: each call waits until the test lets it finish.
    const pending: (() => void)[] = [];
    let running = 0;
    let peak = 0;
    const inference = {
      infer: async (_name: string, _version: string | undefined, request: InferRequest): Promise<InferResponse> => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => pending.push(resolve));
        running--;
        return { model_name: 'm', model_version: '1', outputs: [{ ...request.inputs[0]!, name: 'y' }] };
      },
    };
    const service = await IngestService.start({ endpoint: broker.endpoint, inference, maxInFlight: 2 });
    await service.add({ name: 's', topic: 'line/x', format: 'json', mapping: { fields: ['a'], input: 'x' }, deployment: 'm' });
    const client = await mqtt.connectAsync(broker.endpoint.url, { username: broker.endpoint.username ?? '', password: broker.endpoint.password ?? '' });
    try {
      for (let i = 0; i < 8; i++) await client.publishAsync('line/x', JSON.stringify({ a: i }), { qos: 1 });
      const deadline = Date.now() + 10_000;
      while (service.counters('s')?.published !== 8 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        expect(running).toBeLessThanOrEqual(2);
        pending.shift()?.();
      }
      expect(peak).toBe(2);
      expect(service.counters('s')).toMatchObject({ received: 8, inferred: 8, published: 8, dropped: 0 });
    } finally {
      await client.endAsync();
      await service.close();
    }
  }, 20_000);
});
