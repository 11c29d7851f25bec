/**
 * The runtime (data plane core): ONNX Runtime sessions behind a dynamic batcher, statistics,
 * explicit load/unload, and `tune` to choose runtime options by measurement.
 */
export type {
  CompiledModelRuntimeOptions,
  InferenceService,
  InferOptions,
  InferTiming,
  ModelRuntimeOptions,
  ModelSource,
  ResolvedModelVersion,
} from './service.js';
export { Runtime, ONNX_PLATFORM, type LoadedVersion, type RuntimeOptions } from './runtime.js';
export { LoadedModelVersion, type LoadTimings } from './model.js';
export { initializeOnnxRuntime } from './executor.js';
export { compileRuntimeOptions, DEFAULT_RUNTIME_OPTIONS, RUNTIME_OPTION_LIMITS } from './options.js';
export { formBatch, type BatchDecision, type BatchingPolicy, type QueuedRequestView } from './batching.js';
export { isBatchable } from './validate.js';
export {
  tuneModel,
  pickBest,
  poolTrials,
  candidateOptions,
  measureClosedLoop,
  type ClosedLoopMeasurement,
  type TuneOptions,
  type TuneResult,
  type TuneTrial,
} from './tune.js';
export { zeroInputs } from './tensors.js';
