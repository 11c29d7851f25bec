/**
 * Cases from the Kubernetes documentation ("Horizontal Pod Autoscaling", Algorithm details and
 * Configurable scaling behavior), worked by hand.
 */
import { describe, expect, it } from 'vitest';
import { observation } from '../../test/support/scaling.js';
import { decideScale, initialPolicyState } from './decide.js';
import type { PolicyState } from './decide.js';
import { hpaMetricReplicas } from './hpa.js';
import { compilePolicy } from './spec.js';
import type { ScalingObservation } from './types.js';

// Target 10 concurrent requests per replica, so a concurrency of 15 per replica is 150%.
const hpa = compilePolicy({ policy: 'hpa', targetConcurrency: 10, maxReplicas: 100 });

/** Feeds observations in order, carrying the state; returns the desired counts. */
function run(p: ReturnType<typeof compilePolicy>, observations: readonly ScalingObservation[]): number[] {
  let state: PolicyState = initialPolicyState(p);
  return observations.map((obs) => {
    const out = decideScale(p, state, obs);
    state = out.state;
    return out.decision.desiredReplicas;
  });
}

describe('hpa: desired = ceil(current × metric / target)', () => {
  it('scales 2 replicas at 150% of target to 3', () => {
    expect(run(hpa, [observation({ nowMs: 1000, desiredReplicas: 2, concurrency: 30 })])).toEqual([3]);
  });

  it('does nothing within the 0.1 tolerance, and acts just outside it', () => {
    expect(run(hpa, [observation({ nowMs: 1000, desiredReplicas: 2, concurrency: 21.8 })])).toEqual([2]); // ratio 1.09
    expect(run(hpa, [observation({ nowMs: 1000, desiredReplicas: 2, concurrency: 18.2 })])).toEqual([2]); // ratio 0.91
    expect(run(hpa, [observation({ nowMs: 1000, desiredReplicas: 2, concurrency: 24 })])).toEqual([3]); // ratio 1.2 → ceil(2.4)
    expect(run(hpa, [observation({ nowMs: 1000, desiredReplicas: 10, concurrency: 50 })])).toEqual([5]); // ratio 0.5
  });

  it('scales on CPU utilization when asked', () => {
    const cpu = compilePolicy({ policy: 'hpa', metric: 'cpu', targetCpuUtilization: 0.5, maxReplicas: 100 });
    // 4 replicas at 90% against a 50% target: ceil(4 × 1.8) = 8, within the +100% limit.
    expect(run(cpu, [observation({ nowMs: 1000, desiredReplicas: 4, cpuUtilization: 0.9 })])).toEqual([8]);
  });

  it('averages the metric over the sync period and decides once per period', () => {
    const load = (nowMs: number): number => (nowMs <= 7000 ? 40 : 20); // ratio 2 for 7 ticks, then 1 for 8
    const observations = Array.from({ length: 16 }, (_, i) => observation({ nowMs: i * 1000, desiredReplicas: 2, concurrency: i === 0 ? 20 : load(i * 1000) }));
    const desired = run(hpa, observations);
    // Between syncs the count stays; at 15 s the mean ratio is (7×2 + 8×1)/15 = 1.467 → ceil(2 × 1.467) = 3.
    expect(desired.slice(0, 15)).toEqual(Array(15).fill(2));
    expect(desired[15]).toBe(3);
  });
});

describe('hpa: not-ready replicas count as 0% on a scale-up', () => {
  // Counting a starting replica at 0% leaves ceil(ratio × ready) unchanged; what it changes is the
  // tolerance and direction checks, which run on the recomputed ratio.
  it('holds when the recomputed ratio is within tolerance', () => {
    // 10 ready at 115%, 1 starting: (1.15 × 10) / 11 = 1.045 → stay at 11 (ready alone: ceil(11.5) = 12).
    const obs = observation({ nowMs: 1000, desiredReplicas: 11, readyReplicas: 10, startingReplicas: 1, concurrency: 115 });
    expect(run(hpa, [obs])).toEqual([11]);
    expect(run(hpa, [{ ...obs, startingReplicas: 0 }])).toEqual([12]);
  });

  it('never scales down an overloaded deployment because replicas are still starting', () => {
    // 1 ready at 120%, 2 starting: (1.2 × 1) / 3 = 0.4 flips the direction → stay at 3
    // (the ready replica alone would say ceil(1.2) = 2, a scale-down under overload).
    expect(run(hpa, [observation({ nowMs: 1000, desiredReplicas: 3, readyReplicas: 1, startingReplicas: 2, concurrency: 12 })])).toEqual([3]);
    const calc = hpaMetricReplicas(3, 1, 2, 12, 10, 0.1);
    expect(calc.recomputedRatio).toBeCloseTo(0.4, 12);
  });

  it('still scales up when the load is high enough with starting replicas at 0%', () => {
    // 2 ready at 300%, 1 starting: (3 × 2) / 3 = 2.0 → ceil(2 × 3) = 6.
    expect(run(hpa, [observation({ nowMs: 1000, desiredReplicas: 3, readyReplicas: 2, startingReplicas: 1, concurrency: 60 })])).toEqual([6]);
  });
});

describe('hpa: default scaling behavior', () => {
  it('limits a scale-up to the larger of +4 replicas and +100% per 15 s', () => {
    const sync = compilePolicy({ policy: 'hpa', targetConcurrency: 10, maxReplicas: 100, syncPeriodMs: 1000 });
    const surge = (nowMs: number, replicas: number): ScalingObservation => observation({ nowMs, desiredReplicas: replicas, concurrency: 1000 });
    // 2 → max(2 + 4, 2 × 2) = 6; one second later the period still counts the +4, so 6 stays 6;
    // 15 s after the first scale-up it has left the period: max(6 + 4, 12) = 12; then +100% wins.
    expect(run(sync, [surge(0, 2), surge(1000, 6), surge(15_000, 6), surge(30_000, 12)])).toEqual([6, 6, 12, 24]);
  });

  it('keeps the highest recommendation of the last 300 s before scaling down', () => {
    const observations = [observation({ nowMs: 0, desiredReplicas: 5, concurrency: 50 })]; // ratio 1: recommends 5
    for (let t = 15_000; t <= 300_000; t += 15_000) observations.push(observation({ nowMs: t, desiredReplicas: 5, concurrency: 10 })); // recommends 1
    const desired = run(hpa, observations);
    expect(desired.slice(0, -1)).toEqual(Array(20).fill(5)); // 0 … 285 s: the 5 from t=0 is in the window
    expect(desired.at(-1)).toBe(1); // at 300 s it has left the window (After(cutoff) is strict)
  });

  it('explains the decision', () => {
    const p = compilePolicy({ policy: 'hpa', targetConcurrency: 10 });
    const { decision } = decideScale(p, initialPolicyState(p), observation({ nowMs: 1000, desiredReplicas: 2, concurrency: 30 }));
    expect(decision).toMatchObject({ policy: 'hpa', desiredReplicas: 3, inputs: { metric: 'concurrency', metricValue: 15, target: 10, usageRatio: 1.5 } });
    expect(decision.reason).toMatch(/concurrency 15 per ready replica vs target 10 \(ratio 1.5\): recommends 3/);
  });
});
