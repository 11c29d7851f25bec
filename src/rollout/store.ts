/**
 * Rollouts in the data directory's database: each with its compiled spec and its state, written
 * after every change so a restarted server finds every rollout where it was; and the verdicts of
 * its analyses, the evidence `continuum rollouts show` prints.
 */
import { ContinuumError } from '../errors.js';
import { openDatabase } from '../store/index.js';
import type { Migration, SqliteDatabase } from '../store/index.js';
import type { RolloutState, RolloutStatus } from './plan.js';
import type { CompiledRollout } from './spec.js';
import type { StrategyName, Verdict } from './types.js';

/** A rollout as stored and shown. */
export interface Rollout {
  readonly id: number;
  readonly deployment: string;
  readonly strategy: StrategyName;
  /** The revision in production when the rollout started, and its model version. */
  readonly baselineRevision: number;
  readonly baselineVersion: string;
  /** The candidate revision and its model version. */
  readonly candidateRevision: number;
  readonly candidateVersion: string;
  readonly spec: CompiledRollout;
  readonly state: RolloutState;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** One analysis of a rollout. */
export interface RolloutVerdict {
  readonly at: string;
  /** The step (1-based) the verdict judged. */
  readonly step: number;
  readonly verdict: Verdict;
}

const ROLLOUT_MIGRATIONS_TABLE = 'rollout_schema_migrations';

/** Verdicts kept per rollout; older ones are pruned. */
const MAX_VERDICTS_PER_ROLLOUT = 500;

const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'rollouts and their verdicts',
    sql: `
      CREATE TABLE rollouts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        deployment TEXT NOT NULL REFERENCES deployments(name) ON DELETE CASCADE,
        strategy TEXT NOT NULL,
        baseline_revision INTEGER NOT NULL,
        baseline_version TEXT NOT NULL,
        candidate_revision INTEGER NOT NULL,
        candidate_version TEXT NOT NULL,
        spec TEXT NOT NULL,
        state TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX rollouts_deployment ON rollouts(deployment, id);
      CREATE INDEX rollouts_status ON rollouts(status);
      CREATE TABLE rollout_verdicts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        rollout INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        step INTEGER NOT NULL,
        verdict TEXT NOT NULL
      );
      CREATE INDEX rollout_verdicts_rollout ON rollout_verdicts(rollout, id);
    `,
  },
];

interface RolloutRow {
  id: number;
  deployment: string;
  strategy: string;
  baseline_revision: number;
  baseline_version: string;
  candidate_revision: number;
  candidate_version: string;
  spec: string;
  state: string;
  created_at: string;
  updated_at: string;
}

function rolloutOf(row: RolloutRow): Rollout {
  return {
    id: row.id,
    deployment: row.deployment,
    strategy: row.strategy as StrategyName,
    baselineRevision: row.baseline_revision,
    baselineVersion: row.baseline_version,
    candidateRevision: row.candidate_revision,
    candidateVersion: row.candidate_version,
    spec: JSON.parse(row.spec) as CompiledRollout,
    state: JSON.parse(row.state) as RolloutState,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const SELECT = 'SELECT id, deployment, strategy, baseline_revision, baseline_version, candidate_revision, candidate_version, spec, state, created_at, updated_at FROM rollouts';

/** What a new rollout record holds. */
export type NewRollout = Omit<Rollout, 'id' | 'createdAt' | 'updatedAt'>;

/** Rollouts of one data directory. */
export class RolloutStore {
  private constructor(private readonly db: SqliteDatabase) {}

  /** Opens the store in `dataDir` (the deployments' database file), applying pending migrations. */
  static open(dataDir: string): RolloutStore {
    return new RolloutStore(openDatabase(dataDir, MIGRATIONS, ROLLOUT_MIGRATIONS_TABLE));
  }

  /** Closes the database connection. */
  close(): void {
    this.db.close();
  }

  /** Records a new rollout. */
  create(rollout: NewRollout): Rollout {
    const now = new Date().toISOString();
    const { lastInsertRowid } = this.db
      .prepare(
        'INSERT INTO rollouts (deployment, strategy, baseline_revision, baseline_version, candidate_revision, candidate_version, spec, state, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        rollout.deployment,
        rollout.strategy,
        rollout.baselineRevision,
        rollout.baselineVersion,
        rollout.candidateRevision,
        rollout.candidateVersion,
        JSON.stringify(rollout.spec),
        JSON.stringify(rollout.state),
        rollout.state.status,
        now,
        now,
      );
    return this.get(Number(lastInsertRowid));
  }

  /** The rollout `id`, or undefined. */
  find(id: number): Rollout | undefined {
    const row = this.db.prepare(`${SELECT} WHERE id = ?`).get(id) as RolloutRow | undefined;
    return row === undefined ? undefined : rolloutOf(row);
  }

  /** The rollout `id`; CONTINUUM_ERR_ROLLOUT_NOT_FOUND when there is none. */
  get(id: number): Rollout {
    const found = this.find(id);
    if (found === undefined) throw new ContinuumError('CONTINUUM_ERR_ROLLOUT_NOT_FOUND', `no rollout with id ${id}`, { details: { rollout: id } });
    return found;
  }

  /** Rollouts, newest first, of one deployment when given. */
  list(deployment?: string, limit = 100): Rollout[] {
    const rows = (
      deployment === undefined
        ? this.db.prepare(`${SELECT} ORDER BY id DESC LIMIT ?`).all(limit)
        : this.db.prepare(`${SELECT} WHERE deployment = ? ORDER BY id DESC LIMIT ?`).all(deployment, limit)
    ) as RolloutRow[];
    return rows.map(rolloutOf);
  }

  /** Rollouts not yet finished (progressing or paused), oldest first. */
  active(): Rollout[] {
    const rows = this.db.prepare(`${SELECT} WHERE status IN ('progressing', 'paused') ORDER BY id`).all() as RolloutRow[];
    return rows.map(rolloutOf);
  }

  /** Writes a rollout's new state. */
  saveState(id: number, state: RolloutState): Rollout {
    this.db.prepare('UPDATE rollouts SET state = ?, status = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(state), state.status satisfies RolloutStatus, new Date().toISOString(), id);
    return this.get(id);
  }

  /** Records a verdict; the oldest beyond the per-rollout cap are pruned. */
  recordVerdict(id: number, step: number, verdict: Verdict): void {
    const { lastInsertRowid } = this.db.prepare('INSERT INTO rollout_verdicts (rollout, at, step, verdict) VALUES (?, ?, ?, ?)').run(id, new Date().toISOString(), step, JSON.stringify(verdict));
    this.db.prepare('DELETE FROM rollout_verdicts WHERE rollout = ? AND id <= ?').run(id, Number(lastInsertRowid) - MAX_VERDICTS_PER_ROLLOUT);
  }

  /** The newest verdicts of a rollout, oldest first. */
  verdicts(id: number, limit = 20): RolloutVerdict[] {
    const rows = this.db.prepare('SELECT at, step, verdict FROM rollout_verdicts WHERE rollout = ? ORDER BY id DESC LIMIT ?').all(id, limit) as {
      at: string;
      step: number;
      verdict: string;
    }[];
    return rows.reverse().map((r) => ({ at: r.at, step: r.step, verdict: JSON.parse(r.verdict) as Verdict }));
  }
}
