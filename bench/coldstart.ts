/**
 * `node --import tsx bench/coldstart.ts [--quick]`: scale-from-zero latency of the local target
 * (src/targets): from asking for a replica until its first response, for the benchmark MLP and
 * the PP-OCRv4 recognizer (bench/models.ts), with and without the warm pool, in alternating
 * trials so both paths see the same machine load. Prints p50/p90 of the first response and the
 * median of each startup phase (spawn → runtime imported → session created → warm-up → ready),
 * and PASS/FAIL against issue 3's targets: MLP <= 250 ms (stretch <= 60 ms from the warm pool),
 * recognizer <= 400 ms.
 *
 * Every replica process is ended when it finishes or fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { InferRequest } from '../src/oip/types.js';
import type { ResolvedModelVersion } from '../src/runtime/index.js';
import { LocalTarget } from '../src/targets/index.js';
import type { ReplicaStartupTimings } from '../src/targets/index.js';
import { prepareContinuum } from './continuum.js';
import { median, percentile } from './method.js';
import { ocrRecognizer, resolvedVersion, writeMlp } from './models.js';
import type { BenchModel } from './models.js';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const TRIALS = args.quick ? 3 : 9;
/** Pause between trials so one start's aftermath (process exit, pool refill) does not weigh on the next. */
const SETTLE_MS = 300;

type Path = 'cold' | 'warm pool';

/** One scale-from-zero: the first response's latency and the replica's startup phases. */
interface Trial {
  readonly firstResponseMs: number;
  readonly timings: ReplicaStartupTimings;
}

/** A request of one item shaped like the model's input (dynamic dimensions from `model.requestShape`). */
function requestFor(model: BenchModel): InferRequest {
  const elements = model.requestShape.reduce((a, b) => a * b, 1);
  return { inputs: [{ name: model.inputName, datatype: 'FP32', shape: model.requestShape, data: Float32Array.from({ length: elements }, (_, i) => Math.sin(i) * 0.5) }] };
}

async function trial(target: LocalTarget, spec: ResolvedModelVersion, request: InferRequest): Promise<Trial> {
  await target.warmPoolReady();
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const start = performance.now();
  const replica = await target.startReplica({ deployment: 'coldstart', revision: 1, model: spec });
  try {
    await replica.infer(request);
    return { firstResponseMs: performance.now() - start, timings: replica.startupTimings };
  } finally {
    await replica.stop();
  }
}

function report(model: string, path: Path, trials: readonly Trial[]): number {
  const first = trials.map((t) => t.firstResponseMs).sort((a, b) => a - b);
  const phase = (k: keyof Omit<ReplicaStartupTimings, 'pooled'>): string => median(trials.map((t) => t.timings[k])).toFixed(1).padStart(7);
  const p50 = percentile(first, 0.5);
  console.log(
    `  ${model.padEnd(9)} ${path.padEnd(10)} ${p50.toFixed(1).padStart(8)} ${percentile(first, 0.9).toFixed(1).padStart(8)}   ${phase('spawnMs')} ${phase('importMs')} ${phase('sessionMs')} ${phase('warmupMs')} ${phase('readyMs')}`,
  );
  return p50;
}

async function main(): Promise<void> {
  const buildProblem = prepareContinuum();
  if (buildProblem !== undefined) throw new Error(buildProblem);
  const dir = mkdtempSync(join(tmpdir(), 'continuum-coldstart-'));
  const targets: Record<Path, LocalTarget> = { cold: new LocalTarget({ warmPoolSize: 0 }), 'warm pool': new LocalTarget({ warmPoolSize: 1 }) };
  const closeAll = (): Promise<unknown> => Promise.all(Object.values(targets).map((t) => t.close()));
  const onSigint = (): void => void closeAll().then(() => process.exit(130));
  process.once('SIGINT', onSigint);
  try {
    console.log(`machine: ${cpus()[0]?.model ?? '?'} × ${availableParallelism()}, load ${loadavg()[0]?.toFixed(2)} (shared: other work skews results)`);
    console.log(`command: node --import tsx bench/coldstart.ts${args.quick ? ' --quick' : ''}; ${TRIALS} trials per model and path, alternating\n`);
    console.log('  first response from zero (ms)   p50      p90   | median phase (ms): spawn  import  session warm-up  ready');
    const p50s: Record<string, number> = {};
    for (const model of [writeMlp(dir), ocrRecognizer()]) {
      const spec = resolvedVersion(model);
      const request = requestFor(model);
      const trials: Record<Path, Trial[]> = { cold: [], 'warm pool': [] };
      for (let i = 0; i < TRIALS; i++) {
        for (const path of ['cold', 'warm pool'] as const) trials[path].push(await trial(targets[path], spec, request));
      }
      for (const path of ['cold', 'warm pool'] as const) p50s[`${model.name} ${path}`] = report(model.name, path, trials[path]);
    }
    const verdict = (value: number | undefined, bound: number): string => `${(value ?? NaN).toFixed(1)} ms <= ${bound} ms: ${value !== undefined && value <= bound ? 'PASS' : 'FAIL'}`;
    console.log('\ntargets (issue 3, p50 of the first response from zero)');
    console.log(`  MLP, cold start:             ${verdict(p50s['mlp cold'], 250)}`);
    console.log(`  MLP, warm pool (stretch):    ${verdict(p50s['mlp warm pool'], 60)}`);
    console.log(`  recognizer, cold start:      ${verdict(p50s['ocr-rec cold'], 400)}`);
    console.log(`  recognizer, warm pool:       ${verdict(p50s['ocr-rec warm pool'], 400)}`);
  } finally {
    process.off('SIGINT', onSigint);
    await closeAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
