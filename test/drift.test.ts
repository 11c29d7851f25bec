/**
 * Input drift end to end: the demo deployment's drift monitor takes the iris dataset attached to
 * the model as its reference; traffic like the dataset stays below the PSI alarm, traffic whose
 * features moved raises it, and a drift alert rule fires on the real autoscaler ticks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../src/onnx/build.js';
import { irisDataset } from '../src/release/index.js';
import { startServer } from '../src/server/index.js';
import type { RunningServer } from '../src/server/index.js';
import { api, inferJson, until } from './support/http.js';

let server: RunningServer;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'continuum-drift-e2e-'));
  server = await startServer({ port: 0, grpcPort: 0, dataDir, logLevel: 'silent', autoscalerTickMs: 200 });
});

afterAll(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface DriftReport {
  readonly score: number | null;
  readonly referenceSource: string;
  readonly drift: readonly { readonly feature: number; readonly psi: number; readonly p: number }[];
}

/** Sends each row as one request of the demo model (batch 1). */
async function send(rows: readonly (readonly number[])[]): Promise<void> {
  for (const row of rows) {
    const answer = await inferJson(server.url, 'iris', { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: row }] });
    expect(answer.status).toBe(200);
  }
}

describe('input drift against the attached dataset', () => {
  it('stays quiet on traffic like the reference and fires a drift alert when the features move', async () => {
    const rows = irisDataset().features;
    // Every 10th request is sampled; 100 live rows need about 1000 requests. Rows drawn at random:
    // a fixed stride would meet the sampling stride and show the monitor a few rows only.
    const draw = seededRandom(9);
    const like = Array.from({ length: 1100 }, () => rows[Math.floor(draw() * rows.length)] as number[]);
    await send(like);
    const quiet = (await api<DriftReport>(server.url, 'GET', '/deployments/iris/drift')).body;
    expect(quiet.referenceSource).toBe('given');
    expect(quiet.score).not.toBeNull();
    expect(quiet.score ?? 1).toBeLessThan(0.25);

    const rule = await api(server.url, 'POST', '/alerts/rules', { name: 'iris-drift', kind: 'drift', threshold: 0.25, forMs: 400, deployment: 'iris' });
    expect(rule.status).toBe(201);
    // Petal lengths and widths a good deal larger than any flower in the dataset.
    await send(like.map((r) => r.map((v, j) => (j >= 2 ? v * 1.8 + 1 : v))));
    const moved = (await api<DriftReport>(server.url, 'GET', '/deployments/iris/drift')).body;
    expect(moved.score ?? 0).toBeGreaterThan(0.25);
    const petal = moved.drift.find((f) => f.feature === 2);
    expect(petal?.p ?? 1).toBeLessThan(1e-6);
    await until(
      'the drift alert to fire',
      async () => (await api<{ active: { rule: string }[] }>(server.url, 'GET', '/alerts')).body.active,
      (active) => active.some((a) => a.rule === 'iris-drift'),
      10_000,
    );
  }, 120_000);
});
