/**
 * SLO-aware provisioning from the request rate: how `auto` runs a deployment always-on.
 *
 * The work a deployment is given, in replicas, is its request rate × the service time of one
 * request (Little's law over the executors alone: busy executors = arrival rate × service time).
 * It is provisioned at a utilization the latency SLO allows, not from observed concurrency:
 * concurrency also counts requests queueing, which grow without bound as utilization nears 1, so a
 * concurrency target set for a one-request-at-a-time replica either leaves it mostly idle or, set
 * near the knee, feeds back on itself (one replica fewer → long queues → many more) and oscillates.
 * The rate does not depend on how many replicas serve it. (INFaaS, Romero et al., USENIX ATC 2021,
 * and MArk, Zhang et al., USENIX ATC 2019, likewise provision from the request rate and a profiled
 * per-request latency.)
 *
 * Each tick the need is the larger of:
 * - the mean rate of the stable window (60 s, Knative's) at the target utilization: what the
 *   traffic needs, read over a window long enough that Poisson noise does not move it;
 * - at full utilization, the work of the highest of that rate, the rate of the burst window (6 s,
 *   Knative's panic window) and the rate of the last second, plus the requests already in the
 *   system as work to finish within the SLO (concurrency × s / sloMs): a rise the stable window is
 *   slow to see, or a backlog, once the replicas cannot do it at all. The two short windows count
 *   their arrivals at the Poisson 3σ lower bound (n − 3√n), so they react to a real rise and not
 *   to a noisy stretch of steady traffic; a rise that lasts reaches the stable window within it.
 * The count is the highest need of the stable window (Knative's stable window, the Kubernetes
 * HPA's scale-down stabilization), so it rises at once and falls only after a window without the
 * need; and never below one replica: this is the always-on mode.
 *
 * The target utilization: an M/M/1 server's response time is exponential with mean s / (1 − ρ), so
 * its p99 is s·ln(100) / (1 − ρ); the highest ρ that keeps that within the SLO is
 * 1 − s·ln(100) / sloMs. Deterministic service times and least-outstanding routing over several
 * replicas queue less than M/M/1; the margin absorbs load that grows while replicas start.
 */
import { shown } from './step.js';
import type { PolicyStep } from './step.js';
import type { ScalingObservation } from './types.js';
import { pushSample, windowValues } from './window.js';
import type { Sample } from './window.js';

/** Utilization bounds: below 5% a replica is mostly idle whatever the SLO; above 95% the request rate's own noise overloads it. */
const UTILIZATION_BOUNDS = { min: 0.05, max: 0.95 } as const;

/**
 * The utilization at which one replica's p99 response time meets `sloMs`, for requests of
 * `serviceTimeMs` (M/M/1, see the module comment), within [0.05, 0.95].
 */
export function sloUtilization(sloMs: number, serviceTimeMs: number): number {
  const rho = 1 - (serviceTimeMs * Math.log(100)) / sloMs;
  return Math.min(UTILIZATION_BOUNDS.max, Math.max(UTILIZATION_BOUNDS.min, rho));
}

/** Parameters of rate-based provisioning. */
export interface ProvisionParams {
  /** Share of each replica's time the stable window's work may take (0..1). */
  readonly targetUtilization: number;
  /** Latency objective: requests in the system are work to finish within it. */
  readonly sloMs: number;
  /** Window whose mean rate is provisioned at the target utilization, and whose highest need holds the count. */
  readonly stableWindowMs: number;
  /** Window whose mean rate is provisioned at full utilization (a fast rise). */
  readonly burstWindowMs: number;
}

/** State of rate-based provisioning: recent arrivals (a sample's value is a tick's arrival count) and replica needs. */
export interface ProvisionState {
  readonly arrivals: readonly Sample[];
  readonly needs: readonly Sample[];
}

/** Fresh provisioning state. */
export function provisionInitialState(): ProvisionState {
  return { arrivals: [], needs: [] };
}

/** Replicas that `workReplicas` of work needs at `utilization`, at least one. */
export function replicasForWork(workReplicas: number, utilization: number): number {
  // The epsilon keeps a float such as 3.0000000000000004 from costing a fourth replica.
  return Math.max(1, Math.ceil(workReplicas / utilization - 1e-9));
}

/** The shortest time a rate is measured over: an activation tick (a request found no replica) can last 1 ms. */
const MIN_RATE_SPAN_MS = 1000;

/**
 * Arrivals and the time they cover over the samples that ended within the last `windowMs`; the
 * time is at least one second, so one arrival in a 1 ms tick is not a rate of a thousand per second.
 */
function recentArrivals(arrivals: readonly Sample[], nowMs: number, windowMs: number): { count: number; seconds: number } {
  let count = 0;
  let spanMs = 0;
  for (const s of arrivals) {
    if (s.endMs <= nowMs - windowMs) continue;
    count += s.value;
    spanMs += s.spanMs;
  }
  return { count, seconds: Math.max(spanMs, MIN_RATE_SPAN_MS) / 1000 };
}

/**
 * A count of Poisson arrivals less three standard deviations (n − 3√n, at least 0): a rate this
 * low is all but certain, so a short window's reading scales out on a real rise and not on noise.
 */
function poissonLowerBound(count: number): number {
  return Math.max(0, count - 3 * Math.sqrt(count));
}

/** One provisioning decision for requests of `serviceTimeMs` (see the module comment). */
export function decideProvision(p: ProvisionParams, s: ProvisionState, obs: ScalingObservation, serviceTimeMs: number): PolicyStep<ProvisionState> {
  const keepMs = Math.max(p.stableWindowMs, p.burstWindowMs, MIN_RATE_SPAN_MS);
  const arrivals = pushSample(s.arrivals, { endMs: obs.nowMs, spanMs: obs.intervalMs, value: obs.arrivals }, keepMs);
  const workOf = (rps: number): number => (rps * serviceTimeMs) / 1000;
  const stable = recentArrivals(arrivals, obs.nowMs, p.stableWindowMs);
  const burst = recentArrivals(arrivals, obs.nowMs, p.burstWindowMs);
  const second = recentArrivals(arrivals, obs.nowMs, MIN_RATE_SPAN_MS);
  const stableRps = stable.count / stable.seconds;
  const burstLowRps = poissonLowerBound(burst.count) / burst.seconds;
  const secondLowRps = poissonLowerBound(second.count) / second.seconds;
  const backlog = (obs.concurrency * serviceTimeMs) / p.sloMs;
  const peakRps = Math.max(stableRps, burstLowRps, secondLowRps);
  const byStable = replicasForWork(workOf(stableRps), p.targetUtilization);
  const byPeak = replicasForWork(workOf(peakRps) + backlog, 1);
  const need = Math.max(byStable, byPeak);
  const needs = pushSample(s.needs, { endMs: obs.nowMs, spanMs: obs.intervalMs, value: need }, p.stableWindowMs);
  const held = Math.max(need, ...windowValues(needs, obs.nowMs, p.stableWindowMs));
  const peak = peakRps === stableRps ? `${shown(stableRps)} req/s over ${p.stableWindowMs} ms` : `at least ${shown(peakRps)} req/s over ${peakRps === burstLowRps ? `${p.burstWindowMs} ms` : 'the last second'}`;
  const which =
    need === byStable
      ? `${shown(stableRps)} req/s over ${p.stableWindowMs} ms × ${shown(serviceTimeMs)} ms at ${shown(p.targetUtilization * 100)}% utilization`
      : `${peak} × ${shown(serviceTimeMs)} ms, and ${shown(obs.concurrency)} requests in the system to finish within ${p.sloMs} ms, at full utilization,`;
  const reason =
    held > need
      ? `${which} needs ${need}, but ${held} were needed within the last ${p.stableWindowMs} ms`
      : `${which} needs ${need}`;
  return {
    replicas: held,
    reason,
    inputs: {
      stableRps: shown(stableRps),
      burstLowRps: shown(burstLowRps),
      lastSecondLowRps: shown(secondLowRps),
      backlogReplicas: shown(backlog),
      targetUtilization: shown(p.targetUtilization),
      byStable,
      byPeak,
      heldForScaleDown: held,
    },
    state: { arrivals, needs },
  };
}
