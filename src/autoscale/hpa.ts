/**
 * `hpa`: the Kubernetes HorizontalPodAutoscaler's algorithm, as documented in "Horizontal Pod
 * Autoscaling" (https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/,
 * "Algorithm details" and "Configurable scaling behavior") and implemented in
 * kubernetes/pkg/controller/podautoscaler (replica_calculator.go, horizontal.go).
 *
 * Every sync period (15 s) the metric, averaged over the period, gives
 *   desired = ceil(ready × metric / target), or no change when |metric / target − 1| <= 0.1.
 * On a scale-up, not-yet-ready replicas are counted as using 0% of the target, and the ratio is
 * recomputed; if that makes it fall within the tolerance or flip direction, nothing changes.
 * The recommendation is then stabilized (scale-down: the highest recommendation of the last
 * 300 s; scale-up: no window) and rate-limited by the autoscaling/v2 default behavior
 * (scale-up: the larger of +4 replicas and +100% per 15 s; scale-down: −100% per 15 s).
 */
import type { CompiledHpaPolicy } from './spec.js';
import { shown } from './step.js';
import type { DecisionInputs, PolicyStep } from './step.js';
import type { ScalingObservation } from './types.js';
import { pushSample, windowValues } from './window.js';
import type { Sample } from './window.js';

/** State of `hpa`: the metric since the last sync, recommendations and scale events. */
export interface HpaState {
  readonly policy: 'hpa';
  readonly lastSyncMs: number | null;
  /** Metric per ready replica × ms, and the ms it covers, since the last sync. */
  readonly metricWeighted: number;
  readonly metricSpanMs: number;
  /** Unstabilized recommendations, for the stabilization windows. */
  readonly recommendations: readonly Sample[];
  /** Replica changes the HPA made (+ up, − down), for the rate limits. */
  readonly scaleEvents: readonly Sample[];
}

/** Fresh `hpa` state. */
export function hpaInitialState(): HpaState {
  return { policy: 'hpa', lastSyncMs: null, metricWeighted: 0, metricSpanMs: 0, recommendations: [], scaleEvents: [] };
}

/** The HPA's per-replica metric for one tick, or undefined when no replica is ready to report it. */
function tickMetric(p: CompiledHpaPolicy, obs: ScalingObservation): number | undefined {
  if (obs.readyReplicas <= 0) return undefined;
  return p.metric === 'cpu' ? obs.cpuUtilization : obs.concurrency / obs.readyReplicas;
}

/**
 * replica_calculator.go `calcPlainMetricReplicas` with no missing pods: the replica count the
 * metric asks for, given `metric` averaged over the ready replicas.
 */
export function hpaMetricReplicas(
  current: number,
  ready: number,
  notReady: number,
  metric: number,
  target: number,
  tolerance: number,
): { replicas: number; usageRatio: number; recomputedRatio: number } {
  const usageRatio = metric / target;
  const scaleUpWithUnready = notReady > 0 && usageRatio > 1;
  if (!scaleUpWithUnready) {
    const replicas = Math.abs(1 - usageRatio) <= tolerance ? current : Math.ceil(usageRatio * ready);
    return { replicas, usageRatio, recomputedRatio: usageRatio };
  }
  // On a scale-up, treat not-ready replicas as using 0% of the target.
  const counted = ready + notReady;
  const recomputedRatio = (usageRatio * ready) / counted;
  if (Math.abs(1 - recomputedRatio) <= tolerance || recomputedRatio < 1) {
    return { replicas: current, usageRatio, recomputedRatio };
  }
  const replicas = Math.ceil(recomputedRatio * counted);
  return { replicas: replicas < current ? current : replicas, usageRatio, recomputedRatio };
}

/** Sum of the replica changes of one direction within a period (`getReplicasChangePerPeriod`). */
function changeInPeriod(events: readonly Sample[], nowMs: number, periodMs: number, sign: 1 | -1): number {
  return windowValues(events, nowMs, periodMs)
    .filter((v) => Math.sign(v) === sign)
    .reduce((sum, v) => sum + Math.abs(v), 0);
}

/** horizontal.go `stabilizeRecommendationWithBehaviors` and `convertDesiredReplicasWithBehaviorRate`. */
function normalize(p: CompiledHpaPolicy, s: HpaState, nowMs: number, current: number, desired: number): { replicas: number; limit: string; inputs: DecisionInputs } {
  const past = (windowMs: number): number[] => windowValues(s.recommendations, nowMs, windowMs);
  const upRecommendation = Math.min(desired, ...past(p.scaleUpStabilizationMs));
  const downRecommendation = Math.max(desired, ...past(p.scaleDownStabilizationMs));
  let stabilized = current;
  if (stabilized < upRecommendation) stabilized = upRecommendation;
  if (stabilized > downRecommendation) stabilized = downRecommendation;

  const added = (periodMs: number): number => changeInPeriod(s.scaleEvents, nowMs, periodMs, 1);
  const removed = (periodMs: number): number => changeInPeriod(s.scaleEvents, nowMs, periodMs, -1);
  const inputs: DecisionInputs = { stabilized, upRecommendation, downRecommendation };
  if (stabilized > current) {
    const periodStart = current - added(p.scaleUpPeriodMs) + removed(p.scaleUpPeriodMs);
    // selectPolicy Max: the policy that allows the larger change wins; Percent rounds up.
    const byPods = periodStart + p.scaleUpPods;
    const byPercent = Math.ceil(periodStart * (1 + p.scaleUpPercent / 100));
    const scaleUpLimit = Math.max(current, byPods, byPercent);
    const allowed = Math.min(p.maxReplicas, scaleUpLimit);
    inputs['scaleUpLimit'] = scaleUpLimit;
    if (stabilized > allowed) {
      const limit = allowed === p.maxReplicas ? `maxReplicas ${p.maxReplicas}` : `the scale-up limit (+${p.scaleUpPods} or +${p.scaleUpPercent}% per ${p.scaleUpPeriodMs} ms)`;
      return { replicas: allowed, limit, inputs };
    }
  } else if (stabilized < current) {
    const periodStart = current + removed(p.scaleDownPeriodMs) - added(p.scaleDownPeriodMs);
    const scaleDownLimit = Math.min(current, Math.trunc(periodStart * (1 - p.scaleDownPercent / 100)));
    const allowed = Math.max(p.minReplicas, scaleDownLimit);
    inputs['scaleDownLimit'] = scaleDownLimit;
    if (stabilized < allowed) {
      const limit = allowed === p.minReplicas ? `minReplicas ${p.minReplicas}` : `the scale-down limit (−${p.scaleDownPercent}% per ${p.scaleDownPeriodMs} ms)`;
      return { replicas: allowed, limit, inputs };
    }
  }
  return { replicas: stabilized, limit: '', inputs };
}

/** One `hpa` decision (a sync every `syncPeriodMs`; between syncs the count stays). */
export function decideHpa(p: CompiledHpaPolicy, s: HpaState, obs: ScalingObservation): PolicyStep<HpaState> {
  const tick = tickMetric(p, obs);
  const metricWeighted = s.metricWeighted + (tick === undefined ? 0 : tick * obs.intervalMs);
  const metricSpanMs = s.metricSpanMs + (tick === undefined ? 0 : obs.intervalMs);
  const current = obs.desiredReplicas;
  if (s.lastSyncMs !== null && obs.nowMs - s.lastSyncMs < p.syncPeriodMs) {
    return {
      replicas: current,
      reason: `between syncs: next evaluation in ${s.lastSyncMs + p.syncPeriodMs - obs.nowMs} ms`,
      inputs: { syncPeriodMs: p.syncPeriodMs },
      state: { ...s, metricWeighted, metricSpanMs },
    };
  }
  const synced: HpaState = { ...s, lastSyncMs: obs.nowMs, metricWeighted: 0, metricSpanMs: 0 };
  // The controller first brings an out-of-range count back within [min, max], with no rate limit.
  if (current < p.minReplicas || current > p.maxReplicas) {
    const replicas = Math.min(Math.max(current, p.minReplicas), p.maxReplicas);
    return { replicas, reason: `${current} replicas is outside [${p.minReplicas}, ${p.maxReplicas}]`, inputs: { current }, state: synced };
  }
  if (metricSpanMs === 0) {
    return { replicas: current, reason: 'no ready replica reported the metric: no change', inputs: { current }, state: synced };
  }
  const metric = metricWeighted / metricSpanMs;
  const target = p.metric === 'cpu' ? p.targetCpuUtilization : p.targetConcurrency;
  const calc = hpaMetricReplicas(current, obs.readyReplicas, obs.startingReplicas, metric, target, p.tolerance);
  const norm = normalize(p, synced, obs.nowMs, current, calc.replicas);
  const keep = Math.max(p.scaleUpStabilizationMs, p.scaleDownStabilizationMs);
  const recommendations = pushSample(s.recommendations, { endMs: obs.nowMs, spanMs: 0, value: calc.replicas }, keep);
  const change = norm.replicas - current;
  const scaleEvents =
    change === 0
      ? s.scaleEvents
      : pushSample(s.scaleEvents, { endMs: obs.nowMs, spanMs: 0, value: change }, Math.max(p.scaleUpPeriodMs, p.scaleDownPeriodMs));

  let reason = `${p.metric} ${shown(metric)} per ready replica vs target ${target} (ratio ${shown(calc.usageRatio)}`;
  reason += calc.recomputedRatio !== calc.usageRatio ? `, ${shown(calc.recomputedRatio)} counting ${obs.startingReplicas} not-ready at 0%)` : ')';
  reason += calc.replicas === current ? `: within tolerance ${p.tolerance} or not worth a change, stay at ${current}` : `: recommends ${calc.replicas}`;
  if (norm.limit !== '') reason += `, limited to ${norm.replicas} by ${norm.limit}`;
  else if (norm.replicas !== calc.replicas) reason += `, stabilized at ${norm.replicas} (highest recommendation of the last ${p.scaleDownStabilizationMs} ms)`;
  return {
    replicas: norm.replicas,
    reason,
    inputs: {
      metric: p.metric,
      metricValue: shown(metric),
      target,
      usageRatio: shown(calc.usageRatio),
      recomputedRatio: shown(calc.recomputedRatio),
      readyReplicas: obs.readyReplicas,
      notReadyReplicas: obs.startingReplicas,
      current,
      recommendation: calc.replicas,
      ...norm.inputs,
    },
    state: { ...synced, recommendations, scaleEvents },
  };
}
