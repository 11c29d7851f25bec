import { describe, expect, it } from 'vitest';
import { runPolicy, tickAt } from '../../test/support/scaling.js';
import { compilePolicy } from './spec.js';

// 100 req/s per replica; 10 s buckets; provision for the next 2 minutes; no season.
const predictive = compilePolicy({ policy: 'predictive', targetRpsPerReplica: 100, seasonMs: 0, maxReplicas: 50 });
const replicasFor = (rps: number): number => Math.ceil(rps / 100);

describe('predictive', () => {
  it('provisions ahead of a ramp with the method its history favours', () => {
    const rate = (t: number): number => (2 * t) / 1000; // +2 req/s every second
    const ticks = runPolicy(predictive, (t) => ({ arrivals: rate(t), concurrency: rate(t) * 0.05 }), 600_000);
    const at = tickAt(ticks, 600_000).decision;
    expect(at.inputs['method']).toBe('holt');
    // Now 1200 req/s (12 replicas' worth); in 2 minutes 1440 req/s. It asks for what is coming.
    expect(at.desiredReplicas).toBeGreaterThanOrEqual(replicasFor(rate(660_000)));
    expect(at.desiredReplicas).toBeLessThanOrEqual(replicasFor(rate(720_000)) + 1);
    expect(at.desiredReplicas).toBeGreaterThan(replicasFor(rate(600_000)));
    expect(at.reason).toMatch(/holt forecast peaks at/);
  });

  it('never goes below what the current concurrency needs', () => {
    // Low, steady rate but slow requests: 5 req/s, 700 concurrent → ceil(700 / 70) = 10.
    const ticks = runPolicy(predictive, () => ({ arrivals: 5, concurrency: 700 }), 120_000);
    const at = tickAt(ticks, 120_000).decision;
    expect(at).toMatchObject({ desiredReplicas: 10, inputs: { provisionedAhead: 1, reactiveFloor: 10 } });
    expect(at.reason).toMatch(/reactive floor/);
  });

  it('keeps at least minReplicas when there is no traffic', () => {
    const ticks = runPolicy(predictive, () => ({}), 60_000, { initialReplicas: 1 });
    expect(ticks.every((t) => t.decision.desiredReplicas === 1)).toBe(true);
  });
});
