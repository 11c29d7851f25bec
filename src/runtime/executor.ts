/**
 * Where a model instance's session runs. onnxruntime-node executes `InferenceSession.run`
 * synchronously on the calling JavaScript thread (its backend only defers the native call with
 * setImmediate), so an 'inline' instance blocks the serving thread for the run's duration, and
 * inline instances take turns. A 'worker' instance owns its session in a worker thread: instances
 * run in parallel and the serving thread stays free, for one message round trip per batch.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { loadOrt } from './ort.js';
import type { CompiledModelRuntimeOptions } from './service.js';

/** One output of a run: what the batcher needs to slice it. */
export interface RunOutput {
  readonly dims: readonly number[];
  readonly data: ort.Tensor['data'];
}

/** A model instance: runs batches on one session. */
export interface SessionExecutor {
  /** Runs one batch; `fetches` undefined fetches every output. */
  run(feeds: Readonly<Record<string, ort.Tensor>>, fetches?: readonly string[]): Promise<Readonly<Record<string, RunOutput>>>;
  /** Frees the session's memory (and the thread of a worker instance). */
  release(): Promise<void>;
}

/** ONNX Runtime session options from the compiled runtime options. */
function sessionOptions(options: CompiledModelRuntimeOptions): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: options.interOpThreads,
    graphOptimizationLevel: options.graphOptimizationLevel,
    executionMode: 'sequential',
  };
}

/** Creates one instance of the model at `path` as the options say ('inline' or 'worker'). */
export async function createExecutor(path: string, options: CompiledModelRuntimeOptions): Promise<SessionExecutor> {
  // Loaded here even for a worker instance: the serving thread builds the tensors it sends.
  const { InferenceSession } = await loadOrt();
  if (options.executor === 'worker') return WorkerExecutor.start(path, sessionOptions(options));
  const session = await InferenceSession.create(path, sessionOptions(options));
  return {
    run: (feeds, fetches) => (fetches === undefined ? session.run(feeds) : session.run(feeds, [...fetches])),
    release: () => session.release(),
  };
}

/**
 * Initializes ONNX Runtime's process-wide environment (logging, allocators, thread pools; about
 * 25 ms) ahead of the first session, for processes that start before they know their model (the
 * targets' warm pool). onnxruntime-node initializes it in the session handler's constructor,
 * before it reads the model, so asking for a session of no bytes initializes it and then fails,
 * which is expected and ignored.
 */
export async function initializeOnnxRuntime(): Promise<void> {
  const { InferenceSession } = await loadOrt();
  try {
    await InferenceSession.create(new Uint8Array(0));
  } catch {
    // "Model data pointer is null": the environment is up, which is all this call is for.
  }
}

/**
 * The worker's program, CommonJS evaluated in the worker so it runs the same from sources and
 * from the build. It rebuilds tensors from plain {type, data, dims} and sends outputs back,
 * transferring their buffers when ONNX Runtime allows it.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session;
parentPort.on('message', async (m) => {
  try {
    if (m.op === 'load') {
      session = await ort.InferenceSession.create(m.path, m.options);
      parentPort.postMessage({ id: m.id, ok: true });
      return;
    }
    if (m.op === 'release') {
      if (session !== undefined) await session.release();
      session = undefined;
      parentPort.postMessage({ id: m.id, ok: true });
      return;
    }
    const feeds = {};
    for (const name in m.feeds) feeds[name] = new ort.Tensor(m.feeds[name].type, m.feeds[name].data, m.feeds[name].dims);
    const results = await (m.fetches === undefined ? session.run(feeds) : session.run(feeds, m.fetches));
    const outputs = {};
    const transfer = [];
    for (const name in results) {
      outputs[name] = { dims: results[name].dims, data: results[name].data };
      if (ArrayBuffer.isView(results[name].data)) transfer.push(results[name].data.buffer);
    }
    try {
      parentPort.postMessage({ id: m.id, ok: true, outputs }, transfer);
    } catch {
      parentPort.postMessage({ id: m.id, ok: true, outputs });
    }
  } catch (err) {
    parentPort.postMessage({ id: m.id, ok: false, message: err instanceof Error ? err.message : String(err) });
  }
});
`;

const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');

interface WorkerReply {
  readonly id: number;
  readonly ok: boolean;
  readonly outputs?: Record<string, RunOutput>;
  readonly message?: string;
}

/** A session in its own worker thread. */
class WorkerExecutor implements SessionExecutor {
  private nextId = 0;
  /** Set once the thread is gone: every later call fails at once instead of waiting forever. */
  private exited: Error | undefined;
  private readonly pending = new Map<number, { resolve: (reply: WorkerReply) => void; reject: (err: Error) => void }>();

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: WorkerReply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (waiter === undefined) return;
      if (reply.ok) waiter.resolve(reply);
      else waiter.reject(new Error(reply.message));
    });
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => {
      this.exited = new Error(`the instance's worker thread exited (code ${code})`);
      this.failAll(this.exited);
    });
    // An idle instance must not keep the process alive on its own; a pending call must (see call()).
    worker.unref();
  }

  static async start(path: string, options: ort.InferenceSession.SessionOptions): Promise<WorkerExecutor> {
    const executor = new WorkerExecutor(new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath } }));
    try {
      await executor.call({ op: 'load', path, options });
    } catch (err) {
      await executor.worker.terminate();
      throw err;
    }
    return executor;
  }

  async run(feeds: Readonly<Record<string, ort.Tensor>>, fetches?: readonly string[]): Promise<Readonly<Record<string, RunOutput>>> {
    const plain: Record<string, { type: ort.Tensor.Type; data: ort.Tensor['data']; dims: readonly number[] }> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, tensor] of Object.entries(feeds)) {
      let data = tensor.data;
      if (ArrayBuffer.isView(data)) {
        // Copy exactly the tensor's bytes (the caller's buffer may be a whole request body) and hand the copy over.
        data = data.slice();
        transfer.push(data.buffer as ArrayBuffer);
      }
      plain[name] = { type: tensor.type, data, dims: tensor.dims };
    }
    const reply = await this.call({ op: 'run', feeds: plain, fetches }, transfer);
    return reply.outputs ?? {};
  }

  async release(): Promise<void> {
    if (this.exited !== undefined) return;
    try {
      await this.call({ op: 'release' });
    } finally {
      await this.worker.terminate();
    }
  }

  private call(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    const id = this.nextId++;
    if (this.exited !== undefined) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      try {
        this.worker.postMessage({ ...message, id }, transfer);
      } catch (err) {
        this.pending.delete(id);
        if (this.pending.size === 0) this.worker.unref();
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  private failAll(err: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
    this.worker.unref();
  }
}
