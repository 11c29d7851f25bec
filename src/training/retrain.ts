/**
 * Retraining (docs/workflows.md#retraining): a workflow bound to a data source trains again on the
 * latest window of its samples on a schedule or when a drift alert fires for the deployment it
 * feeds; the new version goes through the release pipeline (gates, then rollout). When to train is
 * {@link shouldRetrain}, a pure function of the binding, its state, what is observed and the time;
 * {@link RetrainController} ticks, observes and starts the runs.
 */
import { z } from 'zod';
import { ContinuumError } from '../errors.js';

/** Shortest schedule and minimum gap between runs of one binding. */
const MIN_PERIOD_MS = 60_000;
/** Longest schedule, window and gap: 366 days. */
const MAX_PERIOD_MS = 366 * 24 * 3_600_000;

const period = z.int().min(MIN_PERIOD_MS).max(MAX_PERIOD_MS);

/** A retraining binding as the API takes it. */
export const retrainBindingSchema = z
  .strictObject({
    datasource: z.string().min(1).max(63),
    /** The registry model the runs push to. @default the workflow's name */
    model: z.string().min(1).max(63).optional(),
    /** The deployment the new versions roll out to, and whose drift alerts start a run. */
    deployment: z.string().min(1).max(63).optional(),
    /** Train every `everyMs`. */
    everyMs: period.optional(),
    /** Train when a drift alert fires for `deployment`. @default false */
    onDriftAlert: z.boolean().optional(),
    /** Length of the window of latest samples a run trains on. */
    windowMs: period,
    /** Least time between the starts of two runs. @default 10 minutes (at most everyMs) */
    minGapMs: period.optional(),
  })
  .refine((b) => b.everyMs !== undefined || b.onDriftAlert === true, 'give a schedule (everyMs), onDriftAlert, or both')
  .refine((b) => b.onDriftAlert !== true || b.deployment !== undefined, 'onDriftAlert needs the deployment whose drift alerts to follow');

/** A binding's input. */
export type RetrainBindingInput = z.infer<typeof retrainBindingSchema>;

/** A compiled retraining binding. */
export interface RetrainBinding {
  readonly workflow: string;
  readonly datasource: string;
  readonly model: string;
  readonly deployment?: string;
  readonly schedule?: { readonly everyMs: number };
  readonly onDriftAlert: boolean;
  readonly windowMs: number;
  readonly minGapMs: number;
}

/** Compiles a validated binding input for `workflow`. */
export function compileRetrainBinding(workflow: string, input: RetrainBindingInput): RetrainBinding {
  const minGapMs = input.minGapMs ?? Math.min(10 * 60_000, input.everyMs ?? Number.POSITIVE_INFINITY);
  return {
    workflow,
    datasource: input.datasource,
    model: input.model ?? workflow,
    ...(input.deployment === undefined ? {} : { deployment: input.deployment }),
    ...(input.everyMs === undefined ? {} : { schedule: { everyMs: input.everyMs } }),
    onDriftAlert: input.onDriftAlert ?? false,
    windowMs: input.windowMs,
    minGapMs,
  };
}

/** What retraining remembers per binding. */
export interface RetrainState {
  /** When the binding was set: the schedule counts from here until the first run. */
  readonly sinceMs: number;
  readonly lastStartedMs: number | null;
  readonly lastRunId: number | null;
  /** The start of the drift alert that last started a run (one run per firing alert). */
  readonly handledDriftAlertMs: number | null;
}

/** The state of a binding set at `nowMs`. */
export function initialRetrainState(nowMs: number): RetrainState {
  return { sinceMs: nowMs, lastStartedMs: null, lastRunId: null, handledDriftAlertMs: null };
}

/** What the controller observes for a binding at a tick. */
export interface RetrainObservation {
  /** A run of the workflow is in progress. */
  readonly running: boolean;
  /** When the drift alert firing now for the binding's deployment started; null when none fires. */
  readonly driftAlertSinceMs: number | null;
}

/** Whether to train now, and on which window. */
export type RetrainDecision =
  | { readonly retrain: false; readonly reason: string }
  | { readonly retrain: true; readonly trigger: 'schedule' | 'drift'; readonly fromMs: number; readonly toMs: number; readonly driftAlertMs: number | null };

/**
 * Decides whether a binding trains now (pure): never while a run of the workflow is in progress,
 * never sooner than `minGapMs` after the last start; then on a drift alert for the deployment not
 * yet answered by a run, else when the schedule is due (`everyMs` after the last start, or after
 * the binding was set). The window is the latest `windowMs` up to now.
 */
export function shouldRetrain(binding: RetrainBinding, state: RetrainState, observation: RetrainObservation, nowMs: number): RetrainDecision {
  if (observation.running) return { retrain: false, reason: 'a run is in progress' };
  if (state.lastStartedMs !== null && nowMs - state.lastStartedMs < binding.minGapMs) return { retrain: false, reason: 'within the minimum gap after the last run' };
  const window = { fromMs: nowMs - binding.windowMs, toMs: nowMs };
  const drift = observation.driftAlertSinceMs;
  if (binding.onDriftAlert && drift !== null && drift !== state.handledDriftAlertMs) return { retrain: true, trigger: 'drift', ...window, driftAlertMs: drift };
  if (binding.schedule !== undefined && nowMs >= (state.lastStartedMs ?? state.sinceMs) + binding.schedule.everyMs) {
    return { retrain: true, trigger: 'schedule', ...window, driftAlertMs: null };
  }
  return { retrain: false, reason: 'not due' };
}

/** The state after a decision to retrain started run `runId` (pure). */
export function retrainStarted(state: RetrainState, decision: Extract<RetrainDecision, { retrain: true }>, runId: number | null, nowMs: number): RetrainState {
  return { ...state, lastStartedMs: nowMs, lastRunId: runId, handledDriftAlertMs: decision.driftAlertMs ?? state.handledDriftAlertMs };
}

/** A drift alert firing now (the alert engine's active alerts of kind `drift`). */
export interface FiringDriftAlert {
  readonly deployment: string;
  readonly startsAtMs: number;
}

/** What the controller needs of the workflow service. */
export interface RetrainPort {
  bindings(): readonly { readonly binding: RetrainBinding; readonly state: RetrainState }[];
  isRunning(workflow: string): boolean;
  /** Starts a run of the binding on the window, with a release; returns its id. */
  startRetraining(binding: RetrainBinding, trigger: 'schedule' | 'drift', window: { readonly fromMs: number; readonly toMs: number }): number;
  saveState(workflow: string, state: RetrainState): void;
}

/** Options of {@link RetrainController}. */
export interface RetrainControllerOptions {
  readonly workflows: RetrainPort;
  /** Drift alerts firing now. */
  readonly driftAlerts: () => readonly FiringDriftAlert[];
  /** @default 5000 */
  readonly tickMs?: number;
  readonly logError: (err: unknown, message: string) => void;
  /** The clock (epoch ms). @default Date.now */
  readonly nowMs?: () => number;
}

/** Ticks the retraining bindings; see the module comment. */
export class RetrainController {
  private timer: NodeJS.Timeout | undefined;
  private readonly nowMs: () => number;

  constructor(private readonly options: RetrainControllerOptions) {
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** Starts ticking. */
  start(): void {
    this.timer ??= setInterval(() => this.tick(this.nowMs()), this.options.tickMs ?? 5000);
    this.timer.unref();
  }

  /** Stops ticking. */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass over the bindings at `nowMs`; returns the runs started. */
  tick(nowMs: number): number[] {
    const { workflows } = this.options;
    const alerts = this.options.driftAlerts();
    const started: number[] = [];
    for (const { binding, state } of workflows.bindings()) {
      const since = alerts.filter((a) => a.deployment === binding.deployment).map((a) => a.startsAtMs);
      const observation: RetrainObservation = { running: workflows.isRunning(binding.workflow), driftAlertSinceMs: since.length === 0 ? null : Math.min(...since) };
      const decision = shouldRetrain(binding, state, observation, nowMs);
      if (!decision.retrain) continue;
      let runId: number | null = null;
      try {
        runId = workflows.startRetraining(binding, decision.trigger, decision);
        started.push(runId);
      } catch (err) {
        // The gap still applies: a binding that cannot start is not retried every tick.
        this.options.logError(err, `retraining of workflow ${binding.workflow} (${decision.trigger}) did not start: ${err instanceof ContinuumError ? err.message : String(err)}`);
      }
      workflows.saveState(binding.workflow, retrainStarted(state, decision, runId, nowMs));
    }
    return started;
  }
}
