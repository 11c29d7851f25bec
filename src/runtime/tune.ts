/**
 * `continuum tune`: Triton's model analyzer in small. Loads a model version with each candidate
 * runtime configuration (executor × instances × intra-op threads × largest batch), drives it in process with
 * closed-loop clients at a few concurrencies for a short measured window each, re-measures the
 * best few in turn, and picks the configuration that carries the most load without giving up tail
 * latency (see {@link pickBest}).
 */
import { availableParallelism } from 'node:os';
import { ContinuumError } from '../errors.js';
import type { InferRequest } from '../oip/types.js';
import { LoadedModelVersion } from './model.js';
import { compileRuntimeOptions } from './options.js';
import type { ModelRuntimeOptions, ResolvedModelVersion } from './service.js';
import { zeroInputs } from './tensors.js';
import { isBatchable } from './validate.js';

/** Options of {@link tuneModel}; every grid is a list of candidate values. */
export interface TuneOptions {
  /** @default [1, 2] */
  readonly instances?: readonly number[];
  /**
   * Executors to try. Inline instances take turns on the serving thread (onnxruntime-node runs
   * synchronously), so candidates with more than one inline instance are skipped. @default ['inline', 'worker']
   */
  readonly executors?: readonly ('inline' | 'worker')[];
  /** @default [1, 2] */
  readonly intraOpThreads?: readonly number[];
  /** Ignored (only 0) for a model that cannot be batched. @default [0, 8, 32] */
  readonly maxBatchSizes?: readonly number[];
  /** Closed-loop clients, one request in flight each. @default [1, 8, 32] */
  readonly concurrencies?: readonly number[];
  /** Measured window per trial. @default 1000 */
  readonly measureMs?: number;
  /** Unmeasured load before each window, so caches and the batcher settle. @default 200 */
  readonly warmUpMs?: number;
  /** A trial qualifies when its p99 is within this factor of the best p99 at its concurrency. @default 2 */
  readonly p99Factor?: number;
  /** Size of dynamic non-batch dimensions in the generated requests (e.g. an image width). @default 1 */
  readonly dynamicDimSize?: number;
  /** Skip candidates using more threads (instances × intra-op threads) than this. @default the machine's cores */
  readonly maxThreads?: number;
}

/** The measurements of one candidate configuration at one concurrency. */
export interface TuneTrial {
  readonly options: ModelRuntimeOptions;
  readonly concurrency: number;
  /** Items answered per second (each generated request carries one). */
  readonly throughput: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly errors: number;
}

/** What {@link tuneModel} found: every trial, and the options to store for the model version. */
export interface TuneResult {
  /** The grid: every candidate at every concurrency. */
  readonly trials: readonly TuneTrial[];
  /** The finalists re-measured, each round in turn; empty when only one configuration qualified. */
  readonly confirmations: readonly TuneTrial[];
  readonly best: ModelRuntimeOptions;
  /** The winner's measurement: its confirmation rounds pooled (mean throughput, worst p99), or its grid trial. */
  readonly bestTrial: TuneTrial;
}

/**
 * The grid's best configurations are measured again, this many, in turn, this many rounds: one
 * window per trial is short, and on a shared machine a passing burst of other work can decide a
 * single comparison.
 */
const FINALISTS = 3;
const CONFIRMATION_ROUNDS = 2;

/**
 * The pick rule, a pure function: a trial qualifies when it had no errors and its p99 latency is
 * within `p99Factor` of the best p99 measured at the same concurrency (comparing tails across
 * concurrencies would only reward low load). Of the qualifying trials the one with the highest
 * throughput wins; on a tie, the lower p99. Returns undefined when no trial qualifies.
 */
export function pickBest(trials: readonly TuneTrial[], p99Factor: number): TuneTrial | undefined {
  return rankQualifying(trials, p99Factor)[0];
}

/** The qualifying trials of {@link pickBest}'s rule, best first (pure). */
function rankQualifying(trials: readonly TuneTrial[], p99Factor: number): TuneTrial[] {
  const bestP99 = new Map<number, number>();
  for (const t of trials) {
    if (t.errors > 0) continue;
    bestP99.set(t.concurrency, Math.min(bestP99.get(t.concurrency) ?? Infinity, t.p99Ms));
  }
  return trials
    .filter((t) => t.errors === 0 && t.p99Ms <= (bestP99.get(t.concurrency) ?? Infinity) * p99Factor)
    .sort((a, b) => b.throughput - a.throughput || a.p99Ms - b.p99Ms);
}

const sameOptions = (a: ModelRuntimeOptions, b: ModelRuntimeOptions): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The best trial of each of the `count` best distinct configurations, by {@link pickBest}'s rule (pure). */
export function finalists(trials: readonly TuneTrial[], p99Factor: number, count: number): TuneTrial[] {
  const out: TuneTrial[] = [];
  for (const t of rankQualifying(trials, p99Factor)) {
    if (out.length === count) break;
    if (!out.some((f) => sameOptions(f.options, t.options))) out.push(t);
  }
  return out;
}

/** Pools repeated trials of one configuration at one concurrency: mean throughput, worst tail (pure). */
export function poolTrials(trials: readonly TuneTrial[]): TuneTrial {
  const first = trials[0];
  if (first === undefined) throw new Error('poolTrials needs at least one trial');
  const mean = (f: (t: TuneTrial) => number): number => trials.reduce((s, t) => s + f(t), 0) / trials.length;
  return {
    options: first.options,
    concurrency: first.concurrency,
    throughput: mean((t) => t.throughput),
    p50Ms: mean((t) => t.p50Ms),
    p99Ms: Math.max(...trials.map((t) => t.p99Ms)),
    requests: trials.reduce((s, t) => s + t.requests, 0),
    errors: trials.reduce((s, t) => s + t.errors, 0),
  };
}

/** The candidate configurations: the grids' product, without ones that oversubscribe the cores or cannot help. */
export function candidateOptions(base: ModelRuntimeOptions, batchable: boolean, opts: TuneOptions = {}): ModelRuntimeOptions[] {
  const maxThreads = opts.maxThreads ?? availableParallelism();
  const out: ModelRuntimeOptions[] = [];
  for (const executor of opts.executors ?? (['inline', 'worker'] as const)) {
    for (const instances of opts.instances ?? [1, 2]) {
      if (executor === 'inline' && instances > 1) continue;
      for (const intraOpThreads of opts.intraOpThreads ?? [1, 2]) {
        if (instances * Math.max(1, intraOpThreads) > Math.max(1, maxThreads)) continue;
        for (const maxBatchSize of batchable ? (opts.maxBatchSizes ?? [0, 8, 32]) : [0]) {
          const preferredBatchSizes = (base.preferredBatchSizes ?? []).filter((p) => p <= maxBatchSize);
          out.push({ ...base, executor, instances, intraOpThreads, maxBatchSize, preferredBatchSizes });
        }
      }
    }
  }
  return out;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** A window is stretched up to this many times its length until every client has answered once in it. */
const MAX_WINDOW_STRETCH = 5;

/** What {@link measureClosedLoop} saw at one concurrency. */
export type ClosedLoopMeasurement = Omit<TuneTrial, 'options'>;

/**
 * Drives `send` with `concurrency` closed-loop clients (each sends again as soon as its answer
 * arrives) and measures one window after the warm-up: the calls that complete inside it
 * (perf_analyzer counts completions, not sends). A window lasts `measureMs` and is stretched until
 * it holds at least one answer per client, so configurations whose answers take longer than the
 * window (large batches of a slow model) are measured rather than scored zero.
 */
export async function measureClosedLoop(send: () => Promise<unknown>, concurrency: number, warmUpMs: number, measureMs: number): Promise<ClosedLoopMeasurement> {
  const latencies: number[] = [];
  let errors = 0;
  let windowStart = Infinity;
  let running = true;
  const clients = Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (running) {
        const sent = performance.now();
        try {
          await send();
          const done = performance.now();
          if (running && done >= windowStart) latencies.push(done - sent);
        } catch {
          if (running && performance.now() >= windowStart) errors += 1;
        }
      }
    }),
  );
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  await sleep(warmUpMs);
  windowStart = performance.now();
  await sleep(measureMs);
  const deadline = windowStart + measureMs * MAX_WINDOW_STRETCH;
  while (latencies.length + errors < concurrency && performance.now() < deadline) await sleep(Math.min(50, measureMs / 10));
  running = false;
  const windowMs = performance.now() - windowStart;
  const counted = latencies.slice();
  const failed = errors;
  await clients;
  const sorted = Float64Array.from(counted).sort();
  return {
    concurrency,
    throughput: counted.length / (windowMs / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    requests: counted.length + failed,
    errors: failed,
  };
}

/**
 * Measures every candidate configuration of `resolved` at every concurrency, one after another
 * (so trials do not compete for the cores), re-measures the best few in turn, and returns the
 * trials and the best options.
 * Throws CONTINUUM_ERR_LOAD_FAILED when the model cannot be loaded with any candidate.
 */
export async function tuneModel(resolved: ResolvedModelVersion, opts: TuneOptions = {}): Promise<TuneResult> {
  const request: InferRequest = { inputs: zeroInputs(resolved.signature.inputs, opts.dynamicDimSize ?? 1) };
  const trial = async (options: ModelRuntimeOptions, concurrencies: readonly number[]): Promise<TuneTrial[]> => {
    const model = await LoadedModelVersion.load(resolved, compileRuntimeOptions(options));
    const out: TuneTrial[] = [];
    try {
      for (const concurrency of concurrencies) out.push({ options, ...(await measureClosedLoop(() => model.infer(request, Infinity), concurrency, opts.warmUpMs ?? 200, opts.measureMs ?? 1000)) });
    } finally {
      await model.drain();
      await model.release();
    }
    return out;
  };
  const trials: TuneTrial[] = [];
  let lastError: unknown;
  for (const options of candidateOptions(resolved.runtimeOptions, isBatchable(resolved.signature), opts)) {
    try {
      trials.push(...(await trial(options, opts.concurrencies ?? [1, 8, 32])));
    } catch (err) {
      lastError = err;
    }
  }
  const p99Factor = opts.p99Factor ?? 2;
  const finals = finalists(trials, p99Factor, FINALISTS);
  if (finals.length === 0) {
    throw new ContinuumError('CONTINUUM_ERR_LOAD_FAILED', `tuning model '${resolved.name}' version ${resolved.version} found no configuration that runs`, {
      cause: lastError,
      details: { model: resolved.name, version: resolved.version },
    });
  }
  if (finals.length === 1) return { trials, confirmations: [], best: (finals[0] as TuneTrial).options, bestTrial: finals[0] as TuneTrial };
  // Each finalist again, at the concurrency where it did best, in turn (A B C A B C).
  const confirmations: TuneTrial[] = [];
  for (let round = 0; round < CONFIRMATION_ROUNDS; round++) {
    for (const f of finals) confirmations.push(...(await trial(f.options, [f.concurrency])));
  }
  const pooled = finals.map((f) => poolTrials(confirmations.filter((c) => c.options === f.options)));
  const bestTrial = pickBest(pooled, p99Factor) ?? (finals[0] as TuneTrial);
  return { trials, confirmations, best: bestTrial.options, bestTrial };
}
