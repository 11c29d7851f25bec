/**
 * Autoscaling: policy specifications, the pure policy functions the live loop and the simulator
 * both call, forecasting, traffic statistics and the cost model.
 */
export { POLICY_NAMES } from './types.js';
export type { PolicyName, ScalingDecision, ScalingObservation, ServingMode } from './types.js';
export {
  compilePolicy,
  DEFAULT_MAX_REPLICAS,
  DEFAULT_TARGET_CONCURRENCY,
  describePolicy,
  KPA_DEFAULTS,
  parsePolicyParams,
  POLICY_LIMITS,
  policyParamNames,
  policySpecSchema,
} from './spec.js';
export type {
  CompiledAutoPolicy,
  CompiledFixedPolicy,
  CompiledHpaPolicy,
  CompiledKpaPolicy,
  CompiledPolicy,
  CompiledPredictivePolicy,
  CompiledServerlessPolicy,
  CompiledThresholdPolicy,
  PolicySpec,
} from './spec.js';
export { decideScale, initialPolicyState } from './decide.js';
export type { FixedState, PolicyState } from './decide.js';
export type { AutoState, ModeEstimate } from './auto.js';
export { chooseServingMode, estimateModes } from './auto.js';
export type { HpaState } from './hpa.js';
export type { KpaState } from './kpa.js';
export type { PredictiveState } from './predictive.js';
export type { ServerlessState } from './serverless.js';
export type { ThresholdState } from './threshold.js';
export { trafficStats } from './traffic.js';
export type { TrafficSample, TrafficStats } from './traffic.js';
export { chooseForecastMethod, forecast, FORECAST_METHODS, scoreForecastMethods } from './forecast.js';
export type { ForecastMethod, ForecastOptions, ForecastScores } from './forecast.js';
export {
  accrueCost,
  alwaysOnCostUsd,
  billingMode,
  compileCostModel,
  DEFAULT_COST_MODEL,
  DEFAULT_REPLICA_RESOURCES,
  replicaHourUsd,
  serverlessCostUsd,
  ZERO_COST,
} from './cost.js';
export type { CompiledCostModel, CostAccrual, CostModelSpec, CostTick, ReplicaResources } from './cost.js';
