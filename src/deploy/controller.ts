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
import { ReplicaSet } from './replica-set.js';
import type { ReplicaSetStatus } from './replica-set.js';
import type { Deployment, DeploymentEvent, DeploymentStore, Revision, RevisionSpec } from './store.js';

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
  private readonly sets = new Map<string, ReplicaSet>();
  private timer: NodeJS.Timeout | undefined;
  private readonly activator: ActivatorOptions;

  constructor(private readonly options: DeploymentControllerOptions) {
    this.activator = options.activator ?? DEFAULT_ACTIVATOR_OPTIONS;
  }

  /** Starts the replica sets of every stored deployment and the autoscaler loop. */
  start(): void {
    for (const deployment of this.options.store.list()) this.launch(deployment);
    const tickMs = this.options.tickMs ?? 1000;
    this.timer = setInterval(() => this.tickAll(), tickMs);
    this.timer.unref();
  }

  /** The replica set serving OIP model name `name`, when a deployment has that name. */
  find(name: string): ReplicaSet | undefined {
    return this.sets.get(name);
  }

  /** Every deployment's replica set. */
  all(): readonly ReplicaSet[] {
    return [...this.sets.values()];
  }

  /** Creates a deployment (revision 1) and starts its replicas. */
  create(input: DeployInput): DeploymentStatus {
    const name = checkName('deployment name', input.name ?? input.model);
    const spec = this.specFor(input.model, input.ref ?? '', input.policy ?? { policy: 'auto' }, checkResources(input.resources, DEFAULT_REPLICA_RESOURCES), input.runtime ?? {});
    const deployment = this.options.store.create(name, spec);
    this.launch(deployment);
    return this.status(name);
  }

  /** Applies a change as a new revision; replicas follow. */
  update(name: string, change: DeploymentChange, message: string): DeploymentStatus {
    const current = this.options.store.get(name).revision.spec;
    const next = this.specFor(
      current.model,
      change.ref ?? current.modelRef,
      change.policy ?? current.policy,
      checkResources(change.resources, current.resources),
      change.runtime ?? current.runtime,
    );
    const deployment = this.options.store.update(name, () => next, 'updated', message);
    this.sets.get(name)?.update(deployment);
    return this.status(name);
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
    for (const set of this.sets.values()) {
      if (set.current.revision.spec.model !== model) continue;
      set.restart(`restarting replicas: runtime options of model '${model}' changed`);
      any = true;
    }
    return any;
  }

  /** Stops a deployment's replicas (draining them) and deletes it. */
  async delete(name: string): Promise<void> {
    this.options.store.get(name);
    const set = this.sets.get(name);
    this.sets.delete(name);
    this.options.store.delete(name);
    await set?.close();
  }

  /** A deployment with its live state (its replica set holds the current revision and compiled policy). */
  status(name: string): DeploymentStatus {
    const set = this.sets.get(name);
    if (set === undefined) {
      // An unknown name gets the store's CONTINUUM_ERR_DEPLOYMENT_NOT_FOUND.
      this.options.store.get(name);
      throw new ContinuumError('CONTINUUM_ERR_INTERNAL', `deployment '${name}' has no replica set`);
    }
    const { name: deploymentName, revision, createdAt } = set.current;
    return { name: deploymentName, revision, createdAt, ...set.status() };
  }

  /** Every deployment with its live state. */
  list(): DeploymentStatus[] {
    return this.options.store.list().flatMap((d) => (this.sets.has(d.name) ? [this.status(d.name)] : []));
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
    if (this.timer !== undefined) clearInterval(this.timer);
    const sets = [...this.sets.values()];
    this.sets.clear();
    await Promise.all(sets.map((s) => s.close()));
  }

  private tickAll(): void {
    for (const [name, set] of this.sets) {
      try {
        set.tick();
      } catch (err) {
        this.options.logError(err, `autoscaler tick of deployment '${name}' failed`);
      }
      set.refreshStatistics().catch((err: unknown) => this.options.logError(err, `statistics of deployment '${name}' failed`));
    }
  }

  private specFor(model: string, ref: string, policy: Readonly<Record<string, unknown>>, resources: ReplicaResources, runtime: Readonly<Record<string, unknown>>): RevisionSpec {
    // Validated here so a bad policy or runtime option never becomes a revision.
    compilePolicy(policy);
    compileRuntimeOptions(runtime as ModelRuntimeOptions);
    const version = this.options.registry.resolveRef(model, ref === '' ? undefined : ref);
    return { model, modelRef: ref, version: version.version, sha256: version.sha256, policy, resources, runtime };
  }

  private launch(deployment: Deployment): void {
    const { store, registry, target, costModel, logError } = this.options;
    const name = deployment.name;
    const set = new ReplicaSet(deployment, {
      target,
      resolveModel: (model, version) => registry.resolve(model, version),
      costModel,
      activator: this.activator,
      recordEvent: (type, message, data) => {
        // A deployment deleted while a replica still reports in has no events to keep.
        if (store.find(name) !== undefined) store.recordEvent(name, type, message, data);
      },
      logError,
      nowMs: Date.now,
    });
    this.sets.set(name, set);
    target.prepare();
    set.start();
  }
}
