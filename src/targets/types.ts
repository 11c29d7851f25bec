/**
 * The contract between the deployment controller and the places replicas run (a target: local
 * processes, later Kubernetes pods or edge agents). The controller asks a {@link Target} for
 * replicas of a revision and routes requests to the {@link Replica} handles it gets back; how a
 * replica is started, reached and watched is the target's business.
 */
import type { InferRequest, InferResponse, ModelStatistics } from '../oip/types.js';
import type { InferOptions, ResolvedModelVersion } from '../runtime/index.js';

/** What one replica runs: one model version of one revision of a deployment. */
export interface ReplicaSpec {
  readonly deployment: string;
  readonly revision: number;
  readonly model: ResolvedModelVersion;
}

/**
 * Where a replica is in its life. `starting` until its model is loaded and warmed up; `ready`
 * while it takes requests; `draining` once stop() was called (no new requests, accepted ones
 * finish); `stopped` once its process is gone, for whatever reason.
 */
export type ReplicaState = 'starting' | 'ready' | 'draining' | 'stopped';

/**
 * How long a replica took to start, by phase, in milliseconds (the cold-start histogram's
 * samples). Phases a spare process had already done before it was asked count 0.
 */
export interface ReplicaStartupTimings {
  /** Whether a spare process from the warm pool was used (spawn and import were already done). */
  readonly pooled: boolean;
  /** From the start request to the replica's program running (process spawn and Node boot). */
  readonly spawnMs: number;
  /** Time the load waited for the runtime and ONNX Runtime to be imported. */
  readonly importMs: number;
  /** ONNX Runtime session creation. */
  readonly sessionMs: number;
  /** The warm-up inference. */
  readonly warmupMs: number;
  /** From the start request to the replica reported ready (includes every phase above). */
  readonly readyMs: number;
}

/** Why and how a replica's process ended. */
export interface ReplicaExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when Continuum ended it (stop() or kill()); false when it crashed or was killed from outside. */
  readonly expected: boolean;
  /** One sentence for logs and events. */
  readonly reason: string;
  /** The last part of what the process wrote on stderr (a crash's last words). */
  readonly stderr: string;
}

/** Resource use of a replica's process, as its latest health check reported it. */
export interface ReplicaUsage {
  /** When the figures were taken (ms since epoch). */
  readonly atMs: number;
  /** CPU time used since the process started, in microseconds (process.cpuUsage()). */
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
  /** Resident memory in bytes. */
  readonly rssBytes: number;
  /** Requests waiting in the replica's batcher queue. */
  readonly queued: number;
}

/**
 * One running replica. Every request promise settles: with the answer, with the replica's own
 * error, or with CONTINUUM_ERR_REPLICA_LOST when the replica is gone, draining or stopped
 * answering (inference is idempotent, so the router may retry it on another replica).
 */
export interface Replica {
  /** Unique among the target's replicas. */
  readonly id: string;
  /** The OS process id. */
  readonly pid: number;
  readonly spec: ReplicaSpec;
  readonly state: ReplicaState;
  /** Requests sent and not yet answered (least-outstanding-requests routing reads this). */
  readonly inFlight: number;
  readonly startupTimings: ReplicaStartupTimings;
  /** From the latest health check; undefined before the first one answered. */
  readonly usage: ReplicaUsage | undefined;
  /** Runs one inference on the replica. */
  infer(request: InferRequest, options?: InferOptions): Promise<InferResponse>;
  /** The replica runtime's statistics of its model version (statistics extension). */
  statistics(): Promise<ModelStatistics>;
  /** Drains: takes no new requests, answers accepted ones, then the process exits. */
  stop(): Promise<void>;
  /** Ends the process at once (SIGKILL); pending requests reject with CONTINUUM_ERR_REPLICA_LOST. */
  kill(): void;
  /** Calls `listener` once when the process has ended; returns a function that unsubscribes. */
  onExit(listener: (exit: ReplicaExit) => void): () => void;
}

/** A place replicas run. */
export interface Target {
  /**
   * Starts a replica of `spec` and resolves once it is ready (model loaded and warmed up).
   * Rejects with CONTINUUM_ERR_LOAD_FAILED when the model does not load or start times out, and
   * with CONTINUUM_ERR_REPLICA_LOST when the process dies while starting.
   */
  startReplica(spec: ReplicaSpec): Promise<Replica>;
  /** A deployment exists that will want replicas: get ready to start them fast (e.g. boot a warm pool). */
  prepare(): void;
  /** Ends every replica and spare process of this target at once (SIGKILL); for shutdown after draining. */
  close(): Promise<void>;
}
