/**
 * A replica in a local process, as the gateway uses it: requests multiplexed over the channel by
 * id, health checks, drain, and the guarantee that no promise is left hanging. Every request
 * settles with the replica's answer, with CONTINUUM_ERR_REPLICA_LOST the moment the channel
 * closes or the process exits (the router retries those elsewhere), or with CONTINUUM_ERR_TIMEOUT
 * once it is past its deadline plus a grace and the replica still has not answered.
 */
import { ContinuumError, toContinuumError } from '../../errors.js';
import type { InferRequest, InferResponse, ModelStatistics } from '../../oip/types.js';
import type { InferOptions } from '../../runtime/index.js';
import type { Replica, ReplicaExit, ReplicaSpec, ReplicaStartupTimings, ReplicaState, ReplicaUsage } from '../types.js';
import { FrameKind, jsonHeader } from './frames.js';
import type { Frame } from './frames.js';
import { decodeFailure, decodeInferResponse, decodeResultTiming, encodeInferRequest, parseReplicaMessage } from './messages.js';
import type { ParentMessage } from './messages.js';
import type { CompiledLocalTargetOptions } from './options.js';
import { epochMs } from './process.js';
import type { ReplicaProcess } from './process.js';

/** A request or control call waiting for the replica's answer. */
interface Call {
  /** Counts in {@link LocalReplica.inFlight}: an inference, not a control call. */
  readonly inference: boolean;
  /** Ms since epoch after which the parent gives up waiting (Infinity: never; exit still settles it). */
  readonly expiresAtMs: number;
  readonly settle: (frame: Frame) => void;
  readonly reject: (err: ContinuumError) => void;
}

/** How a replica is started. */
export interface ReplicaStart {
  readonly id: string;
  readonly spec: ReplicaSpec;
  readonly options: CompiledLocalTargetOptions;
  /** The model's request timeout (compiled runtime option): the parent's bound when a request has no deadline. */
  readonly requestTimeoutMs: number;
  /** When the start was asked for, ms since epoch. */
  readonly requestedAtEpochMs: number;
  /** Whether the replica's process is a spare of the warm pool. */
  readonly pooled: boolean;
}

const NOT_STARTED: ReplicaStartupTimings = { pooled: false, spawnMs: 0, importMs: 0, sessionMs: 0, warmupMs: 0, readyMs: 0 };

/** Ids of frames are u32; 0 is kept for frames that answer nothing. */
const MAX_CALL_ID = 0xffff_ffff;

/**
 * The line of a process's stderr that says why it died: the last one naming an error (Node prints
 * the stack and its version after it), else the last non-empty one; at most 300 characters.
 */
function lastWords(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  const line = lines.findLast((l) => /\b\w*Error\b/.test(l)) ?? lines.at(-1) ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line.trim();
}

/** A replica running in a local process; see the module comment. */
export class LocalReplica implements Replica {
  readonly id: string;
  readonly pid: number;
  readonly spec: ReplicaSpec;
  startupTimings: ReplicaStartupTimings = NOT_STARTED;
  usage: ReplicaUsage | undefined;
  private currentState: ReplicaState = 'starting';
  private readonly calls = new Map<number, Call>();
  private nextCallId = 1;
  private inferences = 0;
  private lastAnswerMs = Date.now();
  private healthTimer: NodeJS.Timeout | undefined;
  private loading: { resolve: () => void; reject: (err: ContinuumError) => void } | undefined;
  /** Set when Continuum ended the replica (stop or kill): its exit is then expected. */
  private endedOnPurpose = false;
  /** Why Continuum ended the replica, when it did (stop, kill, start timeout, health check). */
  private lostReason: string | undefined;
  /** How the parent noticed the replica was gone. */
  private goneReason: string | undefined;
  private exit: ReplicaExit | undefined;
  private readonly exitListeners = new Set<(exit: ReplicaExit) => void>();
  private readonly exited: Promise<void>;
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly host: ReplicaProcess,
    private readonly setup: ReplicaStart,
  ) {
    this.id = setup.id;
    this.pid = host.pid;
    this.spec = setup.spec;
    this.exited = host.ended.then((end) => {
      const reason = this.lostReason ?? (end.signal === null ? `it exited with code ${end.code}` : `it was killed by ${end.signal}`);
      this.exit = { code: end.code, signal: end.signal, expected: this.endedOnPurpose, reason, stderr: end.stderr };
      for (const listener of this.exitListeners) listener(this.exit);
      this.exitListeners.clear();
    });
    host.attach({ onFrame: (frame) => this.onFrame(frame), onGone: (reason) => this.onGone(reason) });
  }

  /**
   * Loads the spec's model in the `host` process and resolves once the replica is ready. On
   * failure the process is killed and the promise rejects (LOAD_FAILED, or REPLICA_LOST when it died).
   */
  static async start(host: ReplicaProcess, setup: ReplicaStart): Promise<LocalReplica> {
    const replica = new LocalReplica(host, setup);
    await replica.load();
    return replica;
  }

  get state(): ReplicaState {
    return this.currentState;
  }

  get inFlight(): number {
    return this.inferences;
  }

  infer(request: InferRequest, options?: InferOptions): Promise<InferResponse> {
    if (this.currentState !== 'ready') return Promise.reject(this.lost(this.whyNotServing()));
    const deadlineMs = options?.deadlineMs;
    const limitMs = deadlineMs ?? (this.setup.requestTimeoutMs > 0 ? Date.now() + this.setup.requestTimeoutMs : Infinity);
    let encoded: ReturnType<typeof encodeInferRequest>;
    try {
      encoded = encodeInferRequest(request, deadlineMs);
    } catch (err) {
      return Promise.reject(toContinuumError(err));
    }
    const { name, version } = this.spec.model;
    const onTiming = options?.onTiming;
    return new Promise<InferResponse>((resolve, reject) => {
      const id = this.call({
        inference: true,
        expiresAtMs: limitMs + this.setup.options.answerGraceMs,
        settle: (frame) => {
          const response = decodeInferResponse(frame.header, frame.payload, name, version);
          if (onTiming !== undefined) {
            const timing = decodeResultTiming(frame.header);
            if (timing !== undefined) onTiming(timing);
          }
          resolve(response);
        },
        reject,
      });
      this.host.send(FrameKind.Infer, id, encoded.header, encoded.payload);
    });
  }

  statistics(): Promise<ModelStatistics> {
    if (this.currentState === 'stopped') return Promise.reject(this.lost(this.whyNotServing()));
    return new Promise<ModelStatistics>((resolve, reject) => {
      const id = this.call({
        inference: false,
        expiresAtMs: Date.now() + this.setup.options.unresponsiveAfterMs,
        settle: (frame) => {
          const message = parseReplicaMessage(jsonHeader(frame));
          if (message.op !== 'statistics') throw new Error(`expected statistics, got ${message.op}`);
          resolve(message.statistics);
        },
        reject,
      });
      this.control(id, { op: 'statistics' });
    });
  }

  stop(): Promise<void> {
    if (this.stopping !== undefined) return this.stopping;
    if (this.currentState === 'stopped') return this.exited;
    this.endedOnPurpose = true;
    this.currentState = 'draining';
    this.lostReason = 'it was stopped (drained)';
    this.control(0, { op: 'drain' });
    const timer = setTimeout(() => {
      this.lostReason = `it did not drain within ${this.setup.options.drainTimeoutMs} ms and was killed`;
      this.host.kill();
    }, this.setup.options.drainTimeoutMs);
    this.stopping = this.exited.finally(() => clearTimeout(timer));
    return this.stopping;
  }

  kill(): void {
    if (this.currentState === 'stopped') return;
    this.endedOnPurpose = true;
    this.lostReason = 'it was killed';
    this.host.kill();
  }

  onExit(listener: (exit: ReplicaExit) => void): () => void {
    const exit = this.exit;
    if (exit !== undefined) {
      queueMicrotask(() => listener(exit));
      return () => undefined;
    }
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  private load(): Promise<void> {
    const loadSentEpochMs = epochMs();
    this.host.ref();
    const message: ParentMessage = { op: 'load', spec: this.spec };
    this.host.sendJson(FrameKind.Control, 0, message);
    const { startTimeoutMs } = this.setup.options;
    const timer = setTimeout(() => {
      this.fail(
        new ContinuumError('CONTINUUM_ERR_LOAD_FAILED', `replica ${this.id} did not become ready within ${startTimeoutMs} ms`, {
          details: this.details(),
        }),
      );
      this.lostReason = `it did not become ready within ${startTimeoutMs} ms`;
      this.host.kill();
    }, startTimeoutMs);
    return new Promise<void>((resolve, reject) => {
      this.loading = {
        resolve: () => {
          clearTimeout(timer);
          this.markReady(loadSentEpochMs);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
    });
  }

  private markReady(loadSentEpochMs: number): void {
    const imported = this.host.imported;
    const { requestedAtEpochMs } = this.setup;
    if (imported !== undefined) {
      this.startupTimings = {
        ...this.startupTimings,
        pooled: this.setup.pooled,
        spawnMs: Math.max(0, imported.mainStartEpochMs - requestedAtEpochMs),
        importMs: Math.max(0, imported.importedEpochMs - Math.max(imported.mainStartEpochMs, loadSentEpochMs)),
        readyMs: epochMs() - requestedAtEpochMs,
      };
    }
    this.currentState = 'ready';
    this.lastAnswerMs = Date.now();
    this.healthTimer = setInterval(() => this.checkHealth(), this.setup.options.healthIntervalMs);
    this.healthTimer.unref();
    this.host.unref();
  }

  /** One health tick: give up on overdue calls, kill a replica that stopped answering, ping. */
  private checkHealth(): void {
    const now = Date.now();
    for (const [id, call] of this.calls) {
      if (call.expiresAtMs >= now) continue;
      this.forget(id, call);
      call.reject(
        new ContinuumError('CONTINUUM_ERR_TIMEOUT', `replica ${this.id} did not answer before the request's deadline`, { details: this.details() }),
      );
    }
    const silentMs = now - this.lastAnswerMs;
    if (silentMs > this.setup.options.unresponsiveAfterMs) {
      this.lostReason = `it answered no health check for ${silentMs} ms and was killed`;
      this.host.kill();
      return;
    }
    this.control(0, { op: 'ping' });
  }

  private onFrame(frame: Frame): void {
    this.lastAnswerMs = Date.now();
    if (frame.kind === FrameKind.Control && frame.id === 0) {
      this.onControl(jsonHeader(frame));
      return;
    }
    const call = this.calls.get(frame.id);
    if (call === undefined) return; // Answered after the parent gave up on it.
    this.forget(frame.id, call);
    if (frame.kind === FrameKind.Failure) {
      call.reject(decodeFailure(jsonHeader(frame)));
      return;
    }
    try {
      call.settle(frame);
    } catch (err) {
      call.reject(toContinuumError(err));
    }
  }

  private onControl(header: unknown): void {
    const message = parseReplicaMessage(header);
    switch (message.op) {
      case 'ready':
        this.startupTimings = { ...this.startupTimings, sessionMs: message.sessionMs, warmupMs: message.warmupMs };
        this.loading?.resolve();
        this.loading = undefined;
        return;
      case 'failed': {
        const cause = decodeFailure(message.error);
        this.fail(
          cause.code === 'CONTINUUM_ERR_LOAD_FAILED'
            ? cause
            : new ContinuumError('CONTINUUM_ERR_LOAD_FAILED', `replica ${this.id} failed to load: ${cause.message}`, { cause, details: this.details() }),
        );
        this.lostReason = 'its model failed to load';
        return;
      }
      case 'pong':
        this.usage = { atMs: Date.now(), cpuUserUs: message.cpuUserUs, cpuSystemUs: message.cpuSystemUs, rssBytes: message.rssBytes, queued: message.queued };
        return;
      case 'imported':
      case 'statistics':
        return;
    }
  }

  /** The channel closed or the process exited: everything still owed fails over at once. */
  private onGone(reason: string): void {
    this.goneReason = reason;
    this.currentState = 'stopped';
    if (this.healthTimer !== undefined) clearInterval(this.healthTimer);
    const err = this.lost(this.whyNotServing());
    const starting = this.loading;
    this.loading = undefined;
    // A process that dies while starting usually said why on stderr: wait for its last words.
    if (starting !== undefined) void this.host.ended.then((end) => starting.reject(this.lost(this.whyNotServing(), lastWords(end.stderr))));
    const calls = [...this.calls.values()];
    this.calls.clear();
    this.inferences = 0;
    for (const call of calls) call.reject(err);
  }

  /** Rejects a start still under way. */
  private fail(err: ContinuumError): void {
    const loading = this.loading;
    this.loading = undefined;
    loading?.reject(err);
  }

  private call(call: Call): number {
    let id = this.nextCallId;
    while (this.calls.has(id)) id = id === MAX_CALL_ID ? 1 : id + 1;
    this.nextCallId = id === MAX_CALL_ID ? 1 : id + 1;
    this.calls.set(id, call);
    if (call.inference) this.inferences += 1;
    if (this.calls.size === 1) this.host.ref();
    return id;
  }

  private forget(id: number, call: Call): void {
    this.calls.delete(id);
    if (call.inference) this.inferences -= 1;
    if (this.calls.size === 0 && this.currentState === 'ready') this.host.unref();
  }

  private control(id: number, message: ParentMessage): void {
    this.host.sendJson(FrameKind.Control, id, message);
  }

  private whyNotServing(): string {
    return this.lostReason ?? this.goneReason ?? `it is ${this.currentState}`;
  }

  private lost(reason: string, stderr = ''): ContinuumError {
    return new ContinuumError(
      'CONTINUUM_ERR_REPLICA_LOST',
      `replica ${this.id} of deployment '${this.spec.deployment}' cannot answer: ${reason}${stderr === '' ? '' : ` (stderr: ${stderr})`}; retry the request`,
      { details: { ...this.details(), reason }, retryAfterS: 1 },
    );
  }

  private details(): Record<string, unknown> {
    return { replica: this.id, pid: this.pid, deployment: this.spec.deployment, revision: this.spec.revision };
  }
}
