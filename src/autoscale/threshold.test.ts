import { describe, expect, it } from 'vitest';
import { observation, runPolicy, tickAt } from '../../test/support/scaling.js';
import { decideScale, initialPolicyState } from './decide.js';
import { compilePolicy } from './spec.js';
import type { CompiledThresholdPolicy } from './spec.js';
import { thresholdLevel } from './threshold.js';

// T1 = 10, T2 = 50 req/s; U0 = 1, U1 = 2, U2 = 4 replicas.
const threshold = compilePolicy({ policy: 'threshold' }) as CompiledThresholdPolicy;

describe('threshold (equation 2)', () => {
  it('steps at T1 and T2, with each threshold in the band below it', () => {
    expect(thresholdLevel(threshold, 0).replicas).toBe(1);
    expect(thresholdLevel(threshold, 10).replicas).toBe(1); // D <= T1
    expect(thresholdLevel(threshold, 10.01).replicas).toBe(2);
    expect(thresholdLevel(threshold, 50).replicas).toBe(2); // T1 < D <= T2
    expect(thresholdLevel(threshold, 50.01).replicas).toBe(4); // D > T2
  });

  it('reads demand as the request rate averaged over the demand window', () => {
    // 20 req/s for 30 s, then a single tick of 100: (29 × 20 + 100) / 30 = 22.67 req/s, still U1.
    const ticks = runPolicy(threshold, (t) => ({ arrivals: t === 31_000 ? 100 : 20 }), 31_000);
    expect(tickAt(ticks, 30_000).decision).toMatchObject({ desiredReplicas: 2, inputs: { demandRps: 20, level: 1 } });
    expect(tickAt(ticks, 31_000).decision.inputs['demandRps']).toBeCloseTo(22.67, 2);
    expect(tickAt(ticks, 31_000).decision.desiredReplicas).toBe(2);
    // Sustained 60 req/s crosses T2.
    const high = runPolicy(threshold, () => ({ arrivals: 60 }), 30_000);
    expect(tickAt(high, 30_000).decision.desiredReplicas).toBe(4);
  });

  it('clamps a level to maxReplicas, and starts a replica for buffered requests at U0 = 0', () => {
    const capped = compilePolicy({ policy: 'threshold', maxReplicas: 3 });
    expect(tickAt(runPolicy(capped, () => ({ arrivals: 60 }), 30_000), 30_000).decision.desiredReplicas).toBe(3);
    const zero = compilePolicy({ policy: 'threshold', u0Replicas: 0 });
    const idle = decideScale(zero, initialPolicyState(zero), observation({ nowMs: 1000, desiredReplicas: 0 }));
    expect(idle.decision.desiredReplicas).toBe(0);
    const waiting = decideScale(zero, initialPolicyState(zero), observation({ nowMs: 1000, desiredReplicas: 0, buffered: 1, arrivals: 1 }));
    expect(waiting.decision.desiredReplicas).toBe(1);
    expect(waiting.decision.reason).toMatch(/wait in the activator/);
  });
});
