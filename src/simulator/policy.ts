/**
 * The live system's autoscaling policies and cost model, shaped for the simulator: the same pure
 * `decideScale` the deployment controller calls each tick, and the same price arithmetic its cost
 * accrual uses, so a simulated run and a live one differ only in the world they run against.
 */
import { alwaysOnCostUsd, decideScale, initialPolicyState, serverlessCostUsd } from '../autoscale/index.js';
import type { CompiledCostModel, CompiledPolicy, PolicyState } from '../autoscale/index.js';
import type { CostFunction, SimulationPolicy } from './engine.js';

/** A compiled deployment policy as the simulator runs it. */
export function simulationPolicy(policy: CompiledPolicy): SimulationPolicy<PolicyState> {
  return {
    name: policy.policy,
    initialState: initialPolicyState(policy),
    decide: (state, observation) => decideScale(policy, state, observation),
  };
}

/** Prices a simulated run's usage with the cost model: replica-seconds always on, invocations and GB-seconds serverless. */
export function simulationCost(model: CompiledCostModel): CostFunction {
  return (usage, profile) => {
    const resources = { vcpu: profile.vcpu, memoryGb: profile.memoryGb };
    return (
      alwaysOnCostUsd(model, resources, usage['always-on'].replicaSeconds) +
      serverlessCostUsd(model, resources, usage.serverless.invocations, usage.serverless.busySeconds)
    );
  };
}
