/**
 * One deployment's live side: its replicas on a target, the router that spreads requests over
 * them (least outstanding requests), the activator that buffers while none is ready, and the
 * autoscaler tick that feeds a ScalingObservation to the deployment's pure policy and makes the
 * replica count match the decision (the Kubernetes controller pattern: desired → actual).
 */
import { compilePolicy, decideScale, describePolicy, initialPolicyState } from '../autoscale/index.js';
import type { CompiledPolicy, PolicyState, ScalingDecision, ServingMode } from '../autoscale/index.js';
import { accrueCost, billingMode, ZERO_COST } from '../autoscale/index.js';
import type { CompiledCostModel, CostAccrual } from '../autoscale/index.js';
import { ContinuumError, isContinuumError, toContinuumError } from '../errors.js';
import type { InferRequest, InferResponse, ModelStatistics, StatDuration } from '../oip/types.js';
import type { InferOptions, ResolvedModelVersion } from '../runtime/index.js';
import type { Replica, ReplicaExit, ReplicaStartupTimings, ReplicaUsage, Target } from '../targets/index.js';
import { Activator } from './activator.js';
import type { ActivatorOptions } from './activator.js';
import type { Deployment } from './store.js';
import { quantile, TrafficMeter } from './traffic.js';

/** Where a replica is in its life, as the router and `deployments show` see it. */
export type ReplicaPhase = 'starting' | 'ready' | 'draining';

/** A replica as the API shows it. */
export interface ReplicaStatus {
  readonly id: string;
  readonly pid: number;
  readonly revision: number;
  readonly phase: ReplicaPhase;
  readonly inFlight: number;
  readonly startedAt: string;
  readonly startup: ReplicaStartupTimings;
}

/** One autoscaler tick of a replica set, as the console charts it. */
export interface HistoryPoint {
  /** The end of the tick (epoch ms). */
  readonly atMs: number;
  /** Completions per second over the tick. */
  readonly throughputRps: number;
  /** Latency percentiles of the tick's completions, ms (null when none completed). */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Time-weighted mean of requests in the system (the load the policy sees). */
  readonly concurrency: number;
  readonly desiredReplicas: number;
  readonly readyReplicas: number;
  /** Cost accrued since the set started, USD. */
  readonly costUsd: number;
  /** Energy the deployment used since the server started, J (with its estimate's mode), when metered. */
  readonly energyJoules?: number;
}

/** Ticks of history kept per replica set (10 minutes at the default 1 s tick). */
const MAX_HISTORY_POINTS = 600;

/** What a replica set reports of itself. */
export interface ReplicaSetStatus {
  /** Every parameter of the compiled policy, defaults included. */
  readonly policy: Readonly<Record<string, unknown>>;
  readonly desiredReplicas: number;
  readonly replicas: readonly ReplicaStatus[];
  readonly buffered: number;
  readonly inSystem: number;
  readonly lastDecision: ScalingDecision | undefined;
  readonly mode: ServingMode;
  readonly cost: CostAccrual;
  readonly coldStarts: ColdStartSummary;
}

/** Scale-from-zero latencies seen so far (first response after a start from zero replicas). */
export interface ColdStartSummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly maxMs: number;
  /** The newest samples, ms, oldest first. */
  readonly recentMs: readonly number[];
}

/** What one autoscaler tick of a replica set saw, for observers (alert rules); see {@link mergeTicks}. */
export interface ReplicaSetTick {
  /** The end of the tick (epoch ms). */
  readonly nowMs: number;
  /** Requests answered (or failed) in the tick. */
  readonly requests: number;
  /** Of those, the ones the server failed (5xx). */
  readonly errors: number;
  /** Latency p99 of the tick's requests, ms; null when none completed. */
  readonly p99Ms: number | null;
  /** Replicas that exited unexpectedly or failed to start during the tick. */
  readonly replicaLosses: number;
  /** Cost accrued in the tick, USD. */
  readonly costUsd: number;
}

/**
 * Two ticks of one deployment as one (its production, candidate and control sets; or a tick the
 * activator forced between two of the loop's): counts and cost add, the p99 is the worse one, the
 * time the later one.
 */
export function mergeTicks(a: ReplicaSetTick, b: ReplicaSetTick): ReplicaSetTick {
  return {
    nowMs: Math.max(a.nowMs, b.nowMs),
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    p99Ms: a.p99Ms === null ? b.p99Ms : b.p99Ms === null ? a.p99Ms : Math.max(a.p99Ms, b.p99Ms),
    replicaLosses: a.replicaLosses + b.replicaLosses,
    costUsd: a.costUsd + b.costUsd,
  };
}

/** How a replica set talks to the rest of the server. */
export interface ReplicaSetContext {
  readonly target: Target;
  /** Resolves the revision's model version (artifact path, signature, runtime options). */
  readonly resolveModel: (name: string, version: string) => ResolvedModelVersion;
  readonly costModel: CompiledCostModel;
  readonly activator: ActivatorOptions;
  /** Records a deployment event (persisted by the store). */
  readonly recordEvent: (type: string, message: string, data?: Readonly<Record<string, unknown>>) => void;
  /** Reports failures nobody awaits (a replica that failed to start, ...). */
  readonly logError: (err: unknown, message: string) => void;
  /** The clock (epoch ms); tests and the live loop pass Date.now. */
  readonly nowMs: () => number;
  /** Told what each autoscaler tick saw (the alert engine's observations). */
  readonly onTick?: (tick: ReplicaSetTick) => void;
  /** The deployment's energy so far, J, for the history; undefined when not metered. */
  readonly energyJoules?: () => number | undefined;
}

interface Member {
  readonly replica: Replica;
  readonly revision: number;
  /** Which workload the replica runs; replicas of an older generation drain once the current one serves. */
  readonly generation: number;
  phase: ReplicaPhase;
  readonly startedAt: string;
  /** The usage reading the last tick saw, to turn CPU time into utilization. */
  lastUsage: ReplicaUsage | undefined;
}

/** `{ [key]: value }` when the value is defined, else `{}` (exact optional properties). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}

/** Samples of cold starts kept for the summary. */
const MAX_COLD_START_SAMPLES = 256;

/** The live replicas of one deployment; see the module comment. */
export class ReplicaSet {
  private deployment: Deployment;
  private policy: CompiledPolicy;
  private policyState: PolicyState;
  private readonly members = new Set<Member>();
  /**
   * The workload generation: a new revision that changes what replicas run (model version, runtime
   * options), or a restart after the model's runtime options changed, starts a new one. A revision
   * that changes only the policy or the bounds keeps the replicas it has.
   */
  private generation = 0;
  /** Replica starts under way, by generation. */
  private readonly starting = new Map<number, number>();
  private desired: number;
  private lastDecision: ScalingDecision | undefined;
  private ledger: CostAccrual = ZERO_COST;
  private readonly meter: TrafficMeter;
  private readonly activator: Activator;
  private readonly coldStartsMs: number[] = [];
  private coldStartCount = 0;
  /** Replicas lost or failed to start since the last tick. */
  private lossesSinceTick = 0;
  /** Requests answered since the set started (the energy meter's joules per inference). */
  private answered = 0;
  /** When the deployment last had no replica and a request came: the start of a cold start. */
  private coldSince: number | undefined;
  private closed = false;
  /** Replicas kept at least, whatever the policy says (a rollout holds a candidate's or a retained baseline's size). */
  private floor = 0;
  /** Resolves `drained` once no request is in the system; set while draining. */
  private onIdle: (() => void) | undefined;
  /** The newest ticks, oldest first (bounded). */
  private readonly historyPoints: HistoryPoint[] = [];
  /** The replicas' statistics as the last refresh summed them. */
  private cachedStatistics: readonly ModelStatistics[] = [];

  constructor(
    deployment: Deployment,
    private readonly context: ReplicaSetContext,
  ) {
    this.deployment = deployment;
    this.policy = compilePolicy(deployment.revision.spec.policy);
    this.policyState = initialPolicyState(this.policy);
    this.desired = this.policy.minReplicas;
    this.meter = new TrafficMeter(context.nowMs());
    this.activator = new Activator(deployment.name, context.activator);
  }

  /** The deployment this set runs (its current revision). */
  get current(): Deployment {
    return this.deployment;
  }

  /** Starts the replicas the policy's minimum asks for. */
  start(): void {
    this.reconcile();
  }

  /**
   * A new revision: the policy is recompiled (its state kept when the policy kind is the same), and
   * when the model or runtime changed, replicas of the new revision start and the old ones drain
   * once the new ones serve.
   */
  update(deployment: Deployment): void {
    const previous = this.deployment;
    this.deployment = deployment;
    const policy = compilePolicy(deployment.revision.spec.policy);
    if (policy.policy !== this.policy.policy) this.policyState = initialPolicyState(policy);
    this.policy = policy;
    this.desired = Math.max(this.floor, Math.min(policy.maxReplicas, Math.max(policy.minReplicas, this.desired)));
    if (!sameWorkload(previous, deployment)) this.restart(`replacing replicas of revision ${previous.revision.revision} by revision ${deployment.revision.revision}`);
    else this.reconcile();
  }

  /** Starts replicas afresh (e.g. with new runtime options of the model); the old ones drain once the new ones serve. */
  restart(why: string): void {
    this.generation += 1;
    this.context.recordEvent('rollout', why, { generation: this.generation });
    this.reconcile();
  }

  /** Routes one request (least outstanding requests), through the activator when none is ready. */
  async infer(request: InferRequest, options: InferOptions = {}): Promise<InferResponse> {
    if (this.closed) throw new ContinuumError('CONTINUUM_ERR_SHUTTING_DOWN', `deployment '${this.deployment.name}' is being removed`, { retryAfterS: 1 });
    const arrivedMs = this.context.nowMs();
    this.meter.arrive(arrivedMs);
    const waited = { ms: 0 };
    let failed = false;
    try {
      const response = await this.dispatch(request, options, arrivedMs, true, waited);
      this.answered += 1;
      return response;
    } catch (err) {
      // The error rate counts the server's failures (5xx), not requests refused as invalid (the SRE workbook's availability SLI).
      failed = toContinuumError(err).httpStatus >= 500;
      throw err;
    } finally {
      const doneMs = this.context.nowMs();
      this.meter.complete(doneMs, doneMs - arrivedMs, doneMs - arrivedMs - waited.ms, failed);
      if (this.meter.current === 0) this.onIdle?.();
    }
  }

  /** Ready replicas of the current generation. */
  get readyReplicas(): number {
    return this.count('ready');
  }

  /** The replica count the policy (and the floor) asks for now. */
  get desiredReplicas(): number {
    return this.desired;
  }

  /**
   * Keeps at least `replicas` (0 lifts the floor): a rollout sizes a candidate before it shifts
   * traffic to it, and keeps a blue-green baseline warm for an instant rollback.
   */
  setFloor(replicas: number): void {
    this.floor = replicas;
    this.desired = Math.max(this.desired, replicas);
    this.reconcile();
  }

  /**
   * Removes the set without failing anything: the caller has stopped routing to it; requests it
   * still holds (in flight on replicas or waiting in the activator) finish, then its replicas drain
   * and stop. Bounded by the activator's wait so a stuck request cannot hold it forever.
   */
  async drainAndClose(): Promise<void> {
    if (this.meter.current > 0) {
      const idle = new Promise<void>((resolve) => {
        this.onIdle = resolve;
      });
      const bound = new Promise<void>((resolve) => setTimeout(resolve, this.context.activator.maxWaitMs + 5000).unref());
      await Promise.race([idle, bound]);
    }
    await this.close();
  }

  /** One autoscaler tick: observe, decide (pure policy), record, reconcile, account cost. */
  tick(): ScalingDecision {
    const nowMs = this.context.nowMs();
    const traffic = this.meter.read(nowMs);
    const ready = this.count('ready');
    const decisionInput = {
      nowMs,
      intervalMs: traffic.intervalMs,
      desiredReplicas: this.desired,
      readyReplicas: ready,
      startingReplicas: this.startingCount(),
      concurrency: traffic.concurrency,
      buffered: this.activator.buffered,
      arrivals: traffic.arrivals,
      completions: traffic.completions,
      latencyP50Ms: traffic.latencyP50Ms,
      latencyP99Ms: traffic.latencyP99Ms,
      cpuUtilization: this.cpuUtilization(),
      lastArrivalMs: traffic.lastArrivalMs,
    };
    const { decision, state } = decideScale(this.policy, this.policyState, decisionInput);
    this.policyState = state;
    const changed = decision.desiredReplicas !== this.desired || decision.mode !== this.lastDecision?.mode;
    this.lastDecision = decision;
    if (changed) {
      this.context.recordEvent('decision', `${decision.policy}: ${this.desired} → ${decision.desiredReplicas} replicas${decision.mode === undefined ? '' : ` (${decision.mode})`}: ${decision.reason}`, {
        from: this.desired,
        to: decision.desiredReplicas,
        ...(decision.mode === undefined ? {} : { mode: decision.mode }),
        inputs: decision.inputs,
      });
    }
    this.desired = Math.max(decision.desiredReplicas, this.floor);
    const costBeforeUsd = this.ledger.totalUsd;
    this.ledger = accrueCost(this.context.costModel, this.deployment.revision.spec.resources, this.ledger, {
      mode: this.mode(),
      replicas: this.members.size + [...this.starting.values()].reduce((a, b) => a + b, 0),
      intervalMs: traffic.intervalMs,
      invocations: traffic.completions,
      busyMs: traffic.busyMs,
    });
    this.reconcile();
    const p99Ms = Number.isNaN(traffic.latencyP99Ms) ? null : traffic.latencyP99Ms;
    this.historyPoints.push({
      atMs: nowMs,
      throughputRps: (traffic.completions * 1000) / traffic.intervalMs,
      p50Ms: Number.isNaN(traffic.latencyP50Ms) ? null : traffic.latencyP50Ms,
      p99Ms,
      concurrency: traffic.concurrency,
      desiredReplicas: this.desired,
      readyReplicas: ready,
      costUsd: this.ledger.totalUsd,
      ...optional('energyJoules', this.context.energyJoules?.()),
    });
    if (this.historyPoints.length > MAX_HISTORY_POINTS) this.historyPoints.shift();
    const replicaLosses = this.lossesSinceTick;
    this.lossesSinceTick = 0;
    this.context.onTick?.({
      nowMs,
      requests: traffic.completions,
      errors: traffic.errors,
      p99Ms,
      replicaLosses,
      costUsd: this.ledger.totalUsd - costBeforeUsd,
    });
    return decision;
  }

  /** Requests this set answered since it started. */
  get answeredRequests(): number {
    return this.answered;
  }

  /** The newest ticks, oldest first: throughput, latency, load, replicas and cost over time. */
  history(): readonly HistoryPoint[] {
    return this.historyPoints;
  }

  /** Statistics of the replicas (summed per model version); refreshed by {@link refreshStatistics}. */
  statistics(): readonly ModelStatistics[] {
    return this.cachedStatistics;
  }

  /** Asks every ready replica for its statistics and keeps their sum under the deployment's name. */
  async refreshStatistics(): Promise<void> {
    const ready = [...this.members].filter((m) => m.phase === 'ready');
    const all = await Promise.all(ready.map((m) => m.replica.statistics().then((s) => [s], () => [] as ModelStatistics[])));
    this.cachedStatistics = sumStatistics(this.deployment.name, all.flat());
  }

  /** The set as the API shows it. */
  status(): ReplicaSetStatus {
    const sorted = [...this.coldStartsMs].sort((a, b) => a - b);
    return {
      policy: describePolicy(this.policy),
      desiredReplicas: this.desired,
      replicas: [...this.members].map((m) => ({
        id: m.replica.id,
        pid: m.replica.pid,
        revision: m.revision,
        phase: m.phase,
        inFlight: m.replica.inFlight,
        startedAt: m.startedAt,
        startup: m.replica.startupTimings,
      })),
      buffered: this.activator.buffered,
      inSystem: this.meter.current,
      lastDecision: this.lastDecision,
      mode: this.mode(),
      cost: this.ledger,
      coldStarts: {
        count: this.coldStartCount,
        p50Ms: quantile(sorted, 0.5),
        p90Ms: quantile(sorted, 0.9),
        maxMs: sorted.at(-1) ?? Number.NaN,
        recentMs: this.coldStartsMs.slice(-16),
      },
    };
  }

  /** Every replica with its latest health-check usage (CPU, memory, queue): read at a metrics scrape and by the energy meter. */
  replicaUsage(): readonly { readonly id: string; readonly revision: number; readonly usage: ReplicaUsage | undefined }[] {
    return [...this.members].map((m) => ({ id: m.replica.id, revision: m.revision, usage: m.replica.usage }));
  }

  /** Whether a request would be served now or after a start (a scaled-to-zero deployment is ready: it activates). */
  isReady(): boolean {
    return !this.closed;
  }

  /** Stops every replica (draining in-flight requests) and fails whatever waits in the activator. */
  async close(): Promise<void> {
    this.closed = true;
    this.activator.failAll(new ContinuumError('CONTINUUM_ERR_SHUTTING_DOWN', `deployment '${this.deployment.name}' is being removed`, { retryAfterS: 1 }));
    await Promise.all([...this.members].map((m) => this.retire(m)));
  }

  /**
   * Mean CPU utilization of the ready replicas since the last tick, from the CPU time their health
   * checks report, as a share of each replica's vCPU (Kubernetes' CPU utilization of a pod against
   * its request).
   */
  private cpuUtilization(): number {
    const vcpu = this.deployment.revision.spec.resources.vcpu;
    let sum = 0;
    let n = 0;
    for (const m of this.members) {
      const now = m.replica.usage;
      const before = m.lastUsage;
      m.lastUsage = now;
      if (m.phase !== 'ready' || now === undefined || before === undefined || now.atMs <= before.atMs) continue;
      const cpuUs = now.cpuUserUs + now.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs;
      sum += cpuUs / 1000 / (now.atMs - before.atMs) / vcpu;
      n += 1;
    }
    return n === 0 ? 0 : sum / n;
  }

  private mode(): ServingMode {
    return billingMode(this.lastDecision ?? { policy: this.policy.policy });
  }

  /** Sends to a replica, waiting in the activator when none is ready; `waited.ms` adds the time spent waiting there. */
  private async dispatch(request: InferRequest, options: InferOptions, arrivedMs: number, mayRetry: boolean, waited: { ms: number }): Promise<InferResponse> {
    let member = this.pick();
    if (member === undefined) {
      const waitFromMs = this.context.nowMs();
      // Queued first, so the activation's observation counts this request as buffered.
      const ready = this.activator.wait(waitFromMs, options.deadlineMs);
      if (this.desired === 0 || this.count('ready') === 0) this.activate(arrivedMs);
      try {
        await ready;
      } finally {
        waited.ms += this.context.nowMs() - waitFromMs;
      }
      member = this.pick();
      if (member === undefined) return this.dispatch(request, options, arrivedMs, mayRetry, waited);
    }
    let response: InferResponse;
    try {
      response = await member.replica.infer(request, options);
    } catch (err) {
      // Inference is idempotent, so a request a lost replica never answered runs once more elsewhere.
      if (isContinuumError(err, 'CONTINUUM_ERR_REPLICA_LOST')) {
        if (mayRetry) return this.dispatch(request, options, arrivedMs, false, waited);
        throw new ContinuumError('CONTINUUM_ERR_NO_REPLICA', `replicas of deployment '${this.deployment.name}' were lost while serving this request; retry shortly`, {
          cause: err,
          retryAfterS: this.context.activator.retryAfterS,
        });
      }
      throw err;
    }
    this.noteColdStartServed(arrivedMs);
    return response;
  }

  /** The replica for the next request (see {@link chooseReplica}). */
  private pick(): Member | undefined {
    return chooseReplica(this.members, this.generation);
  }

  /** A request found no replica: scale from zero now rather than at the next tick (Knative's activator poke). */
  private activate(nowMs: number): void {
    this.coldSince ??= nowMs;
    if (this.desired === 0) {
      this.tick();
      if (this.desired === 0) {
        // The policy keeps zero (e.g. `fixed` at 0): the request waits its bound, then gets 503.
        return;
      }
    }
    this.reconcile();
  }

  private noteColdStartServed(arrivedMs: number): void {
    if (this.coldSince === undefined || arrivedMs < this.coldSince) return;
    const latencyMs = this.context.nowMs() - this.coldSince;
    this.coldSince = undefined;
    this.coldStartCount += 1;
    this.coldStartsMs.push(latencyMs);
    if (this.coldStartsMs.length > MAX_COLD_START_SAMPLES) this.coldStartsMs.shift();
    this.context.recordEvent('cold-start', `first response after scaling from zero in ${latencyMs.toFixed(0)} ms`, { latencyMs });
  }

  private count(phase: ReplicaPhase, generation = this.generation): number {
    let n = 0;
    for (const m of this.members) if (m.phase === phase && m.generation === generation) n += 1;
    return n;
  }

  private startingCount(generation = this.generation): number {
    return this.starting.get(generation) ?? 0;
  }

  /** Makes the replicas match `desired` by carrying out {@link planReconcile}'s plan. */
  private reconcile(): void {
    if (this.closed) return;
    const plan = planReconcile(this.members, this.generation, this.desired, this.startingCount());
    for (let i = 0; i < plan.start; i++) this.startReplica();
    for (const m of plan.retire) void this.retire(m);
  }

  private startReplica(): void {
    const spec = this.deployment.revision.spec;
    const revision = this.deployment.revision.revision;
    const generation = this.generation;
    this.starting.set(generation, this.startingCount(generation) + 1);
    const startedAt = new Date(this.context.nowMs()).toISOString();
    const model = { ...this.context.resolveModel(spec.model, spec.version) };
    const runtimeOptions = { ...model.runtimeOptions, ...spec.runtime };
    this.context.target
      .startReplica({ deployment: this.deployment.name, revision, model: { ...model, runtimeOptions } })
      .then(
        (replica) => {
          this.starting.set(generation, this.startingCount(generation) - 1);
          const member: Member = { replica, revision, generation, phase: 'ready', startedAt, lastUsage: undefined };
          this.members.add(member);
          replica.onExit((exit) => this.lost(member, exit));
          const t = replica.startupTimings;
          this.context.recordEvent('replica-started', `replica ${replica.id} (pid ${replica.pid}) of revision ${revision} ready in ${t.readyMs.toFixed(0)} ms${t.pooled ? ' from the warm pool' : ''}`, {
            replica: replica.id,
            revision,
            startup: t,
          });
          if (this.closed || generation !== this.generation) {
            void this.retire(member);
            return;
          }
          this.activator.release();
          this.reconcile();
        },
        (err: unknown) => {
          this.starting.set(generation, this.startingCount(generation) - 1);
          this.lossesSinceTick += 1;
          this.context.logError(err, 'replica failed to start');
          this.context.recordEvent('replica-failed', `a replica of revision ${revision} failed to start: ${err instanceof Error ? err.message : String(err)}`);
        },
      );
  }

  /** Takes a replica out of routing, lets its in-flight requests finish, then stops it. */
  private async retire(member: Member): Promise<void> {
    if (member.phase === 'draining') return;
    member.phase = 'draining';
    this.context.recordEvent('replica-draining', `replica ${member.replica.id} drains and stops`, { replica: member.replica.id });
    try {
      await member.replica.stop();
    } catch (err) {
      this.context.logError(err, 'replica stop failed; killing it');
      member.replica.kill();
    }
    this.members.delete(member);
  }

  /** A replica's process ended. Unless it was being stopped, it is replaced at once. */
  private lost(member: Member, exit: ReplicaExit): void {
    const wasDraining = member.phase === 'draining';
    this.members.delete(member);
    if (wasDraining || exit.expected || this.closed) return;
    this.lossesSinceTick += 1;
    this.context.recordEvent('replica-lost', `replica ${member.replica.id} (pid ${member.replica.pid}) exited unexpectedly (${exit.reason}); replacing it`, {
      replica: member.replica.id,
      reason: exit.reason,
      stderr: exit.stderr.slice(-2000),
    });
    this.reconcile();
  }
}

/** What routing reads of a replica set's member. */
/** What {@link planReconcile} decided: replicas to start, members to drain and stop. */
export interface ReconcilePlan<M> {
  readonly start: number;
  readonly retire: readonly M[];
}

/**
 * Reconciliation as a pure decision: start the current generation's missing replicas (`desired`
 * minus ready minus `starting`), drain its surplus (least loaded first), and drain older
 * generations' ready replicas once the current one has as many ready as it needs (so a rollout
 * never leaves the deployment without a ready replica).
 */
export function planReconcile<M extends RoutingCandidate>(members: Iterable<M>, generation: number, desired: number, starting: number): ReconcilePlan<M> {
  const all = [...members];
  const current = all.filter((m) => m.phase === 'ready' && m.generation === generation);
  const missing = desired - current.length - starting;
  const surplus = missing < 0 ? [...current].sort((a, b) => a.replica.inFlight - b.replica.inFlight).slice(0, -missing) : [];
  const older = current.length >= desired ? all.filter((m) => m.phase === 'ready' && m.generation !== generation) : [];
  return { start: Math.max(0, missing), retire: [...surplus, ...older] };
}

export interface RoutingCandidate {
  readonly phase: ReplicaPhase;
  readonly generation: number;
  readonly replica: { readonly inFlight: number };
}

/**
 * Least outstanding requests (Envoy's and Knative's rule): the ready member with the fewest
 * requests in flight, members of the current `generation` first (an older generation serves only
 * while the new one is not ready). One pass over the members, which are a handful.
 */
export function chooseReplica<M extends RoutingCandidate>(members: Iterable<M>, generation: number): M | undefined {
  let best: M | undefined;
  for (const m of members) {
    if (m.phase !== 'ready') continue;
    if (best === undefined) {
      best = m;
      continue;
    }
    const preferred = (m.generation === generation ? 0 : 1) - (best.generation === generation ? 0 : 1);
    if (preferred < 0 || (preferred === 0 && m.replica.inFlight < best.replica.inFlight)) best = m;
  }
  return best;
}

/** Whether two revisions run the same thing (model version and runtime), so replicas can stay. */
function sameWorkload(a: Deployment, b: Deployment): boolean {
  return (
    a.revision.spec.sha256 === b.revision.spec.sha256 &&
    a.revision.spec.version === b.revision.spec.version &&
    JSON.stringify(a.revision.spec.runtime) === JSON.stringify(b.revision.spec.runtime)
  );
}

function add(a: StatDuration, b: StatDuration): StatDuration {
  return { count: a.count + b.count, ns: a.ns + b.ns };
}

/** Adds up replicas' statistics into one entry per version, named after the deployment. */
export function sumStatistics(name: string, stats: readonly ModelStatistics[]): ModelStatistics[] {
  const byVersion = new Map<string, ModelStatistics>();
  for (const s of stats) {
    const prev = byVersion.get(s.version);
    if (prev === undefined) {
      byVersion.set(s.version, { ...s, name });
      continue;
    }
    const p = prev.inference_stats;
    const q = s.inference_stats;
    const batches = new Map(prev.batch_stats.map((b) => [b.batch_size, b]));
    for (const b of s.batch_stats) {
      const o = batches.get(b.batch_size);
      batches.set(
        b.batch_size,
        o === undefined
          ? b
          : { batch_size: b.batch_size, compute_input: add(o.compute_input, b.compute_input), compute_infer: add(o.compute_infer, b.compute_infer), compute_output: add(o.compute_output, b.compute_output) },
      );
    }
    byVersion.set(s.version, {
      name,
      version: s.version,
      last_inference: Math.max(prev.last_inference, s.last_inference),
      inference_count: prev.inference_count + s.inference_count,
      execution_count: prev.execution_count + s.execution_count,
      inference_stats: {
        success: add(p.success, q.success),
        fail: add(p.fail, q.fail),
        queue: add(p.queue, q.queue),
        compute_input: add(p.compute_input, q.compute_input),
        compute_infer: add(p.compute_infer, q.compute_infer),
        compute_output: add(p.compute_output, q.compute_output),
      },
      batch_stats: [...batches.values()].sort((a, b) => a.batch_size - b.batch_size),
    });
  }
  return [...byVersion.values()];
}
