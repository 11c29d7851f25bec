import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TelemetrySpool } from './spool.js';

describe('telemetry spool', () => {
  const dirs: string[] = [];
  const fresh = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'ctm-spool-'));
    dirs.push(dir);
    return join(dir, 'spool.db');
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('keeps records across a reopen and numbers them on from where it was, even after every record was acknowledged', () => {
    const path = fresh();
    const first = TelemetrySpool.open(path, 10);
    expect(first.append('event', 1, { type: 'a' })).toBe(1);
    expect(first.append('heartbeat', 2, {})).toBe(2);
    first.close();
    const again = TelemetrySpool.open(path, 10);
    expect(again.peek(10).map((r) => [r.seq, r.kind, r.body])).toEqual([
      [1, 'event', { type: 'a' }],
      [2, 'heartbeat', {}],
    ]);
    again.ack(2);
    expect(again.size).toBe(0);
    expect(again.append('event', 3, {})).toBe(3);
    expect(again.lastSeq).toBe(3);
    again.close();
  });

  it('discards the oldest records when full and counts every one it discarded', () => {
    const spool = TelemetrySpool.open(fresh(), 3);
    for (let i = 1; i <= 7; i++) spool.append('metrics', i, { i });
    expect(spool.size).toBe(3);
    expect(spool.droppedTotal).toBe(4);
    expect(spool.peek(10).map((r) => r.seq)).toEqual([5, 6, 7]);
    spool.close();
  });

  it('refuses a record larger than its limit', () => {
    const spool = TelemetrySpool.open(fresh(), 3);
    expect(() => spool.append('event', 1, { text: 'x'.repeat(20_000) })).toThrow(/exceeds the spool/);
    spool.close();
  });
});
