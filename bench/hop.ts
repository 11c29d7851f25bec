/**
 * `node --import tsx bench/hop.ts [--quick]`: what the gateway→replica hop costs. The same MLP
 * (bench/models.ts) is run by the runtime in this process and by replica processes of the local
 * target (src/targets), side by side in one run:
 *
 * - latency at concurrency 1: in-process and through one replica, in alternating blocks so both
 *   see the same machine load; the hop is the difference of the medians (issue 3 target:
 *   <= 0.15 ms);
 * - throughput at concurrency 64 (closed loop): in-process, one replica, two replicas (least
 *   outstanding requests), alternating rounds; ratios to in-process, and the CPU this process
 *   (the gateway's side) spends per request. The target compares two replicas with the
 *   single-process server (>= 0.9x), whose HTTP work costs far more per request than the raw
 *   in-process runtime here; without an HTTP front end the bench estimates that ratio from the
 *   hop's extra gateway CPU and the latest serving benchmark's result (bench/results).
 *
 * Every replica process is ended when it finishes or fails.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { InferRequest } from '../src/oip/types.js';
import { Runtime } from '../src/runtime/index.js';
import type { ResolvedModelVersion } from '../src/runtime/index.js';
import { LocalTarget } from '../src/targets/index.js';
import type { Replica } from '../src/targets/index.js';
import { prepareContinuum, ROOT } from './continuum.js';
import { median, percentile } from './method.js';
import { resolvedVersion, writeMlp } from './models.js';
import type { ServingResult } from './report.js';

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

/** Throughput of a closed loop and the CPU this process spent per request (the gateway's share). */
interface LoopResult {
  readonly requestsPerS: number;
  readonly cpuUsPerRequest: number;
}

/** `clients` closed-loop clients over `windowMs`, after a short warm-up. */
async function closedLoop(infer: Infer, request: InferRequest, clients: number, windowMs: number): Promise<LoopResult> {
  let done = 0;
  let cpuStart: NodeJS.CpuUsage | undefined;
  const warmEnd = performance.now() + 200;
  const end = warmEnd + windowMs;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (;;) {
        const now = performance.now();
        if (now >= end) return;
        if (cpuStart === undefined && now >= warmEnd) cpuStart = process.cpuUsage();
        await infer(request);
        if (cpuStart !== undefined) done += 1;
      }
    }),
  );
  const cpu = process.cpuUsage(cpuStart);
  return { requestsPerS: done / (windowMs / 1000), cpuUsPerRequest: (cpu.user + cpu.system) / done };
}

/** The single-process server's MLP throughput at c64 over REST JSON in the latest serving benchmark, when there is one. */
function latestServerThroughput(): { readonly requestsPerS: number; readonly file: string } | undefined {
  const dir = join(ROOT, 'bench', 'results');
  const file = existsSync(dir) ? readdirSync(dir).filter((f) => /^serving-.*\.json$/.test(f)).sort().at(-1) : undefined;
  if (file === undefined) return undefined;
  const result = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ServingResult;
  const row = result.rows.find((r) => r.model === 'mlp' && r.systemId === 'continuum' && r.protocol === 'rest-json' && r.concurrency === CONCURRENCY);
  return row === undefined ? undefined : { requestsPerS: row.measurement.throughput, file: `bench/results/${file}` };
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

    const results: Record<'in' | 'one' | 'two', LoopResult[]> = { in: [], one: [], two: [] };
    for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
      results.in.push(await closedLoop(inProcess, request, CONCURRENCY, THROUGHPUT_WINDOW_MS));
      results.one.push(await closedLoop(oneReplica, request, CONCURRENCY, THROUGHPUT_WINDOW_MS));
      results.two.push(await closedLoop(twoReplicas, request, CONCURRENCY, THROUGHPUT_WINDOW_MS));
    }
    const rate = (k: keyof typeof results): number => median(results[k].map((r) => r.requestsPerS));
    const cpu = (k: keyof typeof results): number => median(results[k].map((r) => r.cpuUsPerRequest));
    console.log(`throughput, concurrency ${CONCURRENCY} (median of ${THROUGHPUT_ROUNDS})   requests/s   ratio   this process's CPU per request (µs)`);
    for (const [name, k] of [['in-process', 'in'], ['1 replica', 'one'], ['2 replicas', 'two']] as const) {
      console.log(`  ${name.padEnd(36)} ${Math.round(rate(k)).toString().padStart(10)}   ${(rate(k) / rate('in')).toFixed(2)}x   ${cpu(k).toFixed(1).padStart(6)}`);
    }
    console.log(`  2 replicas / in-process runtime = ${(rate('two') / rate('in')).toFixed(2)}x (the in-process runtime is the limit, not the target's peer)`);
    const extraUs = cpu('two') - cpu('in');
    console.log(`  the hop costs the gateway ${extraUs.toFixed(1)} µs of CPU per request more than running the model in process`);
    const server = latestServerThroughput();
    if (server !== undefined) {
      // The single-process server's one event loop is busy for ~1/throughput per request at c64; the
      // gateway spends that plus the hop's extra, while the models run on the replicas' cores.
      const perRequestUs = 1e6 / server.requestsPerS;
      const estimate = perRequestUs / (perRequestUs + extraUs);
      console.log(`  the single-process server answered ${Math.round(server.requestsPerS)} requests/s at c64 over REST JSON (${server.file}), ~${perRequestUs.toFixed(0)} µs per request;`);
      console.log(`  a gateway adding the hop's extra would reach ~${estimate.toFixed(2)}x of it (estimate, target >= 0.9x): ${estimate >= 0.9 ? 'PASS' : 'FAIL'}`);
    }
  } finally {
    process.off('SIGINT', stopAll);
    await target.close();
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
