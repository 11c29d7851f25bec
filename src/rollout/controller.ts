/**
 * The rollout controller: starts a candidate revision next to production, and every tick feeds
 * each rollout's observations (both tracks' samples, replica counts) to the pure state machine
 * (plan.ts), carries out its actions on the deployment's route — floors, traffic rules, promotion,
 * rollback — records every verdict and event, and persists the state so a restarted server
 * resumes each rollout where it was.
 */
import type { DeploymentController } from '../deploy/index.js';
import { ContinuumError } from '../errors.js';
import { advanceRollout, commandRollout, describeStep, FINISHED_STATUSES, initialRolloutState, resumeAfterRestart } from './plan.js';
import type { RolloutAction, RolloutCommand, RolloutState, RolloutStatus, RolloutTransition } from './plan.js';
import { compileRollout } from './spec.js';
import type { CompiledRollout } from './spec.js';
import type { Rollout, RolloutStore, RolloutVerdict } from './store.js';

/** Options of a {@link RolloutController}. */
export interface RolloutControllerOptions {
  readonly deployments: DeploymentController;
  readonly store: RolloutStore;
  /** How often rollouts advance; analyses run at their own interval within it. @default 250 */
  readonly tickMs?: number;
  readonly recordEvent: (deployment: string, type: string, message: string, data?: Readonly<Record<string, unknown>>) => void;
  readonly logError: (err: unknown, message: string) => void;
  /** The clock (epoch ms). @default Date.now */
  readonly nowMs?: () => number;
}

/** A rollout with its latest verdicts, as `rollouts show` prints it. */
export interface RolloutDetail extends Rollout {
  /** The step now running, in words. */
  readonly step: string;
  readonly verdicts: readonly RolloutVerdict[];
}

/** Whether any step of a rollout compares its candidate with a control. */
function usesControl(spec: CompiledRollout): boolean {
  return spec.steps.some((s) => s.control);
}

/** Runs every rollout of a data directory; see the module comment. */
export class RolloutController {
  private timer: NodeJS.Timeout | undefined;
  /** Rollouts whose promotion or rollback is being carried out (draining takes a while). */
  private readonly finishing = new Set<number>();
  private readonly nowMs: () => number;

  constructor(private readonly options: RolloutControllerOptions) {
    this.nowMs = options.nowMs ?? Date.now;
  }

  /**
   * Picks up the rollouts a previous process left unfinished and starts the loop. A rollout whose
   * candidate is already the deployment's revision was promoted just before the stop: it is
   * recorded as succeeded. Any other resumes from the start of its step (see resumeAfterRestart).
   */
  start(): void {
    const { store, deployments } = this.options;
    for (const rollout of store.active()) {
      const route = deployments.find(rollout.deployment);
      if (route === undefined) {
        store.saveState(rollout.id, { ...rollout.state, status: 'aborted', reason: 'the deployment no longer exists' });
        continue;
      }
      if (route.baseline.current.revision.revision === rollout.candidateRevision) {
        store.saveState(rollout.id, { ...rollout.state, status: 'succeeded', reason: 'promoted (completed before a restart)' });
        continue;
      }
      const state = resumeAfterRestart(rollout.state, this.nowMs());
      deployments.resumeCandidate(rollout.deployment, rollout.candidateRevision, usesControl(rollout.spec));
      store.saveState(rollout.id, state);
      this.event(rollout, 'rollout-resumed', `rollout ${rollout.id} resumes at ${describeStep(rollout.spec, state.stepIndex)} after a restart`);
    }
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 250);
    this.timer.unref();
  }

  /** Stops the loop (rollouts stay as stored; the next start resumes them). */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  /** Starts a rollout: validates it, starts the candidate revision's replicas, records it. */
  create(input: unknown): RolloutDetail {
    const spec = compileRollout(input);
    const { deployments, store } = this.options;
    const route = deployments.route(spec.deployment);
    const baseline = route.baseline.current.revision;
    const candidate = deployments.startCandidate(
      spec.deployment,
      { ref: spec.ref, ...(spec.runtime === undefined ? {} : { runtime: { ...baseline.spec.runtime, ...spec.runtime } }) },
      `candidate of a ${spec.strategy} rollout`,
      usesControl(spec),
    );
    const rollout = store.create({
      deployment: spec.deployment,
      strategy: spec.strategy,
      baselineRevision: baseline.revision,
      baselineVersion: baseline.spec.version,
      candidateRevision: candidate.revision,
      candidateVersion: candidate.spec.version,
      spec,
      state: initialRolloutState(this.nowMs()),
    });
    this.event(rollout, 'rollout-started', `rollout ${rollout.id} (${spec.strategy}) of version ${candidate.spec.version} (revision ${candidate.revision}) over version ${baseline.spec.version}: ${spec.steps.map((_, i) => describeStep(spec, i)).join(' → ')} → promotion`);
    return this.get(rollout.id);
  }

  /** A rollout with its newest verdicts. */
  get(id: number): RolloutDetail {
    const rollout = this.options.store.get(id);
    return { ...rollout, step: rollout.state.status === 'progressing' || rollout.state.status === 'paused' ? describeStep(rollout.spec, rollout.state.stepIndex) : rollout.state.status, verdicts: this.options.store.verdicts(id) };
  }

  /** The status of rollout `id`, or undefined when there is none. */
  status(id: number): RolloutStatus | undefined {
    return this.options.store.find(id)?.state.status;
  }

  /** Rollouts, newest first. */
  list(deployment?: string): Rollout[] {
    return this.options.store.list(deployment);
  }

  /** A manual command; CONTINUUM_ERR_ROLLOUT_FINISHED for a rollout that has ended. */
  async command(id: number, command: RolloutCommand): Promise<RolloutDetail> {
    const rollout = this.options.store.get(id);
    if (FINISHED_STATUSES.includes(rollout.state.status) || this.finishing.has(id)) {
      throw new ContinuumError('CONTINUUM_ERR_ROLLOUT_FINISHED', `rollout ${id} has ${rollout.state.status === 'progressing' ? 'already been decided' : `ended (${rollout.state.status})`}; it takes no more commands`, {
        details: { rollout: id, status: rollout.state.status },
      });
    }
    await this.apply(rollout, commandRollout(rollout.spec, rollout.state, command, this.nowMs()));
    return this.get(id);
  }

  /** One pass over the active rollouts. */
  tick(): void {
    for (const rollout of this.options.store.active()) {
      if (this.finishing.has(rollout.id)) continue;
      try {
        const route = this.options.deployments.find(rollout.deployment);
        if (route === undefined || route.candidate === undefined) continue;
        const samples = route.samples();
        const transition = advanceRollout(rollout.spec, rollout.state, {
          nowMs: this.nowMs(),
          baselineDesired: route.baseline.desiredReplicas,
          baselineReady: route.baseline.readyReplicas,
          candidateReady: route.candidate.readyReplicas,
          controlReady: route.control?.readyReplicas ?? 0,
          baseline: samples.baseline,
          candidate: samples.candidate,
          control: samples.control,
        });
        this.apply(rollout, transition).catch((err: unknown) => this.options.logError(err, `rollout ${rollout.id} failed to carry out its step`));
      } catch (err) {
        this.options.logError(err, `rollout ${rollout.id} tick failed`);
      }
    }
  }

  /** Records the transition (state, verdict, event) and carries out its actions in order. */
  private async apply(rollout: Rollout, t: RolloutTransition): Promise<void> {
    const { store } = this.options;
    if (t.verdict !== undefined) {
      store.recordVerdict(rollout.id, rollout.state.stepIndex + 1, t.verdict);
      this.event(rollout, 'verdict', `rollout ${rollout.id} step ${rollout.state.stepIndex + 1}: ${t.verdict.summary}`, { outcome: t.verdict.outcome, checks: t.verdict.checks });
    }
    const promotes = t.actions.some((a) => a.type === 'promote');
    const ending = promotes || t.actions.some((a) => a.type === 'rollback');
    if (ending) this.finishing.add(rollout.id);
    // Every action's switch (floors, rule, current revision) happens synchronously when it starts;
    // only the drains that follow are awaited. A rollback is recorded before it is carried out and a
    // promotion after the candidate is the deployment's revision, so a stop at any point leaves a
    // state the next start reads right: still rolling back means rolled back, and a candidate that
    // is current means promoted (see start()).
    if (!promotes && t.state !== rollout.state) store.saveState(rollout.id, t.state);
    const carried = t.actions.map((action) => this.carryOut(rollout, t.state, action));
    if (promotes) store.saveState(rollout.id, t.state);
    if (t.event !== undefined) this.event(rollout, t.event.type, `rollout ${rollout.id}: ${t.event.message}`);
    try {
      await Promise.all(carried);
    } finally {
      if (ending) this.finishing.delete(rollout.id);
    }
  }

  private async carryOut(rollout: Rollout, state: RolloutState, action: RolloutAction): Promise<void> {
    const { deployments } = this.options;
    const route = deployments.find(rollout.deployment);
    if (route === undefined) return;
    switch (action.type) {
      case 'size':
        route.candidate?.setFloor(action.candidateReplicas);
        route.control?.setFloor(action.controlReplicas);
        route.baseline.setFloor(action.baselineReplicas);
        return;
      case 'route':
        route.route(action.rule);
        route.resetSamples();
        return;
      case 'promote':
        await deployments.promoteCandidate(rollout.deployment, `promoted by rollout ${rollout.id}`);
        return;
      case 'rollback':
        await deployments.dropCandidate(rollout.deployment, state.status === 'aborted' ? 'rollout-aborted' : 'rolled-back', `revision ${rollout.candidateRevision} rolled back by rollout ${rollout.id}: ${state.reason}`);
        return;
    }
  }

  private event(rollout: Rollout, type: string, message: string, data: Readonly<Record<string, unknown>> = {}): void {
    this.options.recordEvent(rollout.deployment, type, message, { rollout: rollout.id, ...data });
  }
}
