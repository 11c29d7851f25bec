/**
 * `auto`: runs each deployment serverless or always-on, whichever the traffic it sees makes
 * cheaper without putting the latency SLO at risk, and changes its mind only when the traffic
 * pattern really changes.
 *
 * Every tick it estimates, from the traffic of the last `statsWindowMs` (src/autoscale/traffic.ts)
 * and the cost model (src/autoscale/cost.ts):
 * - always-on cost per hour: the replicas concurrency-based scaling keeps (at least one) × the
 *   replica-hour price;
 * - serverless cost per hour: requests per hour × (request fee + service time × memory × GB-second
 *   price) — idle time is free, busy time is dear;
 * - serverless SLO risk: the share of requests a cold start pushes past `sloMs`. Each idle gap
 *   longer than the scale-to-zero grace ends in a cold start; a request arriving u ms into it is
 *   answered after coldStartMs − u + serviceTimeMs, so it misses the SLO while
 *   u < min(coldStartMs, coldStartMs + serviceTimeMs − sloMs), and requests arrive at the burst rate.
 *
 * Hysteresis: serverless is chosen only when it is `switchMargin` cheaper and its risk is
 * `switchMargin` under budget, always-on again only when serverless is `switchMargin` dearer or its
 * risk is over budget; a cost-driven change waits `minModeDwellMs` after the last one, an
 * SLO-driven change does not wait. In serverless mode it behaves as the `serverless` policy; in
 * always-on mode as `kpa` (Knative's windows and panic mode) with scale to zero off. Both run every
 * tick, so the mode switched to has warm windows.
 */
import { alwaysOnCostUsd, serverlessCostUsd } from './cost.js';
import { decideKpa, kpaInitialState } from './kpa.js';
import type { KpaParams, KpaState } from './kpa.js';
import { decideServerless, serverlessInitialState } from './serverless.js';
import type { ServerlessState } from './serverless.js';
import { KPA_DEFAULTS } from './spec.js';
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
  /** Service time measured from latency (EWMA), ms; null before a clean measurement. */
  readonly measuredServiceTimeMs: number | null;
  readonly alwaysOn: KpaState;
  readonly serverless: ServerlessState;
}

/** Fresh `auto` state, in the policy's initial mode. */
export function autoInitialState(p: CompiledAutoPolicy): AutoState {
  return {
    policy: 'auto',
    mode: p.initialMode,
    modeSinceMs: null,
    traffic: [],
    measuredServiceTimeMs: null,
    alwaysOn: kpaInitialState(),
    serverless: serverlessInitialState(),
  };
}

/** What each mode is expected to cost per hour, and the share of requests cold starts would make miss the SLO. */
export interface ModeEstimate {
  readonly alwaysOnUsdPerHour: number;
  readonly serverlessUsdPerHour: number;
  readonly coldStartMissShare: number;
}

/** Estimates both modes for traffic `stats` and a request service time (see the module comment). */
export function estimateModes(p: CompiledAutoPolicy, stats: TrafficStats, serviceTimeMs: number): ModeEstimate {
  const resources = { vcpu: p.replicaVcpu, memoryGb: p.replicaMemoryGb };
  const requestsPerHour = stats.meanRps * 3600;
  const lateWindowMs = Math.min(p.coldStartMs, p.coldStartMs + serviceTimeMs - p.sloMs);
  const missesPerColdStart = lateWindowMs > 0 ? 1 + (stats.activeRps * lateWindowMs) / 1000 : 0;
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

/** Weight of a new latency sample in the service-time estimate (an EWMA over roughly 10 ticks). */
const SERVICE_TIME_EWMA = 0.1;

/**
 * Service time estimate: the median latency of ticks where nothing waited for a replica (no
 * activator buffer, no replica starting), so queueing behind a cold start does not count as work.
 */
function measureServiceTime(previous: number | null, obs: ScalingObservation): number | null {
  const clean = obs.completions > 0 && obs.buffered === 0 && obs.startingReplicas === 0 && Number.isFinite(obs.latencyP50Ms);
  if (!clean) return previous;
  return previous === null ? obs.latencyP50Ms : previous + SERVICE_TIME_EWMA * (obs.latencyP50Ms - previous);
}

/** The Knative parameters always-on mode runs with: `targetConcurrency` per replica, no scale to zero. */
function alwaysOnParams(p: CompiledAutoPolicy): KpaParams {
  return { ...KPA_DEFAULTS, containerConcurrency: p.targetConcurrency, targetUtilization: 1, enableScaleToZero: false };
}

/** One `auto` decision. */
export function decideAuto(p: CompiledAutoPolicy, s: AutoState, obs: ScalingObservation): PolicyStep<AutoState> {
  const traffic = pushSample(s.traffic, { endMs: obs.nowMs, spanMs: obs.intervalMs, arrivals: obs.arrivals, concurrency: obs.concurrency }, p.statsWindowMs);
  const measuredServiceTimeMs = measureServiceTime(s.measuredServiceTimeMs, obs);
  const serviceTimeMs = p.serviceTimeMs ?? measuredServiceTimeMs ?? 0;
  const stats = trafficStats(traffic, p.scaleToZeroGraceMs, p.targetConcurrency);
  const estimate = estimateModes(p, stats, serviceTimeMs);
  const heldMs = s.modeSinceMs === null ? Number.POSITIVE_INFINITY : obs.nowMs - s.modeSinceMs;
  const choice = chooseServingMode(p, s.mode, heldMs, stats.observedMs, estimate);
  const switched = choice.mode !== s.mode;

  const alwaysOn = decideKpa(alwaysOnParams(p), s.alwaysOn, obs);
  const serverless = decideServerless(p, s.serverless, obs);
  const step = choice.mode === 'always-on' ? alwaysOn : serverless;
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
      measuredServiceTimeMs,
      alwaysOn: alwaysOn.state,
      serverless: serverless.state,
    },
  };
}
