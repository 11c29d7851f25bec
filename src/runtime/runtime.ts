/**
 * The runtime: every loaded model of this server, behind the {@link InferenceService} contract.
 * Models are loaded explicitly (OIP repository extension semantics: `infer` never loads); loading
 * a new version of a loaded model swaps atomically, and the old version is drained, then released.
 */
import { ContinuumError, toContinuumError } from '../errors.js';
import type {
  InferRequest,
  InferResponse,
  ModelMetadata,
  ModelStatistics,
  RepositoryEntry,
  ServerMetadata,
} from '../oip/types.js';
import { LoadedModelVersion, nowUs, type LoadTimings } from './model.js';
import { compileRuntimeOptions } from './options.js';
import type { CompiledModelRuntimeOptions, InferenceService, InferOptions, ModelSource, ResolvedModelVersion } from './service.js';

/** Options of a {@link Runtime}. */
export interface RuntimeOptions {
  readonly source: ModelSource;
  /** @default 'continuum' */
  readonly serverName?: string;
  /** @default '0.1.0' */
  readonly serverVersion?: string;
  /** OIP extensions the server's front ends support. @default ['model_repository', 'statistics'] */
  readonly extensions?: readonly string[];
}

/** The platform name of ONNX models in model metadata (Triton's name for the ONNX Runtime backend). */
export const ONNX_PLATFORM = 'onnxruntime_onnx';

type ModelState = RepositoryEntry['state'];

/** What the runtime knows of one model name. */
interface ModelSlot {
  state: ModelState;
  reason: string;
  /** The version that serves requests, when one is loaded. */
  current: LoadedModelVersion | undefined;
  /** Loads and unloads of this model run one after another. */
  chain: Promise<void>;
}

/** A model version the runtime holds sessions for, as the registry's delete-while-used check needs. */
export interface LoadedVersion {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
}

/** Runs ONNX models with dynamic batching and statistics; see the module comment. */
export class Runtime implements InferenceService {
  private readonly source: ModelSource;
  private readonly metadata: ServerMetadata;
  private readonly slots = new Map<string, ModelSlot>();
  /** Versions replaced or being unloaded that still answer their accepted requests. */
  private readonly retiring = new Set<LoadedModelVersion>();
  private draining = false;

  constructor(options: RuntimeOptions) {
    this.source = options.source;
    this.metadata = {
      name: options.serverName ?? 'continuum',
      version: options.serverVersion ?? '0.1.0',
      extensions: options.extensions ?? ['model_repository', 'statistics'],
    };
  }

  /** Server metadata (OIP "Server Metadata"). */
  serverMetadata(): ServerMetadata {
    return this.metadata;
  }

  /** The process serves: liveness does not depend on models (OIP "Server Live"). */
  isLive(): boolean {
    return true;
  }

  /** Ready when not draining and no model is still loading for the first time (OIP "Server Ready"). */
  isReady(): boolean {
    if (this.draining) return false;
    for (const slot of this.slots.values()) if (slot.state === 'LOADING' && slot.current === undefined) return false;
    return true;
  }

  /** Metadata of the loaded version, else of the version the source resolves (OIP "Model Metadata"). */
  modelMetadata(name: string, version?: string): ModelMetadata {
    const current = this.servedVersion(name, version);
    const resolved = current?.resolved ?? this.source.resolve(name, version);
    return {
      name: resolved.name,
      versions: [resolved.version],
      platform: ONNX_PLATFORM,
      inputs: resolved.signature.inputs,
      outputs: resolved.signature.outputs,
    };
  }

  /** Whether the model (version) is loaded and serving (OIP "Model Ready"); throws when unknown. */
  modelReady(name: string, version?: string): boolean {
    if (this.servedVersion(name, version) !== undefined) return true;
    this.source.resolve(name, version);
    return false;
  }

  /** Runs one inference request through the model's dynamic batcher. */
  infer(name: string, version: string | undefined, request: InferRequest, options?: InferOptions): Promise<InferResponse> {
    if (this.draining) return Promise.reject(this.shuttingDown());
    const current = this.servedVersion(name, version);
    if (current === undefined) {
      try {
        this.source.resolve(name, version);
      } catch (err) {
        return Promise.reject(toContinuumError(err));
      }
      return Promise.reject(
        new ContinuumError(
          'CONTINUUM_ERR_MODEL_NOT_READY',
          `model '${name}'${version === undefined ? '' : ` version ${version}`} is not loaded; load it through the repository API`,
          { details: { model: name, version }, retryAfterS: 1 },
        ),
      );
    }
    const now = nowUs();
    let deadlineUs = Infinity;
    if (options?.deadlineMs !== undefined) deadlineUs = now + (options.deadlineMs - Date.now()) * 1000;
    else if (current.options.requestTimeoutMs > 0) deadlineUs = now + current.options.requestTimeoutMs * 1000;
    return current.infer(request, deadlineUs, options?.onTiming);
  }

  /** Statistics of loaded versions, filtered by name and version when given (statistics extension). */
  statistics(name?: string, version?: string): readonly ModelStatistics[] {
    if (name !== undefined && !this.slots.has(name)) this.source.resolve(name, version);
    const out: ModelStatistics[] = [];
    for (const [slotName, slot] of this.slots) {
      const v = slot.current;
      if (v === undefined || (name !== undefined && slotName !== name) || (version !== undefined && v.version !== version)) continue;
      out.push(v.statistics.snapshot());
    }
    return out;
  }

  /** Requests waiting for a batch, per loaded model version (the queue-depth gauge). */
  queueDepths(): readonly { readonly name: string; readonly version: string; readonly queued: number }[] {
    const out: { name: string; version: string; queued: number }[] = [];
    for (const slot of this.slots.values()) if (slot.current !== undefined) out.push({ name: slot.current.name, version: slot.current.version, queued: slot.current.queued });
    return out;
  }

  /** Every model the source knows, with its state here (repository extension "index"). */
  repositoryIndex(): readonly RepositoryEntry[] {
    return this.source.listDefaults().map(({ name, version }) => {
      const slot = this.slots.get(name);
      if (slot === undefined) return { name, version, state: 'UNAVAILABLE', reason: 'not loaded' };
      return { name, version: slot.current?.version ?? version, state: slot.state, reason: slot.reason };
    });
  }

  /** How long loading the serving version of `name` took, by phase; undefined when none is loaded. */
  loadTimings(name: string): LoadTimings | undefined {
    return this.slots.get(name)?.current?.loadTimings;
  }

  /** Every version holding sessions, including ones still draining after a swap or unload. */
  loadedVersions(): readonly LoadedVersion[] {
    const versions = [...this.slots.values()].flatMap((s) => (s.current === undefined ? [] : [s.current])).concat([...this.retiring]);
    return versions.map((v) => ({ name: v.name, version: v.version, sha256: v.resolved.sha256 }));
  }

  /**
   * Loads `version` (default: the source's default version) and resolves when it serves. A
   * loaded model keeps serving its old version until the new one is warm, then the old one is
   * drained and released.
   */
  loadModel(name: string, version?: string): Promise<void> {
    if (this.draining) return Promise.reject(this.shuttingDown());
    let resolved: ResolvedModelVersion;
    let options: CompiledModelRuntimeOptions;
    try {
      resolved = this.source.resolve(name, version);
      options = compileRuntimeOptions(resolved.runtimeOptions);
    } catch (err) {
      return Promise.reject(toContinuumError(err));
    }
    const slot = this.slot(name);
    return this.enqueue(slot, async () => {
      if (slot.current === undefined) {
        slot.state = 'LOADING';
        slot.reason = `loading version ${resolved.version}`;
      }
      let loaded: LoadedModelVersion;
      try {
        loaded = await LoadedModelVersion.load(resolved, options);
      } catch (err) {
        if (slot.current === undefined) {
          slot.state = 'UNAVAILABLE';
          slot.reason = toContinuumError(err).message;
        }
        throw err;
      }
      const old = slot.current;
      slot.current = loaded;
      slot.state = 'READY';
      slot.reason = '';
      if (old !== undefined) await this.retire(old);
    });
  }

  /** Unloads the model: stops new requests (NOT_READY), answers accepted ones, releases sessions. */
  unloadModel(name: string): Promise<void> {
    const slot = this.slots.get(name);
    if (slot === undefined) {
      try {
        this.source.resolve(name);
      } catch (err) {
        return Promise.reject(toContinuumError(err));
      }
      return Promise.resolve();
    }
    return this.enqueue(slot, async () => {
      const old = slot.current;
      if (old === undefined) return;
      slot.state = 'UNLOADING';
      slot.reason = 'unloading';
      slot.current = undefined;
      await this.retire(old);
      slot.state = 'UNAVAILABLE';
      slot.reason = 'unloaded';
    });
  }

  /**
   * Refuses new requests with CONTINUUM_ERR_SHUTTING_DOWN and resolves once every accepted
   * request is answered.
   */
  async drain(): Promise<void> {
    this.draining = true;
    // Loads and unloads already under way finish first, so no session is created after close().
    await Promise.all([...this.slots.values()].map((s) => s.chain));
    await Promise.all([...this.slots.values()].flatMap((s) => (s.current === undefined ? [] : [s.current.drain()])));
  }

  /** Drains, then releases every session of every model. */
  async close(): Promise<void> {
    await this.drain();
    const versions = [...this.slots.values()].flatMap((s) => (s.current === undefined ? [] : [s.current]));
    for (const slot of this.slots.values()) {
      slot.current = undefined;
      slot.state = 'UNAVAILABLE';
      slot.reason = 'server closed';
    }
    await Promise.all([...versions.map((v) => v.release()), ...[...this.retiring].map((v) => v.drain())]);
  }

  /** The loaded version that answers `name`/`version`, when it is loaded and serving. */
  private servedVersion(name: string, version: string | undefined): LoadedModelVersion | undefined {
    const current = this.slots.get(name)?.current;
    if (current === undefined || (version !== undefined && current.version !== version)) return undefined;
    return current;
  }

  private slot(name: string): ModelSlot {
    let slot = this.slots.get(name);
    if (slot === undefined) {
      slot = { state: 'UNAVAILABLE', reason: 'not loaded', current: undefined, chain: Promise.resolve() };
      this.slots.set(name, slot);
    }
    return slot;
  }

  private enqueue(slot: ModelSlot, step: () => Promise<void>): Promise<void> {
    const run = slot.chain.then(step);
    slot.chain = run.catch(() => undefined);
    return run;
  }

  private async retire(version: LoadedModelVersion): Promise<void> {
    this.retiring.add(version);
    try {
      await version.drain();
      await version.release();
    } finally {
      this.retiring.delete(version);
    }
  }

  private shuttingDown(): ContinuumError {
    return new ContinuumError('CONTINUUM_ERR_SHUTTING_DOWN', 'the server is shutting down; send the request to another replica', {
      retryAfterS: 1,
    });
  }
}
