/**
 * The report of an optimized version against its original, and the accuracy budget's verdict:
 * pure functions of what was measured. The verdict is the release pipeline's own accuracy
 * decision ({@link decideAccuracy}), with the original in production's place.
 */
import { decideAccuracy } from '../release/index.js';
import type { Optimization, RewriteSummary } from './graph.js';
import type { Comparison } from './measure.js';

/** Latency of both models at one batch size. */
export interface LatencyRow {
  readonly batch: number;
  readonly originalP50Ms: number;
  readonly optimizedP50Ms: number;
  /** optimized / original p50. */
  readonly ratio: number;
}

/** What `continuum optimize` reports for an optimized version. */
export interface OptimizationReport {
  readonly model: string;
  /** The version it was made from. */
  readonly original: string;
  /** The new version; null when the accuracy budget refused it. */
  readonly version: string | null;
  readonly optimization: Optimization;
  readonly rewrite: RewriteSummary;
  readonly originalBytes: number;
  readonly optimizedBytes: number;
  /** optimized / original file size. */
  readonly sizeRatio: number;
  readonly latency: readonly LatencyRow[];
  /** Top-1 accuracies on the attached dataset (null without one) and the drop, original − optimized. */
  readonly accuracy: { readonly rows: number; readonly original: number | null; readonly optimized: number | null; readonly drop: number | null; readonly top1Agreement: number | null };
  readonly output: string;
  readonly maxAbsDiff: number;
  /** The accuracy budget's verdict: `skipped` when no budget was set. */
  readonly gate: { readonly status: 'passed' | 'failed' | 'skipped'; readonly detail: string; readonly maxAccuracyDrop: number | null };
}

/** Builds the report and the budget's verdict from the rewrite and the measurements. */
export function buildReport(input: {
  readonly model: string;
  readonly original: string;
  readonly version: string | null;
  readonly rewrite: RewriteSummary;
  readonly comparison: Comparison;
  readonly maxAccuracyDrop: number | undefined;
}): OptimizationReport {
  const { comparison: c, maxAccuracyDrop } = input;
  const latency = c.original.latency.map((o, i) => {
    const p = c.optimized.latency[i] ?? o;
    return { batch: o.batch, originalP50Ms: o.p50Ms, optimizedP50Ms: p.p50Ms, ratio: p.p50Ms / o.p50Ms };
  });
  const [original, optimized] = [c.original.accuracy, c.optimized.accuracy];
  const gate =
    maxAccuracyDrop === undefined
      ? { status: 'skipped' as const, detail: 'no accuracy budget set (--max-accuracy-drop)' }
      : decideAccuracy({ hasDataset: c.rows > 0, candidate: optimized ?? undefined, production: original ?? undefined }, { minAccuracy: undefined, maxAccuracyDrop });
  return {
    model: input.model,
    original: input.original,
    version: gate.status === 'failed' ? null : input.version,
    optimization: input.rewrite.optimization,
    rewrite: input.rewrite,
    originalBytes: c.original.sizeBytes,
    optimizedBytes: c.optimized.sizeBytes,
    sizeRatio: c.optimized.sizeBytes / c.original.sizeBytes,
    latency,
    accuracy: { rows: c.rows, original, optimized, drop: original === null || optimized === null ? null : original - optimized, top1Agreement: c.top1Agreement },
    output: c.output,
    maxAbsDiff: c.maxAbsDiff,
    gate: { status: gate.status, detail: gate.detail, maxAccuracyDrop: maxAccuracyDrop ?? null },
  };
}
