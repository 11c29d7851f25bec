/**
 * `continuum tune` end to end: the CLI asks a real server to measure runtime configurations of
 * a model on real ONNX Runtime, the pick is stored as the model's runtime options and the loaded
 * model is reloaded with them; hand-set options are validated at the API's edge.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../src/server/index.js';
import type { RunningServer } from '../src/server/index.js';
import { runCli } from './support/cli-process.js';

let server: RunningServer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'continuum-tune-'));
  server = await startServer({ dataDir: dir, port: 0, grpcPort: 0, logLevel: 'silent' });
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

interface TuneAnswer {
  readonly best: Record<string, unknown>;
  readonly best_trial: { readonly throughput: number; readonly concurrency: number };
  readonly trials: readonly { readonly options: Record<string, unknown>; readonly throughput: number; readonly errors: number }[];
  readonly reloaded: boolean;
}

describe('continuum tune', () => {
  it('measures every candidate, stores the best and reloads the model with it', async () => {
    const cli = runCli(['tune', 'iris', '--server', server.url, '--instances', '1', '--threads', '1', '--batch', '0,8', '--concurrency', '4', '--measure-ms', '200', '--json']);
    expect(await cli.exited).toBe(0);
    const answer = JSON.parse(cli.output()) as TuneAnswer;
    // Two executors × one instance count × one thread count × two batch limits, at one concurrency.
    expect(answer.trials).toHaveLength(4);
    for (const t of answer.trials) {
      expect(t.errors).toBe(0);
      expect(t.throughput).toBeGreaterThan(0);
    }
    expect(answer.trials.map((t) => t.options)).toContainEqual(answer.best);
    expect(answer.reloaded).toBe(true);

    const stored = (await (await fetch(`${server.url}/api/v1/models/iris/runtime-options`)).json()) as { options: Record<string, unknown> };
    expect(stored.options).toEqual(answer.best);
    // The reloaded model still answers correctly.
    const infer = await fetch(`${server.url}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [6.7, 3.0, 5.2, 2.3] }] }),
    });
    const body = (await infer.json()) as { outputs: { name: string; data: number[] }[] };
    expect(body.outputs.find((o) => o.name === 'label')?.data).toEqual([2]);
  });

  it('refuses runtime options out of range and keeps the stored ones', async () => {
    const before = await (await fetch(`${server.url}/api/v1/models/iris/runtime-options`)).json();
    const res = await fetch(`${server.url}/api/v1/models/iris/runtime-options`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: 0 }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/instances/);
    expect(await (await fetch(`${server.url}/api/v1/models/iris/runtime-options`)).json()).toEqual(before);
  });

  it('sets options by hand and serves with them', async () => {
    const res = await fetch(`${server.url}/api/v1/models/iris/runtime-options`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ maxBatchSize: 4, maxQueueSize: 16 }),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { effective: { maxBatchSize: number; maxQueueSize: number }; reloaded: boolean };
    expect(answer.effective).toMatchObject({ maxBatchSize: 4, maxQueueSize: 16 });
    expect(answer.reloaded).toBe(true);
  });
});
