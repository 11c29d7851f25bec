/**
 * Stored samples: every ingested message that decodes is kept as a row (its mapped field values,
 * label and sequence number), so a time window can be exported as a training dataset and
 * predictions still unpublished when the process stopped can be inferred again at start.
 *
 * Two stores behind one interface: the data directory's SQLite database (embedded default) and
 * PostgreSQL (`--samples-db postgres://...`). Values are a compact blob of float64s (8 bytes a
 * field), not JSON, so a write costs one small row.
 *
 * Per data source the store also keeps its field names and a watermark, `resume_after`: samples
 * with a larger id were not finished (published) when it was last saved. The ingest service saves
 * it about once a second, not once a row, which keeps writes cheap; replaying a few finished ones
 * after a crash is within MQTT QoS 1's at-least-once contract.
 */
import pg from 'pg';
import { openDatabase } from '../store/index.js';
import type { Migration, SqliteDatabase } from '../store/index.js';

/** A sample to store: one decoded message of a data source. */
export interface NewSample {
  readonly source: string;
  readonly topic: string;
  /** Measurement time (the message's timestamp field, else its arrival), epoch ms. */
  readonly ts: number;
  /** The data source's `mapping.fields`, in order. */
  readonly values: readonly number[];
  readonly label: string | null;
  readonly seq: number | null;
}

/** A stored sample. */
export interface Sample extends NewSample {
  readonly id: number;
}

/** Which samples a window holds: `fromMs <= ts < toMs`, at most `limit`, oldest first. */
export interface SampleRange {
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly limit?: number;
}

/** One row of a window. */
export interface SampleRow {
  readonly ts: number;
  readonly values: number[];
  readonly label: string | null;
}

/** A time window of a data source's samples, oldest first: a training dataset. */
export interface SampleWindow {
  readonly fields: string[];
  readonly rows: SampleRow[];
}

/** How long a data source's samples are kept; absent bounds do not apply. */
export interface SampleRetention {
  readonly maxAgeMs?: number;
  readonly maxRows?: number;
}

/** Where samples are kept. */
export interface SampleStore {
  /**
   * Records a data source's field names. Samples stored under other field names would not line
   * up with the new ones, so they are deleted; a source seen for the first time starts with its
   * watermark at the newest sample (nothing of an earlier source of that name is replayed).
   */
  declare(source: string, fields: readonly string[]): Promise<void>;
  /** Stores a sample; resolves to its id (ids grow with every append). */
  append(sample: NewSample): Promise<number>;
  /** A time window of a source's samples, oldest first (empty for an unknown source). */
  window(source: string, range: SampleRange): Promise<SampleWindow>;
  /** Up to `limit` samples of `source` with an id above `afterId`, by id. */
  after(source: string, afterId: number, limit: number): Promise<Sample[]>;
  /** The saved watermark of `source`: samples above it are replayed at start. */
  resumeAfter(source: string): Promise<number>;
  /** Saves the watermark of `source`. */
  saveResumeAfter(source: string, id: number): Promise<void>;
  /** Deletes what `retention` no longer keeps; resolves to the number of samples deleted. */
  applyRetention(source: string, retention: SampleRetention, nowMs: number): Promise<number>;
  close(): Promise<void>;
}

/** Float64 values as bytes (little-endian, as every platform Node runs on). */
export function encodeValues(values: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(values.length * 8);
  for (const [i, v] of values.entries()) buf.writeDoubleLE(v, i * 8);
  return buf;
}

/** The values of {@link encodeValues}. */
export function decodeValues(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<number>(bytes.byteLength / 8);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

/** A CSV field per RFC 4180: quoted when it holds a comma, a quote or a line break. */
function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A window as CSV (RFC 4180): a header `ts,<fields>,label`, then one row a sample, `ts` in ISO 8601. */
export function samplesCsv(window: SampleWindow): string {
  const lines = [['ts', ...window.fields, 'label'].map(csvField).join(',')];
  for (const row of window.rows) lines.push([new Date(row.ts).toISOString(), ...row.values.map(String), csvField(row.label ?? '')].join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** The largest window one call returns. */
export const MAX_WINDOW_ROWS = 1_000_000;

// Both dialects share this SQL. `$n` placeholders are PostgreSQL's; SQLite reads `$1` as a
// parameter named "1" (https://www.sqlite.org/lang_expr.html#varparam), bound by {@link numbered}.
const SQL = {
  append: 'INSERT INTO samples (source, topic, ts, seq, label, vals) VALUES ($1, $2, $3, $4, $5, $6)',
  window: 'SELECT ts, vals, label FROM samples WHERE source = $1 AND ts >= $2 AND ts < $3 ORDER BY ts, id LIMIT $4',
  after: 'SELECT id, source, topic, ts, seq, label, vals FROM samples WHERE id > $2 AND source = $1 ORDER BY id LIMIT $3',
  fields: 'SELECT fields, resume_after FROM sample_sources WHERE source = $1',
  saveResumeAfter: 'UPDATE sample_sources SET resume_after = $2 WHERE source = $1',
  deleteSource: 'DELETE FROM samples WHERE source = $1',
  maxId: 'SELECT COALESCE(MAX(id), 0) AS id FROM samples',
  olderThan: 'DELETE FROM samples WHERE source = $1 AND ts < $2',
  // Keeps the newest `maxRows` by (ts, id): the index on (source, ts) carries the rowid.
  beyondRows: `DELETE FROM samples WHERE source = $1 AND (ts, id) < (SELECT ts, id FROM samples WHERE source = $1 ORDER BY ts DESC, id DESC LIMIT 1 OFFSET $2)`,
} as const;

/** SQLite's binding of `$1`, `$2`... : an object keyed by position. */
function numbered(args: readonly unknown[]): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const [i, v] of args.entries()) out[i + 1] = v;
  return out;
}

interface RawSample {
  id: number | string;
  source: string;
  topic: string;
  ts: number | string;
  seq: number | string | null;
  label: string | null;
  vals: Uint8Array;
}

function sampleOf(r: RawSample): Sample {
  return { id: Number(r.id), source: r.source, topic: r.topic, ts: Number(r.ts), seq: r.seq === null ? null : Number(r.seq), label: r.label, values: decodeValues(r.vals) };
}

function windowBounds(range: SampleRange): [number, number, number] {
  return [range.fromMs ?? Number.MIN_SAFE_INTEGER, range.toMs ?? Number.MAX_SAFE_INTEGER, Math.min(range.limit ?? MAX_WINDOW_ROWS, MAX_WINDOW_ROWS)];
}

const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'samples',
    sql: `
      CREATE TABLE samples (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        topic TEXT NOT NULL,
        ts INTEGER NOT NULL,
        seq INTEGER,
        label TEXT,
        vals BLOB NOT NULL
      );
      CREATE INDEX samples_source_ts ON samples (source, ts);
      CREATE TABLE sample_sources (
        source TEXT PRIMARY KEY,
        fields TEXT NOT NULL,
        resume_after INTEGER NOT NULL
      );
    `,
  },
];

/** Samples in the data directory's SQLite database. */
export class SqliteSampleStore implements SampleStore {
  private readonly insert;
  private readonly selectWindow;
  private readonly selectAfter;

  private constructor(private readonly db: SqliteDatabase) {
    this.insert = db.prepare(SQL.append);
    this.selectWindow = db.prepare(SQL.window);
    this.selectAfter = db.prepare(SQL.after);
  }

  /**
   * Opens the store in `dataDir`. Its own connection runs with `synchronous = NORMAL`: in WAL mode a
   * commit then survives a crash of the process (what a restart of `continuum serve` is) without
   * an fsync per row; only a power loss may take the last commits back
   * (https://www.sqlite.org/pragma.html#pragma_synchronous).
   */
  static open(dataDir: string): SqliteSampleStore {
    const db = openDatabase(dataDir, SQLITE_MIGRATIONS, 'sample_schema_migrations');
    db.pragma('synchronous = NORMAL');
    return new SqliteSampleStore(db);
  }

  /** Stores a sample synchronously: when this returns, the row is committed. */
  appendNow(s: NewSample): number {
    return Number(this.insert.run({ 1: s.source, 2: s.topic, 3: Math.round(s.ts), 4: s.seq, 5: s.label, 6: encodeValues(s.values) }).lastInsertRowid);
  }

  async append(sample: NewSample): Promise<number> {
    return this.appendNow(sample);
  }

  async declare(source: string, fields: readonly string[]): Promise<void> {
    const text = JSON.stringify(fields);
    this.db.transaction(() => {
      const known = this.db.prepare(SQL.fields).get(numbered([source])) as { fields: string } | undefined;
      if (known?.fields === text) return;
      if (known !== undefined) this.db.prepare(SQL.deleteSource).run(numbered([source]));
      const { id } = this.db.prepare(SQL.maxId).get() as { id: number };
      this.db.prepare('INSERT OR REPLACE INTO sample_sources (source, fields, resume_after) VALUES ($1, $2, $3)').run(numbered([source, text, id]));
    })();
  }

  async window(source: string, range: SampleRange): Promise<SampleWindow> {
    const known = this.db.prepare(SQL.fields).get(numbered([source])) as { fields: string } | undefined;
    const rows = this.selectWindow.all(numbered([source, ...windowBounds(range)])) as { ts: number; vals: Uint8Array; label: string | null }[];
    return { fields: known === undefined ? [] : (JSON.parse(known.fields) as string[]), rows: rows.map((r) => ({ ts: r.ts, values: decodeValues(r.vals), label: r.label })) };
  }

  async after(source: string, afterId: number, limit: number): Promise<Sample[]> {
    return (this.selectAfter.all(numbered([source, afterId, limit])) as RawSample[]).map(sampleOf);
  }

  async resumeAfter(source: string): Promise<number> {
    const row = this.db.prepare(SQL.fields).get(numbered([source])) as { resume_after: number } | undefined;
    return row?.resume_after ?? 0;
  }

  async saveResumeAfter(source: string, id: number): Promise<void> {
    this.db.prepare(SQL.saveResumeAfter).run(numbered([source, id]));
  }

  async applyRetention(source: string, retention: SampleRetention, nowMs: number): Promise<number> {
    let deleted = 0;
    if (retention.maxAgeMs !== undefined) deleted += this.db.prepare(SQL.olderThan).run(numbered([source, nowMs - retention.maxAgeMs])).changes;
    if (retention.maxRows !== undefined) deleted += this.db.prepare(SQL.beyondRows).run(numbered([source, retention.maxRows - 1])).changes;
    return deleted;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

const POSTGRES_SCHEMA = `
  CREATE TABLE IF NOT EXISTS samples (
    id BIGSERIAL PRIMARY KEY,
    source TEXT NOT NULL,
    topic TEXT NOT NULL,
    ts BIGINT NOT NULL,
    seq BIGINT,
    label TEXT,
    vals BYTEA NOT NULL
  );
  CREATE INDEX IF NOT EXISTS samples_source_ts ON samples (source, ts);
  CREATE TABLE IF NOT EXISTS sample_sources (
    source TEXT PRIMARY KEY,
    fields TEXT NOT NULL,
    resume_after BIGINT NOT NULL
  );
`;

/** Samples in PostgreSQL, for a fleet's shared database or more rows than one machine's disk. */
export class PostgresSampleStore implements SampleStore {
  private constructor(private readonly pool: pg.Pool) {}

  /** Connects to `url` (postgres://...) and creates the tables when missing. */
  static async open(url: string): Promise<PostgresSampleStore> {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    try {
      await pool.query(POSTGRES_SCHEMA);
    } catch (err) {
      await pool.end();
      throw err;
    }
    return new PostgresSampleStore(pool);
  }

  async append(s: NewSample): Promise<number> {
    const r = await this.pool.query<{ id: string }>(`${SQL.append} RETURNING id`, [s.source, s.topic, Math.round(s.ts), s.seq, s.label, encodeValues(s.values)]);
    return Number(r.rows[0]?.id);
  }

  async declare(source: string, fields: readonly string[]): Promise<void> {
    const text = JSON.stringify(fields);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // One declaration at a time per source, so two servers sharing the database agree.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [source]);
      const known = (await client.query<{ fields: string }>(SQL.fields, [source])).rows[0];
      if (known?.fields !== text) {
        if (known !== undefined) await client.query(SQL.deleteSource, [source]);
        const { id } = (await client.query<{ id: string }>(SQL.maxId)).rows[0] ?? { id: '0' };
        await client.query('INSERT INTO sample_sources (source, fields, resume_after) VALUES ($1, $2, $3) ON CONFLICT (source) DO UPDATE SET fields = $2, resume_after = $3', [source, text, id]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  }

  async window(source: string, range: SampleRange): Promise<SampleWindow> {
    const known = (await this.pool.query<{ fields: string }>(SQL.fields, [source])).rows[0];
    const rows = (await this.pool.query<{ ts: string; vals: Buffer; label: string | null }>(SQL.window, [source, ...windowBounds(range)])).rows;
    return { fields: known === undefined ? [] : (JSON.parse(known.fields) as string[]), rows: rows.map((r) => ({ ts: Number(r.ts), values: decodeValues(r.vals), label: r.label })) };
  }

  async after(source: string, afterId: number, limit: number): Promise<Sample[]> {
    return (await this.pool.query<RawSample>(SQL.after, [source, afterId, limit])).rows.map(sampleOf);
  }

  async resumeAfter(source: string): Promise<number> {
    const row = (await this.pool.query<{ resume_after: string }>(SQL.fields, [source])).rows[0];
    return row === undefined ? 0 : Number(row.resume_after);
  }

  async saveResumeAfter(source: string, id: number): Promise<void> {
    await this.pool.query(SQL.saveResumeAfter, [source, id]);
  }

  async applyRetention(source: string, retention: SampleRetention, nowMs: number): Promise<number> {
    let deleted = 0;
    if (retention.maxAgeMs !== undefined) deleted += (await this.pool.query(SQL.olderThan, [source, nowMs - retention.maxAgeMs])).rowCount ?? 0;
    if (retention.maxRows !== undefined) deleted += (await this.pool.query(SQL.beyondRows, [source, retention.maxRows - 1])).rowCount ?? 0;
    return deleted;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Opens the SQLite store of `dataDir`, or the PostgreSQL one at `postgresUrl` when given. */
export async function openSampleStore(dataDir: string, postgresUrl?: string): Promise<SampleStore> {
  return postgresUrl === undefined ? SqliteSampleStore.open(dataDir) : PostgresSampleStore.open(postgresUrl);
}
