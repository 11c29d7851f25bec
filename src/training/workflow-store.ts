/**
 * Workflows, their runs and their retraining bindings in the data directory's SQLite database;
 * packages kept content-addressed by their sha256 in `<dataDir>/workflows/packages/` (a folder of
 * their own: the registry's blob sweep would take them for unreferenced artifacts).
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContinuumError } from '../errors.js';
import { openDatabase } from '../store/index.js';
import type { Migration, SqliteDatabase } from '../store/index.js';
import type { RunResources, NetworkIsolation } from './sandbox.js';
import type { ParameterValue, Workflow, WorkflowManifest } from './workflow.js';

const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'workflows, runs, retraining',
    sql: `
      CREATE TABLE workflows (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        digest TEXT NOT NULL,
        manifest TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (name, version)
      );
      CREATE TABLE workflow_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        workflow TEXT NOT NULL,
        workflow_version TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_ms INTEGER,
        input TEXT NOT NULL,
        metrics TEXT,
        model TEXT NOT NULL,
        model_version TEXT,
        release_id INTEGER,
        error TEXT,
        log TEXT NOT NULL DEFAULT '[]',
        resources TEXT,
        network TEXT
      );
      CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow, id);
      CREATE TABLE workflow_retraining (
        workflow TEXT PRIMARY KEY,
        binding TEXT NOT NULL,
        state TEXT NOT NULL
      );
    `,
  },
];

/** Where a run is. */
export type RunStatus = 'running' | 'succeeded' | 'failed';

/** What a run trains on and what it makes (recorded with the run). */
export interface RunInput {
  /** A built-in data set, or a data source's samples from `fromMs` to `toMs`. */
  readonly dataset?: 'iris' | 'penguins';
  readonly datasource?: string;
  readonly from?: string;
  readonly to?: string;
  readonly parameters: Readonly<Record<string, ParameterValue>>;
  readonly seed: number;
  /** What started it: a person or tool over the API, or retraining (by schedule or drift alert). */
  readonly trigger: 'api' | 'schedule' | 'drift';
  /** Start a release of the new version (gates, then rollout to the deployment or the production alias). */
  readonly release?: { readonly deployment?: string };
}

/** A run as the API shows it (the shared contract's fields, then Continuum's own). */
export interface WorkflowRun {
  readonly id: number;
  readonly workflow: string;
  readonly status: RunStatus;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly durationMs?: number;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly modelVersion?: string;
  readonly error?: string;
  readonly log: readonly string[];
  readonly resources?: RunResources;
  readonly workflowVersion: string;
  /** The registry model the run pushes to. */
  readonly model: string;
  readonly input: RunInput;
  /** How the training process's network was confined. */
  readonly network?: NetworkIsolation;
  /** The release started for the new version. */
  readonly releaseId?: number;
}

/** How a finished run ended. */
export type RunEnd = Pick<WorkflowRun, 'metrics' | 'modelVersion' | 'error' | 'resources' | 'network' | 'releaseId'> & { readonly status: Exclude<RunStatus, 'running'>; readonly log: readonly string[] };

interface WorkflowRow {
  name: string;
  version: string;
  digest: string;
  manifest: string;
  created_at: string;
}

interface RunRow {
  id: number;
  workflow: string;
  workflow_version: string;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  input: string;
  metrics: string | null;
  model: string;
  model_version: string | null;
  release_id: number | null;
  error: string | null;
  log: string;
  resources: string | null;
  network: NetworkIsolation | null;
}

function workflowOf(row: WorkflowRow): Workflow {
  return { name: row.name, version: row.version, digest: row.digest, manifest: JSON.parse(row.manifest) as WorkflowManifest, createdAt: row.created_at };
}

function runOf(row: RunRow): WorkflowRun {
  return {
    id: row.id,
    workflow: row.workflow,
    status: row.status,
    startedAt: row.started_at,
    ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
    ...(row.duration_ms === null ? {} : { durationMs: row.duration_ms }),
    ...(row.metrics === null ? {} : { metrics: JSON.parse(row.metrics) as Record<string, number> }),
    ...(row.model_version === null ? {} : { modelVersion: row.model_version }),
    ...(row.error === null ? {} : { error: row.error }),
    log: JSON.parse(row.log) as string[],
    ...(row.resources === null ? {} : { resources: JSON.parse(row.resources) as RunResources }),
    workflowVersion: row.workflow_version,
    model: row.model,
    input: JSON.parse(row.input) as RunInput,
    ...(row.network === null ? {} : { network: row.network }),
    ...(row.release_id === null ? {} : { releaseId: row.release_id }),
  };
}

/** Runs kept per workflow; older finished ones are pruned. */
const MAX_RUNS_PER_WORKFLOW = 200;

/** The workflow tables of one data directory and its package folder. */
export class WorkflowStore {
  private constructor(
    private readonly db: SqliteDatabase,
    /** Where packages are kept, each named by its sha256. */
    readonly packageDir: string,
  ) {}

  /** Opens (creating when needed) the workflow tables of `dataDir`. */
  static open(dataDir: string): WorkflowStore {
    const packageDir = join(dataDir, 'workflows', 'packages');
    mkdirSync(packageDir, { recursive: true });
    return new WorkflowStore(openDatabase(dataDir, MIGRATIONS, 'training_workflows_schema_migrations'), packageDir);
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }

  /** The stored package of a digest. */
  packagePath(digest: string): string {
    return join(this.packageDir, `${digest}.pkg`);
  }

  /**
   * Records a workflow version whose package is at `stagedPath` (moved into the package folder).
   * The same name, version and digest again is the same workflow (no change); the same name and
   * version with other bytes is CONTINUUM_ERR_WORKFLOW_EXISTS.
   */
  add(manifest: WorkflowManifest, digest: string, stagedPath: string, nowIso: string): Workflow {
    const existing = this.db.prepare('SELECT * FROM workflows WHERE name = ? AND version = ?').get(manifest.name, manifest.version) as WorkflowRow | undefined;
    if (existing !== undefined) {
      rmSync(stagedPath, { force: true });
      if (existing.digest === digest) return workflowOf(existing);
      throw new ContinuumError('CONTINUUM_ERR_WORKFLOW_EXISTS', `workflow ${manifest.name} version ${manifest.version} exists with other contents; raise the version in manifest.json to push a change`, {
        details: { workflow: manifest.name, version: manifest.version },
      });
    }
    const target = this.packagePath(digest);
    if (existsSync(target)) rmSync(stagedPath, { force: true });
    else renameSync(stagedPath, target);
    this.db.prepare('INSERT INTO workflows (name, version, digest, manifest, created_at) VALUES (?, ?, ?, ?, ?)').run(manifest.name, manifest.version, digest, JSON.stringify(manifest), nowIso);
    return this.get(manifest.name);
  }

  /** The newest pushed version of each workflow, by name. */
  list(): Workflow[] {
    const rows = this.db.prepare('SELECT w.* FROM workflows w WHERE seq = (SELECT MAX(seq) FROM workflows WHERE name = w.name) ORDER BY name').all() as WorkflowRow[];
    return rows.map(workflowOf);
  }

  /** The newest pushed version of a workflow; CONTINUUM_ERR_WORKFLOW_NOT_FOUND when there is none. */
  get(name: string): Workflow {
    const row = this.db.prepare('SELECT * FROM workflows WHERE name = ? ORDER BY seq DESC LIMIT 1').get(name) as WorkflowRow | undefined;
    if (row === undefined) throw new ContinuumError('CONTINUUM_ERR_WORKFLOW_NOT_FOUND', `no workflow named '${name}'; push one with \`continuum workflows push DIR\``, { details: { workflow: name } });
    return workflowOf(row);
  }

  /** Every pushed version of a workflow, oldest first. */
  versions(name: string): { readonly version: string; readonly digest: string; readonly createdAt: string }[] {
    const rows = this.db.prepare('SELECT version, digest, created_at FROM workflows WHERE name = ? ORDER BY seq').all(name) as WorkflowRow[];
    return rows.map((r) => ({ version: r.version, digest: r.digest, createdAt: r.created_at }));
  }

  /** Deletes a workflow with its runs and retraining binding; packages no other workflow uses are removed. */
  delete(name: string): void {
    this.get(name);
    const digests = this.versions(name).map((v) => v.digest);
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM workflows WHERE name = ?').run(name);
      this.db.prepare('DELETE FROM workflow_runs WHERE workflow = ?').run(name);
      this.db.prepare('DELETE FROM workflow_retraining WHERE workflow = ?').run(name);
    })();
    for (const digest of digests) {
      if (this.db.prepare('SELECT 1 FROM workflows WHERE digest = ?').get(digest) === undefined) rmSync(this.packagePath(digest), { force: true });
    }
  }

  /** Records a run that starts now (status running). */
  createRun(workflow: Workflow, model: string, input: RunInput, nowIso: string): WorkflowRun {
    const { lastInsertRowid } = this.db
      .prepare("INSERT INTO workflow_runs (workflow, workflow_version, status, started_at, input, model) VALUES (?, ?, 'running', ?, ?, ?)")
      .run(workflow.name, workflow.version, nowIso, JSON.stringify(input), model);
    const id = Number(lastInsertRowid);
    this.db
      .prepare("DELETE FROM workflow_runs WHERE workflow = ? AND status != 'running' AND id NOT IN (SELECT id FROM workflow_runs WHERE workflow = ? ORDER BY id DESC LIMIT ?)")
      .run(workflow.name, workflow.name, MAX_RUNS_PER_WORKFLOW);
    return this.run(workflow.name, id);
  }

  /** Records how a run ended. */
  finishRun(id: number, end: RunEnd, nowIso: string, durationMs: number): void {
    this.db
      .prepare('UPDATE workflow_runs SET status = ?, finished_at = ?, duration_ms = ?, metrics = ?, model_version = ?, release_id = ?, error = ?, log = ?, resources = ?, network = ? WHERE id = ?')
      .run(
        end.status,
        nowIso,
        Math.round(durationMs),
        end.metrics === undefined ? null : JSON.stringify(end.metrics),
        end.modelVersion ?? null,
        end.releaseId ?? null,
        end.error ?? null,
        JSON.stringify(end.log),
        end.resources === undefined ? null : JSON.stringify(end.resources),
        end.network ?? null,
        id,
      );
  }

  /** A workflow's run; CONTINUUM_ERR_RUN_NOT_FOUND when it has none of that id. */
  run(workflow: string, id: number): WorkflowRun {
    const row = this.db.prepare('SELECT * FROM workflow_runs WHERE workflow = ? AND id = ?').get(workflow, id) as RunRow | undefined;
    if (row === undefined) throw new ContinuumError('CONTINUUM_ERR_RUN_NOT_FOUND', `workflow '${workflow}' has no run ${id}; list them with \`continuum workflows runs ${workflow}\``, { details: { workflow, run: id } });
    return runOf(row);
  }

  /** A workflow's runs, newest first. */
  runs(workflow: string, limit = 50): WorkflowRun[] {
    return (this.db.prepare('SELECT * FROM workflow_runs WHERE workflow = ? ORDER BY id DESC LIMIT ?').all(workflow, limit) as RunRow[]).map(runOf);
  }

  /** Runs recorded as running (after a restart: runs whose process is gone). */
  runningRuns(): WorkflowRun[] {
    return (this.db.prepare("SELECT * FROM workflow_runs WHERE status = 'running'").all() as RunRow[]).map(runOf);
  }

  /** Stores a workflow's retraining binding and its state (JSON values the caller validated). */
  setRetraining(workflow: string, binding: unknown, state: unknown): void {
    this.db.prepare('INSERT INTO workflow_retraining (workflow, binding, state) VALUES (?, ?, ?) ON CONFLICT (workflow) DO UPDATE SET binding = excluded.binding, state = excluded.state').run(workflow, JSON.stringify(binding), JSON.stringify(state));
  }

  /** Updates a binding's state; nothing when the binding was removed meanwhile. */
  setRetrainingState(workflow: string, state: unknown): void {
    this.db.prepare('UPDATE workflow_retraining SET state = ? WHERE workflow = ?').run(JSON.stringify(state), workflow);
  }

  /** Removes a workflow's retraining binding; false when it had none. */
  deleteRetraining(workflow: string): boolean {
    return this.db.prepare('DELETE FROM workflow_retraining WHERE workflow = ?').run(workflow).changes > 0;
  }

  /** Every retraining binding with its state, as stored. */
  retraining(): { readonly workflow: string; readonly binding: unknown; readonly state: unknown }[] {
    const rows = this.db.prepare('SELECT workflow, binding, state FROM workflow_retraining ORDER BY workflow').all() as { workflow: string; binding: string; state: string }[];
    return rows.map((r) => ({ workflow: r.workflow, binding: JSON.parse(r.binding) as unknown, state: JSON.parse(r.state) as unknown }));
  }

  /** Writes bytes to a new staging file in the package folder; returns its path. */
  stage(bytes: Uint8Array, name: string): string {
    const path = join(this.packageDir, `.staging-${name}`);
    writeFileSync(path, bytes, { mode: 0o600 });
    return path;
  }
}
