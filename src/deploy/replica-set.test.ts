import { describe, expect, it } from 'vitest';
import { chooseReplica } from './replica-set.js';
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
