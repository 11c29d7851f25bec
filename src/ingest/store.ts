/**
 * Data source definitions in the data directory's SQLite database, so they survive a restart, and
 * the ingest service's MQTT client id, so its persistent session does too. Counters are not
 * stored: they describe the running process.
 */
import { openDatabase } from '../store/index.js';
import type { Migration, SqliteDatabase } from '../store/index.js';
import { newIngestClientId } from './service.js';
import type { DataSource } from './service.js';

/** The table recording which ingest migrations ran. */
const INGEST_MIGRATIONS_TABLE = 'ingest_schema_migrations';

const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'data sources',
    sql: `
      CREATE TABLE data_sources (
        name TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
    `,
  },
  {
    id: 2,
    name: 'ingest settings',
    sql: `
      CREATE TABLE ingest_settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
];

/** The stored data source definitions. */
export class DataSourceStore {
  private constructor(private readonly db: SqliteDatabase) {}

  /** Opens the store in `dataDir`, applying pending migrations. */
  static open(dataDir: string): DataSourceStore {
    return new DataSourceStore(openDatabase(dataDir, MIGRATIONS, INGEST_MIGRATIONS_TABLE));
  }

  /** Closes the database connection. */
  close(): void {
    this.db.close();
  }

  /** The MQTT client id of this data directory's persistent session, made on first use. */
  clientId(): string {
    this.db.prepare("INSERT OR IGNORE INTO ingest_settings (key, value) VALUES ('client_id', ?)").run(newIngestClientId());
    return (this.db.prepare("SELECT value FROM ingest_settings WHERE key = 'client_id'").get() as { value: string }).value;
  }

  /** Every data source, by name. */
  list(): DataSource[] {
    const rows = this.db.prepare('SELECT definition FROM data_sources ORDER BY name').all() as { definition: string }[];
    return rows.map((r) => JSON.parse(r.definition) as DataSource);
  }

  /** The data source of that name, if any. */
  find(name: string): DataSource | undefined {
    const row = this.db.prepare('SELECT definition FROM data_sources WHERE name = ?').get(name) as { definition: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.definition) as DataSource);
  }

  /** Stores a new data source; false when the name is taken. */
  insert(source: DataSource, nowIso: string): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO data_sources (name, definition, created_at) VALUES (?, ?, ?)').run(source.name, JSON.stringify(source), nowIso).changes === 1;
  }

  /** Deletes a data source; false when there was none. */
  delete(name: string): boolean {
    return this.db.prepare('DELETE FROM data_sources WHERE name = ?').run(name).changes === 1;
  }
}
