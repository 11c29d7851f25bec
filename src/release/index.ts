/**
 * Releases: a candidate model version through validation gates (signature, smoke, accuracy on an
 * attached dataset, latency, size and memory) on real replicas, then promoted (the `production`
 * alias) or handed to a rollout of a deployment. The only public surface of src/release/.
 */
export { ReleasePipeline, releaseStatusAfterRollout } from './pipeline.js';
export type { ReleaseInput, ReleasePipelineOptions, ReleasePolicyInput, RolloutPort, RolloutState } from './pipeline.js';
export { FINAL_RELEASE_STATUSES } from './store.js';
export type { Release, ReleasePolicy, ReleaseStatus, StrategyInput } from './store.js';
export { DATASET_LIMITS, datasetSchema, irisDataset, labelIndices } from './dataset.js';
export { countTopOneCorrect, rowsPerRequest, rowsTensor } from './tensors.js';
export type { Dataset, DatasetSummary } from './dataset.js';
export { GATE_NAMES, gateOptionsSchema, decideAccuracy } from './gates.js';
export type { GateName, GateOptions, GateStatus, GateStep } from './gates.js';
export { signatureCompatibility } from './signature.js';
export type { SignatureCompatibility } from './signature.js';
