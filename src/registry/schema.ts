/**
 * The registry's SQLite schema as an ordered list of migrations (applied by src/store): each runs
 * once and is recorded in `schema_migrations`. Append new migrations; never edit an applied one.
 */
import type { Migration } from '../store/index.js';

/** The table recording which registry migrations ran. */
export const REGISTRY_MIGRATIONS_TABLE = 'schema_migrations';

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
