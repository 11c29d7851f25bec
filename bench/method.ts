/**
 * The measurement method of `npm run bench:serving`, as pure functions: perf_analyzer's stability
 * rule over measurement windows, latency percentiles, the server-side queue/compute split from two
 * snapshots of the statistics extension, and the targets the issue sets.
 *
 * perf_analyzer (Triton, docs/perf_analyzer.md "Measurement Modes"; inference_profiler.cc
 * `IsInferWindowStable`/`IsLatencyWindowStable`) repeats a measurement window until the last
 * `stability window` (3) windows agree: max/min of throughput and of average latency each within
 * 1 + stability percentage (10%), with a cap on the number of windows (`max-trials`).
 */
import type { ModelStatistics } from '../src/oip/types.js';

/** One measurement window as the load generator reports it. */
export interface Window {
  /** Wall time the window covered, in milliseconds. */
  readonly durationMs: number;
  /** Requests completed successfully within the window. */
  readonly completed: number;
  /** Requests that failed within the window. */
  readonly errors: number;
  /** Latency of each completed request, in microseconds. */
  readonly latenciesUs: readonly number[];
}

/** perf_analyzer's stability parameters. */
export interface StabilityRule {
  /** Consecutive windows that must agree. @default 3 (perf_analyzer's stability window) */
  readonly windows: number;
  /** Allowed max/min spread, as a fraction. @default 0.1 (`--stability-percentage 10`) */
  readonly tolerance: number;
}

/** perf_analyzer's defaults: three windows within 10%. */
export const PERF_ANALYZER_STABILITY: StabilityRule = { windows: 3, tolerance: 0.1 };

/** Requests per second of a window. */
export function windowThroughput(w: Window): number {
  return w.durationMs > 0 ? (w.completed * 1000) / w.durationMs : 0;
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return values.length === 0 ? 0 : sum / values.length;
}

/**
 * True when the last `rule.windows` windows agree: each has completions, no errors, and the
 * max/min ratio of throughput and of mean latency is at most 1 + tolerance (inference_profiler.cc).
 */
export function isStable(windows: readonly Window[], rule: StabilityRule = PERF_ANALYZER_STABILITY): boolean {
  if (windows.length < rule.windows) return false;
  const last = windows.slice(-rule.windows);
  if (last.some((w) => w.completed === 0 || w.errors > 0)) return false;
  const agree = (values: readonly number[]): boolean => Math.max(...values) <= Math.min(...values) * (1 + rule.tolerance);
  return agree(last.map(windowThroughput)) && agree(last.map((w) => mean(w.latenciesUs)));
}

/** The value at quantile `q` (0..1) of ascending `sorted`, nearest-rank (as perf_analyzer reports pXX). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** The summary of one measurement: throughput and latency over the windows it kept. */
export interface Measurement {
  /** Requests per second over the kept windows. */
  readonly throughput: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly completed: number;
  readonly errors: number;
  /** Windows measured in total (the kept ones are the last `rule.windows`). */
  readonly windowsMeasured: number;
  /** Whether the kept windows met the stability rule (false: the window cap was reached). */
  readonly stable: boolean;
  /** Throughput of each kept window, for the spread. */
  readonly windowThroughputs: readonly number[];
}

/**
 * Summarises a finished measurement the way perf_analyzer does: over the last `rule.windows`
 * windows (the stable ones, or the last ones when the cap was reached), all latencies pooled.
 */
export function summarize(windows: readonly Window[], rule: StabilityRule = PERF_ANALYZER_STABILITY): Measurement {
  const kept = windows.slice(-rule.windows);
  const latencies = kept.flatMap((w) => w.latenciesUs).sort((a, b) => a - b);
  const durationMs = kept.reduce((s, w) => s + w.durationMs, 0);
  const completed = kept.reduce((s, w) => s + w.completed, 0);
  return {
    throughput: durationMs > 0 ? (completed * 1000) / durationMs : 0,
    p50Ms: percentile(latencies, 0.5) / 1000,
    p90Ms: percentile(latencies, 0.9) / 1000,
    p99Ms: percentile(latencies, 0.99) / 1000,
    meanMs: mean(latencies) / 1000,
    completed,
    errors: kept.reduce((s, w) => s + w.errors, 0),
    windowsMeasured: windows.length,
    stable: isStable(windows, rule),
    windowThroughputs: kept.map(windowThroughput),
  };
}

/** Where a request's time went on the server, from the statistics extension (per request, ms). */
export interface ServerSplit {
  /** Requests the server counted over the measurement. */
  readonly requests: number;
  /** Mean time waiting in the batcher's queue. */
  readonly queueMs: number;
  /** Mean compute time: input preparation + `session.run` + output extraction. */
  readonly computeMs: number;
  /** Mean `session.run` part of the compute time. */
  readonly inferMs: number;
  /** Mean batch size formed by the dynamic batcher (inferences per execution). */
  readonly meanBatchSize: number;
}

/**
 * The queue/compute split between two snapshots of one model's statistics (Triton statistics
 * extension: cumulative `count`/`ns` per phase, so a measurement is the difference of two reads).
 */
export function serverSplit(before: ModelStatistics, after: ModelStatistics): ServerSplit {
  const d = (pick: (s: ModelStatistics) => number): number => pick(after) - pick(before);
  const requests = d((s) => s.inference_stats.success.count);
  const perRequestMs = (ns: number): number => (requests > 0 ? ns / requests / 1e6 : Number.NaN);
  const inferNs = d((s) => s.inference_stats.compute_infer.ns);
  const executions = d((s) => s.execution_count);
  return {
    requests,
    queueMs: perRequestMs(d((s) => s.inference_stats.queue.ns)),
    computeMs: perRequestMs(d((s) => s.inference_stats.compute_input.ns) + inferNs + d((s) => s.inference_stats.compute_output.ns)),
    inferMs: perRequestMs(inferNs),
    meanBatchSize: executions > 0 ? d((s) => s.inference_count) / executions : Number.NaN,
  };
}

/** A target the issue sets, checked against measured values. */
export interface TargetCheck {
  readonly name: string;
  /** The measured value in the target's unit (a ratio, ms or MB). */
  readonly value: number;
  /** The bound, in the same unit. */
  readonly bound: number;
  /** `>=`: value must reach the bound; `<=`: value must stay under it. */
  readonly direction: '>=' | '<=';
  readonly unit: string;
  /** PASS, FAIL, or MISSING when a value could not be measured. */
  readonly verdict: 'PASS' | 'FAIL' | 'MISSING';
  /** What the value is computed from. */
  readonly basis: string;
}

/** Checks `value` against `bound` (NaN or undefined means the value could not be measured). */
export function checkTarget(
  name: string,
  value: number | undefined,
  direction: '>=' | '<=',
  bound: number,
  unit: string,
  basis: string,
): TargetCheck {
  const v = value ?? Number.NaN;
  const verdict = Number.isNaN(v) ? 'MISSING' : (direction === '>=' ? v >= bound : v <= bound) ? 'PASS' : 'FAIL';
  return { name, value: v, bound, direction, unit, verdict, basis };
}

/** The median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Values of a probe kept for comparison (the first ones of the output). */
const PROBE_VALUES = 64;

/** One output of one answer, kept to check that every server answers the same numbers. */
export interface Probe {
  readonly shape: readonly number[];
  /** The first values, row-major. */
  readonly head: readonly number[];
  /** Sum of all values. */
  readonly sum: number;
}

/** The probe of an output tensor. */
export function probeOf(shape: readonly number[], values: ArrayLike<number>): Probe {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  return { shape: [...shape], head: Array.from({ length: Math.min(PROBE_VALUES, values.length) }, (_, i) => values[i] as number), sum };
}

/** Largest absolute difference between two probes' values; Infinity when their shapes differ. */
export function probeDistance(a: Probe, b: Probe): number {
  if (a.shape.join('x') !== b.shape.join('x') || a.head.length !== b.head.length) return Number.POSITIVE_INFINITY;
  return a.head.reduce((m, v, i) => Math.max(m, Math.abs(v - (b.head[i] as number))), 0);
}
