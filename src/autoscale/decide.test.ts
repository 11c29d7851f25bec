import { describe, expect, it } from 'vitest';
import { observation } from '../../test/support/scaling.js';
import { decideScale, initialPolicyState } from './decide.js';
import type { PolicyState } from './decide.js';
import { compilePolicy } from './spec.js';
import type { CompiledPolicy } from './spec.js';
import { POLICY_NAMES } from './types.js';
import type { ScalingDecision } from './types.js';

/** Deep-freezes a value, so a policy that mutated its input state would throw (ES modules are strict). */
function frozen<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

/** Bursty traffic with long gaps and a ramp: every policy goes through scale-up, scale-down and idle. */
function load(t: number): { arrivals: number; concurrency: number } {
  const s = t / 1000;
  if (s % 300 > 200) return { arrivals: 0, concurrency: 0 };
  const rate = s % 300 < 20 ? 400 : 5 + (s % 300);
  return { arrivals: Math.round(rate), concurrency: rate * 0.5 };
}

/** Runs a closed loop; with `roundTrip`, the state is serialised to JSON and frozen between ticks. */
function run(p: CompiledPolicy, roundTrip: boolean): ScalingDecision[] {
  let state: PolicyState = initialPolicyState(p);
  let replicas = p.minReplicas;
  let lastArrivalMs: number | undefined;
  const decisions: ScalingDecision[] = [];
  for (let t = 1000; t <= 900_000; t += 1000) {
    const l = load(t);
    if (l.arrivals > 0) lastArrivalMs = t;
    const obs = observation({ nowMs: t, desiredReplicas: replicas, ...l, buffered: replicas === 0 ? Math.ceil(l.concurrency) : 0, latencyP50Ms: 40, lastArrivalMs });
    const out = decideScale(p, roundTrip ? frozen(JSON.parse(JSON.stringify(state)) as PolicyState) : state, obs);
    state = out.state;
    replicas = out.decision.desiredReplicas;
    decisions.push(out.decision);
  }
  return decisions;
}

describe('decideScale', () => {
  it.each(POLICY_NAMES.map((policy) => [policy]))('%s is pure over JSON state and stays within its bounds', (policy) => {
    const p = compilePolicy({ policy, maxReplicas: 8, ...(policy === 'fixed' ? { replicas: 3, maxReplicas: 3 } : {}) });
    const plain = run(p, false);
    expect(run(p, true)).toEqual(plain);
    const counts = plain.map((d) => d.desiredReplicas);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(p.minReplicas);
    expect(Math.max(...counts)).toBeLessThanOrEqual(p.maxReplicas);
    if (policy !== 'fixed') expect(counts.some((c) => c !== p.minReplicas)).toBe(true); // it did scale
    for (const d of plain) {
      expect(d.policy).toBe(policy);
      expect(d.reason.length).toBeGreaterThan(10);
      for (const v of Object.values(d.inputs)) expect(typeof v === 'number' ? Number.isFinite(v) : ['string', 'boolean'].includes(typeof v)).toBe(true);
    }
    expect(plain.every((d) => (d.mode !== undefined) === (policy === 'auto'))).toBe(true);
  });

  it('starts a changed policy from its own initial state', () => {
    const kpa = compilePolicy({ policy: 'kpa' });
    const hpa = compilePolicy({ policy: 'hpa', targetConcurrency: 10 });
    const { state } = decideScale(kpa, initialPolicyState(kpa), observation({ nowMs: 1000, concurrency: 500, arrivals: 10 }));
    const out = decideScale(hpa, state, observation({ nowMs: 2000, desiredReplicas: 2, concurrency: 30 }));
    expect(out.decision.desiredReplicas).toBe(3);
    expect(out.state.policy).toBe('hpa');
  });

  it('clamps to maxReplicas and says so', () => {
    const p = compilePolicy({ policy: 'serverless', maxReplicas: 2 });
    const { decision } = decideScale(p, initialPolicyState(p), observation({ nowMs: 1000, concurrency: 700, arrivals: 100 }));
    expect(decision.desiredReplicas).toBe(2);
    expect(decision.reason).toMatch(/clamped to 2 by \[minReplicas 0, maxReplicas 2\]/);
  });
});
