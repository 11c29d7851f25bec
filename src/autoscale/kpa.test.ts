/**
 * Cases from Knative's documented KPA behaviour (https://knative.dev/docs/serving/autoscaling/,
 * kpa-specific and scale-to-zero pages, config-autoscaler defaults), worked by hand.
 */
import { describe, expect, it } from 'vitest';
import { observation, runPolicy, tickAt } from '../../test/support/scaling.js';
import { decideScale, initialPolicyState } from './decide.js';
import type { PolicyState } from './decide.js';
import { compilePolicy } from './spec.js';

const kpa = compilePolicy({ policy: 'kpa', maxReplicas: 100 }); // target 100 × 0.7 = 70 per replica

describe('kpa: stable mode', () => {
  it('asks for ceil(stable-window concurrency / 70)', () => {
    const ticks = runPolicy(kpa, () => ({ arrivals: 10, concurrency: 140 }), 60_000, { initialReplicas: 2 });
    expect(tickAt(ticks, 60_000).decision).toMatchObject({ desiredReplicas: 2, inputs: { stableConcurrency: 140, targetConcurrency: 70, panicking: false } });
    const more = runPolicy(kpa, () => ({ arrivals: 10, concurrency: 141 }), 60_000, { initialReplicas: 2 });
    expect(tickAt(more, 60_000).decision.desiredReplicas).toBe(3);
  });

  it('scales down by at most 2x per decision', () => {
    // Open loop: 8 ready replicas, the stable window says 1; Knative keeps floor(8 / 2) = 4.
    let state: PolicyState = initialPolicyState(kpa);
    let desired = 0;
    for (let t = 1000; t <= 60_000; t += 1000) {
      const out = decideScale(kpa, state, observation({ nowMs: t, desiredReplicas: 8, concurrency: 1, arrivals: 1 }));
      state = out.state;
      desired = out.decision.desiredReplicas;
    }
    expect(desired).toBe(4);
    const { decision } = decideScale(kpa, state, observation({ nowMs: 61_000, desiredReplicas: 3, concurrency: 1, arrivals: 1 }));
    expect(decision.desiredReplicas).toBe(1); // floor(3 / 2) = 1
  });
});

describe('kpa: panic mode', () => {
  // One replica at its target for a minute, then a burst of 700 for 10 s, then back to 70.
  const load = (t: number): { arrivals: number; concurrency: number } => ({ arrivals: 10, concurrency: t > 60_000 && t <= 70_000 ? 700 : 70 });
  const ticks = runPolicy(kpa, load, 200_000, { initialReplicas: 1 });

  it('enters panic when the panic window asks for 2x the ready replicas', () => {
    // First burst tick: panic window (6 s) mean = (5 × 70 + 700) / 6 = 175 → 3 pods for 1 ready: 3 >= 2 × 1.
    expect(tickAt(ticks, 60_000).decision.inputs['panicking']).toBe(false);
    expect(tickAt(ticks, 61_000).decision).toMatchObject({ desiredReplicas: 3, inputs: { panicking: true, desiredPanic: 3 } });
  });

  it('never scales down while panicking, and leaves panic a full stable window after the last crossing', () => {
    const panicking = ticks.filter((t) => t.decision.inputs['panicking'] === true);
    const counts = panicking.map((t) => t.decision.desiredReplicas);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1] ?? 0);
    const lastCrossing = Math.max(...panicking.filter((t) => t.decision.inputs['desiredPanic'] as number >= 2 * Math.max(1, t.observation.readyReplicas)).map((t) => t.nowMs));
    expect(tickAt(ticks, lastCrossing + 60_000).decision.inputs['panicking']).toBe(true);
    // panicTime + stable window < now: out of panic, 10 ready replicas fall by at most 2x, to 5.
    expect(tickAt(ticks, lastCrossing + 61_000).decision).toMatchObject({ desiredReplicas: 5, inputs: { panicking: false, maxScaleDown: 5 } });
    expect(tickAt(ticks, lastCrossing + 60_000).decision.desiredReplicas).toBe(10);
    // Back in stable mode the count falls towards the 1 replica that 70 concurrent requests need.
    expect(tickAt(ticks, 200_000).decision.desiredReplicas).toBe(1);
  });
});

describe('kpa: scale to zero and back', () => {
  it('removes the last replica only after a stable window without traffic plus the 30 s grace', () => {
    const ticks = runPolicy(kpa, (t) => (t <= 10_000 ? { arrivals: 5, concurrency: 5 } : {}), 110_000, { initialReplicas: 1 });
    expect(tickAt(ticks, 10_000).decision.desiredReplicas).toBe(1);
    // From 71 s the stable window has no traffic left (Knative's desired count is 0) but the grace holds one.
    expect(tickAt(ticks, 75_000).decision.inputs['desiredStable']).toBe(0);
    expect(tickAt(ticks, 99_000).decision.desiredReplicas).toBe(1);
    expect(tickAt(ticks, 100_000).decision.desiredReplicas).toBe(0); // idle 90 s = 60 s + 30 s
    expect(tickAt(ticks, 100_000).decision.reason).toMatch(/scale to zero/);
  });

  it('keeps the last replica when scale to zero is off', () => {
    const off = compilePolicy({ policy: 'kpa', enableScaleToZero: false });
    const ticks = runPolicy(off, () => ({}), 200_000, { initialReplicas: 1 });
    expect(ticks.every((t) => t.decision.desiredReplicas === 1)).toBe(true);
  });

  it('activates from zero the tick requests are buffered, panicking for a burst', () => {
    const from = (buffered: number): ReturnType<typeof decideScale>['decision'] =>
      decideScale(kpa, initialPolicyState(kpa), observation({ nowMs: 1000, desiredReplicas: 0, buffered, concurrency: buffered, arrivals: buffered, lastArrivalMs: 1000 })).decision;
    expect(from(1).desiredReplicas).toBe(1);
    // 300 waiting: ceil(300 / 70) = 5 pods for max(1, 0 ready) → 5 >= 2: panic.
    expect(from(300)).toMatchObject({ desiredReplicas: 5, inputs: { panicking: true } });
  });

  it('stays at zero without traffic', () => {
    const ticks = runPolicy(kpa, () => ({}), 30_000, { initialReplicas: 0 });
    expect(ticks.every((t) => t.decision.desiredReplicas === 0)).toBe(true);
  });
});
