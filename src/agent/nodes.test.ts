import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeStore } from './nodes.js';
import type { DesiredReplica, NodeFacts } from './protocol.js';

const FACTS: NodeFacts = { tier: 'edge', site: 'plant-1', cores: 4, memoryBytes: 8 * 2 ** 30, speedScore: 100, pricePerHour: 0.02, powerWatts: 35, endpoint: 'http://10.0.0.2:8090' };
const NOW = 1_800_000_000_000;

const replica = (revision: number): DesiredReplica => ({
  deployment: 'press',
  revision,
  model: 'press',
  version: '1',
  sha256: 'b'.repeat(64),
  signature: { inputs: [], outputs: [] },
  runtimeOptions: {},
  count: 1,
});

describe('node store', () => {
  let dir: string;
  let store: NodeStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ctm-nodes-'));
    store = NodeStore.open(dir);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const join1 = (name = 'press-7'): string => store.join({ token: store.createJoinToken(60_000, NOW).token, name, facts: FACTS }, NOW).credential;

  it('exchanges a join token once for a credential that authenticates the node', () => {
    const { token } = store.createJoinToken(60_000, NOW);
    const { credential } = store.join({ token, name: 'press-7', facts: FACTS }, NOW);
    expect(store.authenticate(credential, NOW + 1)).toBe('press-7');
    expect(() => store.join({ token, name: 'press-8', facts: FACTS }, NOW)).toThrow(/already used/);
    expect(() => store.authenticate(`${credential}x`, NOW)).toThrow(/not valid/);
  });

  it('refuses an expired token and a name a live node holds', () => {
    const { token } = store.createJoinToken(1000, NOW);
    expect(() => store.join({ token, name: 'late', facts: FACTS }, NOW + 1000)).toThrow(/expired/);
    join1();
    expect(() => join1()).toThrow(expect.objectContaining({ code: 'CONTINUUM_ERR_NODE_EXISTS' }));
  });

  it('rotates in two phases: the old credential works until the new one is first used, then never again', () => {
    const old = join1();
    store.requestRotation('press-7');
    expect(store.rotationRequested('press-7')).toBe(true);
    const fresh = store.issueCredential('press-7');
    expect(store.authenticate(old, NOW)).toBe('press-7');
    expect(store.authenticate(fresh, NOW)).toBe('press-7');
    expect(store.rotationRequested('press-7')).toBe(false);
    expect(() => store.authenticate(old, NOW)).toThrow(expect.objectContaining({ code: 'CONTINUUM_ERR_UNAUTHENTICATED' }));
  });

  it('refuses a revoked node with 403, empties its desired state, and lets the name join again with a new token', () => {
    const credential = join1();
    store.setDesired('press-7', [replica(1)]);
    store.revoke('press-7', NOW);
    expect(() => store.authenticate(credential, NOW)).toThrow(expect.objectContaining({ code: 'CONTINUUM_ERR_NODE_REVOKED', httpStatus: 403 }));
    expect(store.desired('press-7').replicas).toEqual([]);
    expect(store.view('press-7', NOW).status).toBe('revoked');
    const again = join1();
    expect(store.authenticate(again, NOW)).toBe('press-7');
  });

  it('grows the generation only when the desired replicas change', () => {
    join1();
    expect(store.setDesired('press-7', [replica(1)]).generation).toBe(1);
    expect(store.setDesired('press-7', [replica(1)]).generation).toBe(1);
    expect(store.setDesired('press-7', [replica(2)]).generation).toBe(2);
  });

  it('takes telemetry idempotently and counts the sequence numbers it never saw', () => {
    join1();
    const record = (seq: number) => ({ seq, kind: 'event' as const, atMs: NOW + seq, body: { type: 'x' } });
    expect(store.acceptTelemetry('press-7', { records: [record(1), record(2)], droppedTotal: 0 })).toBe(2);
    // A retried upload: nothing counted twice.
    expect(store.acceptTelemetry('press-7', { records: [record(1), record(2), record(3)], droppedTotal: 0 })).toBe(3);
    // Records 4 and 5 were dropped by the agent's full spool.
    expect(store.acceptTelemetry('press-7', { records: [record(6)], droppedTotal: 2 })).toBe(6);
    expect(store.view('press-7', NOW).telemetry).toEqual({ lastSeq: 6, received: 4, missing: 2, droppedByAgent: 2 });
    expect(store.telemetry('press-7', 10).map((r) => r.seq)).toEqual([1, 2, 3, 6]);
  });
});
