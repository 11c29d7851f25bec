/**
 * `node --import tsx bench/hop.ts [--quick]`: what the gateway→replica hop costs. The same MLP
 * (bench/models.ts) is run by the runtime in this process and by replica processes of the local
 * target (src/targets), side by side in one run:
 *
 * - latency at concurrency 1: in-process and through one replica, in alternating blocks so both
 *   see the same machine load; the hop is the difference of the medians (issue 3 target:
 *   <= 0.15 ms);
 * - throughput at concurrency 64 (closed loop): in-process, one replica, two replicas (least
 *   outstanding requests), alternating rounds; ratios to in-process (target for two replicas:
 *   >= 0.9x; the issue compares with the single-process server, whose HTTP work makes it slower
 *   than the raw in-process runtime used here, so this bound is the stricter one).
 *
 * Every replica process is ended when it finishes or fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { InferRequest } from '../src/oip/types.js';
import { Runtime } from '../src/runtime/index.js';
import type { ResolvedModelVersion } from '../src/runtime/index.js';
import { LocalTarget } from '../src/targets/index.js';
import type { Replica } from '../src/targets/index.js';
import { prepareContinuum } from './continuum.js';
import { median, percentile } from './method.js';
import { resolvedVersion, writeMlp } from './models.js';

/** Something that answers inference requests: the runtime in process, or replicas. */
type Infer = (request: InferRequest) => Promise<unknown>;

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const LATENCY_ROUNDS = args.quick ? 4 : 10;
const LATENCY_BLOCK = args.quick ? 300 : 1000;
const THROUGHPUT_ROUNDS = args.quick ? 1 : 3;
const THROUGHPUT_WINDOW_MS = args.quick ? 1000 : 2000;
const CONCURRENCY = 64;

/** Latencies (µs) of `count` sequential calls. */
async function sequential(infer: Infer, request: InferRequest, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await infer(request);
    out.push((performance.now() - start) * 1000);
  }
  return out;
}

/** Requests per second of `clients` closed-loop clients over `windowMs`, after a short warm-up. */
async function closedLoop(infer: Infer, request: InferRequest, clients: number, windowMs: number): Promise<number> {
  let counting = false;
  let done = 0;
  const warmEnd = performance.now() + 200;
  const end = warmEnd + windowMs;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (;;) {
        const now = performance.now();
        if (now >= end) return;
        if (!counting && now >= warmEnd) counting = true;
        await infer(request);
        if (counting) done += 1;
      }
    }),
  );
  return done / (windowMs / 1000);
}

/** Least outstanding requests over `replicas` (the gateway's routing rule). */
function leastOutstanding(replicas: readonly Replica[]): Infer {
  return (request) => {
    let best = replicas[0] as Replica;
    for (const r of replicas) if (r.inFlight < best.inFlight) best = r;
    return best.infer(request);
  };
}

async function main(): Promise<void> {
  const buildProblem = prepareContinuum();
  if (buildProblem !== undefined) throw new Error(buildProblem);
  const dir = mkdtempSync(join(tmpdir(), 'continuum-hop-'));
  const model: ResolvedModelVersion = resolvedVersion(writeMlp(dir));
  const runtime = new Runtime({ source: { resolve: () => model, listDefaults: () => [{ name: model.name, version: model.version }] } });
  const target = new LocalTarget({ warmPoolSize: 0 });
  const stopAll = (): void => {
    void target.close();
  };
  process.once('SIGINT', stopAll);
  try {
    await runtime.loadModel(model.name);
    const spec = { deployment: 'hop', revision: 1, model };
    const replicas = [await target.startReplica(spec), await target.startReplica(spec)];
    const inProcess: Infer = (r) => runtime.infer(model.name, undefined, r);
    const oneReplica: Infer = (r) => (replicas[0] as Replica).infer(r);
    const twoReplicas = leastOutstanding(replicas);
    const request: InferRequest = {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 16], data: Float32Array.from({ length: 16 }, (_, i) => Math.sin(i)) }],
    };

    console.log(`machine: ${cpus()[0]?.model ?? '?'} × ${availableParallelism()}, load ${loadavg()[0]?.toFixed(2)} (shared: other work skews results)`);
    console.log(`command: node --import tsx bench/hop.ts${args.quick ? ' --quick' : ''}\n`);

    await sequential(inProcess, request, 500);
    await sequential(oneReplica, request, 500);
    const direct: number[] = [];
    const hopped: number[] = [];
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      direct.push(...(await sequential(inProcess, request, LATENCY_BLOCK)));
      hopped.push(...(await sequential(oneReplica, request, LATENCY_BLOCK)));
    }
    direct.sort((a, b) => a - b);
    hopped.sort((a, b) => a - b);
    const hopUs = percentile(hopped, 0.5) - percentile(direct, 0.5);
    console.log('latency, concurrency 1 (µs)      p50      p90      p99');
    for (const [name, l] of [['in-process', direct], ['through a replica', hopped]] as const) {
      console.log(`  ${name.padEnd(28)} ${[0.5, 0.9, 0.99].map((q) => percentile(l, q).toFixed(1).padStart(8)).join(' ')}`);
    }
    console.log(`  hop adds ${hopUs.toFixed(1)} µs at p50 (target <= 150 µs): ${hopUs <= 150 ? 'PASS' : 'FAIL'}\n`);

    const rates: Record<'in' | 'one' | 'two', number[]> = { in: [], one: [], two: [] };
    for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
      rates.in.push(await closedLoop(inProcess, request, CONCURRENCY, THROUGHPUT_WINDOW_MS));
      rates.one.push(await closedLoop(oneReplica, request, CONCURRENCY, THROUGHPUT_WINDOW_MS));
      rates.two.push(await closedLoop(twoReplicas, request, CONCURRENCY, THROUGHPUT_WINDOW_MS));
    }
    const base = median(rates.in);
    console.log(`throughput, concurrency ${CONCURRENCY} (requests/s, median of ${THROUGHPUT_ROUNDS})`);
    for (const [name, r] of [['in-process', rates.in], ['1 replica', rates.one], ['2 replicas', rates.two]] as const) {
      console.log(`  ${name.padEnd(12)} ${Math.round(median(r)).toString().padStart(8)}   ${(median(r) / base).toFixed(2)}x   rounds: ${r.map((x) => Math.round(x)).join(', ')}`);
    }
    const ratio = median(rates.two) / base;
    console.log(`  2 replicas / in-process = ${ratio.toFixed(2)}x (target >= 0.9x): ${ratio >= 0.9 ? 'PASS' : 'FAIL'}`);
  } finally {
    process.off('SIGINT', stopAll);
    await target.close();
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
