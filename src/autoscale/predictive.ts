/**
 * `predictive`: provisions now for the request rate forecast over the next `lookaheadMs`, so the
 * replicas a coming peak needs have finished their cold start when it arrives; never below what the
 * current concurrency needs (the reactive floor), so a surprise is still met at once.
 *
 * History is the mean request rate per bucket (`bucketMs`). Each time a bucket closes, every
 * forecasting method is scored on this deployment's own history (src/autoscale/forecast.ts) and the
 * most accurate one forecasts: measured per deployment rather than fixed for all.
 */
import { chooseForecastMethod, forecast, scoreForecastMethods } from './forecast.js';
import type { ForecastMethod, ForecastOptions, ForecastScores } from './forecast.js';
import type { CompiledPredictivePolicy } from './spec.js';
import { shown, tickRps } from './step.js';
import type { DecisionInputs, PolicyStep } from './step.js';
import type { ScalingObservation } from './types.js';

/** State of `predictive`: closed buckets, the open one, and the method chosen at the last close. */
export interface PredictiveState {
  readonly policy: 'predictive';
  /** Mean request rate of each closed bucket, oldest first. */
  readonly rates: readonly number[];
  readonly openArrivals: number;
  readonly openSpanMs: number;
  readonly method: ForecastMethod;
  readonly scores: ForecastScores | null;
  /** Peak of the forecast made at the last bucket close, req/s. */
  readonly forecastPeakRps: number;
}

/** Fresh `predictive` state. */
export function predictiveInitialState(): PredictiveState {
  return { policy: 'predictive', rates: [], openArrivals: 0, openSpanMs: 0, method: 'recent-max', scores: null, forecastPeakRps: 0 };
}

/** The forecast options a compiled policy implies (horizon and season in buckets). */
export function forecastOptions(p: CompiledPredictivePolicy): ForecastOptions {
  return {
    horizon: Math.ceil(p.lookaheadMs / p.bucketMs),
    season: p.seasonMs / p.bucketMs,
    holtAlpha: p.holtAlpha,
    holtBeta: p.holtBeta,
  };
}

/** Closes the open bucket: appends its rate, rescores the methods and forecasts with the best. */
function closeBucket(p: CompiledPredictivePolicy, s: PredictiveState): PredictiveState {
  const o = forecastOptions(p);
  // One season to look back on, plus room to score every origin twice over.
  const keep = o.season + 2 * (o.horizon + p.scoreOrigins);
  const rates = [...s.rates, (s.openArrivals * 1000) / s.openSpanMs].slice(-keep);
  const scores = scoreForecastMethods(rates, o, p.scoreOrigins);
  const method = chooseForecastMethod(scores);
  const forecastPeakRps = Math.max(0, ...forecast(method, rates, o));
  return { policy: 'predictive', rates, openArrivals: 0, openSpanMs: 0, method, scores, forecastPeakRps };
}

/** One `predictive` decision. */
export function decidePredictive(p: CompiledPredictivePolicy, s: PredictiveState, obs: ScalingObservation): PolicyStep<PredictiveState> {
  let state: PredictiveState = { ...s, openArrivals: s.openArrivals + obs.arrivals, openSpanMs: s.openSpanMs + obs.intervalMs };
  if (state.openSpanMs >= p.bucketMs) state = closeBucket(p, state);
  // Before the first bucket closes there is nothing to forecast from: this tick's rate stands in.
  const haveHistory = state.rates.length > 0;
  const peakRps = haveHistory ? state.forecastPeakRps : tickRps(obs.arrivals, obs.intervalMs);
  const ahead = Math.ceil(peakRps / p.targetRpsPerReplica);
  const floor = Math.ceil(obs.concurrency / p.targetConcurrency);
  const replicas = Math.max(ahead, floor);
  const inputs: DecisionInputs = {
    method: haveHistory ? state.method : 'current-rate',
    forecastPeakRps: shown(peakRps),
    lookaheadMs: p.lookaheadMs,
    targetRpsPerReplica: p.targetRpsPerReplica,
    provisionedAhead: ahead,
    reactiveFloor: floor,
    concurrency: shown(obs.concurrency),
    historyBuckets: state.rates.length,
  };
  for (const [method, score] of Object.entries(state.scores ?? {})) if (score !== null) inputs[`error.${method}`] = shown(score);
  const forecastText = `${haveHistory ? `${state.method} forecast` : 'current rate (no history yet)'} peaks at ${shown(peakRps)} req/s over the next ${p.lookaheadMs} ms → ${ahead} replicas`;
  const reason =
    floor > ahead
      ? `${forecastText}, but concurrency ${shown(obs.concurrency)} / target ${p.targetConcurrency} needs ${floor} now (reactive floor)`
      : forecastText;
  return { replicas, reason, inputs, state };
}
