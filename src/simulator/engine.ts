/**
 * The simulator's engine: a deterministic discrete-event simulation of one deployment under a
 * workload. It calls the same pure functions the live system runs — the scaling policy every tick
 * and the runtime's batch formation ({@link formBatch}) on every replica — so a policy is judged
 * on what production would do.
 *
 * The model, after Knative Serving's data path (knative.dev/docs/serving/request-flow): requests
 * go to the ready replica with the fewest outstanding requests; with no replica ready they wait in
 * the activator's bounded buffer and fail (503) when it is full or they waited too long. A replica
 * queues what it is sent and runs batches on `instances` executors like the runtime's dynamic
 * batcher with no queue delay; a batch of b takes the profile's measured time for b. Scaling down
 * drains: a replica stops taking requests, finishes what it holds, then stops.
 *
 * Same inputs and seed, same result: time is simulated, the only randomness (cold-start draws)
 * comes from the seeded generator, and simultaneous events resolve in a fixed order.
 */
import { z } from 'zod';
import { parse } from '../api/validate.js';
import type { PolicyName, ScalingDecision, ScalingObservation, ServingMode } from '../autoscale/types.js';
import { ContinuumError } from '../errors.js';
import { seededRandom } from '../onnx/build.js';
import { formBatch, type BatchingPolicy, type QueuedRequestView } from '../runtime/index.js';
import { batchServiceTimes, validateServiceProfile, type ServiceProfile } from './profile.js';
import { EventQueue, IdQueue, type TimedEvent } from './queues.js';
import { MAX_ARRIVALS, type ArrivalTimes } from './workload.js';

/** A scaling policy as the simulator runs it: the same pure `decide` the live autoscaler calls. */
export interface SimulationPolicy<S> {
  readonly name: PolicyName;
  readonly initialState: S;
  decide(state: S, observation: ScalingObservation): { readonly decision: ScalingDecision; readonly state: S };
}

/** What a deployment used while running in one serving mode. */
export interface ModeUsage {
  /** Time replicas existed (starting, ready or draining), in replica-seconds. */
  readonly replicaSeconds: number;
  /** Requests answered successfully. */
  readonly invocations: number;
  /** Time executors spent running batches, in seconds. */
  readonly busySeconds: number;
}

/**
 * Usage per serving mode: a tick's usage counts toward the mode the policy ran the deployment in
 * during that tick (a decision's `mode`; without one, 'serverless' under the serverless policy and
 * 'always-on' under every other).
 */
export type UsageLedger = Readonly<Record<ServingMode, ModeUsage>>;

/** Prices a run's usage in US dollars (the cost model of the live system). */
export type CostFunction = (usage: UsageLedger, profile: ServiceProfile) => number;

/** What to simulate. */
export interface SimulationOptions<S> {
  /** Arrival times in ms from the start, ascending. */
  readonly arrivals: ArrivalTimes;
  readonly profile: ServiceProfile;
  readonly policy: SimulationPolicy<S>;
  readonly costOf: CostFunction;
  /** A request meets the SLO when answered successfully within this many ms of its arrival. */
  readonly sloMs: number;
  /** Seed of the cold-start draws. @default 1 */
  readonly seed?: number;
  /** Interval of the autoscaler's ticks. @default 1000 */
  readonly tickMs?: number;
  /** Requests the activator buffers while no replica is ready; one more fails (503). @default 1024 */
  readonly activatorCapacity?: number;
  /** How long a request may wait in the activator before it fails (503). @default 30000 */
  readonly activatorTimeoutMs?: number;
  /**
   * Replicas ready at time 0. When absent, the replicas the policy's first decision (at time 0,
   * before any arrival) asks for are ready at once: the deployment existed before the workload.
   */
  readonly initialReplicas?: number;
  /** The run lasts at least this long, ms (e.g. a profile's duration). @default the last arrival */
  readonly endMs?: number;
}

/** One tick of the timeline. */
export interface TimelineRow {
  readonly tMs: number;
  /** Arrivals in the tick that ends at `tMs`, per second. */
  readonly arrivalsPerS: number;
  /** Mean requests in the system over the tick. */
  readonly concurrency: number;
  /** Replicas the decision at `tMs` asked for. */
  readonly desired: number;
  /** Replicas ready and starting at `tMs`, before the decision. */
  readonly ready: number;
  readonly starting: number;
  /** The serving mode the decision chose (`auto` only). */
  readonly mode?: ServingMode;
}

/** The outcome of a simulation. */
export interface SimulationResult {
  readonly policy: PolicyName;
  readonly model: string;
  readonly requests: number;
  /** Requests answered successfully. */
  readonly completed: number;
  /** Requests answered 503 by the activator (buffer full or waited too long). */
  readonly failed: number;
  readonly sloMs: number;
  /** Share of all requests answered successfully within `sloMs` (1 when there were none). */
  readonly sloAttainment: number;
  /** Latency percentiles of the successful requests, ms; NaN when none. */
  readonly latencyP50Ms: number;
  readonly latencyP90Ms: number;
  readonly latencyP99Ms: number;
  readonly replicaSeconds: number;
  /** Busy executor time over available executor time of ready and draining replicas. */
  readonly meanUtilization: number;
  /** Replicas started after time 0 (each waits a cold start). */
  readonly coldStarts: number;
  readonly costUsd: number;
  readonly usage: UsageLedger;
  /** Policy decisions taken (one per tick). */
  readonly decisions: number;
  /** Decisions that changed the desired replica count. */
  readonly scaleChanges: number;
  /** Simulated time until every request was answered and the workload had ended, ms. */
  readonly durationMs: number;
  readonly timeline: readonly TimelineRow[];
}

/** Bounds of a simulation. */
const SIMULATION_LIMITS = { maxReplicas: 1000, maxTicks: 2_000_000 } as const;

const optionsSchema = z.object({
  sloMs: z.number().positive().finite(),
  seed: z.int().min(0).max(0xffffffff).default(1),
  tickMs: z.number().min(1).max(3_600_000).default(1000),
  activatorCapacity: z.int().min(0).max(1_000_000).default(1024),
  activatorTimeoutMs: z.number().positive().max(3_600_000).default(30_000),
  initialReplicas: z.int().min(0).max(SIMULATION_LIMITS.maxReplicas).optional(),
  endMs: z.number().nonnegative().finite().optional(),
});

type CompiledOptions = z.output<typeof optionsSchema>;

type ReplicaState = 'starting' | 'ready' | 'draining' | 'stopped';

interface Replica {
  readonly id: number;
  state: ReplicaState;
  readonly readyAtMs: number;
  /** Requests sent to it and not yet running. */
  readonly queue: IdQueue;
  /** Requests sent to it and not yet answered (queued or running). */
  outstanding: number;
  /** Executors running a batch. */
  busy: number;
}

type SimEvent =
  | { readonly atMs: number; seq: number; readonly kind: 'ready'; readonly replica: Replica }
  | { readonly atMs: number; seq: number; readonly kind: 'done'; readonly replica: Replica; readonly batch: Int32Array };

/** Nearest-rank percentile of ascending values; NaN when empty. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** A growable list of numbers (latencies). */
class Samples {
  private values = new Float64Array(64);
  private length = 0;

  push(v: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = v;
  }

  clear(): void {
    this.length = 0;
  }

  /** The samples sorted ascending (a view; valid until the next push). */
  sorted(): Float64Array {
    return this.values.subarray(0, this.length).sort();
  }
}

function checkArrivals(arrivals: ArrivalTimes): void {
  if (arrivals.length > MAX_ARRIVALS) {
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `${arrivals.length} arrivals are more than the limit of ${MAX_ARRIVALS}`);
  }
  let previous = 0;
  for (let i = 0; i < arrivals.length; i++) {
    const t = arrivals[i] as number;
    if (!(t >= previous && Number.isFinite(t))) {
      throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `arrival ${i} at ${t} ms is not a finite time at or after the one before it (${previous} ms)`);
    }
    previous = t;
  }
}

/** The running simulation; {@link simulate} is its only user. */
class Simulation<S> {
  private readonly o: CompiledOptions;
  private readonly arrivals: ArrivalTimes;
  private readonly profile: ServiceProfile;
  private readonly policy: SimulationPolicy<S>;
  private readonly costOf: CostFunction;
  private readonly serviceMs: Float64Array;
  private readonly batching: BatchingPolicy;
  private readonly random: () => number;
  private readonly events = new EventQueue<SimEvent>();
  /** Requests waiting in the activator, in arrival order. */
  private readonly buffer = new IdQueue();
  /** Ready replicas that take requests, in the order they became ready. */
  private readonly routable: Replica[] = [];
  private readonly starting: Replica[] = [];
  private draining = 0;
  private nextReplicaId = 0;
  /** Queue snapshot handed to formBatch, reused. */
  private readonly views: { batchSize: number; shapeKey: string; arrivalUs: number; deadlineUs: number }[] = [];
  private readonly window: QueuedRequestView[] = [];

  // Time integrals since the last tick (advanced by `advanceTo`).
  private clockMs = 0;
  private inSystem = 0;
  private busyExecutors = 0;
  private concurrencyArea = 0;
  private busyArea = 0;
  private capacityArea = 0;
  private replicaArea = 0;
  // Counts since the last tick.
  private tickArrivals = 0;
  private tickCompletions = 0;
  private tickSuccesses = 0;
  private readonly tickLatencies = new Samples();
  // Totals.
  private readonly latencies = new Samples();
  private failed = 0;
  private coldStarts = 0;
  private lastArrivalMs: number | undefined;

  constructor(options: SimulationOptions<S>) {
    // The schema reads the scalar options and leaves the arrivals, profile and functions alone.
    this.o = parse(optionsSchema, options, 'simulation options');
    checkArrivals(options.arrivals);
    this.arrivals = options.arrivals;
    this.profile = validateServiceProfile(options.profile);
    this.policy = options.policy;
    this.costOf = options.costOf;
    this.serviceMs = batchServiceTimes(options.profile);
    this.batching = { maxBatchSize: options.profile.maxBatchSize, preferredBatchSizes: [], maxQueueDelayUs: 0 };
    this.random = seededRandom(this.o.seed);
  }

  run(): SimulationResult {
    const o = this.o;
    const n = this.arrivals.length;
    const endMs = Math.max(o.endMs ?? 0, n === 0 ? 0 : (this.arrivals[n - 1] as number));
    if (endMs / o.tickMs > SIMULATION_LIMITS.maxTicks) {
      throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `a ${endMs} ms run at ${o.tickMs} ms ticks is more than ${SIMULATION_LIMITS.maxTicks} ticks; use longer ticks`);
    }
    const defaultMode: ServingMode = this.policy.name === 'serverless' ? 'serverless' : 'always-on';
    const usage: Record<ServingMode, { replicaSeconds: number; invocations: number; busySeconds: number }> = {
      serverless: { replicaSeconds: 0, invocations: 0, busySeconds: 0 },
      'always-on': { replicaSeconds: 0, invocations: 0, busySeconds: 0 },
    };
    const timeline: TimelineRow[] = [];
    let state = this.policy.initialState;
    let desired = o.initialReplicas ?? 0;
    let mode = defaultMode;
    let decisions = 0;
    let scaleChanges = 0;
    let totalBusyMs = 0;
    let totalCapacityMs = 0;
    for (let i = 0; i < desired; i++) this.startReplica(0, true);

    let next = 0;
    let tickAtMs = 0;
    let lastTickMs = -o.tickMs;
    for (;;) {
      const event = this.events.peek();
      const arrivalMs = next < n ? (this.arrivals[next] as number) : Infinity;
      // At equal times: replica events first, then the tick (a tick covers [t - tickMs, t)), then arrivals.
      if (event !== undefined && event.atMs <= tickAtMs && event.atMs <= arrivalMs) {
        this.events.pop();
        this.handle(event);
        continue;
      }
      if (arrivalMs < tickAtMs) {
        this.arrive(next++, arrivalMs);
        // The activator pokes the autoscaler when a request finds the deployment at zero, so scaling
        // from zero starts at the arrival, not at the next tick (as the live ReplicaSet does).
        if (desired === 0 && this.starting.length === 0 && this.routable.length === 0 && this.buffer.length > 0 && arrivalMs >= lastTickMs) tickAtMs = arrivalMs;
        continue;
      }

      this.expireUntil(tickAtMs);
      this.advanceTo(tickAtMs);
      // An activation right after a tick makes a (near) zero-length interval; 1 ms keeps rates finite.
      const intervalMs = Math.max(1, tickAtMs - lastTickMs);
      lastTickMs = tickAtMs;
      const sortedTick = this.tickLatencies.sorted();
      const observation: ScalingObservation = {
        nowMs: tickAtMs,
        intervalMs,
        desiredReplicas: desired,
        readyReplicas: this.routable.length,
        startingReplicas: this.starting.length,
        concurrency: this.concurrencyArea / intervalMs,
        buffered: this.buffer.length,
        arrivals: this.tickArrivals,
        completions: this.tickCompletions,
        latencyP50Ms: percentile(sortedTick, 50),
        latencyP99Ms: percentile(sortedTick, 99),
        cpuUtilization: this.capacityArea > 0 ? this.busyArea / this.capacityArea : 0,
        lastArrivalMs: this.lastArrivalMs,
      };
      const used = usage[mode];
      used.replicaSeconds += this.replicaArea / 1000;
      used.invocations += this.tickSuccesses;
      used.busySeconds += this.busyArea / 1000;
      totalBusyMs += this.busyArea;
      totalCapacityMs += this.capacityArea;
      this.resetTick();

      const finished = next === n && this.inSystem === 0 && tickAtMs >= endMs;
      const row = { tMs: tickAtMs, arrivalsPerS: (observation.arrivals * 1000) / intervalMs, concurrency: observation.concurrency };
      if (finished) {
        timeline.push({ ...row, desired, ready: observation.readyReplicas, starting: observation.startingReplicas });
        break;
      }
      const step = this.policy.decide(state, observation);
      state = step.state;
      decisions += 1;
      const wanted = step.decision.desiredReplicas;
      if (!Number.isInteger(wanted) || wanted < 0 || wanted > SIMULATION_LIMITS.maxReplicas) {
        throw new ContinuumError(
          'CONTINUUM_ERR_INTERNAL',
          `policy '${this.policy.name}' asked for ${wanted} replicas; a decision must be a whole number from 0 to ${SIMULATION_LIMITS.maxReplicas}`,
        );
      }
      if (wanted !== desired) scaleChanges += 1;
      desired = wanted;
      mode = step.decision.mode ?? defaultMode;
      timeline.push({
        ...row,
        desired,
        ready: observation.readyReplicas,
        starting: observation.startingReplicas,
        ...(step.decision.mode === undefined ? {} : { mode: step.decision.mode }),
      });
      // Only the first decision's replicas exist before the workload; later ones (an activation at 0 included) start cold.
      this.scaleTo(desired, tickAtMs, decisions === 1 && o.initialReplicas === undefined);
      tickAtMs += o.tickMs;
    }

    const sorted = this.latencies.sorted();
    let withinSlo = 0;
    while (withinSlo < sorted.length && (sorted[withinSlo] as number) <= o.sloMs) withinSlo += 1;
    return {
      policy: this.policy.name,
      model: this.profile.model,
      requests: n,
      completed: sorted.length,
      failed: this.failed,
      sloMs: o.sloMs,
      sloAttainment: n === 0 ? 1 : withinSlo / n,
      latencyP50Ms: percentile(sorted, 50),
      latencyP90Ms: percentile(sorted, 90),
      latencyP99Ms: percentile(sorted, 99),
      replicaSeconds: usage.serverless.replicaSeconds + usage['always-on'].replicaSeconds,
      meanUtilization: totalCapacityMs > 0 ? totalBusyMs / totalCapacityMs : 0,
      coldStarts: this.coldStarts,
      costUsd: this.costOf(usage, this.profile),
      usage,
      decisions,
      scaleChanges,
      durationMs: tickAtMs,
      timeline,
    };
  }

  /** Moves the clock to `tMs`, adding the time integrals of the interval. */
  private advanceTo(tMs: number): void {
    const dt = tMs - this.clockMs;
    if (dt <= 0) return;
    const serving = this.routable.length + this.draining;
    this.concurrencyArea += this.inSystem * dt;
    this.busyArea += this.busyExecutors * dt;
    this.capacityArea += serving * this.profile.instances * dt;
    this.replicaArea += (serving + this.starting.length) * dt;
    this.clockMs = tMs;
  }

  private resetTick(): void {
    this.concurrencyArea = 0;
    this.busyArea = 0;
    this.capacityArea = 0;
    this.replicaArea = 0;
    this.tickArrivals = 0;
    this.tickCompletions = 0;
    this.tickSuccesses = 0;
    this.tickLatencies.clear();
  }

  /** Fails (503) every buffered request whose wait ran out by `tMs`, at the moment it ran out. */
  private expireUntil(tMs: number): void {
    while (this.buffer.length > 0) {
      const deadlineMs = (this.arrivals[this.buffer.at(0)] as number) + this.o.activatorTimeoutMs;
      if (deadlineMs > tMs) return;
      this.advanceTo(deadlineMs);
      this.buffer.shift();
      this.inSystem -= 1;
      this.fail();
    }
  }

  private fail(): void {
    this.failed += 1;
    this.tickCompletions += 1;
  }

  private arrive(id: number, tMs: number): void {
    this.expireUntil(tMs);
    this.advanceTo(tMs);
    this.tickArrivals += 1;
    this.lastArrivalMs = tMs;
    if (this.routable.length > 0) {
      this.inSystem += 1;
      this.dispatch(this.route(id), tMs);
    } else if (this.buffer.length < this.o.activatorCapacity) {
      this.inSystem += 1;
      this.buffer.push(id);
    } else {
      this.fail();
    }
  }

  /** Sends a request to the ready replica with the fewest outstanding requests; returns that replica. */
  private route(id: number): Replica {
    let target = this.routable[0] as Replica;
    for (const r of this.routable) if (r.outstanding < target.outstanding) target = r;
    target.queue.push(id);
    target.outstanding += 1;
    return target;
  }

  /** Starts batches on the replica's free executors, formed as the runtime's batcher forms them. */
  private dispatch(r: Replica, tMs: number): void {
    const instances = this.profile.instances;
    while (r.busy < instances && r.queue.length > 0) {
      const free = instances - r.busy;
      // formBatch never takes more than maxBatchSize per free executor, so a window of that many
      // requests gives the decision it would give on the whole queue.
      const size = Math.min(r.queue.length, this.profile.maxBatchSize * free);
      this.window.length = 0;
      for (let i = 0; i < size; i++) {
        let view = this.views[i];
        if (view === undefined) {
          view = { batchSize: 1, shapeKey: '', arrivalUs: 0, deadlineUs: Infinity };
          this.views.push(view);
        }
        view.arrivalUs = (this.arrivals[r.queue.at(i)] as number) * 1000;
        this.window.push(view);
      }
      // Every simulated request takes one slot, shares one shape and has no deadline, so the
      // batch is a prefix of the queue; with no queue delay it is never empty.
      const taken = formBatch(this.window, this.batching, tMs * 1000, free).batch.length;
      const batch = new Int32Array(taken);
      for (let i = 0; i < taken; i++) batch[i] = r.queue.shift();
      r.busy += 1;
      this.busyExecutors += 1;
      this.events.push({ atMs: tMs + (this.serviceMs[taken] as number), seq: 0, kind: 'done', replica: r, batch });
    }
  }

  private handle(event: SimEvent): void {
    const r = event.replica;
    if (event.kind === 'ready' && r.state !== 'starting') return; // drained while starting
    this.expireUntil(event.atMs);
    this.advanceTo(event.atMs);
    if (event.kind === 'ready') this.makeReady(r, event.atMs);
    else this.finishBatch(r, event.batch, event.atMs);
  }

  private finishBatch(r: Replica, batch: Int32Array, tMs: number): void {
    for (const id of batch) {
      const latencyMs = tMs - (this.arrivals[id] as number);
      this.latencies.push(latencyMs);
      this.tickLatencies.push(latencyMs);
    }
    this.inSystem -= batch.length;
    this.tickCompletions += batch.length;
    this.tickSuccesses += batch.length;
    r.outstanding -= batch.length;
    r.busy -= 1;
    this.busyExecutors -= 1;
    this.dispatch(r, tMs);
    if (r.state === 'draining' && r.outstanding === 0) {
      r.state = 'stopped';
      this.draining -= 1;
    }
  }

  private startReplica(tMs: number, warm: boolean): void {
    const coldStarts = this.profile.coldStartMs;
    const delayMs = warm ? 0 : (coldStarts[Math.floor(this.random() * coldStarts.length)] as number);
    const r: Replica = { id: this.nextReplicaId++, state: 'starting', readyAtMs: tMs + delayMs, queue: new IdQueue(), outstanding: 0, busy: 0 };
    this.starting.push(r);
    if (warm) this.makeReady(r, tMs);
    else {
      this.coldStarts += 1;
      this.events.push({ atMs: r.readyAtMs, seq: 0, kind: 'ready', replica: r });
    }
  }

  /**
   * A replica becomes ready and the activator releases its buffer: all buffered requests are
   * routed at once, then the replicas start on them, so a burst that waited is batched together.
   */
  private makeReady(r: Replica, tMs: number): void {
    this.starting.splice(this.starting.indexOf(r), 1);
    r.state = 'ready';
    this.routable.push(r);
    if (this.buffer.length === 0) return;
    while (this.buffer.length > 0) this.route(this.buffer.shift());
    for (const target of this.routable) this.dispatch(target, tMs);
  }

  /**
   * Applies a decision: starts the missing replicas (ready at once when `warm`), or removes the
   * surplus — starting replicas first (the latest to be ready first, they cost least to give up),
   * then the ready ones with the fewest outstanding requests (newest first on a tie), which drain.
   */
  private scaleTo(desired: number, tMs: number, warm: boolean): void {
    let surplus = this.starting.length + this.routable.length - desired;
    for (; surplus < 0; surplus++) this.startReplica(tMs, warm);
    if (surplus === 0) return;
    const startingVictims = [...this.starting].sort((a, b) => b.readyAtMs - a.readyAtMs || b.id - a.id).slice(0, surplus);
    for (const r of startingVictims) {
      this.starting.splice(this.starting.indexOf(r), 1);
      r.state = 'stopped';
    }
    surplus -= startingVictims.length;
    const readyVictims = [...this.routable].sort((a, b) => a.outstanding - b.outstanding || b.id - a.id).slice(0, surplus);
    for (const r of readyVictims) {
      this.routable.splice(this.routable.indexOf(r), 1);
      if (r.outstanding === 0) r.state = 'stopped';
      else {
        r.state = 'draining';
        this.draining += 1;
      }
    }
  }
}

/**
 * Simulates the deployment `options.profile` describes under `options.arrivals`, scaled by
 * `options.policy`, until the workload has ended and every request is answered. Throws
 * CONTINUUM_ERR_BAD_REQUEST for invalid options or arrivals, CONTINUUM_ERR_INTERNAL when the
 * policy answers a replica count that is not a whole number within the limit.
 */
export function simulate<S>(options: SimulationOptions<S>): SimulationResult {
  return new Simulation(options).run();
}
