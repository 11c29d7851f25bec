/**
 * Measures what a replica of a model can do on this machine, for {@link fitServiceProfile}: the
 * model is loaded into the real runtime with its own runtime options, and for each batch size one
 * closed-loop client sends requests of that batch size, so each request runs as one batch of
 * exactly that size (Triton's perf_analyzer method at concurrency 1). The median latency of each
 * window is the time one executor takes for such a batch, the runtime's own overhead included.
 * The sizes are measured in several interleaved rounds, so a burst of load from elsewhere on the
 * machine touches one round of every size rather than all rounds of one (the fit takes the median).
 */
import { ContinuumError, toContinuumError } from '../errors.js';
import {
  compileRuntimeOptions,
  isBatchable,
  measureClosedLoop,
  Runtime,
  zeroInputs,
  type ModelSource,
  type ResolvedModelVersion,
} from '../runtime/index.js';
import type { BatchLatencyPoint, ServiceMeasurement } from './profile.js';

/** Options of {@link measureServiceProfile}. */
export interface MeasureServiceOptions {
  /** Batch sizes to measure; sizes above the model's largest batch are left out, the largest is added. @default [1, 2, 4, 8, 16, 32] */
  readonly batchSizes?: readonly number[];
  /** Unmeasured load before each window, so caches and the JIT settle. @default 100 */
  readonly warmUpMs?: number;
  /** Measured window per batch size and round. @default 300 */
  readonly measureMs?: number;
  /** Rounds over all batch sizes; each gives one point per size. @default 3 */
  readonly rounds?: number;
  /** Size of dynamic non-batch dimensions in the generated requests (e.g. an image width). @default 1 */
  readonly dynamicDimSize?: number;
}

/** The batch sizes measured by default: powers of two up to the runtime's default largest batch. */
const DEFAULT_MEASURED_BATCH_SIZES: readonly number[] = [1, 2, 4, 8, 16, 32];

/**
 * Loads `resolved` into a runtime of its own and measures the latency of a batch of each size
 * (see the module comment). `instances` in the result counts executors that run in parallel:
 * inline instances take turns on one thread, so they count as one. Throws
 * CONTINUUM_ERR_LOAD_FAILED when the model does not load, CONTINUUM_ERR_RUNTIME when requests fail.
 */
export async function measureServiceProfile(resolved: ResolvedModelVersion, opts: MeasureServiceOptions = {}): Promise<ServiceMeasurement> {
  const options = compileRuntimeOptions(resolved.runtimeOptions);
  const batchable = isBatchable(resolved.signature) && options.maxBatchSize > 0;
  const maxBatchSize = batchable ? options.maxBatchSize : 1;
  const sizes = [...new Set([...(opts.batchSizes ?? DEFAULT_MEASURED_BATCH_SIZES).filter((b) => b >= 1 && b < maxBatchSize), maxBatchSize])].sort(
    (a, b) => a - b,
  );
  const source: ModelSource = {
    resolve: () => resolved,
    listDefaults: () => [{ name: resolved.name, version: resolved.version }],
  };
  const runtime = new Runtime({ source });
  const points: BatchLatencyPoint[] = [];
  try {
    await runtime.loadModel(resolved.name, resolved.version);
    const requests = sizes.map((batchSize) => ({ batchSize, request: { inputs: zeroInputs(resolved.signature.inputs, opts.dynamicDimSize ?? 1, batchSize) } }));
    for (let round = 0; round < (opts.rounds ?? 3); round++) {
      for (const { batchSize, request } of requests) {
        let failure: unknown;
        const send = (): Promise<unknown> =>
          runtime.infer(resolved.name, resolved.version, request).catch((err: unknown) => {
            failure ??= err;
            throw err;
          });
        const measured = await measureClosedLoop(send, 1, opts.warmUpMs ?? 100, opts.measureMs ?? 300);
        if (failure !== undefined || measured.requests === 0) {
          const why = failure === undefined ? 'no request was answered within the measured window' : toContinuumError(failure).message;
          throw new ContinuumError('CONTINUUM_ERR_RUNTIME', `measuring model '${resolved.name}' at batch size ${batchSize} failed: ${why}`, {
            cause: failure,
            details: { model: resolved.name, version: resolved.version, batchSize },
          });
        }
        points.push({ batchSize, latencyMs: measured.p50Ms });
      }
    }
  } finally {
    await runtime.close();
  }
  return { model: resolved.name, instances: options.executor === 'inline' ? 1 : options.instances, maxBatchSize, points };
}
