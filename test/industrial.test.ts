/**
 * The industrial data path end to end, MQTT to MQTT, on a real server (embedded aedes broker,
 * replica processes, the training sandbox): the PCB virtual asset publishes labelled
 * solder-paste inspections in the Industrial Edge databus format; a data source stores them; the
 * reference PCB workflow is trained in the sandbox on that stored window, released through the
 * gates (the `production` alias moves), deployed, bound to the same data source, and fresh
 * inspections from the asset come back as predictions on MQTT, every one, by the released version.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packWorkflow, predictionCycles, readWorkflowManifest, VirtualAsset } from '../src/assets/index.js';
import { startServer } from '../src/server/index.js';
import type { RunningServer } from '../src/server/index.js';
import { api, until } from './support/http.js';

const PCB_WORKFLOW = fileURLToPath(new URL('../workflows/pcb-inspection/', import.meta.url));
/** Labelled inspections the model trains on (the asset's pads, ~10% of them defects or pseudo-errors). */
const TRAINING_MESSAGES = 1500;
const CYCLES = 40;

interface RunView {
  readonly id: string;
  readonly status: string;
  readonly modelVersion?: string;
  readonly metrics?: Record<string, number>;
  readonly releaseId?: number;
  readonly error?: string;
  readonly log: string[];
}

let server: RunningServer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'continuum-industrial-'));
  server = await startServer({ port: 0, grpcPort: 0, mqttPort: 0, dataDir: join(dir, 'data'), logLevel: 'silent', demo: false });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('PCB inspection from MQTT to MQTT', () => {
  it('trains the PCB workflow on databus data, releases it through the gates and serves it back to MQTT', async () => {
    const manifest = readWorkflowManifest(PCB_WORKFLOW);
    const brokerUrl = `mqtt://127.0.0.1:${server.mqttPort ?? 0}`;
    const pushed = await fetch(`${server.url}/api/v1/workflows`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: new Uint8Array(await packWorkflow(PCB_WORKFLOW)) });
    expect(pushed.status, await pushed.clone().text()).toBe(201);

    // The asset speaks the databus: ids come from its retained metadata; the label is a String data point.
    const asset = new VirtualAsset({ kind: 'pcb', brokerUrl, format: 'databus', labelField: manifest.label, seed: 3, rateHz: 2000 });
    const source = {
      name: 'pcb-line',
      topic: asset.topic,
      format: 'databus',
      mapping: { fields: manifest.inputs, input: 'input', labelField: manifest.label },
      deployment: 'pcb-line',
    };
    const added = await api(server.url, 'POST', '/datasources', source);
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    await asset.connect();
    try {
      await asset.run({ count: TRAINING_MESSAGES });
    } finally {
      await asset.close();
    }
    // Every message acknowledged at QoS 1 (the metadata message too).
    expect(asset.counters.failed).toBe(0);
    expect(asset.counters.acked).toBe(asset.counters.sent);
    await until(
      `the training window stored (counters: ${JSON.stringify((await api(server.url, 'GET', '/datasources/pcb-line')).body)})`,
      async () => (await api<{ rows: unknown[] }>(server.url, 'GET', '/datasources/pcb-line/samples?format=json')).body.rows.length,
      (n) => n === TRAINING_MESSAGES,
    );

    // Train in the sandbox on the stored samples and release the version through the gates.
    const started = await api<{ id: string }>(server.url, 'POST', `/workflows/${manifest.name}/runs`, { datasource: 'pcb-line', release: {} });
    expect(started.status).toBe(202);
    const run = await until(
      'the training run',
      async () => (await api<RunView>(server.url, 'GET', `/workflows/${manifest.name}/runs/${started.body.id}`)).body,
      (r) => r.status !== 'running',
      120_000,
    );
    expect(run.error).toBeUndefined();
    expect(run.status).toBe('succeeded');
    expect(run.metrics?.['testAccuracy']).toBeGreaterThanOrEqual(0.8);
    expect(run.releaseId).toBeDefined();
    const release = await until(
      'the release',
      async () => (await api<{ status: string; version: string }>(server.url, 'GET', `/releases/${run.releaseId}`)).body,
      (r) => r.status === 'released' || r.status === 'failed',
      120_000,
    );
    expect(release, JSON.stringify(release)).toMatchObject({ status: 'released', version: run.modelVersion });

    // Deploy what the release made production; the data source already names the deployment.
    const deployed = await api(server.url, 'POST', '/deployments', { name: 'pcb-line', model: manifest.name, ref: '@production', policy: { policy: 'fixed', replicas: 1 } });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
    await until(
      'a ready replica',
      async () => (await api<{ replicas: { phase: string }[] }>(server.url, 'GET', '/deployments/pcb-line')).body,
      (d) => d.replicas.some((r) => r.phase === 'ready'),
      60_000,
    );

    // Fresh inspections from the asset: a prediction for each on `<topic>/predictions`, by the released version.
    const cycles = await predictionCycles({ brokerUrl, kind: 'pcb', format: 'databus', topic: asset.topic, labelField: manifest.label, classes: manifest.classes, cycles: CYCLES, seed: 99 });
    expect(cycles.counters.failed).toBe(0);
    expect(cycles.timings).toHaveLength(CYCLES);
    const judged = cycles.timings.filter((t) => t.correct !== undefined);
    expect(judged.length).toBe(CYCLES);
    expect(judged.filter((t) => t.correct === true).length / CYCLES).toBeGreaterThanOrEqual(0.75);
    for (const t of cycles.timings) expect(t.computeMs).toBeGreaterThanOrEqual(0);
  }, 300_000);
});
