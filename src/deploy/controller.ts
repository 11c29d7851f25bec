/**
 * The deployment controller: keeps every deployment's replica set in step with its desired state in
 * the store, runs the autoscaler loop (one tick per `tickMs`, Knative's and the HPA's cadence is
 * seconds), and is the one place the API changes deployments through, so each change is a new
 * revision with an event.
 */
import { compilePolicy, DEFAULT_REPLICA_RESOURCES } from '../autoscale/index.js';
import type { CompiledCostModel, ReplicaResources } from '../autoscale/index.js';
import { ContinuumError } from '../errors.js';
import type { Registry } from '../registry/index.js';
import { checkName } from '../registry/index.js';
import { compileRuntimeOptions } from '../runtime/index.js';
import type { ModelRuntimeOptions } from '../runtime/index.js';
import type { Target } from '../targets/index.js';
import type { ActivatorOptions } from './activator.js';
import { mergeTicks, ReplicaSet } from './replica-set.js';
import type { HistoryPoint, ReplicaSetStatus, ReplicaSetTick } from './replica-set.js';
import { DriftMonitor } from '../observe/drift.js';
import type { DriftLevel, DriftReport } from '../observe/drift.js';
import type { DeploymentUsage } from '../observe/energy.js';
import { DeploymentRoute } from './route.js';
import type { TrackName, TrafficRule } from './route.js';
import type { Deployment, DeploymentEvent, DeploymentStore, Placement, Revision, RevisionSpec } from './store.js';

/** Friendly input of a new deployment (API body, CLI flags). */
export interface DeployInput {
  /** Deployment name; also the OIP model name clients call. @default the model name */
  readonly name?: string;
  readonly model: string;
  /** A version (`3`) or an alias (`@production`); the model's default version when absent. */
  readonly ref?: string;
  /** Scaling policy and its parameters, e.g. `{ policy: 'kpa', minReplicas: 0, maxReplicas: 4 }`. @default { policy: 'auto' } */
  readonly policy?: Readonly<Record<string, unknown>>;
  /** @default DEFAULT_REPLICA_RESOURCES */
  readonly resources?: Partial<ReplicaResources>;
  /** Runtime options of each replica over the model's own (instances, intraOpThreads, ...). @default {} */
  readonly runtime?: Readonly<Record<string, unknown>>;
  /** The node the replicas run on (docs/agents.md). @default the server's local target */
  readonly placement?: Placement;
}

/** A change to an existing deployment; each makes a new revision. */
export interface DeploymentChange {
  readonly ref?: string;
  readonly policy?: Readonly<Record<string, unknown>>;
  readonly resources?: Partial<ReplicaResources>;
  readonly runtime?: Readonly<Record<string, unknown>>;
}

/** A deployment as `deployments show` and the API present it. */
export interface DeploymentStatus extends ReplicaSetStatus {
  readonly name: string;
  readonly revision: Revision;
  readonly createdAt: string;
  /** During a rollout: the candidate revision's replicas and the traffic rule between the two. */
  readonly candidate?: CandidateStatus;
  /** Input drift of production's traffic against the reference: the worst feature's PSI and its level. */
  readonly drift: { readonly score: number | null; readonly level: DriftLevel | null; readonly features: number; readonly referenceSource: string; readonly sampledRequests: number };
  /** Energy so far, when metered. */
  readonly energy?: DeploymentEnergyStatus;
}

/** The candidate side of a deployment during a rollout. */
export interface CandidateStatus extends ReplicaSetStatus {
  readonly revision: Revision;
  readonly traffic: TrafficRule;
  /** The control's replicas (the production revision, sized like the candidate) when the rollout compares against one. */
  readonly control?: ReplicaSetStatus;
}

/** Activator bounds: Knative's activator buffers without a fixed count; we bound both. */
export const DEFAULT_ACTIVATOR_OPTIONS: ActivatorOptions = { maxBuffered: 1000, maxWaitMs: 30_000, retryAfterS: 1 };

/** Options of a {@link DeploymentController}. */
export interface DeploymentControllerOptions {
  readonly store: DeploymentStore;
  readonly registry: Registry;
  readonly target: Target;
  readonly costModel: CompiledCostModel;
  /** Autoscaler period. @default 1000 */
  readonly tickMs?: number;
  /** @default DEFAULT_ACTIVATOR_OPTIONS */
  readonly activator?: ActivatorOptions;
  readonly logError: (err: unknown, message: string) => void;
  /** Hears every event a replica set records (metrics count cold starts and scaling decisions from them). */
  readonly onEvent?: (deployment: string, track: TrackName, type: string, data: Readonly<Record<string, unknown>> | undefined) => void;
  /** Told, once per autoscaler loop tick, what each deployment's replica sets saw together (alert rules observe it). */
  readonly onTick?: (deployment: string, tick: ReplicaSetTick) => void;
  /** The reference a deployment's drift monitor compares live inputs with (a dataset attached to its model); undefined: the first sampled rows. */
  readonly driftReference?: (model: string) => { readonly input?: string; readonly rows: readonly (readonly number[])[] } | undefined;
  /** A deployment's energy so far (the energy meter's figures); undefined when not metered. */
  readonly energyOf?: (deployment: string) => DeploymentEnergyStatus | undefined;
  /**
   * The target of a node, for deployments placed on one; throws when the node cannot take
   * replicas. Absent: placement on a node is refused.
   */
  readonly nodeTarget?: (node: string) => Target;
}

/** A deployment's energy as `deployments show` reports it (see src/observe/energy.ts). */
export interface DeploymentEnergyStatus {
  readonly joules: number;
  readonly watts: number;
  readonly joulesPerInference: number | null;
  /** How it was estimated: rapl | cpu_load | constant. */
  readonly mode: string;
}

function checkResources(input: Partial<ReplicaResources> | undefined, base: ReplicaResources): ReplicaResources {
  const vcpu = input?.vcpu ?? base.vcpu;
  const memoryGb = input?.memoryGb ?? base.memoryGb;
  if (!(vcpu > 0 && vcpu <= 256)) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `resources.vcpu must be in (0, 256], got ${vcpu}`);
  if (!(memoryGb > 0 && memoryGb <= 1024)) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `resources.memoryGb must be in (0, 1024], got ${memoryGb}`);
  return { vcpu, memoryGb };
}

/** Runs every deployment of a data directory; see the module comment. */
export class DeploymentController {
  private readonly routes = new Map<string, DeploymentRoute>();
  private timer: NodeJS.Timeout | undefined;
  /** Set by close(): replicas still starting may report in after the store is gone. */
  private closed = false;
  private readonly activator: ActivatorOptions;
  /** Each deployment's ticks since the loop last reported it, merged. */
  private readonly ticks = new Map<string, ReplicaSetTick>();

  constructor(private readonly options: DeploymentControllerOptions) {
    this.activator = options.activator ?? DEFAULT_ACTIVATOR_OPTIONS;
  }

  /** Starts the replica sets of every stored deployment and the autoscaler loop. */
  start(): void {
    for (const deployment of this.options.store.list()) {
      try {
        this.launch(deployment);
      } catch (err) {
        // A deployment whose node was revoked or removed must not keep the others from starting.
        this.options.logError(err, `deployment '${deployment.name}' could not start its replicas`);
      }
    }
    const tickMs = this.options.tickMs ?? 1000;
    this.timer = setInterval(() => this.tickAll(), tickMs);
    this.timer.unref();
  }

  /** The route of the deployment serving OIP model name `name`, when a deployment has that name. */
  find(name: string): DeploymentRoute | undefined {
    return this.routes.get(name);
  }

  /** The route of deployment `name`; CONTINUUM_ERR_DEPLOYMENT_NOT_FOUND when there is none. */
  route(name: string): DeploymentRoute {
    const route = this.routes.get(name);
    if (route !== undefined) return route;
    this.options.store.get(name);
    throw new ContinuumError('CONTINUUM_ERR_INTERNAL', `deployment '${name}' has no route`);
  }

  /** Every deployment's route. */
  all(): readonly DeploymentRoute[] {
    return [...this.routes.values()];
  }

  /** Creates a deployment (revision 1) and starts its replicas. */
  create(input: DeployInput): DeploymentStatus {
    const name = checkName('deployment name', input.name ?? input.model);
    const spec = this.specFor(input.model, input.ref ?? '', input.policy ?? { policy: 'auto' }, checkResources(input.resources, DEFAULT_REPLICA_RESOURCES), input.runtime ?? {}, input.placement);
    // A node that cannot take replicas is refused before a revision names it.
    if (spec.placement !== undefined) this.targetOf(spec);
    const deployment = this.options.store.create(name, spec);
    this.launch(deployment);
    return this.status(name);
  }

  /** Applies a change as a new revision; replicas follow. Refused during a rollout (promote or abort it first). */
  update(name: string, change: DeploymentChange, message: string): DeploymentStatus {
    const route = this.route(name);
    if (route.candidate !== undefined) {
      throw new ContinuumError('CONTINUUM_ERR_ROLLOUT_IN_PROGRESS', `deployment '${name}' is rolling out revision ${route.candidate.current.revision.revision}; promote or abort the rollout before changing it`, {
        details: { deployment: name },
      });
    }
    const next = this.changedSpec(name, change);
    const deployment = this.options.store.update(name, () => next, 'updated', message);
    route.baseline.update(deployment);
    return this.status(name);
  }

  /**
   * Starts a candidate revision (the current one changed by `change`) next to the production one,
   * and with `control` a control set of the production revision to compare it with, with no
   * traffic yet: a rollout sizes them and routes to them (see {@link DeploymentRoute}).
   */
  startCandidate(name: string, change: DeploymentChange, message: string, control: boolean): Revision {
    const route = this.route(name);
    if (route.candidate !== undefined) {
      throw new ContinuumError('CONTINUUM_ERR_ROLLOUT_IN_PROGRESS', `deployment '${name}' is already rolling out revision ${route.candidate.current.revision.revision}`, { details: { deployment: name } });
    }
    const spec = this.changedSpec(name, change);
    const current = route.baseline.current.revision.spec;
    if (spec.version === current.version && JSON.stringify(spec.runtime) === JSON.stringify(current.runtime)) {
      throw new ContinuumError('CONTINUUM_ERR_INVALID_ROLLOUT', `deployment '${name}' already serves version ${spec.version} with these runtime options; roll out another version`, {
        details: { deployment: name, version: spec.version },
      });
    }
    const revision = this.options.store.addRevision(name, spec, 'candidate', message);
    this.attach(route, revision, control);
    return revision;
  }

  /** Starts the replicas of an existing candidate revision (and its control) again: a rollout resumed after a restart. */
  resumeCandidate(name: string, revision: number, control: boolean): void {
    const route = this.route(name);
    if (route.candidate?.current.revision.revision === revision) return;
    this.attach(route, this.options.store.revision(name, revision), control);
  }

  /**
   * The candidate becomes the deployment's current revision and takes all traffic at once; the
   * former production replicas finish what they hold, then stop.
   */
  async promoteCandidate(name: string, message: string): Promise<void> {
    const route = this.route(name);
    const candidate = route.candidate;
    if (candidate === undefined) throw new ContinuumError('CONTINUUM_ERR_INTERNAL', `deployment '${name}' has no candidate to promote`);
    const deployment = this.options.store.setCurrentRevision(name, candidate.current.revision.revision, 'promoted', message);
    candidate.update(deployment);
    candidate.setFloor(0);
    await Promise.all(route.promoteCandidate().map((s) => s.drainAndClose()));
  }

  /** Sends every request to the production revision again; the candidate's replicas finish what they hold, then stop. */
  async dropCandidate(name: string, type: string, message: string): Promise<void> {
    const route = this.route(name);
    const revision = route.candidate?.current.revision.revision;
    const retired = route.detachCandidate();
    if (revision === undefined) return;
    route.baseline.setFloor(0);
    this.options.store.recordEvent(name, type, message, { revision });
    await Promise.all(retired.map((s) => s.drainAndClose()));
  }

  /** Sets the replica bounds (`replicas` sets both), keeping the policy and its other parameters. */
  scale(name: string, bounds: { readonly minReplicas?: number; readonly maxReplicas?: number }): DeploymentStatus {
    const policy = { ...this.options.store.get(name).revision.spec.policy, ...bounds };
    return this.update(name, { policy }, `scaled to min ${String(policy['minReplicas'] ?? '-')}, max ${String(policy['maxReplicas'] ?? '-')}`);
  }

  /**
   * The registry model's runtime options changed (e.g. `continuum tune`): every deployment of it
   * starts fresh replicas, which read the new options; the old ones drain once those serve.
   * Returns whether any deployment serves the model.
   */
  restartModel(model: string): boolean {
    let any = false;
    for (const set of this.all().flatMap((r) => r.sets())) {
      if (set.current.revision.spec.model !== model) continue;
      set.restart(`restarting replicas: runtime options of model '${model}' changed`);
      any = true;
    }
    return any;
  }

  /** Stops a deployment's replicas (draining them) and deletes it. */
  async delete(name: string): Promise<void> {
    this.options.store.get(name);
    const route = this.routes.get(name);
    this.routes.delete(name);
    this.ticks.delete(name);
    this.options.store.delete(name);
    await Promise.all((route?.sets() ?? []).map((s) => s.close()));
  }

  /** A deployment with its live state (its replica set holds the current revision and compiled policy). */
  status(name: string): DeploymentStatus {
    const route = this.route(name);
    const { name: deploymentName, revision, createdAt } = route.baseline.current;
    const candidate = route.candidate;
    const drift = route.drift.report();
    const energy = this.options.energyOf?.(name);
    const base = {
      name: deploymentName,
      revision,
      createdAt,
      ...route.baseline.status(),
      drift: { score: drift.score, level: drift.level, features: drift.features, referenceSource: drift.referenceSource, sampledRequests: drift.sampledRequests },
      ...(energy === undefined ? {} : { energy }),
    };
    if (candidate === undefined) return base;
    const control = route.control?.status();
    return { ...base, candidate: { revision: candidate.current.revision, traffic: route.traffic, ...candidate.status(), ...(control === undefined ? {} : { control }) } };
  }

  /** A model's reference rows changed (a dataset attached): every deployment of it compares against them from now on. */
  setDriftReference(model: string, rows: readonly (readonly number[])[]): void {
    for (const route of this.routes.values()) if (route.baseline.current.revision.spec.model === model) route.drift.setReference(rows);
  }

  /** Input drift of a deployment's production traffic, per feature (PSI and KS against the reference). */
  drift(name: string): DriftReport {
    return this.route(name).drift.report();
  }

  /** What the energy meter attributes: each deployment's replicas with their usage, and the requests they answered. */
  usage(): DeploymentUsage[] {
    return this.all().map((route) => ({
      name: route.baseline.current.name,
      replicas: route.sets().flatMap((s) => s.replicaUsage()),
      inferences: route.sets().reduce((n, s) => n + s.answeredRequests, 0),
    }));
  }

  /** The deployment's recent ticks: production's, and the candidate's during a rollout. */
  history(name: string): { readonly baseline: readonly HistoryPoint[]; readonly candidate?: readonly HistoryPoint[] } {
    const route = this.route(name);
    return { baseline: route.baseline.history(), ...(route.candidate === undefined ? {} : { candidate: route.candidate.history() }) };
  }

  /** Every deployment with its live state. */
  list(): DeploymentStatus[] {
    return this.options.store.list().flatMap((d) => (this.routes.has(d.name) ? [this.status(d.name)] : []));
  }

  /** Revisions of a deployment, oldest first. */
  revisions(name: string): Revision[] {
    return this.options.store.revisions(name);
  }

  /** The newest events of a deployment. */
  events(name: string, limit?: number): DeploymentEvent[] {
    this.options.store.get(name);
    return this.options.store.events(name, limit);
  }

  /** Stops the loop and every replica (draining). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    const sets = this.all().flatMap((r) => r.sets());
    this.routes.clear();
    await Promise.all(sets.map((s) => s.close()));
  }

  private tickAll(): void {
    for (const [name, route] of this.routes) {
      for (const set of route.sets()) {
        try {
          set.tick();
        } catch (err) {
          this.options.logError(err, `autoscaler tick of deployment '${name}' failed`);
        }
        set.refreshStatistics().catch((err: unknown) => this.options.logError(err, `statistics of deployment '${name}' failed`));
      }
      const tick = this.ticks.get(name);
      this.ticks.delete(name);
      if (tick === undefined) continue;
      try {
        this.options.onTick?.(name, tick);
      } catch (err) {
        this.options.logError(err, `observing the tick of deployment '${name}' failed`);
      }
    }
  }

  /** The current revision's spec with `change` applied, validated. */
  private changedSpec(name: string, change: DeploymentChange): RevisionSpec {
    const current = this.options.store.get(name).revision.spec;
    return this.specFor(current.model, change.ref ?? current.modelRef, change.policy ?? current.policy, checkResources(change.resources, current.resources), change.runtime ?? current.runtime, current.placement);
  }

  /** Where a revision's replicas run: its node's target, else the server's own. */
  private targetOf(spec: RevisionSpec): Target {
    if (spec.placement === undefined) return this.options.target;
    if (this.options.nodeTarget === undefined) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'this server does not place deployments on nodes');
    return this.options.nodeTarget(spec.placement.node);
  }

  private specFor(
    model: string,
    ref: string,
    policy: Readonly<Record<string, unknown>>,
    resources: ReplicaResources,
    runtime: Readonly<Record<string, unknown>>,
    placement: Placement | undefined,
  ): RevisionSpec {
    // Validated here so a bad policy or runtime option never becomes a revision.
    compilePolicy(policy);
    compileRuntimeOptions(runtime as ModelRuntimeOptions);
    const version = this.options.registry.resolveRef(model, ref === '' ? undefined : ref);
    return { model, modelRef: ref, version: version.version, sha256: version.sha256, policy, resources, runtime, ...(placement === undefined ? {} : { placement }) };
  }

  private launch(deployment: Deployment): void {
    const set = this.replicaSet(deployment, undefined);
    const reference = this.options.driftReference?.(deployment.revision.spec.model);
    const drift = new DriftMonitor(reference === undefined ? {} : { ...(reference.input === undefined ? {} : { input: reference.input }), reference: reference.rows });
    this.routes.set(deployment.name, new DeploymentRoute(set, this.options.logError, drift));
    this.targetOf(deployment.revision.spec).prepare();
    set.start();
  }

  /** Starts a candidate revision's replica set (and a control's) on a route (no traffic until a rule says so). */
  private attach(route: DeploymentRoute, revision: Revision, control: boolean): void {
    const set = this.replicaSet({ ...route.baseline.current, revision }, 'candidate');
    const controlSet = control ? this.replicaSet(route.baseline.current, 'control') : undefined;
    route.attachCandidate(set, controlSet);
    set.start();
    controlSet?.start();
  }

  /** A replica set for `deployment`; a candidate's and a control's events say whose they are. */
  private replicaSet(deployment: Deployment, track: 'candidate' | 'control' | undefined): ReplicaSet {
    const { store, registry, costModel, logError, onEvent } = this.options;
    const name = deployment.name;
    const tag = track === undefined ? {} : { track, revision: deployment.revision.revision };
    return new ReplicaSet(deployment, {
      target: this.targetOf(deployment.revision.spec),
      resolveModel: (model, version) => registry.resolve(model, version),
      costModel,
      activator: this.activator,
      recordEvent: (type, message, data) => {
        // A deployment deleted (or a server closed) while a replica still reports in has no events to keep.
        if (!this.closed && store.find(name) !== undefined) store.recordEvent(name, type, track === undefined ? message : `${track}: ${message}`, { ...data, ...tag });
        onEvent?.(name, track ?? 'baseline', type, data);
      },
      logError,
      nowMs: Date.now,
      // Only production's history carries the deployment's energy (it is metered per deployment).
      ...(track === undefined && this.options.energyOf !== undefined ? { energyJoules: () => this.options.energyOf?.(name)?.joules } : {}),
      onTick: (tick) => {
        const earlier = this.ticks.get(name);
        this.ticks.set(name, earlier === undefined ? tick : mergeTicks(earlier, tick));
      },
    });
  }
}
