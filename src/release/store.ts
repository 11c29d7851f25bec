/**
 * Releases, release policies and attached datasets in the data directory's database, with the
 * release capability's own migrations (table `release_schema_migrations`).
 */
import { ContinuumError } from '../errors.js';
import { openDatabase } from '../store/index.js';
import type { Migration, SqliteDatabase } from '../store/index.js';
import { canonicalDataset, datasetSchema } from './dataset.js';
import type { Dataset, DatasetSummary } from './dataset.js';
import type { GateOptions, GateStep } from './gates.js';

/** Where a release is. `passed` lasts only until the promotion or the rollout starts. */
export type ReleaseStatus = 'running' | 'failed' | 'passed' | 'rolling-out' | 'released' | 'rolled-back' | 'aborted';

/** Statuses a release never leaves. */
export const FINAL_RELEASE_STATUSES: readonly ReleaseStatus[] = ['failed', 'released', 'rolled-back', 'aborted'];

/** The strategy input handed to the rollout as given (its meaning is the rollout's business). */
export type StrategyInput = Readonly<Record<string, unknown>>;

/** One release: a candidate version through the gates, then promoted or rolled out. */
export interface Release {
  readonly id: number;
  readonly model: string;
  readonly version: string;
  /** The production version the candidate was compared with; null for a model's first version. */
  readonly baselineVersion: string | null;
  /** The deployment the rollout changes; null: the model's `production` alias moves instead. */
  readonly deployment: string | null;
  readonly strategy: StrategyInput | null;
  readonly gates: GateOptions;
  readonly status: ReleaseStatus;
  readonly steps: readonly GateStep[];
  readonly rolloutId: number | null;
  readonly error: string | null;
  readonly createdAt: string;
  readonly finishedAt: string | null;
}

/** What starts a release automatically when a version of the model is pushed. */
export interface ReleasePolicy {
  readonly model: string;
  readonly deployment: string | null;
  readonly strategy: StrategyInput | null;
  readonly gates: GateOptions;
  readonly updatedAt: string;
}

/** The fields of a new release record. */
export type NewRelease = Pick<Release, 'model' | 'version' | 'baselineVersion' | 'deployment' | 'strategy' | 'gates'>;

const RELEASE_MIGRATIONS_TABLE = 'release_schema_migrations';

const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'datasets, releases, release policies',
    sql: `
      CREATE TABLE release_datasets (
        sha256 TEXT PRIMARY KEY,
        json TEXT NOT NULL,
        rows INTEGER NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE release_model_datasets (
        model TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL REFERENCES release_datasets(sha256),
        attached_at TEXT NOT NULL
      );
      CREATE TABLE releases (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model TEXT NOT NULL,
        version TEXT NOT NULL,
        baseline_version TEXT,
        deployment TEXT,
        strategy TEXT,
        gates TEXT NOT NULL,
        status TEXT NOT NULL,
        steps TEXT NOT NULL DEFAULT '[]',
        rollout_id INTEGER,
        error TEXT,
        created_at TEXT NOT NULL,
        finished_at TEXT
      );
      CREATE INDEX releases_model ON releases(model, id);
      CREATE TABLE release_policies (
        model TEXT PRIMARY KEY,
        deployment TEXT,
        strategy TEXT,
        gates TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
];

interface ReleaseRow {
  id: number;
  model: string;
  version: string;
  baseline_version: string | null;
  deployment: string | null;
  strategy: string | null;
  gates: string;
  status: ReleaseStatus;
  steps: string;
  rollout_id: number | null;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

interface PolicyRow {
  model: string;
  deployment: string | null;
  strategy: string | null;
  gates: string;
  updated_at: string;
}

function json<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

function releaseOf(row: ReleaseRow): Release {
  return {
    id: row.id,
    model: row.model,
    version: row.version,
    baselineVersion: row.baseline_version,
    deployment: row.deployment,
    strategy: json<StrategyInput>(row.strategy),
    gates: JSON.parse(row.gates) as GateOptions,
    status: row.status,
    steps: JSON.parse(row.steps) as GateStep[],
    rolloutId: row.rollout_id,
    error: row.error,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

/** Releases, policies and datasets of one data directory. */
export class ReleaseStore {
  private constructor(private readonly db: SqliteDatabase) {}

  /** Opens the store in `dataDir`, applying pending migrations. */
  static open(dataDir: string): ReleaseStore {
    return new ReleaseStore(openDatabase(dataDir, MIGRATIONS, RELEASE_MIGRATIONS_TABLE));
  }

  /** Closes the database connection. */
  close(): void {
    this.db.close();
  }

  /** Attaches `dataset` to `model`, replacing the one it had; the dataset is stored once per content. */
  attachDataset(model: string, dataset: Dataset): DatasetSummary {
    const { json: text, sha256 } = canonicalDataset(dataset);
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.db.prepare('INSERT OR IGNORE INTO release_datasets (sha256, json, rows, created_at) VALUES (?, ?, ?, ?)').run(sha256, text, dataset.features.length, now);
      this.db
        .prepare('INSERT INTO release_model_datasets (model, sha256, attached_at) VALUES (?, ?, ?) ON CONFLICT (model) DO UPDATE SET sha256 = excluded.sha256, attached_at = excluded.attached_at')
        .run(model, sha256, now);
      this.pruneDatasets();
    })();
    return this.datasetSummary(model) as DatasetSummary;
  }

  /** Detaches a model's dataset; whether it had one. */
  detachDataset(model: string): boolean {
    return this.db.transaction(() => {
      const changed = this.db.prepare('DELETE FROM release_model_datasets WHERE model = ?').run(model).changes > 0;
      this.pruneDatasets();
      return changed;
    })();
  }

  /** The dataset attached to `model`, or undefined. */
  dataset(model: string): Dataset | undefined {
    const row = this.db.prepare('SELECT d.json FROM release_model_datasets m JOIN release_datasets d ON d.sha256 = m.sha256 WHERE m.model = ?').get(model) as { json: string } | undefined;
    // Stored only after validation; parsed again so the type is earned, not asserted.
    return row === undefined ? undefined : datasetSchema.parse(JSON.parse(row.json));
  }

  /** The summary of `model`'s dataset, or undefined. */
  datasetSummary(model: string): DatasetSummary | undefined {
    const row = this.db
      .prepare('SELECT m.sha256, m.attached_at, d.json FROM release_model_datasets m JOIN release_datasets d ON d.sha256 = m.sha256 WHERE m.model = ?')
      .get(model) as { sha256: string; attached_at: string; json: string } | undefined;
    if (row === undefined) return undefined;
    const d = JSON.parse(row.json) as Dataset;
    return {
      model,
      sha256: row.sha256,
      rows: d.features.length,
      rowWidth: d.features[0]?.length ?? 0,
      input: d.input,
      output: d.output ?? null,
      classes: d.classes ?? null,
      attachedAt: row.attached_at,
    };
  }

  /** Records a new release in status `running`. */
  createRelease(input: NewRelease): Release {
    const result = this.db
      .prepare("INSERT INTO releases (model, version, baseline_version, deployment, strategy, gates, status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)")
      .run(input.model, input.version, input.baselineVersion, input.deployment, input.strategy === null ? null : JSON.stringify(input.strategy), JSON.stringify(input.gates), new Date().toISOString());
    return this.getRelease(Number(result.lastInsertRowid));
  }

  /** Appends a finished gate to a release. */
  appendStep(id: number, step: GateStep): void {
    const release = this.getRelease(id);
    this.db.prepare('UPDATE releases SET steps = ? WHERE id = ?').run(JSON.stringify([...release.steps, step]), id);
  }

  /** Moves a release to `status`; a final status also stamps the finish time. */
  setStatus(id: number, status: ReleaseStatus, change: { readonly rolloutId?: number; readonly error?: string } = {}): Release {
    const finishedAt = FINAL_RELEASE_STATUSES.includes(status) ? new Date().toISOString() : null;
    this.db
      .prepare('UPDATE releases SET status = ?, rollout_id = COALESCE(?, rollout_id), error = COALESCE(?, error), finished_at = COALESCE(finished_at, ?) WHERE id = ?')
      .run(status, change.rolloutId ?? null, change.error ?? null, finishedAt, id);
    return this.getRelease(id);
  }

  /** The release `id`; CONTINUUM_ERR_RELEASE_NOT_FOUND when there is none. */
  getRelease(id: number): Release {
    const row = this.db.prepare('SELECT * FROM releases WHERE id = ?').get(id) as ReleaseRow | undefined;
    if (row === undefined) throw new ContinuumError('CONTINUUM_ERR_RELEASE_NOT_FOUND', `no release ${id}; list them with \`continuum releases list\``, { details: { release: id } });
    return releaseOf(row);
  }

  /** Releases, newest first, optionally of one model (and version), at most `limit`. */
  listReleases(filter: { readonly model?: string; readonly version?: string; readonly limit?: number } = {}): Release[] {
    const rows = this.db
      .prepare('SELECT * FROM releases WHERE (? IS NULL OR model = ?) AND (? IS NULL OR version = ?) ORDER BY id DESC LIMIT ?')
      .all(filter.model ?? null, filter.model ?? null, filter.version ?? null, filter.version ?? null, filter.limit ?? 100) as ReleaseRow[];
    return rows.map(releaseOf);
  }

  /** Releases in one of `statuses`, oldest first. */
  releasesIn(statuses: readonly ReleaseStatus[]): Release[] {
    const rows = this.db.prepare(`SELECT * FROM releases WHERE status IN (${statuses.map(() => '?').join(', ')}) ORDER BY id`).all(...statuses) as ReleaseRow[];
    return rows.map(releaseOf);
  }

  /** Sets (creating or replacing) a model's release policy. */
  setPolicy(policy: Omit<ReleasePolicy, 'updatedAt'>): ReleasePolicy {
    this.db
      .prepare(
        'INSERT INTO release_policies (model, deployment, strategy, gates, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (model) DO UPDATE SET deployment = excluded.deployment, strategy = excluded.strategy, gates = excluded.gates, updated_at = excluded.updated_at',
      )
      .run(policy.model, policy.deployment, policy.strategy === null ? null : JSON.stringify(policy.strategy), JSON.stringify(policy.gates), new Date().toISOString());
    return this.policy(policy.model) as ReleasePolicy;
  }

  /** A model's release policy, or undefined. */
  policy(model: string): ReleasePolicy | undefined {
    const row = this.db.prepare('SELECT * FROM release_policies WHERE model = ?').get(model) as PolicyRow | undefined;
    if (row === undefined) return undefined;
    return { model: row.model, deployment: row.deployment, strategy: json<StrategyInput>(row.strategy), gates: JSON.parse(row.gates) as GateOptions, updatedAt: row.updated_at };
  }

  /** Deletes a model's release policy; whether it had one. */
  deletePolicy(model: string): boolean {
    return this.db.prepare('DELETE FROM release_policies WHERE model = ?').run(model).changes > 0;
  }

  private pruneDatasets(): void {
    this.db.prepare('DELETE FROM release_datasets WHERE sha256 NOT IN (SELECT sha256 FROM release_model_datasets)').run();
  }
}
