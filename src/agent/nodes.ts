/**
 * The control plane's record of nodes (docs/agents.md), in the data directory's database: join
 * tokens, each node's facts, its credential, its desired state with its generation, and the
 * telemetry its agent uploaded.
 *
 * Credentials follow the management tokens' rule (src/security): shown once, stored as SHA-256
 * digests, compared in constant time. A join token is single-use and expires, like a Kubernetes
 * bootstrap token exchanged for a kubelet's own credential. Rotation is two-phase so an agent
 * that dies between getting a new credential and saving it is not locked out: the old credential
 * keeps working until the new one is first used, then stops.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ContinuumError } from '../errors.js';
import { openDatabase } from '../store/index.js';
import type { Migration, SqliteDatabase } from '../store/index.js';
import type { DesiredReplica, DesiredState, JoinRequest, JoinResponse, NodeFacts, TelemetryBatch, TelemetryRecord } from './protocol.js';

/** Prefix of join tokens (recognisable to secret scanners, as management tokens' `ctm_`). */
export const JOIN_TOKEN_PREFIX = 'ctmj_';
/** Prefix of node credentials. */
export const NODE_CREDENTIAL_PREFIX = 'ctmn_';

/** Telemetry records kept per node; older ones are pruned (their counts stay in the node's totals). */
const MAX_RECORDS_PER_NODE = 2000;

const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'join tokens, nodes, telemetry',
    sql: `
      CREATE TABLE node_join_tokens (
        id TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        used_by TEXT
      );
      CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        facts TEXT NOT NULL,
        credential_sha256 TEXT NOT NULL,
        pending_sha256 TEXT,
        rotate_requested INTEGER NOT NULL DEFAULT 0,
        credential_issued_at TEXT NOT NULL,
        revoked_at TEXT,
        joined_at TEXT NOT NULL,
        last_seen_ms INTEGER,
        generation INTEGER NOT NULL DEFAULT 0,
        desired TEXT NOT NULL DEFAULT '[]',
        last_seq INTEGER NOT NULL DEFAULT 0,
        received_total INTEGER NOT NULL DEFAULT 0,
        missing_total INTEGER NOT NULL DEFAULT 0,
        dropped_total INTEGER NOT NULL DEFAULT 0,
        last_heartbeat TEXT
      );
      CREATE TABLE node_telemetry (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        node TEXT NOT NULL REFERENCES nodes(name) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        body TEXT NOT NULL
      );
      CREATE INDEX node_telemetry_node ON node_telemetry(node, id);
    `,
  },
];

/** What the telemetry of a node adds up to: every sequence number is received, missing or known dropped. */
export interface TelemetryCounts {
  /** The highest sequence number received. */
  readonly lastSeq: number;
  /** Records received (each sequence number once). */
  readonly received: number;
  /** Sequence numbers skipped over by what arrived: records the agent dropped or lost. */
  readonly missing: number;
  /** Records the agent's spool says it dropped when full. */
  readonly droppedByAgent: number;
}

/** A node as `nodes list` / `nodes show` and the API present it (no credential material). */
export interface NodeView {
  readonly name: string;
  readonly facts: NodeFacts;
  readonly status: 'ready' | 'not-ready' | 'revoked';
  readonly joinedAt: string;
  readonly lastSeenAt: string | null;
  readonly credentialIssuedAt: string;
  readonly rotationPending: boolean;
  readonly revokedAt: string | null;
  readonly generation: number;
  readonly desired: readonly DesiredReplica[];
  readonly telemetry: TelemetryCounts;
  /** The latest heartbeat's body (replicas running, serving counters). */
  readonly lastHeartbeat: Readonly<Record<string, unknown>> | null;
}

interface NodeRow {
  name: string;
  facts: string;
  credential_sha256: string;
  pending_sha256: string | null;
  rotate_requested: number;
  credential_issued_at: string;
  revoked_at: string | null;
  joined_at: string;
  last_seen_ms: number | null;
  generation: number;
  desired: string;
  last_seq: number;
  received_total: number;
  missing_total: number;
  dropped_total: number;
  last_heartbeat: string | null;
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

function sameDigest(given: Buffer, storedHex: string | null): boolean {
  return storedHex !== null && timingSafeEqual(given, Buffer.from(storedHex, 'hex'));
}

function newCredential(node: string): string {
  return `${NODE_CREDENTIAL_PREFIX}${node}.${randomBytes(32).toString('base64url')}`;
}

const unauthenticated = (): ContinuumError =>
  new ContinuumError('CONTINUUM_ERR_UNAUTHENTICATED', 'the node credential is not valid: send "Authorization: Bearer <credential>" with the credential the join issued (or the rotated one)');

/** Nodes, their credentials, desired states and telemetry in SQLite; see the module comment. */
export class NodeStore {
  private constructor(private readonly db: SqliteDatabase) {}

  /** Opens (and migrates) the node tables of a data directory's database. */
  static open(dataDir: string): NodeStore {
    return new NodeStore(openDatabase(dataDir, MIGRATIONS, 'node_schema_migrations'));
  }

  /** Creates a single-use join token valid for `ttlMs`; returns it (the only time it is visible). */
  createJoinToken(ttlMs: number, nowMs: number): { readonly token: string; readonly expiresAt: string } {
    const id = randomBytes(6).toString('hex');
    const token = `${JOIN_TOKEN_PREFIX}${id}_${randomBytes(24).toString('base64url')}`;
    this.db
      .prepare('INSERT INTO node_join_tokens (id, sha256, created_at, expires_at_ms) VALUES (?, ?, ?, ?)')
      .run(id, digest(token).toString('hex'), new Date(nowMs).toISOString(), nowMs + ttlMs);
    return { token, expiresAt: new Date(nowMs + ttlMs).toISOString() };
  }

  /**
   * Exchanges a join token for a node credential. A revoked node's name may join again (with a
   * new token); a live one's may not.
   */
  join(request: JoinRequest, nowMs: number): JoinResponse {
    const match = /^ctmj_([0-9a-f]{12})_/.exec(request.token);
    const row = match === null ? undefined : (this.db.prepare('SELECT sha256, expires_at_ms, used_by FROM node_join_tokens WHERE id = ?').get(match[1]) as { sha256: string; expires_at_ms: number; used_by: string | null } | undefined);
    if (row === undefined || !sameDigest(digest(request.token), row.sha256)) {
      throw new ContinuumError('CONTINUUM_ERR_UNAUTHENTICATED', 'the join token is not valid: create one with `continuum nodes join-token`');
    }
    if (row.used_by !== null) throw new ContinuumError('CONTINUUM_ERR_UNAUTHENTICATED', `the join token was already used (by node '${row.used_by}'); each token joins one node: create another`);
    if (row.expires_at_ms <= nowMs) throw new ContinuumError('CONTINUUM_ERR_UNAUTHENTICATED', 'the join token has expired: create another with `continuum nodes join-token`');
    const existing = this.row(request.name);
    if (existing !== undefined && existing.revoked_at === null) {
      throw new ContinuumError('CONTINUUM_ERR_NODE_EXISTS', `a node named '${request.name}' has already joined; give the agent another --name, or revoke the old node first`, { details: { node: request.name } });
    }
    const credential = newCredential(request.name);
    const at = new Date(nowMs).toISOString();
    this.db.transaction(() => {
      this.db.prepare('UPDATE node_join_tokens SET used_by = ? WHERE id = ?').run(request.name, match?.[1]);
      this.db.prepare('DELETE FROM nodes WHERE name = ?').run(request.name);
      this.db
        .prepare('INSERT INTO nodes (name, facts, credential_sha256, credential_issued_at, joined_at, last_seen_ms) VALUES (?, ?, ?, ?, ?, ?)')
        .run(request.name, JSON.stringify(request.facts), digest(credential).toString('hex'), at, at, nowMs);
    })();
    return { node: request.name, credential };
  }

  /**
   * The node a credential belongs to. A pending (rotated) credential used for the first time
   * becomes the only valid one. Throws CONTINUUM_ERR_UNAUTHENTICATED or CONTINUUM_ERR_NODE_REVOKED.
   */
  authenticate(credential: string, nowMs: number): string {
    const match = /^ctmn_([a-z0-9][a-z0-9-]{0,62})\./.exec(credential);
    const row = match?.[1] === undefined ? undefined : this.row(match[1]);
    if (row === undefined) throw unauthenticated();
    const given = digest(credential);
    const current = sameDigest(given, row.credential_sha256);
    const pending = sameDigest(given, row.pending_sha256);
    if (!current && !pending) throw unauthenticated();
    if (row.revoked_at !== null) {
      throw new ContinuumError('CONTINUUM_ERR_NODE_REVOKED', `node '${row.name}' was revoked at ${row.revoked_at}; it may not sync any more (join again with a new token)`, { details: { node: row.name } });
    }
    if (pending) {
      this.db
        .prepare('UPDATE nodes SET credential_sha256 = pending_sha256, pending_sha256 = NULL, rotate_requested = 0, credential_issued_at = ? WHERE name = ?')
        .run(new Date(nowMs).toISOString(), row.name);
    }
    this.db.prepare('UPDATE nodes SET last_seen_ms = ? WHERE name = ?').run(nowMs, row.name);
    return row.name;
  }

  /** Asks the node's agent to fetch a new credential at its next sync (`continuum nodes rotate`). */
  requestRotation(name: string): void {
    this.get(name);
    this.db.prepare('UPDATE nodes SET rotate_requested = 1 WHERE name = ?').run(name);
  }

  /** Issues a new credential for an authenticated node; it replaces the old one once used. */
  issueCredential(name: string): string {
    const credential = newCredential(name);
    this.db.prepare('UPDATE nodes SET pending_sha256 = ? WHERE name = ?').run(digest(credential).toString('hex'), name);
    return credential;
  }

  /** Revokes a node: its credentials are refused from now on (403) and its desired state is emptied. */
  revoke(name: string, nowMs: number): void {
    this.get(name);
    this.db.prepare("UPDATE nodes SET revoked_at = ?, desired = '[]', generation = generation + 1 WHERE name = ? AND revoked_at IS NULL").run(new Date(nowMs).toISOString(), name);
  }

  /** Whether a rotation was asked for and not yet completed. */
  rotationRequested(name: string): boolean {
    return this.get(name).rotate_requested === 1;
  }

  /** The node's desired state document. */
  desired(name: string): DesiredState {
    const row = this.get(name);
    return { node: name, generation: row.generation, replicas: JSON.parse(row.desired) as DesiredReplica[] };
  }

  /** Sets the node's desired replicas; the generation grows only when they differ from the stored ones. */
  setDesired(name: string, replicas: readonly DesiredReplica[]): DesiredState {
    const row = this.get(name);
    const text = JSON.stringify(replicas);
    if (text !== row.desired && row.revoked_at === null) this.db.prepare('UPDATE nodes SET desired = ?, generation = generation + 1 WHERE name = ?').run(text, name);
    return this.desired(name);
  }

  /**
   * Stores an upload's records. Sequence numbers at or below the last one held are duplicates
   * of a retried upload and are skipped, so uploads are idempotent; a jump counts the numbers
   * skipped as missing. Returns the highest sequence number held.
   */
  acceptTelemetry(name: string, batch: TelemetryBatch): number {
    return this.db.transaction(() => {
      const row = this.get(name);
      let last = row.last_seq;
      let received = 0;
      let missing = 0;
      let heartbeat: TelemetryRecord | undefined;
      const insert = this.db.prepare('INSERT INTO node_telemetry (node, seq, kind, at_ms, body) VALUES (?, ?, ?, ?, ?)');
      for (const record of [...batch.records].sort((a, b) => a.seq - b.seq)) {
        if (record.seq <= last) continue;
        missing += record.seq - last - 1;
        last = record.seq;
        received += 1;
        if (record.kind === 'heartbeat') heartbeat = record;
        insert.run(name, record.seq, record.kind, record.atMs, JSON.stringify(record.body));
      }
      this.db
        .prepare('UPDATE nodes SET last_seq = ?, received_total = received_total + ?, missing_total = missing_total + ?, dropped_total = max(dropped_total, ?), last_heartbeat = coalesce(?, last_heartbeat) WHERE name = ?')
        .run(last, received, missing, batch.droppedTotal, heartbeat === undefined ? null : JSON.stringify({ ...heartbeat.body, atMs: heartbeat.atMs }), name);
      this.db
        .prepare('DELETE FROM node_telemetry WHERE node = ? AND id <= (SELECT id FROM node_telemetry WHERE node = ? ORDER BY id DESC LIMIT 1 OFFSET ?)')
        .run(name, name, MAX_RECORDS_PER_NODE);
      return last;
    })();
  }

  /** The newest telemetry records of a node, oldest first; `kind` filters. */
  telemetry(name: string, limit: number, kind?: string): TelemetryRecord[] {
    this.get(name);
    const rows = this.db
      .prepare(`SELECT seq, kind, at_ms, body FROM node_telemetry WHERE node = ? ${kind === undefined ? '' : 'AND kind = ?'} ORDER BY id DESC LIMIT ?`)
      .all(...(kind === undefined ? [name, limit] : [name, kind, limit])) as { seq: number; kind: TelemetryRecord['kind']; at_ms: number; body: string }[];
    return rows.reverse().map((r) => ({ seq: r.seq, kind: r.kind, atMs: r.at_ms, body: JSON.parse(r.body) as Record<string, unknown> }));
  }

  /** A node as the API shows it; `readyWithinMs` decides ready from its last contact. */
  view(name: string, nowMs: number, readyWithinMs = 30_000): NodeView {
    const row = this.get(name);
    const status = row.revoked_at !== null ? 'revoked' : row.last_seen_ms !== null && nowMs - row.last_seen_ms <= readyWithinMs ? 'ready' : 'not-ready';
    return {
      name: row.name,
      facts: JSON.parse(row.facts) as NodeFacts,
      status,
      joinedAt: row.joined_at,
      lastSeenAt: row.last_seen_ms === null ? null : new Date(row.last_seen_ms).toISOString(),
      credentialIssuedAt: row.credential_issued_at,
      rotationPending: row.rotate_requested === 1 || row.pending_sha256 !== null,
      revokedAt: row.revoked_at,
      generation: row.generation,
      desired: JSON.parse(row.desired) as DesiredReplica[],
      telemetry: { lastSeq: row.last_seq, received: row.received_total, missing: row.missing_total, droppedByAgent: row.dropped_total },
      lastHeartbeat: row.last_heartbeat === null ? null : (JSON.parse(row.last_heartbeat) as Record<string, unknown>),
    };
  }

  /** Every node's name, oldest join first. */
  names(): string[] {
    return (this.db.prepare('SELECT name FROM nodes ORDER BY joined_at, name').all() as { name: string }[]).map((r) => r.name);
  }

  /** The row of node `name`; CONTINUUM_ERR_NODE_NOT_FOUND when none joined. */
  private get(name: string): NodeRow {
    const row = this.row(name);
    if (row === undefined) throw new ContinuumError('CONTINUUM_ERR_NODE_NOT_FOUND', `no node named '${name}' has joined; see \`continuum nodes list\``, { details: { node: name } });
    return row;
  }

  private row(name: string): NodeRow | undefined {
    return this.db.prepare('SELECT * FROM nodes WHERE name = ?').get(name) as NodeRow | undefined;
  }

  /** Closes the database connection. */
  close(): void {
    this.db.close();
  }
}
