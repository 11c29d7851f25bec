import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngestBroker, type IngestBroker } from './broker.js';
import { DurablePersistence } from './persistence.js';

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

describe('the embedded broker on a data directory', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  function dataDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'continuum-broker-'));
    dirs.push(dir);
    return dir;
  }
  const start = (dir: string, port = 0): Promise<IngestBroker> => startIngestBroker({ kind: 'embedded', port, host: '127.0.0.1', dataDir: dir, drainTimeoutMs: 2000 });
  const urlOf = (broker: IngestBroker): string => `mqtt://127.0.0.1:${broker.port ?? 0}`;

  /** A persistent-session (clean: false) subscriber that records the payloads it receives. */
  async function persistentSubscriber(url: string, clientId: string, topic?: string): Promise<{ client: mqtt.MqttClient; received: string[] }> {
    const received: string[] = [];
    const client = await mqtt.connectAsync(url, { clientId, clean: false, reconnectPeriod: 0 });
    client.on('message', (_topic, payload) => received.push(payload.toString('utf8')));
    if (topic !== undefined) await client.subscribeAsync(topic, { qos: 1 });
    return { client, received };
  }

  async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('delivers a retained QoS 1 message to a live subscriber even when the next messages follow at once', async () => {
    // The Industrial Edge databus pattern: retained metadata, then a burst of data right behind it.
    const broker = await start(dataDir());
    const received: string[] = [];
    const subscriber = await mqtt.connectAsync(urlOf(broker), { reconnectPeriod: 0 });
    subscriber.on('message', (topic) => received.push(topic));
    await subscriber.subscribeAsync(['plant/metadata', 'plant/data'], { qos: 1 });
    const publisher = await mqtt.connectAsync(urlOf(broker), { reconnectPeriod: 0 });
    // aedes sends PUBACK before it routes, so each next message is on its way while the one before is routed.
    await publisher.publishAsync('plant/metadata', '{}', { qos: 1, retain: true });
    for (let i = 0; i < 20; i++) await publisher.publishAsync('plant/data', '{}', { qos: 1 });
    await until(() => received.length >= 21);
    expect(received.filter((t) => t === 'plant/metadata')).toHaveLength(1);
    await publisher.endAsync();
    await subscriber.endAsync();
    await broker.close();
  });

  it('keeps the queue of an offline persistent subscriber and retained messages across a restart', async () => {
    const dir = dataDir();
    let broker = await start(dir);
    const first = await persistentSubscriber(urlOf(broker), 'line1-app', 'plant/line1/#');
    await first.client.endAsync();
    const publisher = await mqtt.connectAsync(urlOf(broker), { reconnectPeriod: 0 });
    for (let i = 0; i < 200; i++) await publisher.publishAsync('plant/line1/temp', String(i), { qos: 1 });
    await publisher.publishAsync('plant/line1/config', 'v7', { qos: 1, retain: true });
    await publisher.endAsync();
    await broker.close();

    broker = await start(dir);
    const again = await persistentSubscriber(urlOf(broker), 'line1-app');
    await until(() => again.received.length >= 201);
    expect(again.received.slice(0, 200)).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    expect(again.received[200]).toBe('v7');
    await again.client.endAsync();

    const late = await mqtt.connectAsync(urlOf(broker), { reconnectPeriod: 0 });
    const retained = new Promise<string>((resolve) => late.on('message', (_t, payload) => resolve(payload.toString('utf8'))));
    await late.subscribeAsync('plant/line1/config', { qos: 1 });
    expect(await retained).toBe('v7');
    await late.endAsync();
    await broker.close();
  });

  it('publishes again after a restart a message it acknowledged but had not routed', async () => {
    const dir = dataDir();
    let broker = await start(dir);
    const subscriber = await persistentSubscriber(urlOf(broker), 'historian', 'plant/+/alarm');
    await subscriber.client.endAsync();
    await broker.close();

    // The state a crash leaves between PUBACK and routing: the message recorded, nothing queued.
    const journal = new DurablePersistence({ dataDir: dir });
    await journal.setup({ id: 'crashed-broker' });
    expect(await journal.recordInbound({ id: 'plc7' }, { cmd: 'publish', topic: 'plant/7/alarm', payload: Buffer.from('overheat'), qos: 1, retain: false })).toBe(true);
    await journal.destroy();

    broker = await start(dir);
    const again = await persistentSubscriber(urlOf(broker), 'historian');
    await until(() => again.received.length >= 1);
    expect(again.received).toEqual(['overheat']);
    await again.client.endAsync();
    await broker.close();
  });

  it('refuses publishes while it stops, and the publisher delivers them to the restarted broker', async () => {
    const dir = dataDir();
    let broker = await start(dir);
    const port = broker.port ?? 0;
    const subscriber = await persistentSubscriber(urlOf(broker), 'line2-app', 'plant/line2/temp');
    const publisher = await mqtt.connectAsync(urlOf(broker), { clientId: 'plc2', reconnectPeriod: 100 });
    await publisher.publishAsync('plant/line2/temp', 'before', { qos: 1 });
    await until(() => subscriber.received.length === 1);
    subscriber.client.end(true);

    await broker.drain();
    const refused = new Promise<void>((resolve) => publisher.once('offline', () => resolve()));
    const during = publisher.publishAsync('plant/line2/temp', 'during', { qos: 1 });
    await refused;
    await broker.close();

    broker = await start(dir, port);
    await during;
    const again = await persistentSubscriber(urlOf(broker), 'line2-app');
    await until(() => again.received.length >= 1);
    // QoS 1 is at least once (MQTT 3.1.1, 4.3.2): a publisher that reconnects may send it twice.
    expect(new Set(again.received)).toEqual(new Set(['during']));
    await again.client.endAsync();
    await publisher.endAsync();
    await broker.close();
  });

  it('lets the ingest service publish while it stops', async () => {
    const broker = await start(dataDir());
    const { url, username, password } = broker.endpoint;
    const ingest = await mqtt.connectAsync(url, { ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }), reconnectPeriod: 0 });
    await broker.drain();
    await ingest.publishAsync('plant/line1/temp/predictions', '{"label":[0]}', { qos: 1 });
    await ingest.endAsync();
    await broker.close();
  });
});
