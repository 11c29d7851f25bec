/**
 * `threshold`: the step function of equation 2 of S. Kumar, "Improving Model Deployment Pipelines
 * for Efficiency in Cloud-Based Machine Learning Platforms":
 *
 *   U(t) = U0 if D(t) <= T1;  U1 if T1 < D(t) <= T2;  U2 if D(t) > T2
 *
 * with the demand D(t) read as the request rate (requests per second, averaged over
 * `demandWindowMs`) and the levels U0..U2 as replica counts. The request rate is chosen over
 * concurrency because it does not depend on how many replicas serve: a step function on
 * concurrency would feed back on itself (fewer replicas → more queueing → more concurrency).
 */
import type { CompiledThresholdPolicy } from './spec.js';
import { shown, tickRps } from './step.js';
import type { PolicyStep } from './step.js';
import type { ScalingObservation } from './types.js';
import { pushSample, windowMean } from './window.js';
import type { Sample } from './window.js';

/** State of `threshold`: the request rate of the recent ticks. */
export interface ThresholdState {
  readonly policy: 'threshold';
  readonly rps: readonly Sample[];
}

/** Fresh `threshold` state. */
export function thresholdInitialState(): ThresholdState {
  return { policy: 'threshold', rps: [] };
}

/** Equation 2: the level for demand `demandRps`. */
export function thresholdLevel(p: CompiledThresholdPolicy, demandRps: number): { level: 0 | 1 | 2; replicas: number } {
  if (demandRps <= p.t1Rps) return { level: 0, replicas: p.u0Replicas };
  if (demandRps <= p.t2Rps) return { level: 1, replicas: p.u1Replicas };
  return { level: 2, replicas: p.u2Replicas };
}

/** One `threshold` decision. */
export function decideThreshold(p: CompiledThresholdPolicy, s: ThresholdState, obs: ScalingObservation): PolicyStep<ThresholdState> {
  const sample = { endMs: obs.nowMs, spanMs: obs.intervalMs, value: tickRps(obs.arrivals, obs.intervalMs) };
  const rps = pushSample(s.rps, sample, p.demandWindowMs);
  const demandRps = windowMean(rps, obs.nowMs, p.demandWindowMs);
  const { level, replicas } = thresholdLevel(p, demandRps);
  const band = ['D <= T1', 'T1 < D <= T2', 'D > T2'][level];
  return {
    replicas,
    reason: `demand ${shown(demandRps)} req/s is in band ${band}, so level U${level} = ${replicas} replicas`,
    inputs: { demandRps: shown(demandRps), t1Rps: p.t1Rps, t2Rps: p.t2Rps, level },
    state: { policy: 'threshold', rps },
  };
}
