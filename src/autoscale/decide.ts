/**
 * The one entry point of every policy: {@link decideScale}(policy, state, observation) →
 * (decision, state). Pure: no clock, no I/O, no randomness; state is plain JSON-serialisable data.
 * The live autoscaler loop and the simulator both call it, tick after tick, feeding back the state
 * it returned.
 */
import { autoInitialState, decideAuto } from './auto.js';
import type { AutoState } from './auto.js';
import { decideHpa, hpaInitialState } from './hpa.js';
import type { HpaState } from './hpa.js';
import { decideKpa, kpaInitialState } from './kpa.js';
import type { KpaState } from './kpa.js';
import { decidePredictive, predictiveInitialState } from './predictive.js';
import type { PredictiveState } from './predictive.js';
import { decideServerless, serverlessInitialState } from './serverless.js';
import type { ServerlessState } from './serverless.js';
import type { CompiledPolicy } from './spec.js';
import type { PolicyStep } from './step.js';
import { decideThreshold, thresholdInitialState } from './threshold.js';
import type { ThresholdState } from './threshold.js';
import type { ScalingDecision, ScalingObservation } from './types.js';

/** State of `fixed`: nothing to remember. */
export interface FixedState {
  readonly policy: 'fixed';
}

/** What a policy remembers between ticks; tagged with the policy it belongs to. */
export type PolicyState = FixedState | ThresholdState | HpaState | KpaState | ServerlessState | PredictiveState | AutoState;

/** The state a policy starts from (a deployment's first tick, or after its policy changed). */
export function initialPolicyState(p: CompiledPolicy): PolicyState {
  switch (p.policy) {
    case 'fixed':
      return { policy: 'fixed' };
    case 'threshold':
      return thresholdInitialState();
    case 'hpa':
      return hpaInitialState();
    case 'kpa':
      return kpaInitialState();
    case 'serverless':
      return serverlessInitialState();
    case 'predictive':
      return predictiveInitialState();
    case 'auto':
      return autoInitialState(p);
  }
}

/** Runs the policy's own decision; a state of another policy (the policy was changed) starts afresh. */
function step(p: CompiledPolicy, s: PolicyState, obs: ScalingObservation): PolicyStep<PolicyState> {
  switch (p.policy) {
    case 'fixed':
      return { replicas: p.replicas, reason: `fixed at ${p.replicas} replicas`, inputs: {}, state: { policy: 'fixed' } };
    case 'threshold':
      return decideThreshold(p, s.policy === 'threshold' ? s : thresholdInitialState(), obs);
    case 'hpa':
      return decideHpa(p, s.policy === 'hpa' ? s : hpaInitialState(), obs);
    case 'kpa':
      return decideKpa(p, s.policy === 'kpa' ? s : kpaInitialState(), obs);
    case 'serverless':
      return decideServerless(p, s.policy === 'serverless' ? s : serverlessInitialState(), obs);
    case 'predictive':
      return decidePredictive(p, s.policy === 'predictive' ? s : predictiveInitialState(), obs);
    case 'auto':
      return decideAuto(p, s.policy === 'auto' ? s : autoInitialState(p), obs);
  }
}

/**
 * One tick of a deployment's autoscaler: the policy's decision, clamped to [minReplicas,
 * maxReplicas], and the state for the next tick. Whatever the policy, requests waiting in the
 * activator are never left without a replica on the way (except under `fixed`, whose count is an
 * order: a fixed 0 answers them 503 when their wait times out).
 */
export function decideScale(p: CompiledPolicy, state: PolicyState, obs: ScalingObservation): { decision: ScalingDecision; state: PolicyState } {
  const s = step(p, state, obs);
  let desired = Math.min(Math.max(s.replicas, p.minReplicas), p.maxReplicas);
  let reason = s.reason;
  if (desired !== s.replicas) reason += `; clamped to ${desired} by [minReplicas ${p.minReplicas}, maxReplicas ${p.maxReplicas}]`;
  if (desired === 0 && obs.buffered > 0 && p.policy !== 'fixed') {
    desired = 1;
    reason += `; ${obs.buffered} requests wait in the activator, so one replica starts`;
  }
  const decision: ScalingDecision = {
    desiredReplicas: desired,
    policy: p.policy,
    reason,
    inputs: { ...s.inputs, minReplicas: p.minReplicas, maxReplicas: p.maxReplicas },
    ...(s.mode === undefined ? {} : { mode: s.mode }),
  };
  return { decision, state: s.state };
}
