import { describe, expect, it } from 'vitest';
import type { DesiredReplica } from './protocol.js';
import { planReconcile } from './reconcile.js';

const kind = (deployment: string, revision: number, count: number): DesiredReplica => ({
  deployment,
  revision,
  model: 'm',
  version: '1',
  sha256: 'a'.repeat(64),
  signature: { inputs: [], outputs: [] },
  runtimeOptions: {},
  count,
});

describe('agent reconciliation plan', () => {
  it('starts what is missing and leaves what matches alone', () => {
    const plan = planReconcile([kind('a', 1, 2), kind('b', 3, 1)], [{ id: 'a1', deployment: 'a', revision: 1, ready: true }]);
    expect(plan.start.map((s) => [s.replica.deployment, s.count])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect(plan.stop).toEqual([]);
  });

  it('stops the old revision once the new one serves, and the newest surplus of a wanted one', () => {
    const plan = planReconcile(
      [kind('a', 2, 1), kind('b', 1, 1)],
      [
        { id: 'a-old', deployment: 'a', revision: 1, ready: true },
        { id: 'a-new', deployment: 'a', revision: 2, ready: true },
        { id: 'b1', deployment: 'b', revision: 1, ready: true },
        { id: 'b2', deployment: 'b', revision: 1, ready: true },
      ],
    );
    expect(plan.start).toEqual([]);
    expect(plan.stop).toEqual(['b2', 'a-old']);
  });

  it('keeps the old revision serving while no desired revision of its deployment serves (a new one starting or failing)', () => {
    const plan = planReconcile([kind('a', 2, 1)], [{ id: 'a-old', deployment: 'a', revision: 1, ready: true }]);
    expect(plan.start.map((s) => [s.replica.revision, s.count])).toEqual([[2, 1]]);
    expect(plan.stop).toEqual([]);
    expect(plan.kept).toEqual(['a']);
    const starting = planReconcile([kind('a', 2, 1)], [
      { id: 'a-old', deployment: 'a', revision: 1, ready: true },
      { id: 'a-new', deployment: 'a', revision: 2, ready: false },
    ]);
    expect(starting.stop).toEqual([]);
  });

  it('stops everything when nothing is desired', () => {
    expect(planReconcile([], [{ id: 'x', deployment: 'a', revision: 1, ready: true }])).toEqual({ start: [], stop: ['x'], kept: [] });
  });
});
