import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngestBroker, type IngestBroker } from './broker.js';

describe('the embedded broker', () => {
  let broker: IngestBroker;
  let url: string;

  beforeAll(async () => {
    broker = await startIngestBroker({ kind: 'embedded', port: 0, host: '127.0.0.1', verifyToken: (token) => token === 'ctm_good' });
    url = `mqtt://127.0.0.1:${broker.port ?? 0}`;
  });

  afterAll(() => broker.close());

  it('lets in a client whose password is a management token', async () => {
    const client = await mqtt.connectAsync(url, { username: 'plc', password: 'ctm_good', reconnectPeriod: 0 });
    await client.endAsync();
  });

  it('refuses a wrong token and a missing one', async () => {
    await expect(mqtt.connectAsync(url, { username: 'plc', password: 'ctm_bad', reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password|Not authorized/i);
    await expect(mqtt.connectAsync(url, { reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password|Not authorized/i);
  });

  it('lets in the ingest service with its own endpoint credentials', async () => {
    const { username, password } = broker.endpoint;
    const client = await mqtt.connectAsync(broker.endpoint.url, { ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }), reconnectPeriod: 0 });
    await client.endAsync();
  });
});
