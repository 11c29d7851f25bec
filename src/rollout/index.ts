/**
 * Progressive delivery: a candidate revision reaches production by canary, blue-green, shadow or
 * A/B steps, judged at each by a pure verdict function (Mann-Whitney U on latency, a
 * two-proportion test on errors, absolute SLO bounds, output agreement), promoted when it passes
 * and rolled back by itself when it fails; state survives a restart.
 */
export { DEFAULT_CRITERIA, judge } from './analysis.js';
export { compileRollout, rolloutInputSchema } from './spec.js';
export type { CompiledRollout, RolloutInput, RolloutStep } from './spec.js';
export { advanceRollout, commandRollout, describeStep, FINISHED_STATUSES, initialRolloutState, resumeAfterRestart } from './plan.js';
export type { RolloutAction, RolloutCommand, RolloutObservation, RolloutState, RolloutStatus, RolloutTransition } from './plan.js';
export { RolloutStore } from './store.js';
export type { Rollout, RolloutVerdict } from './store.js';
export { RolloutController } from './controller.js';
export type { RolloutControllerOptions, RolloutDetail } from './controller.js';
export type { AnalysisCriteria, StrategyName, TrackSample, Verdict, VerdictCheck, VerdictOutcome } from './types.js';
