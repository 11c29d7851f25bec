/**
 * Time windows over tick samples, kept in policy state as plain data. Knative averages metrics
 * over time buckets (pkg/autoscaler/aggregation, `TimedFloat64Buckets.WindowAverage`) and the
 * Kubernetes HPA keeps timestamped recommendations for its stabilization window; both are a list of
 * timestamped values read back over a window, which is what this module holds.
 */

/** A value that held over one tick: the interval (endMs − spanMs, endMs]. */
export interface Sample {
  readonly endMs: number;
  readonly spanMs: number;
  readonly value: number;
}

/** Appends `sample` and drops the samples that ended `keepMs` or more before it (a new array). */
export function pushSample<T extends { readonly endMs: number }>(samples: readonly T[], sample: T, keepMs: number): T[] {
  const cutoffMs = sample.endMs - keepMs;
  const kept = samples.filter((s) => s.endMs > cutoffMs);
  kept.push(sample);
  return kept;
}

/**
 * Time-weighted mean over (nowMs − windowMs, nowMs]. Like Knative's window average, a window not
 * yet full is averaged over the time since its first sample (a new revision is not diluted by time
 * it did not exist), and stretches without samples count as zero. 0 when there is no sample.
 */
export function windowMean(samples: readonly Sample[], nowMs: number, windowMs: number): number {
  const startMs = nowMs - windowMs;
  let weighted = 0;
  let firstMs = Number.POSITIVE_INFINITY;
  for (const s of samples) {
    const from = Math.max(s.endMs - s.spanMs, startMs);
    const to = Math.min(s.endMs, nowMs);
    if (to <= from) continue;
    weighted += s.value * (to - from);
    firstMs = Math.min(firstMs, from);
  }
  const coveredMs = nowMs - firstMs;
  return coveredMs > 0 && Number.isFinite(coveredMs) ? weighted / coveredMs : 0;
}

/**
 * Values of the samples that ended after nowMs − windowMs (`rec.timestamp.After(cutoff)` in the
 * HPA's stabilization and rate limits). Callers take the max, min or sum.
 */
export function windowValues(samples: readonly Sample[], nowMs: number, windowMs: number): number[] {
  const cutoffMs = nowMs - windowMs;
  return samples.filter((s) => s.endMs > cutoffMs).map((s) => s.value);
}
