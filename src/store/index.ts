/**
 * The data directory's SQLite database, shared by the capabilities that keep state there (the
 * registry, deployments). One file, `<dataDir>/continuum.db`, in WAL mode; each capability brings
 * its own ordered migrations and records them in its own table.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as SqliteDatabase } from 'better-sqlite3';

export type { SqliteDatabase };

/** One schema change. */
export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * Applies the migrations `db` has not seen yet, each in a transaction, recorded in `table`;
 * returns the ids applied. Append new migrations; never edit an applied one.
 */
export function migrate(db: SqliteDatabase, migrations: readonly Migration[], table: string): number[] {
  if (!/^[a-z_]+$/.test(table)) throw new Error(`invalid migrations table name ${table}`);
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const applied = new Set((db.prepare(`SELECT id FROM ${table}`).all() as { id: number }[]).map((r) => r.id));
  const record = db.prepare(`INSERT INTO ${table} (id, name, applied_at) VALUES (?, ?, ?)`);
  const done: number[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.id)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      record.run(migration.id, migration.name, new Date().toISOString());
    })();
    done.push(migration.id);
  }
  return done;
}

/**
 * Opens `<dataDir>/continuum.db` (creating it) and applies `migrations`. WAL lets readers in other
 * connections and processes go on while one writes; `busy_timeout` covers a second process (the
 * CLI's offline commands, a test) holding the write lock briefly.
 */
export function openDatabase(dataDir: string, migrations: readonly Migration[], table: string): SqliteDatabase {
  const db = new Database(join(dataDir, 'continuum.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, migrations, table);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
