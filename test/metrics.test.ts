/**
 * `GET /metrics` scraped by a real Prometheus (Debian's `prometheus`, every second): a known number
 * of inferences to a deployment with two replica processes and to a model served in-process, then
 * Prometheus' query API must give exactly those counts, matching histogram counts (the queue and
 * compute timing of a replica's requests travels back in its answer frames), the ready replicas
 * and each replica's resident memory. A missing prometheus binary fails the suite (no skip).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIrisClassifier } from '../src/demo/iris.js';
import { DEMO_REQUEST, startServer } from '../src/server/index.js';
import type { RunningServer } from '../src/server/index.js';
import { api, inferJson, pushModel, until } from './support/http.js';
import { freePort } from '../bench/processes.js';

const PROMETHEUS = '/usr/bin/prometheus';
const DEPLOYED = 40;
const LOCAL = 25;
const LOCAL_BAD = 2;


/** One sample of an instant query: its labels and value. */
interface QuerySample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

let server: RunningServer;
let prometheus: ChildProcess;
let prometheusUrl: string;
let prometheusLog = '';
const dirs: string[] = [];

async function query(promql: string): Promise<QuerySample[]> {
  const res = await request(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.body.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success' || body.data === undefined) throw new Error(`query ${promql} failed: ${body.error ?? res.statusCode}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** The single value of `promql` once it equals `expected` (Prometheus scrapes every second). */
async function settlesTo(promql: string, expected: number): Promise<number> {
  const samples = await until(promql, () => query(promql), (s) => s.length === 1 && s[0]?.value === expected, 20_000);
  return (samples[0] as QuerySample).value;
}

beforeAll(async () => {
  if (!existsSync(PROMETHEUS)) throw new Error(`${PROMETHEUS} is missing: install Debian's prometheus package (apt-get install prometheus); this suite needs a real Prometheus`);
  const dataDir = mkdtempSync(join(tmpdir(), 'continuum-metrics-e2e-'));
  const promDir = mkdtempSync(join(tmpdir(), 'continuum-prometheus-'));
  dirs.push(dataDir, promDir);
  server = await startServer({ port: 0, grpcPort: 0, dataDir, logLevel: 'silent', autoscalerTickMs: 200, energyIntervalMs: 500 });
  // The demo deployment with exactly two replica processes, and the same model served in-process under another name.
  expect((await api(server.url, 'PATCH', '/deployments/iris', { policy: { policy: 'fixed', replicas: 2 } })).status).toBe(200);
  await pushModel(server.url, 'iris-local', buildIrisClassifier().model);
  await until('two ready replicas', () => api<{ replicas: { phase: string }[] }>(server.url, 'GET', '/deployments/iris'), (r) => r.body.replicas.filter((x) => x.phase === 'ready').length === 2, 30_000);

  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  const target = new URL(server.url).host;
  const config = join(promDir, 'prometheus.yml');
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: continuum\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['${target}']\n`);
  prometheus = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  prometheus.stderr?.on('data', (chunk: Buffer) => {
    prometheusLog = (prometheusLog + chunk.toString('utf8')).slice(-4000);
  });
  await until(
    'prometheus ready',
    () => request(`${prometheusUrl}/-/ready`).then((r) => (r.body.dump(), r.statusCode), () => 0),
    (status) => status === 200,
    30_000,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; prometheus said: ${prometheusLog}`);
  });

  for (let i = 0; i < DEPLOYED; i++) expect((await inferJson(server.url, 'iris', DEMO_REQUEST)).status).toBe(200);
  for (let i = 0; i < LOCAL; i++) expect((await inferJson(server.url, 'iris-local', DEMO_REQUEST)).status).toBe(200);
  for (let i = 0; i < LOCAL_BAD; i++) expect((await inferJson(server.url, 'iris-local', { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] })).status).toBe(400);
}, 120_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await server?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('continuum serve --no-metrics', () => {
  it('serves no /metrics and still answers inferences', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'continuum-no-metrics-'));
    dirs.push(dataDir);
    const off = await startServer({ port: 0, grpcPort: 0, dataDir, logLevel: 'silent', demo: false, metrics: false });
    try {
      expect(off.metrics).toBeUndefined();
      await pushModel(off.url, 'iris-local', buildIrisClassifier().model);
      expect((await inferJson(off.url, 'iris-local', DEMO_REQUEST)).status).toBe(200);
      const res = await request(`${off.url}/metrics`);
      await res.body.dump();
      expect(res.statusCode).toBe(404);
    } finally {
      await off.close();
    }
  });
});

describe('metrics scraped by a real Prometheus', () => {
  it('counts every request by model, version, deployment and status code', async () => {
    expect(await settlesTo('sum(continuum_inference_requests_total{deployment="iris",code="200"})', DEPLOYED)).toBe(DEPLOYED);
    const deployed = await query('continuum_inference_requests_total{deployment="iris"}');
    expect(deployed.map((s) => [s.metric['model'], s.metric['version'], s.metric['code']])).toEqual([['iris', '1', '200']]);
    expect(await settlesTo('continuum_inference_requests_total{model="iris-local",deployment="",code="200"}', LOCAL)).toBe(LOCAL);
    expect(await settlesTo('sum(continuum_inference_requests_total{model="iris-local",deployment="",code="400"})', LOCAL_BAD)).toBe(LOCAL_BAD);
    expect((await query('up{job="continuum"}'))[0]?.value).toBe(1);
  });

  it('has latency histograms whose counts match the requests, queue and compute timed in the replicas too', async () => {
    expect(await settlesTo('continuum_inference_request_duration_seconds_count{deployment="iris"}', DEPLOYED)).toBe(DEPLOYED);
    // Every request ran: queue, compute and batch size are timed in the replica's batcher and carried back in its answer.
    expect(await settlesTo('continuum_inference_queue_duration_seconds_count{deployment="iris"}', DEPLOYED)).toBe(DEPLOYED);
    expect(await settlesTo('continuum_inference_compute_duration_seconds_count{deployment="iris"}', DEPLOYED)).toBe(DEPLOYED);
    expect(await settlesTo('continuum_inference_compute_duration_seconds_count{model="iris-local",deployment=""}', LOCAL)).toBe(LOCAL);
    expect(await settlesTo('continuum_inference_request_duration_seconds_count{model="iris-local",deployment="",version="1"}', LOCAL)).toBe(LOCAL);
    // Requests were sent one at a time, each with 2 rows: every batch had 2 slots.
    expect(await settlesTo('continuum_inference_batch_size_bucket{deployment="iris",le="2"}', DEPLOYED)).toBe(DEPLOYED);
    expect(await settlesTo('continuum_inference_batch_size_bucket{deployment="iris",le="1"}', 0)).toBe(0);
    const [compute] = await query('continuum_inference_compute_duration_seconds_sum{deployment="iris"}');
    const [total] = await query('continuum_inference_request_duration_seconds_sum{deployment="iris"}');
    expect(compute?.value).toBeGreaterThan(0);
    // Compute is part of the whole; the whole also holds the hop to the replica and back.
    expect(compute?.value).toBeLessThan(total?.value ?? 0);
    // The dashboard's percentile, over every request so far: within the histogram's range, at least the median.
    const quantile = async (q: number): Promise<number> =>
      (await query(`histogram_quantile(${q}, sum by (le) (continuum_inference_request_duration_seconds_bucket{deployment="iris"}))`))[0]?.value ?? Number.NaN;
    const [p50, p99] = [await quantile(0.5), await quantile(0.99)];
    expect(p50).toBeGreaterThan(0);
    expect(p99).toBeGreaterThanOrEqual(p50);
    expect(p99).toBeLessThan(30);
    expect(await settlesTo('continuum_inference_requests_in_flight{deployment="iris"}', 0)).toBe(0);
  });

  it('reports desired and ready replicas, and each replica process\'s CPU time and resident memory', async () => {
    expect(await settlesTo('continuum_deployment_replicas_desired{deployment="iris",track="baseline"}', 2)).toBe(2);
    expect(await settlesTo('continuum_deployment_replicas_ready{deployment="iris",track="baseline"}', 2)).toBe(2);
    const rss = await until('two replicas\' memory', () => query('continuum_replica_resident_memory_bytes{deployment="iris"}'), (s) => s.length === 2, 20_000);
    expect(new Set(rss.map((s) => s.metric['replica'])).size).toBe(2);
    for (const s of rss) expect(s.value).toBeGreaterThan(10 * 1024 * 1024);
    const cpu = await query('continuum_replica_cpu_seconds_total{deployment="iris"}');
    for (const s of cpu) expect(s.value).toBeGreaterThan(0);
    expect((await query('continuum_process_resident_memory_bytes'))[0]?.value).toBeGreaterThan(0);
    expect((await query('continuum_deployment_traffic_share{deployment="iris",track="baseline"}'))[0]?.value).toBe(1);
    expect((await query('sum(continuum_deployment_cost_usd_total{deployment="iris"})'))[0]?.value).toBeGreaterThan(0);
    // The energy meter's joules for the deployment, labelled with how they were estimated.
    const energy = await until('the deployment\'s energy', () => query('continuum_energy_joules_total{deployment="iris"}'), (s) => (s[0]?.value ?? 0) > 0, 20_000);
    expect(['rapl', 'cpu_load', 'constant']).toContain(energy[0]?.metric['mode']);
  });

  it('the Grafana dashboard\'s every query is valid PromQL and the throughput panel sees the deployment', async () => {
    const dashboard = JSON.parse(readFileSync(new URL('../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr.replaceAll('$__rate_interval', '1m').replaceAll('$deployment', '.*') })));
    expect(exprs.length).toBeGreaterThan(10);
    // query() throws on a query Prometheus refuses.
    for (const { expr } of exprs) await query(expr);
    const throughput = exprs.find((e) => e.panel === 'Throughput by deployment') as { expr: string };
    const rates = await until('a rate over two scrapes', () => query(throughput.expr), (s) => s.some((x) => x.metric['deployment'] === 'iris'), 20_000);
    expect(rates.map((x) => x.metric['deployment'])).toContain('iris');
  });
});
