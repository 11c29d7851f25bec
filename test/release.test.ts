/**
 * The release pipeline end to end on a real server: candidates of the demo iris model go through
 * the gates on real replica processes (real ONNX Runtime, the Iris data set attached at first
 * start); a good one moves the production alias, a changed signature and a random-weights model
 * are stopped by their gates with the evidence recorded; the CLI releases a file and waits; and
 * hostile input is refused at the edge.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIrisClassifier } from '../src/demo/iris.js';
import { buildMlp } from '../src/onnx/build.js';
import type { ModelDetail, ModelVersion } from '../src/registry/index.js';
import type { DatasetSummary, Release } from '../src/release/index.js';
import { startServer } from '../src/server/index.js';
import type { RunningServer } from '../src/server/index.js';
import { runCli } from './support/cli-process.js';

let server: RunningServer;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'continuum-release-e2e-'));
  server = await startServer({ port: 0, grpcPort: 0, dataDir, logLevel: 'silent', autoscalerTickMs: 200 });
});

afterAll(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: T }> {
  const res = await request(`${server.url}/api/v1${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': contentType }, body: body instanceof Uint8Array || typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

async function push(model: Uint8Array): Promise<string> {
  const res = await api<ModelVersion>('POST', '/models/iris/versions', model, 'application/octet-stream');
  expect(res.status).toBe(201);
  return res.body.version;
}

async function release(body: Record<string, unknown>): Promise<Release> {
  const started = await api<Release>('POST', '/releases', { model: 'iris', ...body });
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  expect(started.body.status).toBe('running');
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { body: r } = await api<Release>('GET', `/releases/${started.body.id}`);
    if (['failed', 'released', 'rolled-back', 'aborted'].includes(r.status)) return r;
    if (Date.now() > deadline) throw new Error(`release did not finish: ${JSON.stringify(r)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const production = async (): Promise<string | undefined> => (await api<ModelDetail>('GET', '/models/iris')).body.aliases['production'];

/** An MLP with random weights and the demo model's signature: it runs, but guesses. */
const randomIris = (): Uint8Array => buildMlp({ inputSize: 4, hiddenSizes: [16], outputSize: 3, seed: 7, argmaxLabel: true, outputName: 'probabilities' });

describe('release pipeline', () => {
  it('attaches the Iris data set to the demo model at first start', async () => {
    const { status, body } = await api<DatasetSummary>('GET', '/models/iris/dataset');
    expect(status).toBe(200);
    expect(body).toMatchObject({ model: 'iris', rows: 150, rowWidth: 4, input: 'input', output: 'probabilities', classes: ['setosa', 'versicolor', 'virginica'] });
    expect(body.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('releases a good candidate: every gate passes and the production alias moves to it', async () => {
    const version = await push(buildIrisClassifier().model);
    // Two identical models differ in p99 only by the test machine's scheduling noise, which other
    // suites running beside this one can push past the default allowance; the thresholds
    // themselves are unit-tested in src/release/gates.test.ts.
    const r = await release({ version, gates: { latencyNoiseMs: 100 } });
    expect(r.status, r.error ?? '').toBe('released');
    expect(r.baselineVersion).toBe('1');
    expect(r.steps.map((s) => [s.name, s.status])).toEqual([
      ['signature', 'passed'],
      ['smoke', 'passed'],
      ['accuracy', 'passed'],
      ['latency', 'passed'],
      ['size-memory', 'passed'],
    ]);
    const accuracy = r.steps.find((s) => s.name === 'accuracy')?.evidence;
    expect(accuracy?.['candidateAccuracy']).toBeGreaterThan(0.9);
    expect(accuracy?.['candidateAccuracy']).toBe(accuracy?.['productionAccuracy']);
    const memory = r.steps.find((s) => s.name === 'size-memory')?.evidence;
    expect(memory?.['rssBytes']).toBeGreaterThan(10 * 1024 * 1024);
    expect(memory?.['productionRssBytes']).toBeGreaterThan(10 * 1024 * 1024);
    for (const s of r.steps) expect(s.durationMs).toBeGreaterThanOrEqual(0);
    expect(await production()).toBe(version);
  });

  it('stops a candidate whose signature changed at the signature gate; nothing moves', async () => {
    const before = await production();
    const version = await push(buildMlp({ inputSize: 5, hiddenSizes: [], outputSize: 3, argmaxLabel: true, outputName: 'probabilities' }));
    const r = await release({ version });
    expect(r.status).toBe('failed');
    expect(r.steps[0]).toMatchObject({ name: 'signature', status: 'failed', evidence: { compatible: false, problems: ["input 'input' changed shape from [?, 4] to [?, 5]"] } });
    expect(r.steps.slice(1).every((s) => s.status === 'skipped')).toBe(true);
    expect(r.error).toContain('signature gate failed');
    expect(await production()).toBe(before);
  });

  it('stops a guessing candidate at the accuracy gate, with both accuracies as evidence', async () => {
    const before = await production();
    const version = await push(randomIris());
    const r = await release({ version, gates: { maxAccuracyDrop: 0.05 } });
    expect(r.status).toBe('failed');
    const step = r.steps.find((s) => s.name === 'accuracy');
    expect(step?.status).toBe('failed');
    const candidate = step?.evidence['candidateAccuracy'] as number;
    const baseline = step?.evidence['productionAccuracy'] as number;
    expect(baseline).toBeGreaterThan(0.9);
    expect(baseline - candidate).toBeGreaterThan(0.05);
    expect(r.steps.find((s) => s.name === 'smoke')?.status).toBe('passed');
    expect(r.steps.find((s) => s.name === 'latency')?.status).toBe('skipped');
    expect(await production()).toBe(before);
  });

  it('hands a release to a deployment to a rollout after the gates pass, and is released when the rollout promotes it', async () => {
    const version = await push(buildIrisClassifier().model);
    const r = await release({ version, deployment: 'iris', strategy: { strategy: 'blue-green', retentionMs: 500, analysisIntervalMs: 200 }, gates: { run: ['signature', 'smoke'] } });
    expect(r.steps.filter((s) => s.status === 'passed').map((s) => s.name)).toEqual(['signature', 'smoke']);
    expect(r.status).toBe('released');
    expect(r.rolloutId).not.toBeNull();
    const d = await api<{ revision: { spec: { version: string } } }>('GET', '/deployments/iris');
    expect(d.body.revision.spec.version).toBe(version);
  });

  it('starts a release on push when the model has a release policy', async () => {
    const set = await api('PUT', '/models/iris/release-policy', { gates: { run: ['signature', 'smoke'], minAccuracy: 0.9 } });
    expect(set.status).toBe(200);
    expect((await api('GET', '/models/iris/release-policy')).body).toMatchObject({ model: 'iris', deployment: null, gates: { minAccuracy: 0.9 } });
    const version = await push(buildIrisClassifier().model);
    const { body } = await api<{ releases: Release[] }>('GET', `/releases?model=iris&version=${version}`);
    expect(body.releases).toHaveLength(1);
    expect(body.releases[0]?.gates).toMatchObject({ run: ['signature', 'smoke'] });
    expect((await api('DELETE', '/models/iris/release-policy')).status).toBe(204);
    expect((await api('GET', '/models/iris/release-policy')).status).toBe(404);
  });

  it('releases a file through the CLI and shows the steps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'continuum-release-cli-'));
    try {
      // A release started on push above may still run; the CLI waits for none, so wait here.
      for (const r of (await api<{ releases: Release[] }>('GET', '/releases?model=iris')).body.releases) {
        while ((await api<Release>('GET', `/releases/${r.id}`)).body.status === 'running') await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const file = join(dir, 'random.onnx');
      writeFileSync(file, randomIris());
      const cli = runCli(['release', 'iris', file, '--max-accuracy-drop', '0.05', '--wait', '--json', '--server', server.url]);
      const code = await cli.exited;
      expect(code, cli.output()).toBe(1);
      const printed = JSON.parse(cli.output()) as Release;
      expect(printed.status).toBe('failed');
      expect(printed.steps.find((s) => s.name === 'accuracy')?.status).toBe('failed');

      const show = runCli(['releases', 'show', String(printed.id), '--server', server.url]);
      expect(await show.exited, show.output()).toBe(0);
      expect(show.output()).toMatch(/Status:\s+failed/);
      expect(show.output()).toMatch(/accuracy\s+failed/);
      expect(show.output()).toContain('candidateAccuracy');

      const unlabelled = join(dir, 'unlabelled.json');
      writeFileSync(unlabelled, JSON.stringify({ input: 'input', features: [[1, 2, 3, 4]], labels: ['setosa'] }));
      const refused = runCli(['models', 'dataset', 'iris', unlabelled, '--server', server.url]);
      expect(await refused.exited).toBe(1);
      expect(refused.output()).toContain("invalid dataset at 'labels.0': label 'setosa' is a class name: give 'classes'");

      const good = join(dir, 'good.onnx');
      writeFileSync(good, buildIrisClassifier().model);
      const ok = runCli(['release', 'iris', good, '--gates', 'signature,smoke,accuracy', '--min-accuracy', '0.9', '--wait', '--server', server.url]);
      expect(await ok.exited, ok.output()).toBe(0);
      expect(ok.output()).toMatch(/released/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses hostile input at the edge', async () => {
    expect((await api('POST', '/releases', { model: 'nope' })).status).toBe(404);
    expect((await api('GET', '/models/nope/dataset')).status).toBe(404);
    expect((await api('GET', '/releases/999999')).status).toBe(404);
    const ragged = await api<{ error: string; code: string }>('PUT', '/models/iris/dataset', { input: 'input', features: [[1, 2, 3, 4], [1]], labels: [0, 1] });
    expect(ragged.status).toBe(400);
    expect(ragged.body.error).toBe("invalid dataset at 'features.1': every row needs 4 features like the first; this one has 1");
    const notJson = await api<{ code: string }>('PUT', '/models/iris/dataset', '{"input": [', 'application/json');
    expect(notJson.status).toBe(400);
    const huge = `{"input":"input","features":[${Array.from({ length: 1_000_000 }, () => '[1.25,2.5,3.75,4.5]').join(',')}],"labels":[]}`;
    const tooLarge = await api<{ code: string }>('PUT', '/models/iris/dataset', huge, 'application/json');
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.code).toBe('CONTINUUM_ERR_BODY_TOO_LARGE');
    const badGate = await api<{ error: string }>('POST', '/releases', { model: 'iris', gates: { run: ['vibes'] } });
    expect(badGate.status).toBe(400);
    expect(badGate.body.error).toContain("gates.run.0");
    // The dataset the demo attached is still the one in place.
    expect((await api<DatasetSummary>('GET', '/models/iris/dataset')).body.rows).toBe(150);
  });
});
