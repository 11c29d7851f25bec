/**
 * Deployments as desired state in the data directory's database. A deployment names a model
 * version, a scaling policy and the resources of each replica; every change makes a new immutable
 * {@link Revision} (as Knative's Configuration stamps Revisions), and every change or decision that
 * matters leaves an {@link DeploymentEvent}.
 */
import type { ReplicaResources } from '../autoscale/index.js';
import { ContinuumError } from '../errors.js';
import { openDatabase } from '../store/index.js';
import type { Migration, SqliteDatabase } from '../store/index.js';

/** What a revision runs: fixed when the revision is made. */
export interface RevisionSpec {
  /** The registry model. */
  readonly model: string;
  /** The reference the user gave (`3`, `@production`, or empty for the default version). */
  readonly modelRef: string;
  /** The version the reference resolved to when the revision was made. */
  readonly version: string;
  readonly sha256: string;
  /** The scaling policy as the user gave it (friendly form; compiled by src/autoscale). */
  readonly policy: Readonly<Record<string, unknown>>;
  /** What one replica is accounted for (the cost model's vCPU and memory). */
  readonly resources: ReplicaResources;
  /** Runtime options of each replica (instances, threads, batching) over the model's own. */
  readonly runtime: Readonly<Record<string, unknown>>;
  /** Where the replicas run: a joined node (docs/agents.md); absent, the server's own local target. */
  readonly placement?: Placement;
}

/** A deployment's placement on a node of the continuum. */
export interface Placement {
  /** The node's name (`continuum nodes list`). */
  readonly node: string;
}

/** One immutable revision of a deployment. */
export interface Revision {
  readonly deployment: string;
  readonly revision: number;
  readonly spec: RevisionSpec;
  readonly createdAt: string;
}

/** A deployment: its name and current revision. */
export interface Deployment {
  readonly name: string;
  readonly revision: Revision;
  readonly createdAt: string;
}

/** Something that happened to a deployment, for `deployments show` and the API. */
export interface DeploymentEvent {
  readonly id: number;
  readonly deployment: string;
  readonly at: string;
  /** What kind of event: created, updated, scaled, replica-started, replica-lost, decision, ... */
  readonly type: string;
  readonly message: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The table recording which deployment migrations ran. */
const DEPLOY_MIGRATIONS_TABLE = 'deploy_schema_migrations';

/** Events kept per deployment; older ones are pruned as new ones arrive. */
const MAX_EVENTS_PER_DEPLOYMENT = 2000;

const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'deployments, revisions, events',
    sql: `
      CREATE TABLE deployments (
        name TEXT PRIMARY KEY,
        current_revision INTEGER NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE deployment_revisions (
        deployment TEXT NOT NULL REFERENCES deployments(name) ON DELETE CASCADE,
        revision INTEGER NOT NULL,
        model_name TEXT NOT NULL,
        model_version TEXT NOT NULL,
        spec TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (deployment, revision)
      );
      CREATE INDEX deployment_revisions_model ON deployment_revisions(model_name, model_version);
      CREATE TABLE deployment_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        deployment TEXT NOT NULL,
        at TEXT NOT NULL,
        type TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX deployment_events_deployment ON deployment_events(deployment, id);
    `,
  },
  {
    id: 2,
    name: 'events by type (the global event log filters by it)',
    sql: 'CREATE INDEX deployment_events_type ON deployment_events(type, id);',
  },
];

/** Which events {@link DeploymentStore.queryEvents} returns. */
export interface EventQuery {
  /** Most events returned. */
  readonly limit: number;
  readonly deployment?: string;
  readonly type?: string;
  /** Only events after this id, oldest first from there (a cursor); without it, the newest. */
  readonly afterId?: number;
}

/** Called with each event once it is stored. */
export type EventListener = (event: DeploymentEvent) => void;

interface RevisionRow {
  deployment: string;
  revision: number;
  spec: string;
  created_at: string;
}

interface DeploymentRow {
  name: string;
  current_revision: number;
  created_at: string;
}

interface EventRow {
  id: number;
  deployment: string;
  at: string;
  type: string;
  message: string;
  data: string;
}

function revisionOf(row: RevisionRow): Revision {
  return { deployment: row.deployment, revision: row.revision, spec: JSON.parse(row.spec) as RevisionSpec, createdAt: row.created_at };
}

function eventOf(row: EventRow): DeploymentEvent {
  return { id: row.id, deployment: row.deployment, at: row.at, type: row.type, message: row.message, data: JSON.parse(row.data) as Record<string, unknown> };
}

/** Deployments, revisions and events of one data directory. */
export class DeploymentStore {
  private readonly listeners = new Set<EventListener>();
  /** Events inserted in the running transaction, told to listeners once it commits. */
  private pending: DeploymentEvent[] = [];

  private constructor(private readonly db: SqliteDatabase) {}

  /** Opens the store in `dataDir` (the registry's database file), applying pending migrations. */
  static open(dataDir: string): DeploymentStore {
    return new DeploymentStore(openDatabase(dataDir, MIGRATIONS, DEPLOY_MIGRATIONS_TABLE));
  }

  /** Closes the database connection. */
  close(): void {
    this.db.close();
  }

  /** Every deployment with its current revision, by name. */
  list(): Deployment[] {
    const rows = this.db.prepare('SELECT name, current_revision, created_at FROM deployments ORDER BY name').all() as DeploymentRow[];
    return rows.map((row) => this.deploymentOf(row));
  }

  /** The deployment `name`, or undefined. */
  find(name: string): Deployment | undefined {
    const row = this.db.prepare('SELECT name, current_revision, created_at FROM deployments WHERE name = ?').get(name) as DeploymentRow | undefined;
    return row === undefined ? undefined : this.deploymentOf(row);
  }

  /** The deployment `name`; CONTINUUM_ERR_DEPLOYMENT_NOT_FOUND when there is none. */
  get(name: string): Deployment {
    const found = this.find(name);
    if (found === undefined) throw new ContinuumError('CONTINUUM_ERR_DEPLOYMENT_NOT_FOUND', `no deployment named '${name}'`, { details: { deployment: name } });
    return found;
  }

  /** Every revision of a deployment, oldest first. */
  revisions(name: string): Revision[] {
    this.get(name);
    const rows = this.db.prepare('SELECT deployment, revision, spec, created_at FROM deployment_revisions WHERE deployment = ? ORDER BY revision').all(name) as RevisionRow[];
    return rows.map(revisionOf);
  }

  /** Creates a deployment at revision 1; CONTINUUM_ERR_DEPLOYMENT_EXISTS when the name is taken. */
  create(name: string, spec: RevisionSpec): Deployment {
    const now = new Date().toISOString();
    this.transact(() => {
      if (this.find(name) !== undefined) throw new ContinuumError('CONTINUUM_ERR_DEPLOYMENT_EXISTS', `a deployment named '${name}' exists; change it with \`continuum deployments scale\` or delete it first`, { details: { deployment: name } });
      this.db.prepare('INSERT INTO deployments (name, current_revision, created_at) VALUES (?, 1, ?)').run(name, now);
      this.insertRevision(name, 1, spec, now);
      this.insertEvent(name, now, 'created', `created at revision 1: ${spec.model} version ${spec.version}, policy ${String(spec.policy['policy'])}`, { revision: 1 });
    });
    return this.get(name);
  }

  /** Makes a new revision from the current one changed by `change`; records an event of `type`. */
  update(name: string, change: (spec: RevisionSpec) => RevisionSpec, type: string, message: string): Deployment {
    const now = new Date().toISOString();
    this.transact(() => {
      const current = this.get(name).revision;
      const next = this.nextRevision(name);
      this.insertRevision(name, next, change(current.spec), now);
      this.db.prepare('UPDATE deployments SET current_revision = ? WHERE name = ?').run(next, name);
      this.insertEvent(name, now, type, `revision ${next}: ${message}`, { revision: next });
    });
    return this.get(name);
  }

  /**
   * Records a revision that is not (yet) current: a rollout's candidate. It becomes current with
   * {@link setCurrentRevision} when the rollout promotes it, or stays in the history.
   */
  addRevision(name: string, spec: RevisionSpec, type: string, message: string): Revision {
    const now = new Date().toISOString();
    let next = 0;
    this.transact(() => {
      this.get(name);
      next = this.nextRevision(name);
      this.insertRevision(name, next, spec, now);
      this.insertEvent(name, now, type, `revision ${next}: ${message}`, { revision: next });
    });
    return this.revision(name, next);
  }

  /** Revision `revision` of a deployment; CONTINUUM_ERR_NOT_FOUND when it has none of that number. */
  revision(name: string, revision: number): Revision {
    const row = this.db.prepare('SELECT deployment, revision, spec, created_at FROM deployment_revisions WHERE deployment = ? AND revision = ?').get(name, revision) as
      | RevisionRow
      | undefined;
    if (row === undefined) throw new ContinuumError('CONTINUUM_ERR_NOT_FOUND', `deployment '${name}' has no revision ${revision}`, { details: { deployment: name, revision } });
    return revisionOf(row);
  }

  /** Makes an existing revision the current one (a rollout's promotion); records an event of `type`. */
  setCurrentRevision(name: string, revision: number, type: string, message: string): Deployment {
    const now = new Date().toISOString();
    this.transact(() => {
      this.revision(name, revision);
      this.db.prepare('UPDATE deployments SET current_revision = ? WHERE name = ?').run(revision, name);
      this.insertEvent(name, now, type, `revision ${revision}: ${message}`, { revision });
    });
    return this.get(name);
  }

  /** Deletes a deployment, its revisions and its events. */
  delete(name: string): void {
    this.transact(() => {
      this.get(name);
      this.db.prepare('DELETE FROM deployments WHERE name = ?').run(name);
      this.db.prepare('DELETE FROM deployment_events WHERE deployment = ?').run(name);
    });
  }

  /** Whether any revision of any deployment uses the model version (the registry's delete check). */
  usesModelVersion(model: string, version: string): string | undefined {
    const row = this.db.prepare('SELECT deployment, revision FROM deployment_revisions WHERE model_name = ? AND model_version = ? LIMIT 1').get(model, version) as
      | { deployment: string; revision: number }
      | undefined;
    return row === undefined ? undefined : `deployment '${row.deployment}' revision ${row.revision} uses it (delete the deployment first)`;
  }

  /** Records an event; old events beyond the per-deployment cap are pruned. */
  recordEvent(name: string, type: string, message: string, data: Readonly<Record<string, unknown>> = {}): void {
    this.insertEvent(name, new Date().toISOString(), type, message, data);
  }

  /** The newest events of a deployment, newest last. */
  events(name: string, limit = 50): DeploymentEvent[] {
    return this.queryEvents({ limit, deployment: name });
  }

  /** Events of every deployment (or one), optionally of one type, newest last; see {@link EventQuery}. */
  queryEvents(query: EventQuery): DeploymentEvent[] {
    const conditions: [string, string | number | undefined][] = [
      ['deployment = ?', query.deployment],
      ['type = ?', query.type],
      ['id > ?', query.afterId],
    ];
    const given = conditions.filter((c): c is [string, string | number] => c[1] !== undefined);
    const where = given.length === 0 ? '' : `WHERE ${given.map(([sql]) => sql).join(' AND ')}`;
    const order = query.afterId === undefined ? 'DESC' : 'ASC';
    const rows = this.db
      .prepare(`SELECT id, deployment, at, type, message, data FROM deployment_events ${where} ORDER BY id ${order} LIMIT ?`)
      .all(...given.map(([, value]) => value), query.limit) as EventRow[];
    return (order === 'DESC' ? rows.reverse() : rows).map(eventOf);
  }

  /** Calls `listener` with every event stored from now on, after its transaction commits; returns the unsubscribe. */
  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private deploymentOf(row: DeploymentRow): Deployment {
    const rev = this.db
      .prepare('SELECT deployment, revision, spec, created_at FROM deployment_revisions WHERE deployment = ? AND revision = ?')
      .get(row.name, row.current_revision) as RevisionRow;
    return { name: row.name, revision: revisionOf(rev), createdAt: row.created_at };
  }

  /** The number after the newest revision (after a rolled-back rollout that is the candidate's, not the current one's). */
  private nextRevision(name: string): number {
    return (this.db.prepare('SELECT MAX(revision) AS last FROM deployment_revisions WHERE deployment = ?').get(name) as { last: number }).last + 1;
  }

  private insertRevision(name: string, revision: number, spec: RevisionSpec, now: string): void {
    this.db
      .prepare('INSERT INTO deployment_revisions (deployment, revision, model_name, model_version, spec, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(name, revision, spec.model, spec.version, JSON.stringify(spec), now);
  }

  private insertEvent(name: string, at: string, type: string, message: string, data: Readonly<Record<string, unknown>>): void {
    const { lastInsertRowid } = this.db
      .prepare('INSERT INTO deployment_events (deployment, at, type, message, data) VALUES (?, ?, ?, ?, ?)')
      .run(name, at, type, message, JSON.stringify(data));
    const id = Number(lastInsertRowid);
    this.db.prepare('DELETE FROM deployment_events WHERE deployment = ? AND id <= ?').run(name, id - MAX_EVENTS_PER_DEPLOYMENT);
    this.pending.push({ id, deployment: name, at, type, message, data });
    if (!this.db.inTransaction) this.flushEvents();
  }

  /** Runs `work` in a transaction; its events reach listeners only if it commits. */
  private transact(work: () => void): void {
    try {
      this.db.transaction(work)();
    } catch (err) {
      this.pending = [];
      throw err;
    }
    this.flushEvents();
  }

  /** Tells listeners about stored events in order; a failing listener cannot undo a write. */
  private flushEvents(): void {
    const events = this.pending;
    this.pending = [];
    for (const event of events) {
      for (const listener of this.listeners) {
        try {
          listener(event);
        } catch {
          // A listener (an event stream, the alert engine) reports its own failures; the event is stored either way.
        }
      }
    }
  }
}
