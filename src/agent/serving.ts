/**
 * How an agent serves OIP on its node: an {@link InferenceService} over the replicas the agent
 * runs, so the gateway's REST front end (src/gateway) serves them unchanged. Model names are
 * deployment names and versions are revision numbers, as the control plane's agent target asks
 * for them; a request without a version goes to the newest revision that is ready. Each request
 * goes to the ready replica with the fewest in flight and is retried once on another when its
 * replica is lost, as the control plane's router does.
 */
import { sumStatistics } from '../deploy/index.js';
import { ContinuumError, isContinuumError } from '../errors.js';
import type { InferRequest, InferResponse, ModelMetadata, ModelStatistics, RepositoryEntry, ServerMetadata } from '../oip/types.js';
import { ONNX_PLATFORM } from '../runtime/index.js';
import type { InferenceService, InferOptions } from '../runtime/index.js';
import type { Replica } from '../targets/index.js';
import type { DesiredReplica } from './protocol.js';

/** A replica the agent serves from, with the desired kind it was started for. */
export interface ServedReplica {
  readonly kind: DesiredReplica;
  readonly replica: Replica;
}

/** What the service reads from its agent. */
export interface ServingSource {
  /** Replicas that are ready now. */
  served(): readonly ServedReplica[];
  /** The desired replica kinds (what the node is meant to serve). */
  desired(): readonly DesiredReplica[];
}

/** One deployment's serving figures over a metrics interval. */
export interface ServingSummary {
  readonly deployment: string;
  readonly requests: number;
  readonly failures: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/** Latencies kept per deployment and interval for the percentiles; beyond, every other one is kept. */
const MAX_LATENCY_SAMPLES = 4096;

class DeploymentCounters {
  requests = 0;
  failures = 0;
  latenciesMs: number[] = [];

  record(ms: number, ok: boolean): void {
    this.requests += 1;
    if (!ok) this.failures += 1;
    if (this.latenciesMs.length >= MAX_LATENCY_SAMPLES) this.latenciesMs = this.latenciesMs.filter((_, i) => i % 2 === 0);
    this.latenciesMs.push(ms);
  }
}

function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
}

/** The agent's InferenceService; see the module comment. */
export class AgentInferenceService implements InferenceService {
  private counters = new Map<string, DeploymentCounters>();
  private cachedStatistics: ModelStatistics[] = [];
  private draining = false;
  /** Requests answered and failed since the agent started (the heartbeat's counters). */
  readonly totals = { requests: 0, failures: 0 };

  constructor(
    private readonly source: ServingSource,
    private readonly server: { readonly name: string; readonly version: string; readonly extensions: readonly string[] },
  ) {}

  serverMetadata(): ServerMetadata {
    return { name: this.server.name, version: this.server.version, extensions: this.server.extensions };
  }

  isLive(): boolean {
    return true;
  }

  isReady(): boolean {
    return !this.draining;
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const kinds = this.kinds(name, version);
    const newest = kinds[kinds.length - 1] as DesiredReplica;
    return { name, versions: kinds.map((k) => String(k.revision)), platform: ONNX_PLATFORM, inputs: newest.signature.inputs, outputs: newest.signature.outputs };
  }

  modelReady(name: string, version?: string): boolean {
    this.kinds(name, version);
    return this.candidates(name, version).length > 0;
  }

  async infer(name: string, version: string | undefined, request: InferRequest, options?: InferOptions): Promise<InferResponse> {
    const started = performance.now();
    let ok = false;
    try {
      const response = await this.send(name, version, request, options);
      ok = true;
      return response;
    } finally {
      const counters = this.counters.get(name) ?? new DeploymentCounters();
      this.counters.set(name, counters);
      counters.record(performance.now() - started, ok);
      this.totals.requests += 1;
      if (!ok) this.totals.failures += 1;
    }
  }

  statistics(name?: string, version?: string): readonly ModelStatistics[] {
    return this.cachedStatistics.filter((s) => (name === undefined || s.name === name) && (version === undefined || s.version === version));
  }

  /** Asks every ready replica for its statistics and keeps their sum per deployment and revision. */
  async refreshStatistics(): Promise<void> {
    const served = this.source.served();
    const all = await Promise.all(served.map(({ kind, replica }) => replica.statistics().then((s) => [{ deployment: kind.deployment, stats: { ...s, version: String(kind.revision) } }], () => [])));
    const byDeployment = new Map<string, ModelStatistics[]>();
    for (const { deployment, stats } of all.flat()) byDeployment.set(deployment, [...(byDeployment.get(deployment) ?? []), stats]);
    this.cachedStatistics = [...byDeployment].flatMap(([deployment, stats]) => sumStatistics(deployment, stats));
  }

  repositoryIndex(): readonly RepositoryEntry[] {
    const ready = new Set(this.source.served().map((s) => `${s.kind.deployment}/${s.kind.revision}`));
    return this.source.desired().map((k) => {
      const up = ready.has(`${k.deployment}/${k.revision}`);
      return { name: k.deployment, version: String(k.revision), state: up ? 'READY' : 'LOADING', reason: up ? '' : 'starting on this node' };
    });
  }

  loadModel(): Promise<void> {
    return Promise.reject(managedByControlPlane());
  }

  unloadModel(): Promise<void> {
    return Promise.reject(managedByControlPlane());
  }

  /** Refuses new requests from now on (the agent is stopping). */
  drain(): void {
    this.draining = true;
  }

  /** Each deployment's figures since the last call, which starts a new interval. */
  takeSummaries(): ServingSummary[] {
    const taken = this.counters;
    this.counters = new Map();
    return [...taken].map(([deployment, c]) => {
      const sorted = [...c.latenciesMs].sort((a, b) => a - b);
      return { deployment, requests: c.requests, failures: c.failures, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) };
    });
  }

  private async send(name: string, version: string | undefined, request: InferRequest, options: InferOptions | undefined): Promise<InferResponse> {
    if (this.draining) throw new ContinuumError('CONTINUUM_ERR_SHUTTING_DOWN', 'the agent is stopping; retry on another node', { retryAfterS: 1 });
    this.kinds(name, version);
    const tried = new Set<Replica>();
    for (let attempt = 0; attempt < 2; attempt++) {
      const replica = this.candidates(name, version)
        .filter((r) => !tried.has(r))
        .reduce<Replica | undefined>((best, r) => (best === undefined || r.inFlight < best.inFlight ? r : best), undefined);
      if (replica === undefined) break;
      tried.add(replica);
      try {
        return await replica.infer(request, options);
      } catch (err) {
        // A lost replica did not run the request (or its answer is lost); inference is idempotent, so once more elsewhere.
        if (!isContinuumError(err, 'CONTINUUM_ERR_REPLICA_LOST') || attempt === 1) throw err;
      }
    }
    throw new ContinuumError('CONTINUUM_ERR_MODEL_NOT_READY', `'${name}' has no ready replica on this node yet; retry shortly`, { retryAfterS: 1, details: { model: name } });
  }

  /** Ready replicas of the requested revision, or of the newest revision that has any. */
  private candidates(name: string, version: string | undefined): Replica[] {
    const served = this.source.served().filter((s) => s.kind.deployment === name && s.replica.state === 'ready');
    if (version !== undefined) return served.filter((s) => String(s.kind.revision) === version).map((s) => s.replica);
    const newest = Math.max(...served.map((s) => s.kind.revision));
    return served.filter((s) => s.kind.revision === newest).map((s) => s.replica);
  }

  /** The desired kinds of deployment `name` (oldest revision first); throws when the node is not meant to serve it. */
  private kinds(name: string, version: string | undefined): DesiredReplica[] {
    // A revision taken out of the desired state still serves until its replicas have drained.
    const byRevision = new Map<number, DesiredReplica>();
    for (const k of [...this.source.served().map((s) => s.kind), ...this.source.desired()]) if (k.deployment === name) byRevision.set(k.revision, k);
    const kinds = [...byRevision.values()].sort((a, b) => a.revision - b.revision);
    if (kinds.length === 0) throw new ContinuumError('CONTINUUM_ERR_MODEL_NOT_FOUND', `this node serves no model '${name}'`, { details: { model: name } });
    if (version !== undefined && !kinds.some((k) => String(k.revision) === version)) {
      throw new ContinuumError('CONTINUUM_ERR_VERSION_NOT_FOUND', `this node serves '${name}' at revision ${kinds.map((k) => k.revision).join(', ')}, not ${version}`, { details: { model: name, version } });
    }
    return kinds;
  }
}

function managedByControlPlane(): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_FORBIDDEN', "a node's models are managed by its control plane: deploy with `continuum deploy --node NAME` there");
}
