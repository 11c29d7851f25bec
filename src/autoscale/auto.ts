/**
 * `auto`: runs each deployment serverless or always-on, whichever the traffic it sees makes
 * cheaper without putting the latency SLO at risk, and changes its mind only when the traffic
 * pattern really changes.
 *
 * Both modes are decided every tick, so the mode switched to has warm windows, and what always-on
 * mode would have held is known for every tick whichever mode ran. From the traffic of the last
 * `statsWindowMs` (src/autoscale/traffic.ts) and the cost model (src/autoscale/cost.ts) it estimates:
 * - always-on cost per hour: the replicas always-on mode held over the window × the replica-hour
 *   price (the request rate does not depend on the mode, so neither does that count);
 * - serverless cost per hour: requests per hour × (request fee + service time × memory × GB-second
 *   price) — idle time is free, busy time is dear;
 * - serverless SLO risk: the share of requests a cold start pushes past `sloMs`
 *   ({@link coldStartLateMs}); each idle gap longer than the scale-to-zero grace ends in one.
 *
 * Hysteresis: serverless is chosen only when it is `switchMargin` cheaper and its risk is
 * `switchMargin` under budget, always-on again only when serverless is `switchMargin` dearer or its
 * risk is over budget; a cost-driven change waits `minModeDwellMs` after the last one, an
 * SLO-driven change does not wait.
 *
 * In serverless mode it behaves as the `serverless` policy, except that from zero it starts as many
 * replicas as the bursts seen so far need ({@link fromZero}). In always-on mode it provisions for
 * the request rate × the service time at the utilization the SLO allows
 * (src/autoscale/provision.ts), never below one replica. The service time is the replica time per request, measured as busy CPU
 * over completions (queueing does not inflate it, as it would a latency) unless `serviceTimeMs`
 * is given.
 */
import { alwaysOnCostUsd, serverlessCostUsd } from './cost.js';
import { decideProvision, provisionInitialState, replicasForWork, sloUtilization } from './provision.js';
import type { ProvisionParams, ProvisionState } from './provision.js';
import { decideServerless, serverlessInitialState } from './serverless.js';
import type { ServerlessState } from './serverless.js';
import type { CompiledAutoPolicy } from './spec.js';
import { shown } from './step.js';
import type { PolicyStep } from './step.js';
import { trafficStats } from './traffic.js';
import type { TrafficSample, TrafficStats } from './traffic.js';
import type { ScalingObservation, ServingMode } from './types.js';
import { pushSample } from './window.js';

/** State of `auto`: its mode, the traffic window, and both modes' policy states. */
export interface AutoState {
  readonly policy: 'auto';
  readonly mode: ServingMode;
  /** When the current mode was chosen; null while it is still the initial guess. */
  readonly modeSinceMs: number | null;
  readonly traffic: readonly TrafficSample[];
  /** Busy replica time and completions, each an exponentially weighted sum over recent ticks: their ratio is the service time. */
  readonly busyMs: number;
  readonly completions: number;
  /** Ready replicas at the last tick: a tick is measured only when the same count was ready throughout. */
  readonly lastReadyReplicas: number;
  readonly alwaysOn: ProvisionState;
  readonly serverless: ServerlessState;
}

/** Fresh `auto` state, in the policy's initial mode. */
export function autoInitialState(p: CompiledAutoPolicy): AutoState {
  return {
    policy: 'auto',
    mode: p.initialMode,
    modeSinceMs: null,
    traffic: [],
    busyMs: 0,
    completions: 0,
    lastReadyReplicas: 0,
    alwaysOn: provisionInitialState(),
    serverless: serverlessInitialState(),
  };
}

/** What each mode is expected to cost per hour, and the share of requests cold starts would make miss the SLO. */
export interface ModeEstimate {
  readonly alwaysOnUsdPerHour: number;
  readonly serverlessUsdPerHour: number;
  readonly coldStartMissShare: number;
}

/**
 * How long, in ms, requests that arrive during a cold start keep arriving late. The activator
 * buffers them and hands them out when the `replicas` started together are ready (taken as ready
 * together; a replica ready alone first gets the whole buffer, so this is a lower bound), so a request
 * arriving u ms into a start of `coldStartMs` is answered at coldStartMs + (burstRps·u / replicas
 * + 1)·serviceTimeMs, that is after coldStartMs + serviceTimeMs + u·(burstRps·serviceTimeMs /
 * replicas − 1). When the replicas keep up with the burst the first arrivals are the late ones
 * (if any); when they do not, the backlog makes the last ones late.
 */
export function coldStartLateMs(coldStartMs: number, serviceTimeMs: number, sloMs: number, burstRps: number, replicas: number): number {
  const growth = (burstRps * serviceTimeMs) / 1000 / replicas - 1;
  const slackMs = sloMs - coldStartMs - serviceTimeMs;
  if (growth <= 0) return slackMs >= 0 ? 0 : growth === 0 ? coldStartMs : Math.min(coldStartMs, slackMs / growth);
  return Math.max(0, coldStartMs - Math.max(0, slackMs / growth));
}

/** Replicas serverless mode starts from zero for a burst at `burstRps` (at least one; see {@link fromZero}). */
function burstReplicas(p: CompiledAutoPolicy, burstRps: number, serviceTimeMs: number): number {
  return replicasForWork((burstRps * serviceTimeMs) / 1000, alwaysOnParams(p, serviceTimeMs).targetUtilization);
}

/** Estimates both modes for traffic `stats` and a request service time (see the module comment). */
export function estimateModes(p: CompiledAutoPolicy, stats: TrafficStats, serviceTimeMs: number): ModeEstimate {
  const resources = { vcpu: p.replicaVcpu, memoryGb: p.replicaMemoryGb };
  const requestsPerHour = stats.meanRps * 3600;
  const lateMs = coldStartLateMs(p.coldStartMs, serviceTimeMs, p.sloMs, stats.activeRps, burstReplicas(p, stats.activeRps, serviceTimeMs));
  const firstLate = p.coldStartMs + serviceTimeMs > p.sloMs ? 1 : 0;
  const missesPerColdStart = firstLate + (stats.activeRps * lateMs) / 1000;
  return {
    alwaysOnUsdPerHour: alwaysOnCostUsd(p, resources, stats.meanAlwaysOnReplicas * 3600),
    serverlessUsdPerHour: serverlessCostUsd(p, resources, requestsPerHour, (requestsPerHour * serviceTimeMs) / 1000),
    coldStartMissShare: stats.arrivals > 0 ? Math.min(1, (stats.longGaps * missesPerColdStart) / stats.arrivals) : 0,
  };
}

/**
 * The mode to run in now, with the reason, given the current mode, how long it has held
 * (Infinity for the initial guess) and how much traffic was observed.
 */
export function chooseServingMode(
  p: CompiledAutoPolicy,
  current: ServingMode,
  heldMs: number,
  observedMs: number,
  e: ModeEstimate,
): { mode: ServingMode; why: string } {
  if (observedMs < p.minObservationMs) return { mode: current, why: `observing traffic (${observedMs} of ${p.minObservationMs} ms)` };
  const dwelt = heldMs >= p.minModeDwellMs;
  const costs = `serverless $${shown(e.serverlessUsdPerHour)}/h vs always-on $${shown(e.alwaysOnUsdPerHour)}/h`;
  const risk = `cold starts would make ${shown(e.coldStartMissShare * 100)}% of requests miss the SLO (budget ${shown(p.coldStartMissBudget * 100)}%)`;
  if (current === 'serverless') {
    if (e.coldStartMissShare > p.coldStartMissBudget) return { mode: 'always-on', why: risk };
    if (dwelt && e.serverlessUsdPerHour > e.alwaysOnUsdPerHour * (1 + p.switchMargin)) return { mode: 'always-on', why: `${costs}: always-on is cheaper` };
    return { mode: 'serverless', why: `${costs}; ${risk}` };
  }
  const cheaper = e.serverlessUsdPerHour < e.alwaysOnUsdPerHour * (1 - p.switchMargin);
  const safe = e.coldStartMissShare <= p.coldStartMissBudget * (1 - p.switchMargin);
  if (dwelt && cheaper && safe) return { mode: 'serverless', why: `${costs}: serverless is cheaper; ${risk}` };
  return { mode: 'always-on', why: `${costs}; ${risk}` };
}

/** Share of the busy time and completions sums that each tick keeps (a memory of roughly 20 ticks). */
const SERVICE_TIME_DECAY = 0.95;

/**
 * Service time measurement: busy replica time (mean CPU utilization × ready replicas × tick) and
 * completions, summed with exponential decay; their ratio is the replica time per request, and
 * time spent queueing, which a latency would include, does not count as work. Summing before
 * dividing keeps a tick with few completions from weighing as much as a full one. A tick counts
 * only when the same replicas were ready throughout it (none starting, as many ready as the tick
 * before): utilization is measured over the time a replica was ready, so one that became ready
 * within the tick would count as busy for all of it.
 */
function measureBusy(s: AutoState, obs: ScalingObservation): { busyMs: number; completions: number; lastReadyReplicas: number } {
  const lastReadyReplicas = obs.readyReplicas;
  const steady = obs.readyReplicas > 0 && obs.readyReplicas === s.lastReadyReplicas && obs.startingReplicas === 0;
  if (!steady || !(obs.cpuUtilization > 0)) return { busyMs: s.busyMs, completions: s.completions, lastReadyReplicas };
  return {
    busyMs: s.busyMs * SERVICE_TIME_DECAY + obs.cpuUtilization * obs.readyReplicas * obs.intervalMs,
    completions: s.completions * SERVICE_TIME_DECAY + obs.completions,
    lastReadyReplicas,
  };
}

/** The provisioning parameters always-on mode runs with: the utilization the SLO allows unless one is given. */
function alwaysOnParams(p: CompiledAutoPolicy, serviceTimeMs: number): ProvisionParams {
  return {
    targetUtilization: p.targetUtilization ?? sloUtilization(p.sloMs, serviceTimeMs),
    sloMs: p.sloMs,
    stableWindowMs: p.stableWindowMs,
    burstWindowMs: p.burstWindowMs,
  };
}

/**
 * Always-on mode before the service time is known (no replica has reported CPU over completed
 * requests yet): the requests in the system per `targetConcurrency`, as Knative scales, so traffic
 * is not provisioned as if it took no time.
 */
function untilMeasured(p: CompiledAutoPolicy, step: PolicyStep<ProvisionState>, obs: ScalingObservation): PolicyStep<ProvisionState> {
  const byConcurrency = Math.ceil(obs.concurrency / p.targetConcurrency);
  if (byConcurrency <= step.replicas) return step;
  return { ...step, replicas: byConcurrency, reason: `service time not measured yet: ${shown(obs.concurrency)} requests in the system / target ${p.targetConcurrency} per replica needs ${byConcurrency}` };
}

/**
 * Serverless mode scaling from zero: a request waits and nothing runs or starts. Bursts after an
 * idle gap came at `activeRps` so far, so as many replicas start as such a burst needs at the
 * always-on target utilization (one, as the serverless policy would, when its rate is unknown or
 * small): the buffer is handed to the replicas ready together and what arrives after is spread
 * over all of them, instead of queueing behind one replica until the next tick asks for more. A
 * FaaS platform likewise starts one instance per concurrent request.
 */
function fromZero(p: CompiledAutoPolicy, step: PolicyStep<ServerlessState>, obs: ScalingObservation, stats: TrafficStats, serviceTimeMs: number): PolicyStep<ServerlessState> {
  if (obs.buffered === 0 || obs.readyReplicas + obs.startingReplicas > 0) return step;
  const burst = burstReplicas(p, stats.activeRps, serviceTimeMs);
  if (burst <= step.replicas) return step;
  return {
    ...step,
    replicas: burst,
    reason: `${obs.buffered} requests wait with no replica: start ${burst}, what a burst at ${shown(stats.activeRps)} req/s needs`,
    inputs: { ...step.inputs, burstReplicas: burst },
  };
}

/** One `auto` decision. */
export function decideAuto(p: CompiledAutoPolicy, s: AutoState, obs: ScalingObservation): PolicyStep<AutoState> {
  const busy = measureBusy(s, obs);
  const measured = p.serviceTimeMs ?? (busy.completions >= 1 ? busy.busyMs / busy.completions : undefined);
  // Until a request has completed on replicas that report CPU there is nothing to measure: 0 ms
  // (no work, serverless fees only), and always-on mode follows concurrency ({@link untilMeasured}).
  const serviceTimeMs = measured ?? 0;
  const provisioned = decideProvision(alwaysOnParams(p, serviceTimeMs), s.alwaysOn, obs, serviceTimeMs);
  const alwaysOn = measured === undefined ? untilMeasured(p, provisioned, obs) : provisioned;
  const serverless = decideServerless(p, s.serverless, obs);
  // What always-on mode would be billed for: its count within the bounds decideScale applies, and at least one.
  const alwaysOnReplicas = Math.min(Math.max(alwaysOn.replicas, p.minReplicas, 1), p.maxReplicas);
  const sample = { endMs: obs.nowMs, spanMs: obs.intervalMs, arrivals: obs.arrivals, alwaysOnReplicas };
  const traffic = pushSample(s.traffic, sample, p.statsWindowMs);
  const stats = trafficStats(traffic, p.scaleToZeroGraceMs);
  const estimate = estimateModes(p, stats, serviceTimeMs);
  const heldMs = s.modeSinceMs === null ? Number.POSITIVE_INFINITY : obs.nowMs - s.modeSinceMs;
  const choice = chooseServingMode(p, s.mode, heldMs, stats.observedMs, estimate);
  const switched = choice.mode !== s.mode;
  const step = choice.mode === 'always-on' ? alwaysOn : fromZero(p, serverless, obs, stats, serviceTimeMs);
  return {
    replicas: step.replicas,
    mode: choice.mode,
    reason: `${switched ? `switch to ${choice.mode}` : choice.mode}: ${choice.why}. ${step.reason}`,
    inputs: {
      mode: choice.mode,
      switched,
      alwaysOnUsdPerHour: shown(estimate.alwaysOnUsdPerHour),
      serverlessUsdPerHour: shown(estimate.serverlessUsdPerHour),
      coldStartMissShare: shown(estimate.coldStartMissShare),
      meanRps: shown(stats.meanRps),
      activeRps: shown(stats.activeRps),
      idleShare: shown(stats.idleShare),
      longGaps: stats.longGaps,
      rateCv: shown(stats.rateCv),
      serviceTimeMs: shown(serviceTimeMs),
      observedMs: stats.observedMs,
      ...step.inputs,
    },
    state: {
      policy: 'auto',
      mode: choice.mode,
      modeSinceMs: switched ? obs.nowMs : s.modeSinceMs,
      traffic,
      ...busy,
      alwaysOn: alwaysOn.state,
      serverless: serverless.state,
    },
  };
}
