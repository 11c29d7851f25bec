import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithoutPostgres, startPostgres, type TestPostgres } from '../../test/support/postgres.js';
import { decodeValues, encodeValues, PostgresSampleStore, SqliteSampleStore, type NewSample, type SampleStore } from './samples.js';

const at = (s: number): number => Date.UTC(2026, 0, 1, 0, 0, s);
const sample = (source: string, s: number, label: string | null = null, seq: number | null = s): NewSample => ({ source, topic: `plant/${source}`, ts: at(s), values: [s, s / 3, -s], label, seq });

/** The behaviour every sample store owes the ingest service and the export. */
function sampleStoreContract(open: () => Promise<SampleStore>): void {
  let store: SampleStore;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(() => store.close());

  it('returns a time window oldest first with the declared fields, labels and exact values', async () => {
    await store.declare('press', ['force', 'speed', 'temp']);
    for (const s of [3, 1, 2, 5, 4]) await store.append(sample('press', s, s % 2 === 0 ? 'ok' : 'error'));
    await store.append(sample('other', 2));
    const window = await store.window('press', { fromMs: at(2), toMs: at(5) });
    expect(window.fields).toEqual(['force', 'speed', 'temp']);
    expect(window.rows).toEqual([2, 3, 4].map((s) => ({ ts: at(s), values: [s, s / 3, -s], label: s % 2 === 0 ? 'ok' : 'error' })));
    expect((await store.window('press', { limit: 2 })).rows.map((r) => r.ts)).toEqual([at(1), at(2)]);
    expect(await store.window('nobody', {})).toEqual({ fields: [], rows: [] });
  });

  it('replays what lies above the saved watermark, and a new source starts past older rows', async () => {
    await store.declare('line', ['a', 'b', 'c']);
    expect(await store.after('line', await store.resumeAfter('line'), 100)).toEqual([]);
    const ids = [];
    for (const s of [1, 2, 3]) ids.push(await store.append(sample('line', s)));
    expect(ids[1]).toBeGreaterThan(ids[0] ?? Infinity);
    await store.saveResumeAfter('line', ids[0] ?? 0);
    const replay = await store.after('line', await store.resumeAfter('line'), 100);
    expect(replay.map((s) => [s.id, s.seq, s.topic, s.values])).toEqual([
      [ids[1], 2, 'plant/line', [2, 2 / 3, -2]],
      [ids[2], 3, 'plant/line', [3, 1, -3]],
    ]);
    expect(await store.after('line', ids[1] ?? 0, 100)).toHaveLength(1);
  });

  it('starts afresh when the fields change, and keeps the samples when they do not', async () => {
    await store.declare('line', ['a', 'b', 'c']);
    expect((await store.window('line', {})).rows).toHaveLength(3);
    await store.declare('line', ['x']);
    expect(await store.window('line', {})).toEqual({ fields: ['x'], rows: [] });
  });

  it('keeps at most maxRows, newest first, and nothing older than maxAgeMs', async () => {
    await store.declare('kept', ['a', 'b', 'c']);
    for (let s = 0; s < 10; s++) await store.append(sample('kept', s));
    expect(await store.applyRetention('kept', { maxRows: 6 }, at(100))).toBe(4);
    expect((await store.window('kept', {})).rows.map((r) => r.ts)).toEqual([4, 5, 6, 7, 8, 9].map(at));
    expect(await store.applyRetention('kept', { maxAgeMs: 3000 }, at(10))).toBe(3);
    expect((await store.window('kept', {})).rows.map((r) => r.ts)).toEqual([7, 8, 9].map(at));
    expect(await store.applyRetention('kept', { maxAgeMs: 3000, maxRows: 6 }, at(10))).toBe(0);
    expect((await store.window('press', {})).rows).toHaveLength(5);
  });
}

describe('sample values', () => {
  it('round-trip as float64 bytes', () => {
    const values = [0, -1.5, 1e-300, Math.PI, Number.MAX_VALUE];
    expect(encodeValues(values)).toHaveLength(40);
    expect(decodeValues(encodeValues(values))).toEqual(values);
  });
});

describe('samples in SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'continuum-samples-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  sampleStoreContract(async () => SqliteSampleStore.open(dir));

  it('keeps samples and the watermark across a reopen', async () => {
    const first = SqliteSampleStore.open(dir);
    await first.saveResumeAfter('press', 2);
    await first.close();
    const again = SqliteSampleStore.open(dir);
    expect(await again.resumeAfter('press')).toBe(2);
    expect((await again.window('press', {})).rows).toHaveLength(5);
    await again.close();
  });
});

describe.skipIf(skipWithoutPostgres())('samples in PostgreSQL 15', () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(() => server.stop());
  sampleStoreContract(() => PostgresSampleStore.open(server.url));
});
