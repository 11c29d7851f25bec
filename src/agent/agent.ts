/**
 * `continuum agent`: runs a node of the continuum (docs/agents.md). It joins a control plane once
 * (a join token exchanged for the node's own credential), then keeps the node in step with its
 * desired state: it pulls the document periodically, writes it to disk before acting on it,
 * fetches the artifacts it names by digest (verified, cached), runs the replicas with the local
 * target (the same replica processes `continuum serve` runs), serves them over OIP REST, and sends
 * heartbeats, metrics summaries and events through an on-disk spool.
 *
 * Offline autonomy, after KubeEdge's edge core and Azure IoT Edge: with the control plane
 * unreachable the agent goes on serving its last desired state, spools telemetry (bounded, drops
 * counted), and reconciles when the link is back; restarted offline, it starts its replicas from
 * the desired state and artifacts on disk before it ever talks to the control plane.
 */
import { availableParallelism, freemem, hostname, loadavg, totalmem } from 'node:os';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ContinuumError, isContinuumError } from '../errors.js';
import { compileRequestLimits, httpErrorHandler, OIP_EXTENSIONS, oipRestPlugin } from '../gateway/index.js';
import { LocalTarget } from '../targets/index.js';
import type { Replica } from '../targets/index.js';
import { measureSpeedScore } from './benchmark.js';
import { ControlPlaneClient } from './control-client.js';
import { MAX_TELEMETRY_BATCH, TIERS } from './protocol.js';
import type { DesiredReplica, DesiredState, NodeFacts, TelemetryRecord } from './protocol.js';
import { planReconcile } from './reconcile.js';
import type { HeldReplica } from './reconcile.js';
import { AgentInferenceService } from './serving.js';
import type { ServedReplica } from './serving.js';
import { TelemetrySpool } from './spool.js';
import { AgentStateDir } from './state.js';
import { normalizeFingerprint } from './tls.js';
import type { AgentIdentity } from './state.js';

/** Friendly options of an agent (CLI flags map one to one). */
export interface AgentOptions {
  /** The agent's state directory (identity, desired state, artifacts, spool). */
  readonly stateDir: string;
  /** The control plane's URL; needed to join, and replaces the stored one when given later. */
  readonly server?: string;
  /** A join token (`continuum nodes join-token`); needed only until the node has joined. */
  readonly joinToken?: string;
  /** The control plane's certificate fingerprint to pin (an https `server`; `continuum nodes join-token` prints it). */
  readonly fingerprint?: string;
  /** Node name. @default the host name, lower-cased */
  readonly name?: string;
  /** @default 'edge' */
  readonly tier?: (typeof TIERS)[number];
  /** @default 'default' */
  readonly site?: string;
  /** What an hour of this node costs, for placement. @default 0 */
  readonly pricePerHour?: number;
  /** The node's power draw in watts, for placement. @default 0 */
  readonly powerWatts?: number;
  /**
   * A declared speed factor multiplied into the measured compute-speed score (an emulated node
   * declares itself slower than the machine it runs on; nothing throttles it). @default 1
   */
  readonly speedFactor?: number;
  /** Interface of the agent's OIP endpoint. @default '127.0.0.1' */
  readonly host?: string;
  /** Port of the agent's OIP endpoint; 0 picks one. @default 8090 */
  readonly port?: number;
  /** The URL the control plane reaches the OIP endpoint at. @default http://HOST:PORT */
  readonly advertiseUrl?: string;
  /** Period of the desired-state pull and telemetry upload. @default 5000 */
  readonly syncIntervalMs?: number;
  /** Period of heartbeats. @default 10000 */
  readonly heartbeatIntervalMs?: number;
  /** Period of metrics summaries. @default 60000 */
  readonly metricsIntervalMs?: number;
  /** Telemetry records the spool keeps; beyond, the oldest are dropped and counted. @default 100000 */
  readonly spoolMaxRecords?: number;
  /** Spare replica processes (see the local target). @default 1 */
  readonly warmPoolSize?: number;
  /** Where the agent writes one line per thing worth telling. @default none */
  readonly log?: (line: string) => void;
}

const optionsSchema = z.object({
  stateDir: z.string().min(1),
  server: z.url().max(512).optional(),
  joinToken: z.string().min(1).max(256).optional(),
  fingerprint: z.string().max(128).transform(normalizeFingerprint).optional(),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a node name is 1-63 lower-case letters, digits and dashes').optional(),
  tier: z.enum(TIERS).default('edge'),
  site: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a site name is 1-63 lower-case letters, digits and dashes').default('default'),
  pricePerHour: z.number().min(0).max(1e6).default(0),
  powerWatts: z.number().min(0).max(1e6).default(0),
  speedFactor: z.number().positive().max(1000).default(1),
  host: z.string().min(1).max(253).default('127.0.0.1'),
  port: z.int().min(0).max(65535).default(8090),
  advertiseUrl: z.url().max(512).optional(),
  syncIntervalMs: z.int().min(10).max(3_600_000).default(5000),
  heartbeatIntervalMs: z.int().min(10).max(3_600_000).default(10_000),
  metricsIntervalMs: z.int().min(10).max(3_600_000).default(60_000),
  spoolMaxRecords: z.int().min(1).max(10_000_000).default(100_000),
  warmPoolSize: z.int().min(0).max(64).default(1),
});

/** Agent options after validation and defaults. */
export type CompiledAgentOptions = z.infer<typeof optionsSchema>;

/** Wait before a replica that failed to start or crashed is started again. */
const RESTART_BACKOFF_MS = 2000;

/** A replica the agent holds, from the moment it decides to start it. */
interface Member {
  readonly id: string;
  readonly kind: DesiredReplica;
  phase: 'starting' | 'ready' | 'stopping';
  replica?: Replica;
}

/** What `GET /agent/status` on the agent's endpoint answers. */
export interface AgentStatus {
  readonly node: string;
  readonly server: string;
  /** Whether the last exchange with the control plane succeeded (undefined before the first). */
  readonly online: boolean | undefined;
  readonly generation: number;
  readonly replicas: readonly { readonly id: string; readonly deployment: string; readonly revision: number; readonly phase: Member['phase'] }[];
  readonly spool: { readonly waiting: number; readonly lastSeq: number; readonly droppedTotal: number };
  readonly requests: number;
  readonly failures: number;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A running agent; see the module comment. */
export class Agent {
  private readonly members = new Map<string, Member>();
  private desiredState: DesiredState;
  private online: boolean | undefined;
  private offlineSinceMs: number | undefined;
  private closed = false;
  private started = 0;
  private syncTimer: NodeJS.Timeout | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  private reconcileAgain = false;
  private readonly fetching = new Map<string, Promise<void>>();
  /** Deployments whose previous revision is kept serving (told once each). */
  private readonly kept = new Set<string>();
  private resolveRevoked: (() => void) | undefined;
  /** Resolves when the control plane has revoked this node (the agent has stopped by then). */
  readonly revoked: Promise<void>;

  private constructor(
    private readonly options: CompiledAgentOptions,
    private readonly log: (line: string) => void,
    private readonly state: AgentStateDir,
    private readonly spool: TelemetrySpool,
    private readonly target: LocalTarget,
    private readonly service: AgentInferenceService,
    private readonly app: FastifyInstance,
    private identity: AgentIdentity,
    private readonly client: ControlPlaneClient,
    /** The agent's OIP endpoint as bound (e.g. http://10.0.0.2:8090). */
    readonly url: string,
  ) {
    this.desiredState = state.desired() ?? { node: identity.node, generation: 0, replicas: [] };
    this.revoked = new Promise((resolve) => (this.resolveRevoked = resolve));
  }

  /**
   * Starts the agent: opens its state, binds its OIP endpoint, joins when it has not yet, starts
   * the replicas of its stored desired state and the sync loop. Rejects when it has never joined
   * and cannot (no token, or the control plane refuses or cannot be reached).
   */
  static async start(input: AgentOptions): Promise<Agent> {
    const parsed = optionsSchema.safeParse(input);
    if (!parsed.success) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `invalid agent options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const options = parsed.data;
    const log = input.log ?? ((): void => undefined);
    const state = new AgentStateDir(options.stateDir);
    const spool = TelemetrySpool.open(state.spoolPath, options.spoolMaxRecords);
    const target = new LocalTarget({ warmPoolSize: options.warmPoolSize });
    let members: Map<string, Member> | undefined;
    let desired: () => readonly DesiredReplica[] = () => [];
    const service = new AgentInferenceService(
      {
        served: () => [...(members?.values() ?? [])].flatMap((m): ServedReplica[] => (m.phase === 'ready' && m.replica !== undefined ? [{ kind: m.kind, replica: m.replica }] : [])),
        desired: () => desired(),
      },
      { name: 'continuum-agent', version: '1', extensions: OIP_EXTENSIONS },
    );
    const app = Fastify({ logger: false, forceCloseConnections: true });
    try {
      app.setErrorHandler(httpErrorHandler);
      app.setNotFoundHandler((req, reply) => httpErrorHandler(new ContinuumError('CONTINUUM_ERR_ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`), req, reply));
      let agent: Agent | undefined;
      app.get('/agent/status', async () => agent?.status());
      await app.register(oipRestPlugin, { service, limits: compileRequestLimits() });
      await app.listen({ host: options.host, port: options.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : options.port;
      const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
      const identity = await Agent.identityFor(options, state, options.advertiseUrl ?? url, log);
      const client = new ControlPlaneClient(identity.server, () => agent?.identity.credential ?? identity.credential, identity.fingerprint);
      agent = new Agent(options, log, state, spool, target, service, app, identity, client, url);
      members = agent.members;
      const self = agent;
      desired = () => self.desiredState.replicas;
      agent.resume();
      return agent;
    } catch (err) {
      await app.close();
      await target.close();
      spool.close();
      throw err;
    }
  }

  /** The stored identity, or a new one from a join (the node's facts measured now). */
  private static async identityFor(options: CompiledAgentOptions, state: AgentStateDir, endpoint: string, log: (line: string) => void): Promise<AgentIdentity> {
    const stored = state.identity();
    if (stored !== undefined) {
      const moved = { ...stored, ...(options.server === undefined ? {} : { server: options.server }), ...(options.fingerprint === undefined ? {} : { fingerprint: options.fingerprint }) };
      if (moved.server !== stored.server || moved.fingerprint !== stored.fingerprint) state.saveIdentity(moved);
      return moved;
    }
    if (options.server === undefined || options.joinToken === undefined) {
      throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'this agent has not joined a control plane yet: give --join URL and --token JOIN_TOKEN (from `continuum nodes join-token`)');
    }
    const name = options.name ?? hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63);
    const speedScore = measureSpeedScore() * options.speedFactor;
    const facts: NodeFacts = {
      tier: options.tier,
      site: options.site,
      cores: availableParallelism(),
      memoryBytes: totalmem(),
      speedScore,
      pricePerHour: options.pricePerHour,
      powerWatts: options.powerWatts,
      endpoint,
    };
    if (options.server.startsWith('https:') && options.fingerprint === undefined) {
      throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'joining over https needs --fingerprint sha256:... (printed by `continuum nodes join-token`) to pin the control plane\'s certificate');
    }
    const joined = await new ControlPlaneClient(options.server, () => undefined, options.fingerprint).join({ token: options.joinToken, name, facts });
    const identity = { server: options.server, ...(options.fingerprint === undefined ? {} : { fingerprint: options.fingerprint }), node: joined.node, credential: joined.credential };
    state.saveIdentity(identity);
    log(`joined ${options.server} as node '${joined.node}' (${facts.tier}, site ${facts.site}, ${facts.cores} cores, speed score ${speedScore.toFixed(0)})`);
    return identity;
  }

  /** Starts serving the stored desired state and the loops. */
  private resume(): void {
    this.event('agent-started', `agent started with desired generation ${this.desiredState.generation} (${this.desiredState.replicas.length} replica kinds) from disk`, { generation: this.desiredState.generation });
    this.requestReconcile();
    this.timers.push(setInterval(() => this.heartbeat(), this.options.heartbeatIntervalMs));
    this.timers.push(setInterval(() => this.metrics(), this.options.metricsIntervalMs));
    void this.syncLoop();
  }

  /** The agent as `GET /agent/status` shows it. */
  status(): AgentStatus {
    return {
      node: this.identity.node,
      server: this.identity.server,
      online: this.online,
      generation: this.desiredState.generation,
      replicas: [...this.members.values()].map((m) => ({ id: m.id, deployment: m.kind.deployment, revision: m.kind.revision, phase: m.phase })),
      spool: { waiting: this.spool.size, lastSeq: this.spool.lastSeq, droppedTotal: this.spool.droppedTotal },
      requests: this.service.totals.requests,
      failures: this.service.totals.failures,
    };
  }

  /** Stops: no new requests, replicas ended, loops stopped, files closed. Spooled telemetry stays for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.syncTimer);
    clearTimeout(this.retryTimer);
    for (const t of this.timers) clearInterval(t);
    this.service.drain();
    await this.app.close();
    await this.target.close();
    await this.reconciling;
    this.spool.close();
  }

  private async syncLoop(): Promise<void> {
    if (this.closed) return;
    try {
      await this.sync();
    } catch (err) {
      if (isContinuumError(err, 'CONTINUUM_ERR_NODE_REVOKED')) {
        await this.onRevoked(err);
        return;
      }
      this.linkDown(err);
    }
    if (!this.closed) this.syncTimer = setTimeout(() => void this.syncLoop(), this.options.syncIntervalMs);
  }

  /** One exchange with the control plane: pull the desired state, rotate when asked, upload telemetry. */
  private async sync(): Promise<void> {
    const answer = await this.client.desired(this.desiredState.generation);
    this.linkUp();
    if (answer.state !== undefined && answer.state.generation !== this.desiredState.generation) {
      // Written before it is acted on: a restart resumes from exactly what was last pulled.
      this.state.saveDesired(answer.state);
      const before = this.desiredState.generation;
      this.desiredState = answer.state;
      this.event('desired-received', `desired state generation ${answer.state.generation} (was ${before}): ${answer.state.replicas.map((r) => `${r.deployment}@${r.revision}×${r.count}`).join(', ') || 'nothing'}`, { generation: answer.state.generation });
      this.requestReconcile();
    }
    if (answer.rotateCredential) await this.rotate();
    await this.upload();
  }

  /** Fetches a new credential, stores it, and uses it at once (which retires the old one). */
  private async rotate(): Promise<void> {
    const credential = await this.client.rotate();
    this.identity = { ...this.identity, credential };
    this.state.saveIdentity(this.identity);
    await this.client.desired(this.desiredState.generation);
    this.event('credential-rotated', 'the node credential was rotated; the old one no longer works', {});
  }

  /** Uploads spooled telemetry, oldest first, until the spool is empty. */
  private async upload(): Promise<void> {
    for (;;) {
      const records: TelemetryRecord[] = this.spool.peek(MAX_TELEMETRY_BATCH);
      if (records.length === 0) return;
      const acked = await this.client.telemetry({ records, droppedTotal: this.spool.droppedTotal });
      this.spool.ack(acked);
      if (records.length < MAX_TELEMETRY_BATCH || acked < (records[records.length - 1]?.seq ?? 0)) return;
    }
  }

  private linkUp(): void {
    if (this.online === false) {
      const offlineMs = this.offlineSinceMs === undefined ? 0 : Date.now() - this.offlineSinceMs;
      this.event('control-plane-reachable', `the control plane is reachable again after ${(offlineMs / 1000).toFixed(1)} s; reconciling`, { offlineMs });
    }
    this.online = true;
    this.offlineSinceMs = undefined;
  }

  private linkDown(err: unknown): void {
    if (this.online !== false) {
      this.offlineSinceMs = Date.now();
      this.event('control-plane-unreachable', `cannot sync with the control plane (${message(err)}); serving the last desired state (generation ${this.desiredState.generation})`, {});
    }
    this.online = false;
  }

  private async onRevoked(err: ContinuumError): Promise<void> {
    this.log(`${err.message}; stopping every replica and forgetting this node's identity`);
    this.state.forget();
    await this.close();
    this.resolveRevoked?.();
  }

  /** Starts a reconciliation, or asks the running one to go round once more. */
  private requestReconcile(): void {
    if (this.closed) return;
    if (this.reconciling !== undefined) {
      this.reconcileAgain = true;
      return;
    }
    this.reconciling = (async () => {
      do {
        this.reconcileAgain = false;
        await this.reconcileOnce();
      } while (this.reconcileAgain && !this.closed);
      this.reconciling = undefined;
    })();
  }

  private async reconcileOnce(): Promise<void> {
    const held = (): HeldReplica[] =>
      [...this.members.values()].filter((m) => m.phase !== 'stopping').map((m) => ({ id: m.id, deployment: m.kind.deployment, revision: m.kind.revision, ready: m.phase === 'ready' }));
    const plan = planReconcile(this.desiredState.replicas, held());
    // New replicas first; surplus ones stop once those serve (no gap in serving), planned again now that they do.
    await Promise.all(plan.start.flatMap(({ replica, count }) => Array.from({ length: count }, () => this.startMember(replica))));
    const after = planReconcile(this.desiredState.replicas, held());
    await Promise.all(after.stop.map((id) => this.stopMember(id)));
    for (const deployment of after.kept) {
      if (this.kept.has(deployment)) continue;
      this.kept.add(deployment);
      this.event('revision-kept', `no desired revision of ${deployment} serves yet; its previous revision keeps serving`, { deployment });
    }
    for (const deployment of this.kept) if (!after.kept.includes(deployment)) this.kept.delete(deployment);
    if (plan.start.length === 0 && plan.stop.length === 0 && after.kept.length === 0) {
      const removed = this.state.pruneArtifacts(new Set([...this.desiredState.replicas, ...[...this.members.values()].map((m) => m.kind)].map((k) => k.sha256)));
      if (removed > 0) this.log(`removed ${removed} cached artifact(s) no replica needs`);
    }
  }

  private async startMember(kind: DesiredReplica): Promise<void> {
    this.started += 1;
    const member: Member = { id: `${kind.deployment}-${kind.revision}-${this.started}`, kind, phase: 'starting' };
    this.members.set(member.id, member);
    try {
      await this.ensureArtifact(kind.sha256);
      const replica = await this.target.startReplica({
        deployment: kind.deployment,
        revision: kind.revision,
        model: { name: kind.model, version: kind.version, artifactPath: this.state.artifactPath(kind.sha256), sha256: kind.sha256, signature: kind.signature, runtimeOptions: kind.runtimeOptions },
      });
      if (this.closed || this.members.get(member.id) !== member) {
        replica.kill();
        return;
      }
      member.replica = replica;
      member.phase = 'ready';
      this.event('replica-started', `replica ${member.id} of ${kind.deployment} revision ${kind.revision} serves (ready in ${replica.startupTimings.readyMs.toFixed(0)} ms)`, { deployment: kind.deployment, revision: kind.revision });
      replica.onExit((exit) => {
        this.members.delete(member.id);
        if (exit.expected || this.closed) return;
        this.event('replica-exited', `replica ${member.id} exited (${exit.reason}); starting another`, { deployment: kind.deployment, revision: kind.revision });
        this.retryLater();
      });
    } catch (err) {
      this.members.delete(member.id);
      if (this.closed) return;
      this.event('replica-failed', `replica of ${kind.deployment} revision ${kind.revision} could not start: ${message(err)}`, { deployment: kind.deployment, revision: kind.revision });
      this.retryLater();
    }
  }

  private async stopMember(id: string): Promise<void> {
    const member = this.members.get(id);
    if (member === undefined) return;
    member.phase = 'stopping';
    await member.replica?.stop();
    this.members.delete(id);
    this.event('replica-stopped', `replica ${id} of ${member.kind.deployment} revision ${member.kind.revision} stopped (no longer desired)`, { deployment: member.kind.deployment, revision: member.kind.revision });
  }

  /** Fetches an artifact into the cache unless it is there; one fetch per digest at a time. */
  private async ensureArtifact(sha256: string): Promise<void> {
    if (this.state.hasArtifact(sha256)) return;
    let fetching = this.fetching.get(sha256);
    if (fetching === undefined) {
      fetching = (async () => {
        const bytes = await this.state.storeArtifact(sha256, await this.client.artifact(sha256));
        this.event('artifact-fetched', `fetched and verified artifact sha256:${sha256.slice(0, 12)}… (${bytes} bytes)`, { sha256, bytes });
      })().finally(() => this.fetching.delete(sha256));
      this.fetching.set(sha256, fetching);
    }
    await fetching;
  }

  private retryLater(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.requestReconcile();
    }, RESTART_BACKOFF_MS);
  }

  private heartbeat(): void {
    if (this.closed) return;
    const s = this.status();
    const replicas: Record<string, number> = {};
    for (const r of s.replicas) {
      const kind = `${r.deployment}@${r.revision} ${r.phase}`;
      replicas[kind] = (replicas[kind] ?? 0) + 1;
    }
    this.record('heartbeat', {
      generation: s.generation,
      replicas,
      requests: s.requests,
      failures: s.failures,
      spooled: s.spool.waiting,
      online: s.online ?? null,
      loadAverage1m: loadavg()[0] ?? 0,
      freeMemoryBytes: freemem(),
    });
    this.service.refreshStatistics().catch((err: unknown) => this.log(`statistics refresh failed: ${message(err)}`));
  }

  private metrics(): void {
    if (this.closed) return;
    const summaries = this.service.takeSummaries();
    if (summaries.length > 0) this.record('metrics', { intervalMs: this.options.metricsIntervalMs, deployments: summaries });
  }

  /** Records an event in the spool and the log. */
  private event(type: string, text: string, data: Readonly<Record<string, unknown>>): void {
    this.log(text);
    this.record('event', { type, message: text, ...data });
  }

  /** Spools a record; a record that cannot be spooled (too large, disk full) is logged, never a reason to stop serving. */
  private record(kind: TelemetryRecord['kind'], body: Readonly<Record<string, unknown>>): void {
    if (this.closed) return;
    try {
      this.spool.append(kind, Date.now(), body);
    } catch (err) {
      this.log(`a ${kind} record was not spooled: ${message(err)}`);
    }
  }
}
