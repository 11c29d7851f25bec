/**
 * Traffic statistics `auto` decides from: the arrival pattern over a window of ticks, reduced to
 * what the two serving modes' cost and cold-start risk depend on.
 */

/** One tick of traffic as `auto` keeps it. */
export interface TrafficSample {
  readonly endMs: number;
  readonly spanMs: number;
  readonly arrivals: number;
  /** Replicas always-on mode provisioned for the tick (whichever mode ran): what always-on would have cost. */
  readonly alwaysOnReplicas: number;
}

/** What a window of traffic looks like. */
export interface TrafficStats {
  /** Time the window covers, ms. */
  readonly observedMs: number;
  readonly arrivals: number;
  readonly meanRps: number;
  /** Arrivals per second outside long idle gaps: the rate a burst after a gap comes at. */
  readonly activeRps: number;
  /** Share of the observed time spent in idle gaps of at least `gapMs`. */
  readonly idleShare: number;
  /** Idle gaps of at least `gapMs` that ended with an arrival: each one a scale-from-zero in serverless mode. */
  readonly longGaps: number;
  /** Coefficient of variation of the per-tick request rate (0 for perfectly even traffic; burstiness). */
  readonly rateCv: number;
  /** Replicas an always-on deployment held on average (time-weighted mean of the samples' `alwaysOnReplicas`). */
  readonly meanAlwaysOnReplicas: number;
}

/**
 * Statistics of `samples` (oldest first). An idle gap is a run of ticks without arrivals; with
 * `gapMs` the serverless idle grace, a gap at least that long is one where serverless mode scaled
 * to zero, so the arrival that ends it waits for a cold start.
 */
export function trafficStats(samples: readonly TrafficSample[], gapMs: number): TrafficStats {
  let observedMs = 0;
  let arrivals = 0;
  let idleMs = 0;
  let longGaps = 0;
  let gapRunMs = 0;
  let replicaMs = 0;
  let rateSum = 0;
  let rateSquares = 0;
  for (const s of samples) {
    observedMs += s.spanMs;
    arrivals += s.arrivals;
    replicaMs += s.alwaysOnReplicas * s.spanMs;
    const rate = s.spanMs > 0 ? (s.arrivals * 1000) / s.spanMs : 0;
    rateSum += rate;
    rateSquares += rate * rate;
    if (s.arrivals === 0) {
      gapRunMs += s.spanMs;
      continue;
    }
    if (gapRunMs >= gapMs) {
      longGaps += 1;
      idleMs += gapRunMs;
    }
    gapRunMs = 0;
  }
  if (gapRunMs >= gapMs) idleMs += gapRunMs; // an open gap is idle time, but no cold start yet
  const n = samples.length;
  const meanRate = n > 0 ? rateSum / n : 0;
  const variance = n > 0 ? Math.max(0, rateSquares / n - meanRate * meanRate) : 0;
  const activeMs = observedMs - idleMs;
  return {
    observedMs,
    arrivals,
    meanRps: observedMs > 0 ? (arrivals * 1000) / observedMs : 0,
    activeRps: activeMs > 0 ? (arrivals * 1000) / activeMs : 0,
    idleShare: observedMs > 0 ? idleMs / observedMs : 0,
    longGaps,
    rateCv: meanRate > 0 ? Math.sqrt(variance) / meanRate : 0,
    meanAlwaysOnReplicas: observedMs > 0 ? replicaMs / observedMs : 1,
  };
}
