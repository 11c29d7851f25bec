/**
 * The rollout state machine as pure functions: state and observations in, the next state, the
 * actions for the controller to carry out and the verdict (when an analysis ran) out. No I/O, no
 * clock: the controller passes `nowMs`, the tests pass numbers.
 *
 * Each step first sizes the candidate (and its control) for its share (Argo Rollouts'
 * setCanaryScale), then applies its traffic rule and starts a fresh analysis window; every `analysisIntervalMs` (and at the end
 * of the bake time) the verdict function judges the window. A failing verdict rolls back at once;
 * a passing one at the end of the bake moves on; after the last step the candidate is sized like
 * the baseline and promoted.
 */
import type { TrafficRule } from '../deploy/route.js';
import { judge } from './analysis.js';
import type { CompiledRollout, RolloutStep } from './spec.js';
import type { TrackSample, Verdict, VerdictOutcome } from './types.js';

/** Where a rollout is: running, held, or ended one way or the other. */
export type RolloutStatus = 'progressing' | 'paused' | 'succeeded' | 'rolled-back' | 'aborted';

/** Statuses after which a rollout takes no more commands. */
export const FINISHED_STATUSES: readonly RolloutStatus[] = ['succeeded', 'rolled-back', 'aborted'];

/** Within a step: growing the candidate to the step's size, or routing to it and analysing. */
export type StepPhase = 'sizing' | 'analysing';

/** A rollout's state: plain data, persisted after every change. */
export interface RolloutState {
  readonly status: RolloutStatus;
  /** Index into the compiled steps; `steps.length` is the promotion. */
  readonly stepIndex: number;
  readonly phase: StepPhase;
  /** When the phase began (the bake time counts from the start of `analysing`). */
  readonly phaseSinceMs: number;
  readonly lastAnalysisMs: number;
  /** The newest verdict's outcome in this step. */
  readonly lastOutcome: VerdictOutcome | undefined;
  /** Why the rollout is where it is, in one sentence. */
  readonly reason: string;
}

/** What the controller observed of the deployment at this tick. */
export interface RolloutObservation {
  readonly nowMs: number;
  /** The replica count the baseline's policy asks for now. */
  readonly baselineDesired: number;
  readonly baselineReady: number;
  readonly candidateReady: number;
  readonly controlReady: number;
  /** Every track's outcomes since the window began. */
  readonly baseline: TrackSample;
  readonly candidate: TrackSample;
  readonly control: TrackSample;
}

/** What the controller must do. */
export type RolloutAction =
  /** Keep at least this many replicas on each track (0 lifts the floor). */
  | { readonly type: 'size'; readonly candidateReplicas: number; readonly controlReplicas: number; readonly baselineReplicas: number }
  /** Apply a traffic rule and start a fresh analysis window. */
  | { readonly type: 'route'; readonly rule: TrafficRule }
  /** Make the candidate the deployment's revision and drain the old one. */
  | { readonly type: 'promote' }
  /** Send all traffic back to the baseline and drain the candidate. */
  | { readonly type: 'rollback' };

/** A state change with its actions, the verdict that caused it (if any) and an event to record. */
export interface RolloutTransition {
  readonly state: RolloutState;
  readonly actions: readonly RolloutAction[];
  readonly verdict: Verdict | undefined;
  /** A line for the event log when something happened worth telling (a step began, a verdict decided, the end). */
  readonly event: { readonly type: string; readonly message: string } | undefined;
}

/** A manual command (`continuum rollouts promote|pause|resume|abort`). */
export type RolloutCommand = 'promote' | 'pause' | 'resume' | 'abort';

/** The state of a rollout that has just started: sizing the candidate for its first step. */
export function initialRolloutState(nowMs: number): RolloutState {
  return { status: 'progressing', stepIndex: 0, phase: 'sizing', phaseSinceMs: nowMs, lastAnalysisMs: nowMs, lastOutcome: undefined, reason: 'started' };
}

/** The step at `index`, or undefined for the promotion after the last one. */
function stepAt(spec: CompiledRollout, index: number): RolloutStep | undefined {
  return spec.steps[index];
}

/** Describes step `index` for events and the CLI. */
export function describeStep(spec: CompiledRollout, index: number): string {
  const step = stepAt(spec, index);
  if (step === undefined) return 'promotion';
  const pct = `${step.candidateBps / 100}%`;
  switch (step.rule.kind) {
    case 'weighted':
      return step.holdBaseline ? `switch (blue-green, ${Math.round(step.bakeMs / 1000)} s retention)` : `${pct} of traffic`;
    case 'mirror':
      return `shadow: ${pct} of traffic mirrored`;
    case 'sticky':
      return `A/B: ${pct} by hash of '${step.rule.keyHeader}'`;
    case 'header':
      return `A/B: requests with ${step.rule.header}: ${step.rule.value}`;
    case 'baseline':
      return 'baseline only';
  }
}

/** Replicas the candidate needs for step `index` (at least one, so the analysis has a sample). */
export function candidateTarget(spec: CompiledRollout, index: number, baselineDesired: number): number {
  const step = stepAt(spec, index);
  const full = Math.max(1, baselineDesired);
  if (step === undefined || step.size === 'full') return full;
  return Math.max(1, Math.ceil((baselineDesired * step.candidateBps) / 10_000));
}

function transition(state: RolloutState, actions: readonly RolloutAction[] = [], event?: RolloutTransition['event'], verdict?: Verdict): RolloutTransition {
  return { state, actions, verdict, event };
}

function rollback(state: RolloutState, status: 'rolled-back' | 'aborted', reason: string, verdict?: Verdict): RolloutTransition {
  return transition({ ...state, status, reason }, [{ type: 'size', candidateReplicas: 0, controlReplicas: 0, baselineReplicas: 0 }, { type: 'rollback' }], { type: status === 'aborted' ? 'rollout-aborted' : 'rollback', message: reason }, verdict);
}

/** The next step (or the promotion), sizing first. */
function nextStep(spec: CompiledRollout, state: RolloutState, nowMs: number, why: string, verdict?: Verdict): RolloutTransition {
  const index = state.stepIndex + 1;
  const next: RolloutState = { ...state, stepIndex: index, phase: 'sizing', phaseSinceMs: nowMs, lastAnalysisMs: nowMs, lastOutcome: undefined, reason: why };
  return transition(next, [], { type: 'rollout-step', message: `${why}; next: ${describeStep(spec, index)}` }, verdict);
}

/**
 * One tick of a rollout. Paused and finished rollouts do nothing. Sizing: hold the floors until the
 * candidate has its replicas (or roll back when it cannot get them in `readyTimeoutMs`), then route
 * (or, after the last step, promote). Analysing: judge when an interval or the bake time is up.
 */
export function advanceRollout(spec: CompiledRollout, state: RolloutState, obs: RolloutObservation): RolloutTransition {
  if (state.status !== 'progressing') return transition(state);
  const step = stepAt(spec, state.stepIndex);
  const { nowMs } = obs;
  if (state.phase === 'sizing') {
    const target = candidateTarget(spec, state.stepIndex, obs.baselineDesired);
    const holdBaseline = step?.holdBaseline === true ? Math.max(1, obs.baselineReady) : 0;
    const control = step?.control === true ? target : 0;
    const size: RolloutAction = { type: 'size', candidateReplicas: target, controlReplicas: control, baselineReplicas: holdBaseline };
    if (obs.candidateReady < target || obs.controlReady < control) {
      if (nowMs - state.phaseSinceMs > spec.readyTimeoutMs) {
        return rollback(state, 'rolled-back', `the candidate did not reach ${target} ready replica(s) within ${spec.readyTimeoutMs} ms (has ${obs.candidateReady}; control ${obs.controlReady}/${control})`);
      }
      return transition(state, [size]);
    }
    if (step === undefined) {
      const done: RolloutState = { ...state, status: 'succeeded', reason: 'promoted' };
      return transition(done, [size, { type: 'promote' }], { type: 'rollout-succeeded', message: `candidate promoted after ${spec.steps.length} step(s)` });
    }
    const analysing: RolloutState = { ...state, phase: 'analysing', phaseSinceMs: nowMs, lastAnalysisMs: nowMs, lastOutcome: undefined };
    return transition(analysing, [size, { type: 'route', rule: step.rule }], { type: 'rollout-step', message: `step ${state.stepIndex + 1}/${spec.steps.length}: ${describeStep(spec, state.stepIndex)}` });
  }
  if (step === undefined) return transition(state);
  const bakeDone = nowMs - state.phaseSinceMs >= step.bakeMs;
  if (nowMs - state.lastAnalysisMs < spec.analysisIntervalMs && !bakeDone) return transition(state);
  // The candidate is compared with its control when it has one (same load per replica), else with production.
  const verdict = judge(spec.criteria, step.compare ? (step.control ? obs.control : obs.baseline) : undefined, obs.candidate);
  const judged: RolloutState = { ...state, lastAnalysisMs: nowMs, lastOutcome: verdict.outcome };
  if (verdict.outcome === 'fail') return rollback(judged, 'rolled-back', `analysis failed: ${verdict.summary}`, verdict);
  if (bakeDone && (verdict.outcome === 'pass' || !step.needsPass)) return nextStep(spec, judged, nowMs, `step ${state.stepIndex + 1} ${verdict.outcome === 'pass' ? 'passed' : 'ended without a failure'}`, verdict);
  if (nowMs - state.phaseSinceMs >= step.bakeMs * spec.maxBakeFactor) {
    return rollback(judged, 'rolled-back', `analysis still inconclusive after ${spec.maxBakeFactor} bake times: ${verdict.summary}`, verdict);
  }
  return transition(judged, [], undefined, verdict);
}

/** A manual command; the controller refuses commands to finished rollouts before calling this. */
export function commandRollout(spec: CompiledRollout, state: RolloutState, command: RolloutCommand, nowMs: number): RolloutTransition {
  switch (command) {
    case 'pause':
      if (state.status === 'paused') return transition(state);
      return transition({ ...state, status: 'paused', reason: 'paused by an operator' }, [], { type: 'rollout-paused', message: `paused at ${describeStep(spec, state.stepIndex)}` });
    case 'resume': {
      if (state.status !== 'paused') return transition(state);
      // The bake time and the analysis window start again: what happened while paused is not evidence.
      const resumed: RolloutState = { ...state, status: 'progressing', phaseSinceMs: nowMs, lastAnalysisMs: nowMs, lastOutcome: undefined, reason: 'resumed by an operator' };
      const step = stepAt(spec, state.stepIndex);
      const actions: RolloutAction[] = state.phase === 'analysing' && step !== undefined ? [{ type: 'route', rule: step.rule }] : [];
      return transition(resumed, actions, { type: 'rollout-resumed', message: `resumed at ${describeStep(spec, state.stepIndex)}` });
    }
    case 'promote': {
      const promoting: RolloutState = { ...state, status: 'progressing', stepIndex: spec.steps.length, phase: 'sizing', phaseSinceMs: nowMs, lastAnalysisMs: nowMs, reason: 'promoted by an operator' };
      return transition(promoting, [], { type: 'rollout-step', message: 'promotion requested by an operator' });
    }
    case 'abort':
      return rollback(state, 'aborted', 'aborted by an operator');
  }
}

/**
 * A rollout found in progress when the server starts: its candidate's replicas are gone with the
 * old process, so the current step starts again from sizing — traffic stays on the baseline until
 * the candidate is back, never half-routed to replicas that do not exist.
 */
export function resumeAfterRestart(state: RolloutState, nowMs: number): RolloutState {
  return { ...state, phase: 'sizing', phaseSinceMs: nowMs, lastAnalysisMs: nowMs, lastOutcome: undefined, reason: 'resumed after a restart of the server' };
}
