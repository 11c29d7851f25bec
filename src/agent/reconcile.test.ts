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
    const plan = planReconcile([kind('a', 1, 2), kind('b', 3, 1)], [{ id: 'a1', deployment: 'a', revision: 1 }]);
    expect(plan.start.map((s) => [s.replica.deployment, s.count])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect(plan.stop).toEqual([]);
  });

  it('stops replicas of revisions no longer wanted and the newest surplus of a wanted one', () => {
    const plan = planReconcile(
      [kind('a', 2, 1), kind('b', 1, 1)],
      [
        { id: 'a-old', deployment: 'a', revision: 1 },
        { id: 'b1', deployment: 'b', revision: 1 },
        { id: 'b2', deployment: 'b', revision: 1 },
      ],
    );
    expect(plan.start.map((s) => [s.replica.deployment, s.replica.revision, s.count])).toEqual([['a', 2, 1]]);
    expect(plan.stop).toEqual(['b2', 'a-old']);
  });

  it('stops everything when nothing is desired', () => {
    expect(planReconcile([], [{ id: 'x', deployment: 'a', revision: 1 }])).toEqual({ start: [], stop: ['x'] });
  });
});
