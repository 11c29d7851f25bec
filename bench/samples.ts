/**
 * What storing a sample costs the ingest path: appends to the SQLite sample store (the embedded
 * default, one autocommit row each, WAL with synchronous=NORMAL) and to a PostgreSQL server when
 * CONTINUUM_BENCH_POSTGRES_URL names one. Each round appends N samples of 4 and 32 fields; the
 * report gives the median per-append cost over the rounds and its spread.
 *
 *   node --import tsx bench/samples.ts [N=20000] [ROUNDS=5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresSampleStore, SqliteSampleStore, type NewSample, type SampleStore } from '../src/ingest/samples.js';

const n = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function measure(name: string, store: SampleStore, append: (s: NewSample) => unknown, fields: number): Promise<void> {
  const source = `bench-${fields}`;
  await store.declare(source, Array.from({ length: fields }, (_, i) => `f${i}`));
  const perAppendUs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      await append({ source, topic: 'plant/line1/press', ts: Date.now(), values: Array.from({ length: fields }, (_, j) => i + j / 10), label: null, seq: i });
    }
    perAppendUs.push(((performance.now() - start) * 1000) / n);
  }
  const m = median(perAppendUs);
  console.log(`${name.padEnd(32)} ${String(fields).padStart(3)} fields  ${m.toFixed(2)} µs/sample  (${(1e6 / m).toFixed(0)}/s; rounds ${Math.min(...perAppendUs).toFixed(2)}–${Math.max(...perAppendUs).toFixed(2)} µs)`);
}

console.log(`samples bench: ${n} appends × ${rounds} rounds; ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}; node ${process.version}`);
const dir = mkdtempSync(join(tmpdir(), 'continuum-bench-samples-'));
try {
  const sqlite = SqliteSampleStore.open(dir);
  for (const fields of [4, 32]) await measure('SQLite appendNow (synchronous)', sqlite, (s) => sqlite.appendNow(s), fields);
  for (const fields of [4, 32]) await measure('SQLite append (promise)', sqlite, (s) => sqlite.append(s), fields);
  await sqlite.close();
  const url = process.env['CONTINUUM_BENCH_POSTGRES_URL'];
  if (url !== undefined) {
    const postgres = await PostgresSampleStore.open(url);
    for (const fields of [4, 32]) await measure('PostgreSQL append (one at a time)', postgres, (s) => postgres.append(s), fields);
    await postgres.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
