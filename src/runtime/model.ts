/**
 * One loaded model version: its ONNX Runtime sessions (instances), the dynamic batcher's queue in
 * front of them, and its statistics. The batch decision itself is {@link formBatch}; this class
 * does the I/O around it: clocks, timers, running sessions and answering requests.
 */
import type * as ort from 'onnxruntime-node';
import { ContinuumError, toContinuumError } from '../errors.js';
import type { InferRequest, InferResponse, Tensor, TensorSpec } from '../oip/types.js';
import { formBatch, type BatchingPolicy, type QueuedRequestView } from './batching.js';
import { createExecutor, type RunOutput, type SessionExecutor } from './executor.js';
import type { CompiledModelRuntimeOptions, InferTiming, ResolvedModelVersion } from './service.js';
import { ModelStatisticsRecorder } from './statistics.js';
import { concatData, fromOrtData, toOrtTensor, zeroInputs } from './tensors.js';
import { isBatchable, validateRequest, type ValidatedRequest } from './validate.js';

/** Microseconds on the monotonic clock the batcher and deadlines use. */
export const nowUs = (): number => performance.now() * 1000;

/**
 * Sizes tried for dynamic non-batch dimensions when warming up: 1 fits most graphs; convolutional
 * ones that shrink a dimension (an OCR line's width) may need more.
 */
const WARM_UP_DIM_SIZES = [1, 32, 320] as const;

/** How long loading a model version took; instances load side by side, so each is the slowest instance's. */
export interface LoadTimings {
  /** ONNX Runtime session creation (graph parsed and optimized). */
  readonly sessionMs: number;
  /** The warm-up inference on zeros. */
  readonly warmupMs: number;
}

interface PendingRequest extends QueuedRequestView {
  readonly request: ValidatedRequest;
  readonly id: string | undefined;
  readonly resolve: (response: InferResponse) => void;
  readonly reject: (err: ContinuumError) => void;
  readonly onTiming: ((timing: InferTiming) => void) | undefined;
}

/** Runs one inference on zeros so the first real request does not pay for lazy allocations. */
async function warmUp(session: SessionExecutor, inputs: readonly TensorSpec[]): Promise<void> {
  let lastError: unknown;
  for (const size of WARM_UP_DIM_SIZES) {
    try {
      const feeds: Record<string, ort.Tensor> = {};
      for (const t of zeroInputs(inputs, size)) feeds[t.name] = toOrtTensor(t.datatype, t.data, t.shape);
      await session.run(feeds);
      return;
    } catch (err) {
      lastError = err;
      if (!inputs.some((s) => s.shape.some((d, i) => d < 0 && i > 0))) break;
    }
  }
  throw lastError;
}

/**
 * A model version ready to serve: instances (see executor.ts), batcher and statistics. A free
 * instance takes the next batch; requests arriving while every instance is busy accumulate and
 * form the next batch, which is where batching throughput comes from.
 */
export class LoadedModelVersion {
  readonly name: string;
  readonly version: string;
  readonly statistics: ModelStatisticsRecorder;
  private readonly policy: BatchingPolicy;
  /** The batcher's slot limit seen by validation; 0 when requests are never stacked. */
  private readonly requestBatchLimit: number;
  private readonly free: SessionExecutor[];
  private queue: PendingRequest[] = [];
  /** Requests accepted and not yet answered (queued or running). */
  private outstanding = 0;
  private accepting = true;
  private pumpScheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAtUs = Infinity;
  private idleWaiters: (() => void)[] = [];
  private readonly runPump = (): void => {
    this.pumpScheduled = false;
    this.pump();
  };
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAtUs = Infinity;
    this.pump();
  };

  private constructor(
    readonly resolved: ResolvedModelVersion,
    readonly options: CompiledModelRuntimeOptions,
    private readonly sessions: readonly SessionExecutor[],
    /** How long {@link LoadedModelVersion.load} took, by phase (cold-start measurements). */
    readonly loadTimings: LoadTimings,
  ) {
    this.name = resolved.name;
    this.version = resolved.version;
    this.statistics = new ModelStatisticsRecorder(resolved.name, resolved.version);
    const batchable = isBatchable(resolved.signature) && options.maxBatchSize > 0;
    this.requestBatchLimit = batchable ? options.maxBatchSize : 0;
    this.policy = {
      maxBatchSize: batchable ? options.maxBatchSize : 1,
      preferredBatchSizes: batchable ? options.preferredBatchSizes : [],
      maxQueueDelayUs: batchable ? options.maxQueueDelayUs : 0,
    };
    this.free = [...sessions];
  }

  /**
   * Creates `instances` sessions and warms each up with one inference on zeros shaped from the
   * signature (dynamic dimensions 1). Releases whatever was created when any step fails.
   */
  static async load(resolved: ResolvedModelVersion, options: CompiledModelRuntimeOptions): Promise<LoadedModelVersion> {
    let sessionMs = 0;
    let warmupMs = 0;
    const created = await Promise.allSettled(
      Array.from({ length: options.instances }, async () => {
        const startMs = performance.now();
        const session = await createExecutor(resolved.artifactPath, options);
        const createdMs = performance.now();
        try {
          await warmUp(session, resolved.signature.inputs);
        } catch (err) {
          await session.release();
          throw err;
        }
        sessionMs = Math.max(sessionMs, createdMs - startMs);
        warmupMs = Math.max(warmupMs, performance.now() - createdMs);
        return session;
      }),
    );
    const sessions = created.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : []));
    const failure = created.find((c): c is PromiseRejectedResult => c.status === 'rejected');
    if (failure !== undefined) {
      await Promise.all(sessions.map((s) => s.release()));
      const reason = failure.reason instanceof Error ? failure.reason.message : String(failure.reason);
      throw new ContinuumError('CONTINUUM_ERR_LOAD_FAILED', `model '${resolved.name}' version ${resolved.version} failed to load: ${reason}`, {
        cause: failure.reason,
        details: { model: resolved.name, version: resolved.version },
      });
    }
    return new LoadedModelVersion(resolved, options, sessions, { sessionMs, warmupMs });
  }

  /**
   * Validates and queues a request; resolves with the response once its batch ran. `deadlineUs`
   * (monotonic microseconds, Infinity for none) bounds how long it may wait in the queue;
   * `onTiming` hears where its time went once its batch ran.
   */
  infer(request: InferRequest, deadlineUs: number, onTiming?: (timing: InferTiming) => void): Promise<InferResponse> {
    if (!this.accepting) {
      return Promise.reject(
        new ContinuumError('CONTINUUM_ERR_MODEL_NOT_READY', `model '${this.name}' version ${this.version} is being unloaded`, {
          details: { model: this.name, version: this.version },
        }),
      );
    }
    let validated: ValidatedRequest;
    try {
      validated = validateRequest(this.resolved.signature, request, this.name, this.requestBatchLimit);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.queue.length >= this.options.maxQueueSize) {
      return Promise.reject(
        new ContinuumError('CONTINUUM_ERR_QUEUE_FULL', `the queue of model '${this.name}' is full (${this.options.maxQueueSize} requests); retry later`, {
          details: { model: this.name, maxQueueSize: this.options.maxQueueSize },
          retryAfterS: 1,
        }),
      );
    }
    return new Promise<InferResponse>((resolve, reject) => {
      this.queue.push({
        request: validated,
        id: request.id,
        batchSize: validated.batchSize,
        shapeKey: validated.shapeKey,
        arrivalUs: nowUs(),
        deadlineUs,
        resolve,
        reject,
        onTiming,
      });
      this.outstanding += 1;
      // Requests decoded in the same turn of the event loop join one batch: look at the queue
      // after the I/O phase (setImmediate), not per request.
      if (!this.pumpScheduled) {
        this.pumpScheduled = true;
        setImmediate(this.runPump);
      }
    });
  }

  /** Requests waiting in the queue for a batch (not yet running). */
  get queued(): number {
    return this.queue.length;
  }

  /** Stops accepting requests and resolves once every accepted one is answered. */
  drain(): Promise<void> {
    this.accepting = false;
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Releases every session (ONNX Runtime frees the model's memory); call after {@link drain}. */
  async release(): Promise<void> {
    this.accepting = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await Promise.all(this.sessions.map((s) => s.release()));
  }

  private pump(): void {
    for (;;) {
      const now = nowUs();
      // Inline instances take turns on this thread: sharing work out between them would only shrink batches.
      const free = this.options.executor === 'inline' ? Math.min(1, this.free.length) : this.free.length;
      const decision = formBatch(this.queue, this.policy, now, free);
      if (decision.expired.length === 0 && decision.batch.length === 0) {
        this.armTimer(decision.wakeAtUs, now);
        return;
      }
      const taken = new Uint8Array(this.queue.length);
      for (const i of decision.expired) taken[i] = 1;
      for (const i of decision.batch) taken[i] = 1;
      const batch = decision.batch.map((i) => this.queue[i] as PendingRequest);
      for (const i of decision.expired) this.timeOut(this.queue[i] as PendingRequest, now);
      this.queue = this.queue.filter((_, i) => taken[i] === 0);
      if (batch.length > 0) void this.execute(this.free.pop() as SessionExecutor, batch, now);
    }
  }

  private armTimer(wakeAtUs: number | undefined, now: number): void {
    // A timer already set to fire earlier wakes the pump, which re-arms; only move it earlier.
    if (wakeAtUs === undefined || wakeAtUs >= this.timerAtUs) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAtUs = wakeAtUs;
    this.timer = setTimeout(this.onTimer, Math.max(0, (wakeAtUs - now) / 1000));
    this.timer.unref();
  }

  private timeOut(p: PendingRequest, now: number): void {
    const waitedMs = (now - p.arrivalUs) / 1000;
    this.answer(
      p,
      now,
      new ContinuumError('CONTINUUM_ERR_TIMEOUT', `request to model '${this.name}' timed out after ${waitedMs.toFixed(1)} ms in the queue`, {
        details: { model: this.name, waitedMs },
      }),
    );
  }

  private answer(p: PendingRequest, now: number, result: InferResponse | ContinuumError): void {
    const totalNs = (now - p.arrivalUs) * 1000;
    if (result instanceof ContinuumError) {
      this.statistics.recordFailure(totalNs);
      p.reject(result);
    } else {
      this.statistics.recordSuccess(totalNs);
      p.resolve(result);
    }
    this.outstanding -= 1;
    if (this.outstanding === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async execute(session: SessionExecutor, batch: readonly PendingRequest[], startUs: number): Promise<void> {
    const specs = this.resolved.signature;
    let slots = 0;
    for (const p of batch) {
      this.statistics.recordQueued((startUs - p.arrivalUs) * 1000);
      slots += p.batchSize;
    }
    try {
      const feeds: Record<string, ort.Tensor> = {};
      for (let i = 0; i < specs.inputs.length; i++) {
        const spec = specs.inputs[i] as TensorSpec;
        const first = (batch[0] as PendingRequest).request.inputs[i] as Tensor;
        if (batch.length === 1) {
          feeds[spec.name] = toOrtTensor(spec.datatype, first.data, first.shape);
        } else {
          const data = concatData(
            spec.datatype,
            batch.map((p) => (p.request.inputs[i] as Tensor).data),
          );
          feeds[spec.name] = toOrtTensor(spec.datatype, data, [slots, ...first.shape.slice(1)]);
        }
      }
      const fetches = this.fetchNames(batch);
      const inferStartUs = nowUs();
      const results = await session.run(feeds, fetches);
      const inferEndUs = nowUs();

      const responses: InferResponse[] = [];
      let row = 0;
      for (const p of batch) {
        const outputs: Tensor[] = [];
        const indices = p.request.outputIndices;
        const count = indices === undefined ? specs.outputs.length : indices.length;
        for (let k = 0; k < count; k++) {
          const spec = specs.outputs[indices === undefined ? k : (indices[k] as number)] as TensorSpec;
          const value = results[spec.name] as RunOutput;
          outputs.push(this.outputSlice(spec, value, batch.length === 1, row, p.batchSize));
        }
        row += p.batchSize;
        responses.push(
          p.id === undefined
            ? { model_name: this.name, model_version: this.version, outputs }
            : { model_name: this.name, model_version: this.version, id: p.id, outputs },
        );
      }
      const endUs = nowUs();
      this.statistics.recordExecution(
        slots,
        batch.length,
        {
          computeInputNs: (inferStartUs - startUs) * 1000,
          computeInferNs: (inferEndUs - inferStartUs) * 1000,
          computeOutputNs: (endUs - inferEndUs) * 1000,
        },
        Date.now(),
      );
      for (let j = 0; j < batch.length; j++) {
        const p = batch[j] as PendingRequest;
        p.onTiming?.({ queueUs: startUs - p.arrivalUs, computeUs: endUs - startUs, batchSize: slots });
        this.answer(p, endUs, responses[j] as InferResponse);
      }
    } catch (err) {
      const failure =
        err instanceof ContinuumError
          ? err
          : new ContinuumError('CONTINUUM_ERR_RUNTIME', `model '${this.name}' failed to run: ${toContinuumError(err).message}`, {
              cause: err,
              details: { model: this.name, version: this.version },
            });
      const endUs = nowUs();
      for (const p of batch) this.answer(p, endUs, failure);
    } finally {
      this.free.push(session);
      if (this.queue.length > 0) this.pump();
    }
  }

  /** Output names to fetch: the union of what the batch's requests ask for. */
  private fetchNames(batch: readonly PendingRequest[]): string[] {
    const outputs = this.resolved.signature.outputs;
    if (batch.some((p) => p.request.outputIndices === undefined)) return outputs.map((s) => s.name);
    const wanted = new Set<number>();
    for (const p of batch) for (const i of p.request.outputIndices as readonly number[]) wanted.add(i);
    return outputs.filter((_, i) => wanted.has(i)).map((s) => s.name);
  }

  /** The rows [row, row + rows) of a batched output; the whole output when the batch was one request. */
  private outputSlice(spec: TensorSpec, value: RunOutput, whole: boolean, row: number, rows: number): Tensor {
    if (whole) {
      return { name: spec.name, datatype: spec.datatype, shape: value.dims, data: fromOrtData(spec.datatype, value.data, 0, value.data.length) };
    }
    const rowElements = value.dims.slice(1).reduce((a, b) => a * b, 1);
    return {
      name: spec.name,
      datatype: spec.datatype,
      shape: [rows, ...value.dims.slice(1)],
      data: fromOrtData(spec.datatype, value.data, row * rowElements, (row + rows) * rowElements),
    };
  }
}
