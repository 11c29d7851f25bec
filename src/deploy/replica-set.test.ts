import { describe, expect, it } from 'vitest';
import { chooseReplica, mergeTicks, planReconcile } from './replica-set.js';
import type { RoutingCandidate } from './replica-set.js';

/** A member as routing sees it. */
function member(id: string, inFlight: number, options: { generation?: number; phase?: RoutingCandidate['phase'] } = {}): RoutingCandidate & { id: string } {
  return { id, phase: options.phase ?? 'ready', generation: options.generation ?? 1, replica: { inFlight } };
}

describe('routing: least outstanding requests', () => {
  it('picks the ready replica with the fewest requests in flight', () => {
    expect(chooseReplica([member('a', 5), member('b', 2), member('c', 3)], 1)?.id).toBe('b');
    expect(chooseReplica([member('a', 2), member('b', 2)], 1)?.id).toBe('a');
  });

  it('prefers the current generation, and serves from an older one only while no current replica is ready', () => {
    const old = member('old', 0, { generation: 0 });
    expect(chooseReplica([old, member('new', 9)], 1)?.id).toBe('new');
    expect(chooseReplica([old, member('new', 0, { phase: 'starting' })], 1)?.id).toBe('old');
  });

  it('never routes to a draining or starting replica', () => {
    expect(chooseReplica([member('d', 0, { phase: 'draining' }), member('s', 0, { phase: 'starting' })], 1)).toBeUndefined();
    expect(chooseReplica([], 1)).toBeUndefined();
  });
});

describe('reconciliation plan', () => {
  const ids = (plan: { retire: readonly { id: string }[] }): string[] => plan.retire.map((m) => m.id);

  it('starts what is missing, counting replicas already starting', () => {
    expect(planReconcile([member('a', 0)], 1, 3, 0)).toEqual({ start: 2, retire: [] });
    expect(planReconcile([member('a', 0)], 1, 3, 2)).toEqual({ start: 0, retire: [] });
  });

  it('drains the surplus least loaded first', () => {
    const plan = planReconcile([member('a', 4), member('b', 1), member('c', 2)], 1, 1, 0);
    expect(plan.start).toBe(0);
    expect(ids(plan)).toEqual(['b', 'c']);
  });

  it('drains an older generation only once the current one has enough ready', () => {
    const old = member('old', 3, { generation: 0 });
    expect(ids(planReconcile([old, member('new', 0, { phase: 'starting' })], 1, 1, 1))).toEqual([]);
    expect(ids(planReconcile([old, member('new', 0)], 1, 1, 0))).toEqual(['old']);
  });
});

describe('mergeTicks', () => {
  it('adds counts and cost, keeps the worse p99 and the later time', () => {
    const a = { nowMs: 1000, requests: 10, errors: 1, p99Ms: 40, replicaLosses: 0, costUsd: 0.5 };
    const b = { nowMs: 1200, requests: 5, errors: 2, p99Ms: 90, replicaLosses: 1, costUsd: 0.25 };
    expect(mergeTicks(a, b)).toEqual({ nowMs: 1200, requests: 15, errors: 3, p99Ms: 90, replicaLosses: 1, costUsd: 0.75 });
    expect(mergeTicks({ ...a, p99Ms: null }, b).p99Ms).toBe(90);
    expect(mergeTicks(a, { ...b, p99Ms: null }).p99Ms).toBe(40);
  });
});
