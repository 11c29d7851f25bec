/** Measuring a model's batch latencies on the real runtime (ONNX Runtime) and fitting a profile. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MLP_OPTIONS } from '../../bench/models.js';
import type { Signature } from '../oip/types.js';
import { buildMlp } from '../onnx/build.js';
import type { ResolvedModelVersion } from '../runtime/index.js';
import { batchServiceTimes, fitServiceProfile } from './profile.js';
import { measureServiceProfile } from './measure.js';

const dir = mkdtempSync(join(tmpdir(), 'continuum-measure-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SIGNATURE: Signature = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, MLP_OPTIONS.inputSize] }],
  outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, MLP_OPTIONS.outputSize] }],
};

function mlp(runtimeOptions: ResolvedModelVersion['runtimeOptions'], bytes = buildMlp(MLP_OPTIONS)): ResolvedModelVersion {
  const artifactPath = join(dir, `mlp-${Object.keys(runtimeOptions).length}.onnx`);
  writeFileSync(artifactPath, bytes);
  return { name: 'mlp', version: '1', artifactPath, sha256: 'mlp', signature: SIGNATURE, runtimeOptions };
}

describe('measureServiceProfile', () => {
  it('measures an MLP at each batch size; larger batches take longer', async () => {
    // Wider than the benchmark MLP, so 32 rows cost clearly more than one even on a busy machine
    // (with 64-wide layers both are ~50 µs of mostly fixed cost and noise can order them either way).
    const measured = await measureServiceProfile(mlp({}, buildMlp({ ...MLP_OPTIONS, hiddenSizes: [256, 256] })), { warmUpMs: 50, measureMs: 120, rounds: 3 });
    expect(measured.model).toBe('mlp');
    expect(measured.instances).toBe(1);
    expect(measured.maxBatchSize).toBe(32);
    // Three interleaved rounds over the sizes.
    expect(measured.points.map((p) => p.batchSize)).toEqual([1, 2, 4, 8, 16, 32, 1, 2, 4, 8, 16, 32, 1, 2, 4, 8, 16, 32]);
    for (const p of measured.points) expect(p.latencyMs).toBeGreaterThan(0);
    const profile = fitServiceProfile(measured, { coldStartMs: [180, 220], memoryGb: 0.25, vcpu: 1 });
    const latency = (b: number): number => profile.batchLatencyMs[b] ?? Number.NaN;
    // 32 rows cost more than one, yet per row batching is far cheaper (by more than 8x here; the
    // bound leaves room for a machine busy with other suites).
    expect(latency(32)).toBeGreaterThan(latency(1));
    expect(latency(32) / 32).toBeLessThan(latency(1) / 2);
    const table = Array.from(batchServiceTimes(profile).subarray(1));
    expect(table).toHaveLength(32);
    for (let b = 1; b < table.length; b++) expect(table[b] as number).toBeGreaterThanOrEqual(table[b - 1] as number);
  });

  it('measures only up to the model’s largest batch, and counts worker instances as parallel executors', async () => {
    const measured = await measureServiceProfile(mlp({ maxBatchSize: 6, executor: 'worker', instances: 2 }), {
      batchSizes: [1, 4, 8],
      warmUpMs: 50,
      measureMs: 100,
      rounds: 1,
    });
    expect(measured.points.map((p) => p.batchSize)).toEqual([1, 4, 6]);
    expect(measured.maxBatchSize).toBe(6);
    expect(measured.instances).toBe(2);
  });

  it('fails with LOAD_FAILED when the model does not load', async () => {
    await expect(measureServiceProfile(mlp({ instances: 1 }, Uint8Array.from([1, 2, 3])), { measureMs: 50 })).rejects.toMatchObject({
      code: 'CONTINUUM_ERR_LOAD_FAILED',
    });
  });
});
