/**
 * Drives autoscaling policies tick by tick for tests: observations with sensible defaults, and a
 * closed loop in which the deployment obeys each decision at once (replicas ready the next tick),
 * so a test states the traffic and reads the decisions.
 */
import { decideScale, initialPolicyState } from '../../src/autoscale/index.js';
import type { CompiledPolicy, PolicyState, ScalingDecision, ScalingObservation } from '../../src/autoscale/index.js';

/** An observation at `nowMs`: 1 s tick, one ready replica, no traffic, unless overridden. */
export function observation(o: Partial<ScalingObservation> & { readonly nowMs: number }): ScalingObservation {
  const desiredReplicas = o.desiredReplicas ?? 1;
  return {
    intervalMs: 1000,
    desiredReplicas,
    readyReplicas: desiredReplicas,
    startingReplicas: 0,
    concurrency: 0,
    buffered: 0,
    arrivals: 0,
    completions: o.arrivals ?? 0,
    latencyP50Ms: Number.NaN,
    latencyP99Ms: Number.NaN,
    cpuUtilization: 0,
    lastArrivalMs: undefined,
    ...o,
  };
}

/** The traffic of one tick, as a test describes it. */
export interface TickLoad {
  readonly arrivals?: number;
  readonly concurrency?: number;
  readonly latencyP50Ms?: number;
  readonly cpuUtilization?: number;
  /**
   * Replica time each request of the tick takes, ms: when given (and `cpuUtilization` is not), the
   * ready replicas' CPU utilization is arrivals × serviceTimeMs / (tick × replicas), at most 1.
   */
  readonly serviceTimeMs?: number;
}

/** One tick of a closed-loop run. */
export interface Tick {
  readonly nowMs: number;
  readonly observation: ScalingObservation;
  readonly decision: ScalingDecision;
  readonly state: PolicyState;
}

/**
 * Runs `p` from `startMs` (first tick ends at startMs + intervalMs) through `untilMs`. Each tick
 * the replicas are what the previous decision asked for, all ready; with no replica, the tick's
 * concurrency waits in the activator (buffered).
 */
export function runPolicy(
  p: CompiledPolicy,
  load: (nowMs: number) => TickLoad,
  untilMs: number,
  { intervalMs = 1000, startMs = 0, initialReplicas = p.minReplicas }: { intervalMs?: number; startMs?: number; initialReplicas?: number } = {},
): Tick[] {
  const ticks: Tick[] = [];
  let state = initialPolicyState(p);
  let replicas = initialReplicas;
  let lastArrivalMs: number | undefined;
  for (let nowMs = startMs + intervalMs; nowMs <= untilMs; nowMs += intervalMs) {
    const l = load(nowMs);
    const arrivals = l.arrivals ?? 0;
    const concurrency = l.concurrency ?? 0;
    if (arrivals > 0) lastArrivalMs = nowMs;
    const obs = observation({
      nowMs,
      intervalMs,
      desiredReplicas: replicas,
      readyReplicas: replicas,
      concurrency,
      buffered: replicas === 0 ? Math.ceil(concurrency) : 0,
      arrivals,
      completions: replicas === 0 ? 0 : arrivals,
      latencyP50Ms: l.latencyP50Ms ?? Number.NaN,
      cpuUtilization: l.cpuUtilization ?? (l.serviceTimeMs === undefined || replicas === 0 ? 0 : Math.min(1, (arrivals * l.serviceTimeMs) / (intervalMs * replicas))),
      lastArrivalMs,
    });
    const out = decideScale(p, state, obs);
    state = out.state;
    replicas = out.decision.desiredReplicas;
    ticks.push({ nowMs, observation: obs, decision: out.decision, state });
  }
  return ticks;
}

/** The tick at `nowMs` of a run (throws when the run has none, so a test cannot read past its end). */
export function tickAt(ticks: readonly Tick[], nowMs: number): Tick {
  const t = ticks.find((x) => x.nowMs === nowMs);
  if (t === undefined) throw new Error(`no tick at ${nowMs} ms`);
  return t;
}
