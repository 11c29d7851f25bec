/**
 * The reconciler: keeps a cluster in step with deployments as Continuum runs them, the way the
 * deployment controller keeps local replica sets in step. `sync` renders a deployment and applies
 * it when the objects differ from what it last applied (one apply at a time per deployment, the
 * latest state winning); `observe` reads the cluster back and records what is new — replica
 * counts, failing conditions, Kubernetes events — as Continuum deployment events; `remove` cleans up.
 */
import { createHash } from 'node:crypto';
import type { KubernetesApplier, KubernetesDeploymentStatus } from './apply.js';
import type { CompiledKubernetesOptions } from './options.js';
import { renderDeployment, renderInputOf } from './render.js';

/** Options of a {@link KubernetesReconciler}. */
export interface KubernetesReconcilerOptions {
  readonly applier: KubernetesApplier;
  readonly options: CompiledKubernetesOptions;
  /** Records a deployment event (DeploymentStore.recordEvent). */
  readonly record: (deployment: string, type: string, message: string, data: Readonly<Record<string, unknown>>) => void;
}

/** What `sync` reads of a deployment's status (DeploymentController.status). */
export type SyncInput = Parameters<typeof renderInputOf>[0];

/** Event type of everything the reconciler records. */
export const KUBERNETES_EVENT = 'kubernetes';

interface Seen {
  /** Digest of the objects last applied. */
  applied: string | undefined;
  /** Replica summary last recorded. */
  replicas: string | undefined;
  /** Newest Kubernetes event time already recorded. */
  eventsUntil: string;
  /** The apply or removal running now; the next one waits for it. */
  chain: Promise<unknown>;
}

/** Keeps a cluster in step with deployments; see the module comment. */
export class KubernetesReconciler {
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly o: KubernetesReconcilerOptions) {}

  private state(name: string): Seen {
    let s = this.seen.get(name);
    if (s === undefined) {
      s = { applied: undefined, replicas: undefined, eventsUntil: '', chain: Promise.resolve() };
      this.seen.set(name, s);
    }
    return s;
  }

  /** Runs `step` after the deployment's previous step, whatever its outcome. */
  private queue<T>(name: string, step: () => Promise<T>): Promise<T> {
    const s = this.state(name);
    const next = s.chain.then(step, step);
    s.chain = next.catch(() => undefined);
    return next;
  }

  /** Renders and applies the deployment unless its objects are what was last applied. */
  sync(status: SyncInput): Promise<'applied' | 'unchanged'> {
    const objects = renderDeployment(renderInputOf(status), this.o.options);
    const digest = createHash('sha256').update(JSON.stringify(objects)).digest('hex');
    return this.queue(status.name, async () => {
      const s = this.state(status.name);
      if (s.applied === digest) return 'unchanged';
      try {
        const result = await this.o.applier.apply(status.name, this.o.options.namespace, objects);
        s.applied = digest;
        this.o.record(status.name, KUBERNETES_EVENT, `applied ${result.applied.length} objects to namespace ${this.o.options.namespace}${result.pruned.length === 0 ? '' : `, pruned ${result.pruned.join(', ')}`}`, {
          applied: result.applied,
          pruned: result.pruned,
        });
        return 'applied';
      } catch (err) {
        this.o.record(status.name, KUBERNETES_EVENT, `apply failed: ${err instanceof Error ? err.message : String(err)}`, { failed: true });
        throw err;
      }
    });
  }

  /** Deletes everything of the deployment on the cluster. */
  remove(name: string): Promise<void> {
    return this.queue(name, async () => {
      await this.o.applier.delete(name, this.o.options.namespace);
      this.seen.delete(name);
    });
  }

  /**
   * Reads the deployment back and records what changed since the last look: the tracks' ready
   * and desired replicas, conditions that are not True, and Kubernetes events not recorded yet.
   */
  async observe(name: string): Promise<KubernetesDeploymentStatus> {
    const status = await this.o.applier.status(name, this.o.options.namespace);
    const s = this.state(name);
    const replicas = status.tracks.map((t) => `${t.name} ${t.readyReplicas}/${t.desiredReplicas} ready`).join(', ');
    if (replicas !== s.replicas) {
      s.replicas = replicas;
      const failing = status.tracks.flatMap((t) => t.conditions.filter((c) => c.status !== 'True').map((c) => `${t.name} ${c.type}: ${c.reason ?? ''} ${c.message ?? ''}`.trim()));
      this.o.record(name, KUBERNETES_EVENT, `cluster: ${replicas || 'no pods'}${failing.length === 0 ? '' : `; ${failing.join('; ')}`}`, { tracks: status.tracks, autoscaler: status.autoscaler ?? null });
    }
    for (const e of status.events) {
      if (e.at <= s.eventsUntil) continue;
      this.o.record(name, KUBERNETES_EVENT, `${e.object} ${e.reason}: ${e.message}`, { at: e.at, type: e.type });
    }
    const newest = status.events.at(-1)?.at;
    if (newest !== undefined && newest > s.eventsUntil) s.eventsUntil = newest;
    return status;
  }
}
