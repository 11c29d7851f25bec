/**
 * The contract between the data plane's front ends (OIP REST, OIP gRPC, later the gateway's
 * router) and the runtime that executes models. Front ends decode wire formats into
 * {@link InferRequest} values and call an {@link InferenceService}; they never touch ONNX Runtime.
 */
import type { Context } from '@opentelemetry/api';
import type {
  InferRequest,
  InferResponse,
  ModelMetadata,
  ModelStatistics,
  RepositoryEntry,
  ServerMetadata,
  Signature,
} from '../oip/types.js';

/**
 * Friendly per-model runtime options (all optional), as a user or `continuum tune` writes them.
 * Compiled once into {@link CompiledModelRuntimeOptions}.
 */
export interface ModelRuntimeOptions {
  /** Sessions of the model run side by side. @default 1 */
  readonly instances?: number;
  /** ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime choose. @default 1 */
  readonly intraOpThreads?: number;
  /** ONNX Runtime inter-op threads per session. @default 1 */
  readonly interOpThreads?: number;
  /** ONNX Runtime graph optimization level. @default 'all' */
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Largest batch formed by the dynamic batcher; 0 disables batching. @default 32 */
  readonly maxBatchSize?: number;
  /** Batch sizes the batcher prefers to form (Triton `preferred_batch_size`). @default [] */
  readonly preferredBatchSizes?: readonly number[];
  /** How long a request may wait for a batch to fill, in microseconds; 0 = no wait. @default 0 */
  readonly maxQueueDelayUs?: number;
  /** Requests that may wait in the queue; one more is refused with 429. @default 1024 */
  readonly maxQueueSize?: number;
  /** Per-request timeout in milliseconds from arrival; 0 = none. @default 30000 */
  readonly requestTimeoutMs?: number;
  /**
   * Where sessions run. 'inline': on the serving thread, lowest latency; onnxruntime-node runs
   * synchronously there, so instances take turns. 'worker': one worker thread per instance, so
   * instances run in parallel and the serving thread stays free during long runs. @default 'inline'
   */
  readonly executor?: 'inline' | 'worker';
}

/** Runtime options after validation and defaults: every field present, units in the names. */
export type CompiledModelRuntimeOptions = Required<ModelRuntimeOptions>;

/** A model version the runtime can load: where its artifact is and what it looks like. */
export interface ResolvedModelVersion {
  readonly name: string;
  readonly version: string;
  /** Absolute path of the ONNX file in the content-addressed store. */
  readonly artifactPath: string;
  readonly sha256: string;
  readonly signature: Signature;
  readonly runtimeOptions: ModelRuntimeOptions;
}

/**
 * Where the runtime finds models (the registry implements it). `version` undefined means the
 * version a client gets by default: the `production` alias when set, else the newest.
 */
export interface ModelSource {
  resolve(name: string, version?: string): ResolvedModelVersion;
  /** Every model name with its default version, for the repository index. */
  listDefaults(): readonly { readonly name: string; readonly version: string }[];
}

/** Where one request's time went in the runtime's dynamic batcher, in microseconds. */
export interface InferTiming {
  /** From the request's arrival in the batcher's queue to the start of its batch. */
  readonly queueUs: number;
  /** The run of the batch the request was in: inputs gathered, the session's run, outputs sliced. */
  readonly computeUs: number;
  /** Slots (first-dimension rows) of that batch. */
  readonly batchSize: number;
}

/** Options of one inference call. */
export interface InferOptions {
  /** Absolute deadline (ms since epoch, `Date.now()` clock); overrides the model's timeout. */
  readonly deadlineMs?: number;
  /**
   * The request's headers (REST) or metadata (gRPC) by lower-case name, for routing decisions such
   * as a rollout's A/B split by header or by a hash of a request key.
   */
  readonly header?: (name: string) => string | undefined;
  /**
   * Called once the request's batch has run, before the answer settles (metrics and trace spans;
   * a replica carries it back in its answer's frame). Not called for a request that never ran.
   */
  readonly onTiming?: (timing: InferTiming) => void;
  /** The front end's trace context (OpenTelemetry), parent of the router's span; absent when tracing is off. */
  readonly traceContext?: Context;
  /** Called by a deployment's route with the track and the model version it chose for the request. */
  readonly onRouted?: (track: string, model: string, version: string) => void;
}

/** What the OIP front ends call. Every method throws {@link ContinuumError}s. */
export interface InferenceService {
  serverMetadata(): ServerMetadata;
  /** Server liveness (OIP `/v2/health/live`). */
  isLive(): boolean;
  /** Server readiness (OIP `/v2/health/ready`): not draining and every loaded model ready. */
  isReady(): boolean;
  /** Throws CONTINUUM_ERR_MODEL_NOT_FOUND / CONTINUUM_ERR_VERSION_NOT_FOUND. */
  modelMetadata(name: string, version?: string): ModelMetadata;
  /** Whether the model (version) is loaded and warmed up; throws when unknown. */
  modelReady(name: string, version?: string): boolean;
  infer(name: string, version: string | undefined, request: InferRequest, options?: InferOptions): Promise<InferResponse>;
  /** Statistics of loaded model versions, filtered by name and version when given. */
  statistics(name?: string, version?: string): readonly ModelStatistics[];
  repositoryIndex(): readonly RepositoryEntry[];
  /** Loads (or reloads) a model's default version; resolves when ready. */
  loadModel(name: string, version?: string): Promise<void>;
  /** Unloads every loaded version of a model and releases its sessions. */
  unloadModel(name: string): Promise<void>;
}
