/**
 * The agent's telemetry spool: heartbeats, metrics summaries and events wait here, on disk, until
 * the control plane has acknowledged them, so neither a broken link nor a restart loses them.
 * Sequence numbers come from SQLite's AUTOINCREMENT, which never reuses a number, so they only
 * grow across restarts and uploads are idempotent (the control plane skips numbers it holds).
 *
 * The spool is bounded. As AWS IoT Greengrass v2's MQTT spooler does when its `maxSizeInBytes` is
 * reached, the oldest records are discarded to make room for new ones; unlike it, every discarded
 * record is counted (persisted) and the count travels with each upload.
 */
import Database from 'better-sqlite3';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import { ContinuumError } from '../errors.js';
import type { TelemetryRecord } from './protocol.js';

/** Largest body of one record, as JSON text; a larger one is refused (the caller's bug, not the link's). */
export const MAX_RECORD_BYTES = 16 * 1024;

/** A bounded, persistent queue of telemetry records; see the module comment. */
export class TelemetrySpool {
  private constructor(
    private readonly db: SqliteDatabase,
    /** Records kept at most; one more discards the oldest. */
    readonly maxRecords: number,
  ) {}

  /** Opens (creating) the spool file at `path`. */
  static open(path: string, maxRecords: number): TelemetrySpool {
    if (!Number.isInteger(maxRecords) || maxRecords < 1) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `the spool bound must be a whole number of records >= 1, got ${maxRecords}`);
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    // Each append is one small transaction; NORMAL keeps it durable against a process crash (WAL) without an fsync each time.
    db.pragma('synchronous = NORMAL');
    db.exec(`
      CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, at_ms INTEGER NOT NULL, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT OR IGNORE INTO counters (name, value) VALUES ('dropped', 0);
    `);
    return new TelemetrySpool(db, maxRecords);
  }

  /** Appends a record and returns its sequence number; discards (and counts) the oldest when full. */
  append(kind: TelemetryRecord['kind'], atMs: number, body: Readonly<Record<string, unknown>>): number {
    const text = JSON.stringify(body);
    if (text.length > MAX_RECORD_BYTES) throw new ContinuumError('CONTINUUM_ERR_LIMIT_EXCEEDED', `a ${kind} record of ${text.length} bytes exceeds the spool's ${MAX_RECORD_BYTES}-byte limit`);
    return this.db.transaction(() => {
      const excess = this.size - this.maxRecords + 1;
      if (excess > 0) {
        this.db.prepare('DELETE FROM records WHERE seq IN (SELECT seq FROM records ORDER BY seq LIMIT ?)').run(excess);
        this.db.prepare("UPDATE counters SET value = value + ? WHERE name = 'dropped'").run(excess);
      }
      return Number(this.db.prepare('INSERT INTO records (kind, at_ms, body) VALUES (?, ?, ?)').run(kind, atMs, text).lastInsertRowid);
    })();
  }

  /** The oldest `limit` records, oldest first. */
  peek(limit: number): TelemetryRecord[] {
    const rows = this.db.prepare('SELECT seq, kind, at_ms, body FROM records ORDER BY seq LIMIT ?').all(limit) as { seq: number; kind: TelemetryRecord['kind']; at_ms: number; body: string }[];
    return rows.map((r) => ({ seq: r.seq, kind: r.kind, atMs: r.at_ms, body: JSON.parse(r.body) as Record<string, unknown> }));
  }

  /** Forgets every record up to `seq` (the control plane holds them). */
  ack(seq: number): void {
    this.db.prepare('DELETE FROM records WHERE seq <= ?').run(seq);
  }

  /** Records waiting. */
  get size(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
  }

  /** Records discarded because the spool was full, since it was created. */
  get droppedTotal(): number {
    return (this.db.prepare("SELECT value FROM counters WHERE name = 'dropped'").get() as { value: number }).value;
  }

  /** The highest sequence number handed out so far (0 before the first). */
  get lastSeq(): number {
    const row = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'records'").get() as { seq: number } | undefined;
    return row?.seq ?? 0;
  }

  /** Closes the file. */
  close(): void {
    this.db.close();
  }
}
