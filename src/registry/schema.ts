/**
 * The registry's SQLite schema as an ordered list of migrations. Each runs once, in a
 * transaction, and is recorded in `schema_migrations`; re-opening a data directory applies only
 * the migrations it has not seen. Append new migrations; never edit an applied one.
 */
import type { Database } from 'better-sqlite3';

/** One schema change. */
export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: string;
}

/** Every migration, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'models, versions, aliases',
    sql: `
      CREATE TABLE models (
        name TEXT PRIMARY KEY,
        labels TEXT NOT NULL DEFAULT '{}',
        runtime_options TEXT NOT NULL DEFAULT '{}',
        -- Highest integer version ever assigned, so deleted numbers are not reused.
        integer_version_high_water INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
      );
      CREATE TABLE model_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model_name TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE,
        version TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        signature TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        UNIQUE (model_name, version)
      );
      CREATE INDEX model_versions_sha256 ON model_versions(sha256);
      CREATE TABLE model_aliases (
        model_name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version TEXT NOT NULL,
        PRIMARY KEY (model_name, alias),
        FOREIGN KEY (model_name, version) REFERENCES model_versions(model_name, version) ON DELETE CASCADE
      );
    `,
  },
];

/** Applies the migrations `db` has not seen yet; returns the ids applied. */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied = new Set((db.prepare('SELECT id FROM schema_migrations').all() as { id: number }[]).map((r) => r.id));
  const record = db.prepare('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)');
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
