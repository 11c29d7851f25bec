/**
 * The prediction half of `bench asset` against a real server: a PCB model trained here, pushed
 * and deployed on a replica process, a data source streaming the asset's topic through it over
 * the embedded MQTT broker, and the bench's cycles matching each prediction to its message.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../server/index.js';
import { trainRandomForest } from '../training/index.js';
import { predictionCycles } from './bench.js';
import { assetDataset } from './catalog.js';
import { PCB_CLASSES, PCB_INPUTS } from './pcb.js';
import { processTreeProbe, sampleProcessTree } from './procfs.js';
import { metricsProbe } from './server-usage.js';

async function call(server: RunningServer, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<unknown> {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': contentType }, body: body instanceof Uint8Array ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

describe('bench asset prediction cycles on a real server', () => {
  let dataDir: string;
  let server: RunningServer;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'continuum-bench-asset-'));
    server = await startServer({ port: 0, grpcPort: 0, mqttPort: 0, dataDir, demo: false, console: false, logLevel: 'silent', autoscalerTickMs: 200 });
    const data = assetDataset('pcb', 1, 1500);
    const trained = trainRandomForest(data.features, data.labels, { trees: 30, classes: 3 });
    await call(server, 'POST', '/models/pcb/versions', trained.model, 'application/octet-stream');
    await call(server, 'POST', '/deployments', { name: 'pcb', model: 'pcb', policy: { policy: 'fixed', replicas: 1 } });
    const deadline = Date.now() + 30_000;
    while (!((await call(server, 'GET', '/deployments/pcb')) as { replicas: { phase: string }[] }).replicas.some((r) => r.phase === 'ready')) {
      if (Date.now() > deadline) throw new Error('the pcb deployment has no ready replica after 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    await call(server, 'POST', '/datasources', { name: 'line', topic: 'plant/spi', format: 'json', mapping: { fields: PCB_INPUTS, input: 'input', timestampField: 'ts' }, deployment: 'pcb' });
  }, 60_000);

  afterAll(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('times each cycle from publish to prediction, split into ingest, compute and communication', async () => {
    const result = await predictionCycles({
      brokerUrl: `mqtt://127.0.0.1:${server.mqttPort ?? 0}`,
      kind: 'pcb',
      format: 'json',
      topic: 'plant/spi',
      labelField: 'label',
      classes: PCB_CLASSES,
      cycles: 10,
      seed: 77,
      rateHz: 20,
      probe: processTreeProbe(process.pid),
    });
    expect(result.timings).toHaveLength(10);
    for (const t of result.timings) {
      expect(t.computeMs).toBeGreaterThanOrEqual(0);
      expect(t.ingestMs).toBeGreaterThanOrEqual(0);
      expect(t.totalMs).toBeGreaterThanOrEqual(t.computeMs);
      expect(t.communicationMs).toBe(t.totalMs - t.computeMs);
      expect(t.correct).toBeDefined();
    }
    // The forest is right on nine pads in ten; ten fresh pads leave room for one or two misses.
    expect(result.timings.filter((t) => t.correct === true).length).toBeGreaterThanOrEqual(7);
    expect(result.counters.failed).toBe(0);
    expect(result.counters.acked).toBe(result.counters.sent);
    // This process runs the server, so its tree holds the replica: hundreds of MiB resident.
    expect(result.peaks?.peakRssBytes).toBeGreaterThan(50 * 1024 ** 2);
    expect(result.peaks?.peakCpuPercent).toBeGreaterThan(0);
  }, 60_000);

  it('reads the server and its replica from /metrics as a remote bench would, close to /proc', async () => {
    const remote = await metricsProbe(server.url).read(Date.now());
    const local = await processTreeProbe(process.pid).read(Date.now());
    // /proc also counts this test's own process memory beyond the server's, so the two differ a little.
    expect(remote.rssBytes).toBeGreaterThan(0.5 * local.rssBytes);
    expect(remote.rssBytes).toBeLessThan(1.5 * local.rssBytes);
    expect(remote.cpuSeconds).toBeGreaterThan(0);
    const sampler = sampleProcessTree(metricsProbe(server.url));
    await new Promise((r) => setTimeout(r, 1200));
    const readings = await sampler.stop();
    expect(readings.length).toBeGreaterThanOrEqual(2);
    expect(readings.map((r) => r.atMs)).toEqual([...readings.map((r) => r.atMs)].sort((a, b) => a - b));
  });

  it('names a server without process metrics', async () => {
    await expect(metricsProbe(`${server.url}/nowhere`).read(Date.now())).rejects.toThrow(/gave no process metrics \(HTTP 404\)/);
  });
});
