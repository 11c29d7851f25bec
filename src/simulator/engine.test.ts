/**
 * The simulator's engine on hand-worked cases: determinism, queueing figures a fixed deployment
 * must reproduce (utilization λ·S/N, Little's law with the Pollaczek–Khinchine mean wait),
 * dynamic batching, scale to zero with the activator's buffer, its bound and timeout, and drain.
 */
import { describe, expect, it } from 'vitest';
import type { ScalingObservation } from '../autoscale/types.js';
import { ContinuumError } from '../errors.js';
import { simulate, type SimulationOptions, type SimulationPolicy, type UsageLedger } from './engine.js';
import { batchServiceTimes, fitServiceProfile, type ServiceProfile } from './profile.js';
import { generateArrivals } from './workload.js';

/** A fixed deployment of `n` replicas. */
function fixed(n: number): SimulationPolicy<null> {
  return {
    name: 'fixed',
    initialState: null,
    decide: (state) => ({ decision: { desiredReplicas: n, policy: 'fixed', reason: `always ${n}`, inputs: {} }, state }),
  };
}

/**
 * One replica while requests wait or the last arrival is younger than `graceMs`, else none; it
 * remembers every observation it was given.
 */
function scaleToZero(graceMs: number): SimulationPolicy<readonly ScalingObservation[]> {
  return {
    name: 'serverless',
    initialState: [],
    decide: (seen, obs) => {
      const busy = obs.buffered > 0 || (obs.lastArrivalMs !== undefined && obs.nowMs - obs.lastArrivalMs < graceMs);
      return { decision: { desiredReplicas: busy ? 1 : 0, policy: 'serverless', reason: busy ? 'traffic' : 'idle', inputs: {} }, state: [...seen, obs] };
    },
  };
}

/** $1 per replica-hour always on; serverless $0.20 per million requests. */
const costOf = (usage: UsageLedger): number => usage['always-on'].replicaSeconds / 3600 + usage.serverless.invocations * 2e-7;

function profile(batchLatencyMs: Record<number, number>, extra: Partial<ServiceProfile> = {}): ServiceProfile {
  const sizes = Object.keys(batchLatencyMs).map(Number);
  return { model: 'm', instances: 1, maxBatchSize: Math.max(...sizes), batchLatencyMs, coldStartMs: [500], memoryGb: 1, vcpu: 1, ...extra };
}

function run<S>(opts: Omit<SimulationOptions<S>, 'costOf' | 'sloMs'> & { sloMs?: number }): ReturnType<typeof simulate> {
  return simulate({ costOf, sloMs: 100, ...opts });
}

function expectCode(fn: () => unknown, code: string): ContinuumError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ContinuumError);
    expect((err as ContinuumError).code).toBe(code);
    return err as ContinuumError;
  }
  throw new Error(`expected ${code}`);
}

describe('simulate', () => {
  it('gives the same result for the same seed and a different one for another seed', () => {
    const arrivals = generateArrivals({ profile: 'sporadic', durationMs: 600_000, onRatePerS: 5, meanOnMs: 5000, meanOffMs: 40_000 }, 7);
    const options = { arrivals, profile: profile({ 1: 4, 8: 10 }, { coldStartMs: [200, 450, 900, 1600] }), policy: scaleToZero(5000), sloMs: 500 };
    const a = run({ ...options, seed: 1 });
    expect(run({ ...options, seed: 1 })).toEqual(a);
    expect(a.coldStarts).toBeGreaterThan(3);
    const b = run({ ...options, seed: 2 });
    expect(b).not.toEqual(a);
    expect(b.requests).toBe(a.requests);
  });

  it('reproduces utilization λ·S/N and the M/D/1 mean latency for a fixed deployment', () => {
    // λ = 100/s, S = 5 ms, one replica: ρ = 0.5; Pollaczek–Khinchine for deterministic service:
    // Wq = ρS / (2(1 − ρ)) = 2.5 ms, so by Little's law the mean concurrency is λ(S + Wq) = 0.75.
    const arrivals = generateArrivals({ profile: 'steady', durationMs: 600_000, ratePerS: 100 }, 11);
    const oneReplica = run({ arrivals, profile: profile({ 1: 5 }), policy: fixed(1) });
    expect(oneReplica.meanUtilization).toBeCloseTo((arrivals.length / 600) * 0.005, 2);
    const meanConcurrency = oneReplica.timeline.slice(1).reduce((sum, r) => sum + r.concurrency, 0) / (oneReplica.timeline.length - 1);
    expect(meanConcurrency).toBeGreaterThan(0.75 * 0.95);
    expect(meanConcurrency).toBeLessThan(0.75 * 1.05);
    expect(oneReplica.latencyP50Ms).toBeGreaterThanOrEqual(5);

    // Four replicas, two executors each: ρ = 100 × 0.005 / 8; lightly loaded, all within the SLO.
    const four = run({ arrivals, profile: profile({ 1: 5 }, { instances: 2 }), policy: fixed(4), sloMs: 20 });
    expect(four.meanUtilization).toBeCloseTo((arrivals.length / 600) * 0.005 / 8, 3);
    expect(four.sloAttainment).toBe(1);
    expect(four.latencyP50Ms).toBeCloseTo(5, 9);
    expect(four.coldStarts).toBe(0);
    expect(four.replicaSeconds).toBeCloseTo(4 * (four.durationMs / 1000), 6);
    expect(four.costUsd).toBeCloseTo(four.replicaSeconds / 3600, 9);
    expect(four.usage.serverless).toEqual({ replicaSeconds: 0, invocations: 0, busySeconds: 0 });
  });

  it('batches like the runtime: a load one request at a time cannot carry is carried in batches', () => {
    // 1000/s against 2 ms per request: 2x over capacity alone; batches of 8 take 6 ms (1333/s).
    const arrivals = generateArrivals({ profile: 'steady', durationMs: 60_000, ratePerS: 1000 }, 3);
    const unbatched = run({ arrivals, profile: profile({ 1: 2 }), policy: fixed(1) });
    const batched = run({ arrivals, profile: profile({ 1: 2, 8: 6 }), policy: fixed(1) });
    expect(unbatched.latencyP99Ms).toBeGreaterThan(10_000);
    expect(batched.latencyP99Ms).toBeLessThan(100);
    expect(batched.sloAttainment).toBe(1);
    expect(batched.completed).toBe(arrivals.length);
    // Busy time per request falls below the unbatched 2 ms.
    expect(batched.usage['always-on'].busySeconds / batched.completed).toBeLessThan(0.0015);
  });

  it('scales to zero and answers the buffered requests after the cold start', () => {
    // Requests at 0, 100, 200 ms find no replica; the first pokes the autoscaler at once (the
    // activator's scale from zero), so a replica starts at 0 and is ready at 0.5 s, and runs the
    // three as one batch (3 interpolated between 5 and 12 ms: 7 ms). After the 10 s grace it is
    // removed; two requests two minutes later start a second cold start at their arrival.
    const policy = scaleToZero(10_000);
    let seen: readonly ScalingObservation[] = [];
    const recording: typeof policy = {
      ...policy,
      decide: (state, obs) => {
        const step = policy.decide(state, obs);
        seen = step.state;
        return step;
      },
    };
    const result = run({
      arrivals: Float64Array.from([0, 100, 200, 120_000, 120_050]),
      profile: profile({ 1: 5, 8: 12 }),
      policy: recording,
      sloMs: 500,
    });
    expect(result.failed).toBe(0);
    expect(result.completed).toBe(5);
    expect(result.coldStarts).toBe(2);
    // Latencies 307, 407, 456 (second burst: batch of 2, 6 ms), 506, 507 ms.
    expect(result.latencyP50Ms).toBe(456);
    expect(result.latencyP99Ms).toBe(507);
    expect(result.sloAttainment).toBe(3 / 5);
    expect(seen.filter((o) => o.nowMs === 0)[1]).toMatchObject({ buffered: 1, arrivals: 1, readyReplicas: 0, startingReplicas: 0 });
    expect(seen.find((o) => o.nowMs === 1000)).toMatchObject({ completions: 3, readyReplicas: 1, buffered: 0 });
    // The regular tick at 120 s comes before the arrival; the activation right after it sees the request.
    expect(seen.filter((o) => o.nowMs === 120_000)[1]).toMatchObject({ buffered: 1, readyReplicas: 0, desiredReplicas: 0 });
    // Replicas: 0 s → 11 s and 120 s → the end at 121 s.
    expect(result.replicaSeconds).toBe(12);
    expect(result.durationMs).toBe(121_000);
    expect(result.timeline.filter((r) => r.ready === 0).length).toBeGreaterThan(100);
    expect(result.usage.serverless.invocations).toBe(5);
    expect(result.costUsd).toBeCloseTo(5 * 2e-7, 12);
  });

  it('fails the requests beyond the activator bound and those that wait past its timeout (503)', () => {
    const arrivals = Float64Array.from([0, 1, 2, 3, 4]);
    const bounded = run({ arrivals, profile: profile({ 1: 5 }), policy: scaleToZero(10_000), activatorCapacity: 2, sloMs: 5000 });
    expect(bounded.failed).toBe(3);
    expect(bounded.completed).toBe(2);
    expect(bounded.sloAttainment).toBe(2 / 5);

    const timedOut = run({ arrivals, profile: profile({ 1: 5 }), policy: scaleToZero(10_000), activatorTimeoutMs: 400 });
    // Buffered at 0..4 ms, a replica is ready at 0.5 s: every request waited past 0.4 s.
    expect(timedOut.failed).toBe(5);
    expect(timedOut.completed).toBe(0);
    expect(timedOut.sloAttainment).toBe(0);
    expect(timedOut.latencyP50Ms).toBeNaN();

    const never = run({ arrivals, profile: profile({ 1: 5 }), policy: fixed(0), activatorTimeoutMs: 3000 });
    expect(never.failed).toBe(5);
    // Each arrival at zero pokes the autoscaler (the last at 4 ms); ticks follow at 1004, 2004, 3004 ms.
    expect(never.durationMs).toBe(3004);
  });

  it('drains a replica scaled away: it finishes what it holds before it stops', () => {
    // 100 requests in the first 100 ms, 20 ms each on one replica: 2 s of work; at 1 s the
    // policy asks for none, yet every request is answered and the replica stops at 2 s.
    const policy: SimulationPolicy<null> = {
      name: 'fixed',
      initialState: null,
      decide: (state, obs) => ({ decision: { desiredReplicas: obs.nowMs < 1000 ? 1 : 0, policy: 'fixed', reason: '', inputs: {} }, state }),
    };
    const result = run({ arrivals: Float64Array.from({ length: 100 }, (_, i) => i), profile: profile({ 1: 20 }), policy });
    expect(result.completed).toBe(100);
    expect(result.failed).toBe(0);
    // Request i is answered at 20(i + 1) ms; the 99th of 100 latencies is request 98's.
    expect(result.latencyP99Ms).toBe(20 * 99 - 98);
    expect(result.replicaSeconds).toBe(2);
    expect(result.durationMs).toBe(2000);
  });

  it('drains the surplus starting replicas before ready ones', () => {
    // 3 ready at 0; the tick at 1 s asks for 5 (two cold starts of 5 s), the tick at 2 s for 3.
    const policy: SimulationPolicy<null> = {
      name: 'hpa',
      initialState: null,
      decide: (state, obs) => ({ decision: { desiredReplicas: obs.nowMs === 1000 ? 5 : 3, policy: 'hpa', reason: '', inputs: {} }, state }),
    };
    const result = run({ arrivals: Float64Array.from([0, 4000]), profile: profile({ 1: 5 }, { coldStartMs: [5000] }), policy });
    expect(result.timeline.slice(0, 4).map((r) => [r.ready, r.starting])).toEqual([
      [0, 0],
      [3, 0],
      [3, 2],
      [3, 0],
    ]);
    expect(result.coldStarts).toBe(2);
  });

  it('refuses unsorted arrivals, invalid options and impossible decisions', () => {
    const p = profile({ 1: 5 });
    expectCode(() => run({ arrivals: Float64Array.from([5, 1]), profile: p, policy: fixed(1) }), 'CONTINUUM_ERR_BAD_REQUEST');
    expectCode(() => run({ arrivals: Float64Array.from([1]), profile: p, policy: fixed(1), sloMs: 0 }), 'CONTINUUM_ERR_BAD_REQUEST');
    expectCode(() => run({ arrivals: Float64Array.from([1]), profile: { ...p, instances: 0 }, policy: fixed(1) }), 'CONTINUUM_ERR_BAD_REQUEST');
    const err = expectCode(() => run({ arrivals: Float64Array.from([1]), profile: p, policy: fixed(1.5) }), 'CONTINUUM_ERR_INTERNAL');
    expect(err.message).toContain('1.5 replicas');
  });
});

describe('service profiles', () => {
  it('fits medians per batch size, never decreasing with the batch', () => {
    const fitted = fitServiceProfile(
      {
        model: 'mlp',
        instances: 2,
        maxBatchSize: 32,
        points: [
          { batchSize: 1, latencyMs: 1.0 },
          { batchSize: 1, latencyMs: 3.0 },
          { batchSize: 1, latencyMs: 1.2 },
          { batchSize: 4, latencyMs: 1.1 },
          { batchSize: 16, latencyMs: 2.0 },
          { batchSize: 32, latencyMs: 3.0 },
        ],
      },
      { memoryGb: 0.5, vcpu: 1 },
    );
    expect(fitted.batchLatencyMs).toEqual({ 1: 1.2, 4: 1.2, 16: 2.0, 32: 3.0 });
    expect(fitted.coldStartMs).toEqual([1000]);
    const table = batchServiceTimes(fitted);
    expect(table[1]).toBe(1.2);
    expect(table[8]).toBeCloseTo(1.2 + (0.8 * 4) / 12, 12);
    expect(table[24]).toBeCloseTo(2.5, 12);
    expect(table.length).toBe(33);
  });

  it('extrapolates beyond the largest measured size along the last segment', () => {
    const table = batchServiceTimes(profile({ 1: 2, 2: 3 }, { maxBatchSize: 4 }));
    expect(Array.from(table.subarray(1))).toEqual([2, 3, 4, 5]);
  });
});
