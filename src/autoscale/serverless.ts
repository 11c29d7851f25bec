/**
 * `serverless`: scale to zero when idle, from zero as soon as a request waits, and out with
 * concurrency. While no replica is ready, the gateway's activator holds requests in a bounded
 * buffer (Knative's activator, KEDA's and Ray Serve's scale-from-zero); this policy asks for a
 * replica the first tick anything is buffered.
 */
import type { CompiledServerlessPolicy } from './spec.js';
import { shown } from './step.js';
import type { PolicyStep } from './step.js';
import type { ScalingObservation } from './types.js';
import { pushSample, windowValues } from './window.js';
import type { Sample } from './window.js';

/** State of `serverless`: recent replica needs (for the scale-down delay) and when it was first seen. */
export interface ServerlessState {
  readonly policy: 'serverless';
  readonly needs: readonly Sample[];
  readonly firstSeenMs: number | null;
}

/** Fresh `serverless` state. */
export function serverlessInitialState(): ServerlessState {
  return { policy: 'serverless', needs: [], firstSeenMs: null };
}

/** The parameters `serverless` runs with (also what `auto` runs in serverless mode). */
export type ServerlessParams = Pick<CompiledServerlessPolicy, 'targetConcurrency' | 'scaleToZeroGraceMs' | 'scaleDownDelayMs'>;

/**
 * One `serverless` decision: ceil(concurrency / targetConcurrency), at least 1 while anything is
 * buffered; a lower count waits `scaleDownDelayMs`; the last replica goes once nothing arrived
 * and nothing was in flight for `scaleToZeroGraceMs`.
 */
export function decideServerless(p: ServerlessParams, s: ServerlessState, obs: ScalingObservation): PolicyStep<ServerlessState> {
  const firstSeenMs = s.firstSeenMs ?? obs.nowMs - obs.intervalMs;
  const byConcurrency = Math.ceil(obs.concurrency / p.targetConcurrency);
  const need = obs.buffered > 0 ? Math.max(1, byConcurrency) : byConcurrency;
  const needs = pushSample(s.needs, { endMs: obs.nowMs, spanMs: obs.intervalMs, value: need }, p.scaleDownDelayMs);
  const held = Math.max(need, ...windowValues(needs, obs.nowMs, p.scaleDownDelayMs));
  const idleForMs = obs.nowMs - (obs.lastArrivalMs ?? firstSeenMs);
  const idle = obs.concurrency === 0 && obs.buffered === 0 && idleForMs >= p.scaleToZeroGraceMs;
  const state: ServerlessState = { policy: 'serverless', needs, firstSeenMs };
  const inputs = {
    concurrency: shown(obs.concurrency),
    buffered: obs.buffered,
    targetConcurrency: p.targetConcurrency,
    need,
    heldForDelay: held,
    idleForMs: shown(idleForMs),
    scaleToZeroGraceMs: p.scaleToZeroGraceMs,
  };
  let replicas: number;
  let reason: string;
  if (held > 0) {
    replicas = held;
    reason =
      obs.buffered > 0 && obs.readyReplicas === 0
        ? `${obs.buffered} requests wait with no ready replica: start ${held} now`
        : held > need
          ? `need fell to ${need}, but ${held} replicas were needed within the last ${p.scaleDownDelayMs} ms`
          : `concurrency ${shown(obs.concurrency)} / target ${p.targetConcurrency} per replica needs ${held}`;
  } else if (idle) {
    replicas = 0;
    reason = `idle for ${shown(idleForMs)} ms (grace ${p.scaleToZeroGraceMs} ms): scale to zero`;
  } else if (obs.desiredReplicas > 0) {
    replicas = 1;
    reason = `no load, but idle only ${shown(idleForMs)} of ${p.scaleToZeroGraceMs} ms: keep one warm replica`;
  } else {
    replicas = 0;
    reason = 'no traffic: stay at zero';
  }
  return { replicas, reason, inputs, state };
}
