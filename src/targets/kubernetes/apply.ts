/**
 * The applier: the I/O around rendering. It sends rendered objects to a cluster by server-side
 * apply (PATCH with `application/apply-patch+yaml` and field manager `continuum`), prunes what an
 * earlier render made and this one no longer does (an old revision after a promotion), reads the
 * state back (replicas, conditions, events) and deletes everything of a deployment.
 *
 * Retries: a 409 Conflict of an apply means another field manager owns a field Continuum sets
 * (Kubernetes "Server-Side Apply", Conflicts); it is retried with exponential backoff, since a
 * concurrent writer (a `kubectl edit`, another controller's transition) may be letting go, then
 * reported as CONTINUUM_ERR_KUBERNETES_CONFLICT. Continuum forces ownership (`force=true`, as
 * `kubectl apply --server-side --force-conflicts`) only when the caller sets `forceConflicts`.
 * 429 and 5xx answers and refused connections are retried the same way; other answers are final.
 */
import { ApiException, HttpMethod, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { ContinuumError } from '../../errors.js';
import { deploymentSelector, FIELD_MANAGER, LABELS } from './render.js';
import type { RenderedObject } from './render.js';

/** Options of a {@link KubernetesApplier}. */
export interface KubernetesApplierOptions {
  /** From a kubeconfig file (`loadFromDefault`) or the pod's service account (`loadFromCluster`). */
  readonly kubeConfig: KubeConfig;
  /** Attempts of one call before its failure is final. @default 5 */
  readonly maxAttempts?: number;
  /** First backoff; each retry doubles it. @default 200 */
  readonly retryBaseMs?: number;
  /** Longest backoff. @default 5000 */
  readonly retryMaxMs?: number;
  /** Take ownership of conflicting fields instead of failing (`--force-conflicts`). @default false */
  readonly forceConflicts?: boolean;
  /** How to wait between attempts (tests pass a recording one). @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The kinds rendering makes, in the order clean-up deletes them (scalers first, so none fights the deletion). */
export const MANAGED_KINDS: readonly { readonly apiVersion: string; readonly kind: string }[] = [
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' },
  { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject' },
  { apiVersion: 'serving.knative.dev/v1', kind: 'Service' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
];

/** Backoff before retry `attempt` (1-based): base × 2^(attempt−1), capped (pure). */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** (attempt - 1));
}

/** One condition of an object's status, as Kubernetes reports it. */
export interface KubernetesCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

/** One track's Deployment as the cluster reports it. */
export interface KubernetesTrackStatus {
  readonly name: string;
  readonly track: string;
  readonly revision: number;
  /** Replicas asked for (by Continuum or the autoscaler). */
  readonly desiredReplicas: number;
  readonly readyReplicas: number;
  readonly updatedReplicas: number;
  readonly conditions: readonly KubernetesCondition[];
}

/** What the cluster says of a deployment. */
export interface KubernetesDeploymentStatus {
  readonly tracks: readonly KubernetesTrackStatus[];
  /** The autoscaler's (HPA, or the HPA KEDA made) view: replicas now and wanted; undefined without one. */
  readonly autoscaler: { readonly kind: string; readonly currentReplicas: number; readonly desiredReplicas: number; readonly conditions: readonly KubernetesCondition[] } | undefined;
  /** Knative Service conditions, when the Knative engine runs it. */
  readonly knative: readonly KubernetesCondition[] | undefined;
  /** The newest events of the deployment's objects, newest last. */
  readonly events: readonly { readonly at: string; readonly object: string; readonly type: string; readonly reason: string; readonly message: string }[];
}

/** Events read back per status call. */
const MAX_EVENTS = 20;

/** Fields of the objects read back, as the API returns them (only what status uses). */
interface Observed extends KubernetesObject {
  readonly spec?: { readonly replicas?: number };
  readonly status?: {
    readonly replicas?: number;
    readonly readyReplicas?: number;
    readonly updatedReplicas?: number;
    readonly currentReplicas?: number;
    readonly desiredReplicas?: number;
    readonly conditions?: readonly KubernetesCondition[];
  };
}

interface ObservedEvent extends KubernetesObject {
  readonly involvedObject?: { readonly kind?: string; readonly name?: string };
  readonly type?: string;
  readonly reason?: string;
  readonly message?: string;
  readonly lastTimestamp?: string | Date;
  readonly eventTime?: string | Date;
}

/**
 * The object API with an apply that sends the object's JSON as it is. The client's generic patch()
 * serializes through its typed models by apiVersion's version and kind alone, which drops fields
 * whose TypeScript names differ (a NetworkPolicy rule's `from` is `_from` there) and takes a
 * Knative Service for a core Service (dropping its template and traffic).
 */
class ApplyApi extends KubernetesObjectApi {
  /** An API client for `kc` whose default namespace is its current context's. */
  static forConfig(kc: KubeConfig): ApplyApi {
    const api = kc.makeApiClient(ApplyApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  /** Server-side apply: PATCH with application/apply-patch+yaml (JSON is YAML), field manager continuum. */
  async apply(spec: KubernetesObject, force: boolean): Promise<KubernetesObject> {
    const path = await this.specUriPath(spec, 'patch');
    const request = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    request.setHeaderParam('Accept', 'application/json');
    request.setHeaderParam('Content-Type', PatchStrategy.ServerSideApply);
    request.setQueryParam('fieldManager', FIELD_MANAGER);
    // Kubernetes: force "must be unset for non-apply patch requests"; for apply it is false by default.
    if (force) request.setQueryParam('force', 'true');
    request.setBody(JSON.stringify(spec));
    return this.requestPromise(request);
  }
}

function conditionsOf(o: Observed): KubernetesCondition[] {
  return (o.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status, ...(c.reason === undefined ? {} : { reason: c.reason }), ...(c.message === undefined ? {} : { message: c.message }) }));
}

function statusCode(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** A kind whose API the cluster does not serve (a CRD not installed: no KEDA, no Knative). */
function isAbsentKind(err: unknown): boolean {
  return statusCode(err) === 404 || (err instanceof Error && err.message.startsWith('Unrecognized API version and kind'));
}

function isTransient(err: unknown): boolean {
  const code = statusCode(err);
  if (code !== undefined) return code === 409 || code === 429 || code >= 500;
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return cause === 'ECONNREFUSED' || cause === 'ECONNRESET';
}

function describe(o: KubernetesObject): string {
  return `${o.kind ?? '?'} ${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/** Applies, reads back and deletes a deployment's objects on one cluster; see the module comment. */
export class KubernetesApplier {
  private readonly api: ApplyApi;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: KubernetesApplierOptions) {
    this.api = ApplyApi.forConfig(options.kubeConfig);
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryBaseMs = options.retryBaseMs ?? 200;
    this.retryMaxMs = options.retryMaxMs ?? 5000;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Server-side applies `objects` in order, then deletes the deployment's objects that are not
   * among them. Returns the names applied and pruned ("Kind namespace/name").
   */
  async apply(deployment: string, namespace: string, objects: readonly RenderedObject[]): Promise<{ readonly applied: string[]; readonly pruned: string[] }> {
    const applied: string[] = [];
    for (const object of objects) {
      // The client fills a missing namespace into the object it is given; each apply gets its own copy.
      // (Rendering sets no timestamps, where the two typings of ObjectMeta differ: string against Date.)
      const copy = structuredClone(object) as KubernetesObject;
      await this.call(`apply ${describe(copy)}`, () => this.api.apply(copy, this.options.forceConflicts === true));
      applied.push(describe(copy));
    }
    const keep = new Set(applied);
    const pruned: string[] = [];
    for (const found of await this.managed(deployment, namespace)) {
      if (keep.has(describe(found))) continue;
      await this.remove(found);
      pruned.push(describe(found));
    }
    return { applied, pruned };
  }

  /** Deletes every object rendering made for `deployment` (whatever revision made it); returns their names. */
  async delete(deployment: string, namespace: string): Promise<string[]> {
    const found = await this.managed(deployment, namespace);
    for (const o of found) await this.remove(o);
    return found.map(describe);
  }

  /** Reads the deployment's state back from the cluster. */
  async status(deployment: string, namespace: string): Promise<KubernetesDeploymentStatus> {
    const selector = deploymentSelector(deployment);
    const workloads = await this.list<Observed>('apps/v1', 'Deployment', namespace, selector);
    const tracks = workloads.map((d) => ({
      name: d.metadata?.name ?? '',
      track: d.metadata?.labels?.[LABELS.track] ?? '',
      revision: Number(d.metadata?.labels?.[LABELS.revision] ?? 0),
      // An autoscaled Deployment's spec.replicas is the autoscaler's; before it wrote one, the count running.
      desiredReplicas: d.spec?.replicas ?? d.status?.replicas ?? 0,
      readyReplicas: d.status?.readyReplicas ?? 0,
      updatedReplicas: d.status?.updatedReplicas ?? 0,
      conditions: conditionsOf(d),
    }));
    const hpa = (await this.list<Observed>('autoscaling/v2', 'HorizontalPodAutoscaler', namespace, selector))[0];
    // KEDA names the HPA it makes keda-hpa-<name> unless told otherwise; rendering tells it the deployment's name, which it labels with its own keys.
    const keda = hpa === undefined ? (await this.list<Observed>('keda.sh/v1alpha1', 'ScaledObject', namespace, selector))[0] : undefined;
    const kedaHpa = keda === undefined ? undefined : await this.read<Observed>({ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: deployment, namespace } });
    const scaler = hpa ?? kedaHpa;
    const ksvc = (await this.list<Observed>('serving.knative.dev/v1', 'Service', namespace, selector))[0];
    const names = new Set([...workloads, ...(scaler === undefined ? [] : [scaler]), ...(ksvc === undefined ? [] : [ksvc])].map((o) => o.metadata?.name));
    const events = (await this.list<ObservedEvent>('v1', 'Event', namespace, undefined))
      .filter((e) => names.has(e.involvedObject?.name))
      .map((e) => ({
        at: new Date(e.lastTimestamp ?? e.eventTime ?? 0).toISOString(),
        object: `${e.involvedObject?.kind ?? ''}/${e.involvedObject?.name ?? ''}`,
        type: e.type ?? '',
        reason: e.reason ?? '',
        message: e.message ?? '',
      }))
      .sort((a, b) => a.at.localeCompare(b.at))
      .slice(-MAX_EVENTS);
    return {
      tracks,
      autoscaler:
        scaler === undefined
          ? undefined
          : { kind: hpa === undefined ? 'ScaledObject' : 'HorizontalPodAutoscaler', currentReplicas: scaler.status?.currentReplicas ?? 0, desiredReplicas: scaler.status?.desiredReplicas ?? 0, conditions: conditionsOf(keda ?? scaler) },
      knative: ksvc === undefined ? undefined : conditionsOf(ksvc),
      events,
    };
  }

  /** Every object of `deployment` of the kinds rendering makes, in deletion order. */
  private async managed(deployment: string, namespace: string): Promise<KubernetesObject[]> {
    const selector = deploymentSelector(deployment);
    const found: KubernetesObject[] = [];
    for (const { apiVersion, kind } of MANAGED_KINDS) {
      // Lists return items without apiVersion and kind; put them back so they can be deleted and named.
      for (const item of await this.list(apiVersion, kind, namespace, selector)) found.push({ ...item, apiVersion, kind });
    }
    return found;
  }

  private async list<T extends KubernetesObject>(apiVersion: string, kind: string, namespace: string, labelSelector: string | undefined): Promise<T[]> {
    try {
      const list = await this.call(`list ${kind} in ${namespace}`, () => this.api.list<T>(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector));
      return list.items;
    } catch (err) {
      if (isAbsentKind(err) || isAbsentKind((err as { cause?: unknown }).cause)) return [];
      throw err;
    }
  }

  private async read<T extends KubernetesObject>(spec: { apiVersion: string; kind: string; metadata: { name: string; namespace: string } }): Promise<T | undefined> {
    try {
      return await this.call(`read ${describe(spec)}`, () => this.api.read<T>(spec));
    } catch (err) {
      if (isAbsentKind((err as { cause?: unknown }).cause)) return undefined;
      throw err;
    }
  }

  private async remove(o: KubernetesObject): Promise<void> {
    try {
      // Background propagation: the ReplicaSets and pods of a Deployment go with it.
      await this.call(`delete ${describe(o)}`, () => this.api.delete(o, undefined, undefined, undefined, undefined, 'Background'));
    } catch (err) {
      if (statusCode((err as { cause?: unknown }).cause) !== 404) throw err;
    }
  }

  /** Runs one API call with retries (see the module comment); failures become ContinuumErrors with the cause chained. */
  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (err) {
        if (isTransient(err) && attempt < this.maxAttempts) {
          await this.sleep(retryDelayMs(attempt, this.retryBaseMs, this.retryMaxMs));
          continue;
        }
        throw failure(what, err, attempt);
      }
    }
  }
}

function failure(what: string, err: unknown, attempts: number): ContinuumError {
  const code = statusCode(err);
  const said = err instanceof ApiException ? reasonOf(err.body) : err instanceof Error ? err.message : String(err);
  if (code === 409) {
    return new ContinuumError(
      'CONTINUUM_ERR_KUBERNETES_CONFLICT',
      `${what}: another field manager owns fields Continuum sets (${said}); after ${attempts} attempts. Remove that manager's ownership, or apply again with --force-conflicts to take the fields`,
      { cause: err, details: { status: code, attempts } },
    );
  }
  return new ContinuumError('CONTINUUM_ERR_KUBERNETES_API', `${what}: the Kubernetes API answered ${code ?? 'no status'} (${said}) after ${attempts} attempt(s); check the cluster and Continuum's RBAC permissions`, {
    cause: err,
    details: { ...(code === undefined ? {} : { status: code }), attempts },
  });
}

/** The message of a Kubernetes Status body (JSON text or parsed), else the body itself, bounded. */
function reasonOf(body: unknown): string {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body) as unknown;
    } catch {
      return body.slice(0, 300);
    }
  }
  const message = (parsed as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message.slice(0, 300) : JSON.stringify(parsed).slice(0, 300);
}
