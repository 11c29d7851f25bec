/**
 * `kpa`: the Knative Pod Autoscaler's decision (knative/serving pkg/autoscaler/scaling/autoscaler.go,
 * `Scale`, with the defaults of config-autoscaler; https://knative.dev/docs/serving/autoscaling/).
 *
 * - Observed concurrency (in flight on replicas plus buffered in the activator) is averaged over the
 *   stable window (60 s) and the panic window (10% of it, 6 s).
 * - Desired pods = ceil(average / target), target = containerConcurrency × targetUtilization
 *   (100 × 0.7 = 70), kept within [floor(ready / maxScaleDownRate), ceil(maxScaleUpRate × ready)].
 * - Panic starts when the panic-window pods / ready pods >= 2.0; while panicking the count never
 *   falls (Knative keeps `maxPanicPods`); panic ends once a full stable window passed without the
 *   threshold being crossed.
 * - Scale to zero: "the last Replica will only be removed after there has not been any traffic to
 *   the Revision for the entire duration of the stable window", and then the scale-to-zero grace
 *   period (the time Knative allows for the activator to be put in the path) — 60 s + 30 s idle.
 * - From zero: buffered requests count as concurrency, so the first tick with a waiting request
 *   asks for at least one replica (the activator pokes the autoscaler at once in Knative).
 */
import type { CompiledKpaPolicy } from './spec.js';
import { shown } from './step.js';
import type { PolicyStep } from './step.js';
import type { ScalingObservation } from './types.js';
import { pushSample, windowMean } from './window.js';
import type { Sample } from './window.js';

/** State of `kpa`: the concurrency history of the stable window and the panic bookkeeping. */
export interface KpaState {
  readonly policy: 'kpa';
  readonly concurrency: readonly Sample[];
  /** Last time the panic threshold was crossed (Knative's `panicTime`), null when not panicking. */
  readonly panicSinceMs: number | null;
  /** Highest count asked for during this panic (Knative's `maxPanicPods`). */
  readonly maxPanicPods: number;
  readonly firstSeenMs: number | null;
  /** End of the last tick with any request arriving, in flight or buffered. */
  readonly lastBusyMs: number | null;
}

/** Fresh `kpa` state. */
export function kpaInitialState(): KpaState {
  return { policy: 'kpa', concurrency: [], panicSinceMs: null, maxPanicPods: 0, firstSeenMs: null, lastBusyMs: null };
}

/** The parameters `kpa` runs with (also what `auto` runs in always-on mode). */
export type KpaParams = Omit<CompiledKpaPolicy, 'policy' | 'minReplicas' | 'maxReplicas'>;

/** One `kpa` decision. */
export function decideKpa(p: KpaParams, s: KpaState, obs: ScalingObservation): PolicyStep<KpaState> {
  const target = p.containerConcurrency * p.targetUtilization;
  const panicWindowMs = (p.stableWindowMs * p.panicWindowPercent) / 100;
  const concurrency = pushSample(s.concurrency, { endMs: obs.nowMs, spanMs: obs.intervalMs, value: obs.concurrency }, p.stableWindowMs);
  const stable = windowMean(concurrency, obs.nowMs, p.stableWindowMs);
  const panic = windowMean(concurrency, obs.nowMs, panicWindowMs);

  // Knative divides by at least one pod, so a revision at zero can still compute its rates.
  const ready = Math.max(1, obs.readyReplicas);
  const maxScaleUp = Math.ceil(p.maxScaleUpRate * ready);
  const maxScaleDown = Math.floor(ready / p.maxScaleDownRate);
  const dspc = Math.ceil(stable / target);
  const dppc = Math.ceil(panic / target);
  const desiredStable = Math.min(Math.max(dspc, maxScaleDown), maxScaleUp);
  const desiredPanic = Math.min(Math.max(dppc, maxScaleDown), maxScaleUp);

  const over = dppc / ready >= p.panicThreshold;
  let panicSinceMs = s.panicSinceMs;
  let maxPanicPods = s.maxPanicPods;
  if (over) {
    panicSinceMs = obs.nowMs; // begin, or extend, the panic
  } else if (panicSinceMs !== null && panicSinceMs + p.stableWindowMs < obs.nowMs) {
    panicSinceMs = null; // the surge has made its way into the stable window
    maxPanicPods = 0;
  }
  let desired = desiredStable;
  if (panicSinceMs !== null) {
    // Provision for the larger of the two windows, and never decrease while panicking.
    maxPanicPods = Math.max(maxPanicPods, desiredStable, desiredPanic);
    desired = maxPanicPods;
  }

  const firstSeenMs = s.firstSeenMs ?? obs.nowMs - obs.intervalMs;
  const busy = obs.arrivals > 0 || obs.concurrency > 0 || obs.buffered > 0;
  const lastBusyMs = busy ? obs.nowMs : s.lastBusyMs;
  const idleForMs = obs.nowMs - (lastBusyMs ?? firstSeenMs);
  const zeroAfterMs = p.stableWindowMs + p.scaleToZeroGraceMs;

  const panicking = panicSinceMs !== null;
  let replicas = desired;
  let reason = panicking
    ? `panic: ${shown(panic)} concurrent over ${panicWindowMs} ms needs ${desiredPanic} for ${obs.readyReplicas} ready (threshold ${p.panicThreshold}x); holding ${desired}, no scale-down while panicking`
    : `stable: ${shown(stable)} concurrent over ${p.stableWindowMs} ms / target ${target} per replica → ${desired}`;
  if (desired === 0 && !p.enableScaleToZero) {
    replicas = 1;
    reason = `no traffic for ${shown(idleForMs)} ms; scale to zero is off, so one replica stays`;
  } else if (desired === 0 && obs.desiredReplicas > 0 && idleForMs < zeroAfterMs) {
    replicas = 1;
    reason = `no traffic for ${shown(idleForMs)} ms; the last replica goes after ${zeroAfterMs} ms (stable window + scale-to-zero grace)`;
  } else if (desired === 0 && obs.desiredReplicas > 0) {
    reason = `no traffic for ${shown(idleForMs)} ms >= stable window + grace (${zeroAfterMs} ms): scale to zero`;
  } else if (dspc !== desiredStable && !panicking) {
    reason += ` (rate-limited from ${dspc}: at most ${p.maxScaleUpRate}x up, ${p.maxScaleDownRate}x down per decision)`;
  }
  return {
    replicas,
    reason,
    inputs: {
      stableConcurrency: shown(stable),
      panicConcurrency: shown(panic),
      targetConcurrency: shown(target),
      readyReplicas: obs.readyReplicas,
      desiredStable,
      desiredPanic,
      panicking,
      maxScaleUp,
      maxScaleDown,
      idleForMs: shown(idleForMs),
    },
    state: { policy: 'kpa', concurrency, panicSinceMs, maxPanicPods, firstSeenMs, lastBusyMs },
  };
}
