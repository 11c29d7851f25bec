/**
 * Built-in trainers: classifiers trained in TypeScript on rows of numbers and integer labels and
 * exported as ONNX graphs the runtime serves (docs/training.md), so a training workflow needs no
 * ML library; workflow packages trained in a sandbox, and retraining (docs/workflows.md).
 */
export { trainLogisticRegression, type LogisticRegressionOptions, type LogisticRegressionMetrics } from './logistic.js';
export { trainMlp, type MlpTrainingOptions, type MlpMetrics } from './mlp.js';
export { splitTrainTest, type TrainedClassifier, type ClassifierMetrics, type Prediction } from './dataset.js';
export { trainRandomForest, type RandomForestOptions, type RandomForestMetrics } from './forest.js';
export { DEFAULT_ARCHIVE_LIMITS, safeEntryPath, unpackArchive } from './archive.js';
export type { ArchiveLimits, UnpackedArchive } from './archive.js';
export { BUILT_IN_DATASETS, WORKFLOW_LIMITS, builtInDataset, datasetFromSamples, manifestSchema, parameterFromText, parseManifest, resolveParameters } from './workflow.js';
export type { BuiltInDatasetName, ParameterValue, SamplesWindow, TrainingDataset, Workflow, WorkflowManifest } from './workflow.js';
export { packWorkflowDirectory } from './workflow-pack.js';
export { WorkflowService, runRequestSchema } from './workflow-service.js';
export type { RunRequest, SamplesProvider, StartRelease, WorkflowDetail, WorkflowServiceOptions } from './workflow-service.js';
export type { RunInput, RunStatus, WorkflowRun } from './workflow-store.js';
export { compileSandboxLimits, networkNamespaceAvailable } from './sandbox.js';
export type { NetworkIsolation, RunResources, SandboxLimits, SandboxLimitsInput } from './sandbox.js';
export { RetrainController, compileRetrainBinding, initialRetrainState, retrainBindingSchema, retrainStarted, shouldRetrain } from './retrain.js';
export type { FiringDriftAlert, RetrainBinding, RetrainBindingInput, RetrainControllerOptions, RetrainDecision, RetrainObservation, RetrainState } from './retrain.js';
