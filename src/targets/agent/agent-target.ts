/**
 * The agent target: replicas on a node run by its agent (docs/agents.md). Starting a replica
 * adds one to the node's desired state, which the agent pulls, and waits until the agent's OIP
 * endpoint says the revision is ready; requests go to that endpoint; stopping takes the one back
 * out. The {@link NodeFleet} holds every node's wanted replicas and writes them to the node
 * store as the node's desired state, a document whose generation grows with each change.
 *
 * A restarted control plane must not make its agents scale down and up again while its
 * deployments start their replicas one by one: the fleet writes nothing until {@link
 * NodeFleet.start} (called once every stored deployment has asked for its replicas), and until
 * then each agent keeps the last document it pulled.
 */
import type { NodeStore, NodeView } from '../../agent/nodes.js';
import type { DesiredReplica } from '../../agent/protocol.js';
import { ContinuumError } from '../../errors.js';
import type { InferOptions } from '../../runtime/index.js';
import type { InferRequest, InferResponse, ModelStatistics } from '../../oip/types.js';
import type { Replica, ReplicaExit, ReplicaSpec, ReplicaStartupTimings, ReplicaState, Target } from '../types.js';
import { AgentOipClient } from './oip-client.js';

/** Options of a {@link NodeFleet}. */
export interface NodeFleetOptions {
  readonly store: NodeStore;
  /** Longest wait for an agent to serve a new replica (it may first fetch the artifact over a slow link). @default 300000 */
  readonly readyTimeoutMs?: number;
  /** How often readiness is asked while waiting. @default 250 */
  readonly readyPollMs?: number;
  /** Timeout of one inference on an agent when the request carries no deadline. @default 30000 */
  readonly requestTimeoutMs?: number;
}

/** The replicas the control plane wants on each node, and a target per node; see the module comment. */
export class NodeFleet {
  /** Per node: desired replica kinds by `deployment/revision`. */
  private readonly wanted = new Map<string, Map<string, DesiredReplica>>();
  private readonly targets = new Map<string, AgentTarget>();
  private started = false;
  private readonly readyTimeoutMs: number;
  private readonly readyPollMs: number;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: NodeFleetOptions) {
    this.readyTimeoutMs = options.readyTimeoutMs ?? 300_000;
    this.readyPollMs = options.readyPollMs ?? 250;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** The target placing replicas on node `node`; CONTINUUM_ERR_NODE_NOT_FOUND / CONTINUUM_ERR_NODE_REVOKED when it cannot take any. */
  targetFor(node: string): Target {
    const view = this.usable(node);
    let target = this.targets.get(node);
    if (target === undefined || target.endpoint !== view.facts.endpoint) {
      target = new AgentTarget(node, view.facts.endpoint, this, { readyTimeoutMs: this.readyTimeoutMs, readyPollMs: this.readyPollMs, requestTimeoutMs: this.requestTimeoutMs });
      this.targets.set(node, target);
    }
    return target;
  }

  /** The node's view; throws when the node cannot take replicas (unknown or revoked). */
  usable(node: string): NodeView {
    const view = this.options.store.view(node, Date.now());
    if (view.status === 'revoked') throw new ContinuumError('CONTINUUM_ERR_NODE_REVOKED', `node '${node}' is revoked; place the deployment on another node`, { details: { node } });
    return view;
  }

  /** Writes every node's desired state from now on (and once now: nodes nobody asked for get none). */
  start(): void {
    this.started = true;
    for (const node of this.options.store.names()) if (this.options.store.view(node, Date.now()).status !== 'revoked') this.publish(node);
  }

  /** A node was revoked: its replicas are gone for the deployments that had them. */
  revoked(node: string): void {
    this.wanted.delete(node);
    this.targets.get(node)?.lose(`node '${node}' was revoked`);
  }

  /** Adds (`delta` 1) or removes (-1) one replica of `spec` on `node`. */
  change(node: string, spec: ReplicaSpec, delta: 1 | -1): void {
    const kinds = this.wanted.get(node) ?? new Map<string, DesiredReplica>();
    this.wanted.set(node, kinds);
    const key = `${spec.deployment}/${spec.revision}`;
    const count = (kinds.get(key)?.count ?? 0) + delta;
    if (count <= 0) kinds.delete(key);
    else {
      const { model } = spec;
      kinds.set(key, {
        deployment: spec.deployment,
        revision: spec.revision,
        model: model.name,
        version: model.version,
        sha256: model.sha256,
        signature: model.signature,
        runtimeOptions: { ...model.runtimeOptions },
        count,
      });
    }
    if (this.started) this.publish(node);
  }

  /**
   * Stops writing desired states and ends every agent client. Called before the deployments close:
   * a control plane shutting down stops its replica handles, which must not tell the nodes to
   * stop serving (their replicas belong to the agents and outlive the control plane).
   */
  async close(): Promise<void> {
    this.started = false;
    await Promise.all([...this.targets.values()].map((t) => t.close()));
  }

  private publish(node: string): void {
    const kinds = [...(this.wanted.get(node)?.values() ?? [])].sort((a, b) => a.deployment.localeCompare(b.deployment) || a.revision - b.revision);
    this.options.store.setDesired(node, kinds);
  }
}

/** Timing options an {@link AgentTarget} runs with. */
interface AgentTargetTiming {
  readonly readyTimeoutMs: number;
  readonly readyPollMs: number;
  readonly requestTimeoutMs: number;
}

/** Replicas on one node; see the module comment. */
export class AgentTarget implements Target {
  private readonly client: AgentOipClient;
  private readonly live = new Set<AgentReplica>();
  private started = 0;
  private closed = false;

  constructor(
    readonly node: string,
    readonly endpoint: string,
    private readonly fleet: NodeFleet,
    private readonly timing: AgentTargetTiming,
  ) {
    this.client = new AgentOipClient(endpoint);
  }

  async startReplica(spec: ReplicaSpec): Promise<Replica> {
    if (this.closed) throw new ContinuumError('CONTINUUM_ERR_SHUTTING_DOWN', `the target of node '${this.node}' is closed; no replica can start`);
    // A revoked node takes no replica: refused at once rather than after the readiness timeout.
    this.fleet.usable(this.node);
    const startedAt = performance.now();
    this.started += 1;
    this.fleet.change(this.node, spec, 1);
    const version = String(spec.revision);
    const deadline = startedAt + this.timing.readyTimeoutMs;
    while (!(await this.client.ready(spec.deployment, version, this.timing.readyPollMs * 4))) {
      if (this.closed || performance.now() > deadline) {
        this.fleet.change(this.node, spec, -1);
        throw new ContinuumError('CONTINUUM_ERR_LOAD_FAILED', `node '${this.node}' did not serve revision ${spec.revision} of '${spec.deployment}' within ${this.timing.readyTimeoutMs} ms; see \`continuum nodes show ${this.node}\``, {
          details: { node: this.node, deployment: spec.deployment },
        });
      }
      await new Promise((r) => setTimeout(r, this.timing.readyPollMs));
    }
    const readyMs = performance.now() - startedAt;
    const replica = new AgentReplica(`${this.node}/${spec.deployment}-${spec.revision}-${this.started}`, spec, this.client, { pooled: false, spawnMs: 0, importMs: 0, sessionMs: 0, warmupMs: 0, readyMs }, this.timing.requestTimeoutMs, () => {
      this.live.delete(replica);
      this.fleet.change(this.node, spec, -1);
    });
    this.live.add(replica);
    return replica;
  }

  /** Nothing to prepare: the agent runs its own warm pool. */
  prepare(): void {}

  /** Every replica of this node is gone (the node was revoked). */
  lose(reason: string): void {
    for (const r of [...this.live]) r.gone(reason);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client.close();
  }
}

/** One replica on a node, reached through its agent's OIP endpoint. */
class AgentReplica implements Replica {
  /** Agents' processes are not the control plane's to signal. */
  readonly pid = 0;
  readonly usage = undefined;
  private current: ReplicaState = 'ready';
  private pending = 0;
  private readonly exitListeners = new Set<(exit: ReplicaExit) => void>();
  /** Resolves a drain waiting for the last request in flight. */
  private drained: (() => void) | undefined;

  constructor(
    readonly id: string,
    readonly spec: ReplicaSpec,
    private readonly client: AgentOipClient,
    readonly startupTimings: ReplicaStartupTimings,
    private readonly requestTimeoutMs: number,
    private readonly onEnd: () => void,
  ) {}

  get state(): ReplicaState {
    return this.current;
  }

  get inFlight(): number {
    return this.pending;
  }

  async infer(request: InferRequest, options?: InferOptions): Promise<InferResponse> {
    if (this.current !== 'ready') throw new ContinuumError('CONTINUUM_ERR_REPLICA_LOST', `replica ${this.id} is ${this.current}`, { retryAfterS: 1 });
    const timeoutMs = options?.deadlineMs === undefined ? this.requestTimeoutMs : Math.max(1, options.deadlineMs - Date.now());
    this.pending += 1;
    try {
      return await this.client.infer(this.spec.deployment, String(this.spec.revision), request, timeoutMs);
    } finally {
      this.pending -= 1;
      if (this.pending === 0) this.drained?.();
    }
  }

  statistics(): Promise<ModelStatistics> {
    return this.client.statistics(this.spec.deployment, String(this.spec.revision), this.requestTimeoutMs);
  }

  async stop(): Promise<void> {
    if (this.current !== 'ready') return;
    this.current = 'draining';
    if (this.pending > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    this.end(true, 'stopped by the control plane');
  }

  kill(): void {
    this.end(true, 'killed by the control plane');
  }

  /** The replica is gone for a reason outside the control plane's wish (a revoked node). */
  gone(reason: string): void {
    this.end(false, reason);
  }

  onExit(listener: (exit: ReplicaExit) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  private end(expected: boolean, reason: string): void {
    if (this.current === 'stopped') return;
    this.current = 'stopped';
    this.onEnd();
    const exit: ReplicaExit = { code: null, signal: null, expected, reason, stderr: '' };
    for (const l of [...this.exitListeners]) l(exit);
  }
}
