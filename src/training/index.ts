/**
 * Built-in trainers: classifiers trained in TypeScript on rows of numbers and integer labels and
 * exported as ONNX graphs the runtime serves (docs/training.md), so a training workflow needs no
 * ML library.
 */
export { trainLogisticRegression, type LogisticRegressionOptions, type LogisticRegressionMetrics } from './logistic.js';
export { trainMlp, type MlpTrainingOptions, type MlpMetrics } from './mlp.js';
export { splitTrainTest, type TrainedClassifier, type ClassifierMetrics, type Prediction } from './dataset.js';
export { trainRandomForest, type RandomForestOptions, type RandomForestMetrics } from './forest.js';
export { DEFAULT_ARCHIVE_LIMITS, safeEntryPath, unpackArchive } from './archive.js';
export type { ArchiveLimits, UnpackedArchive } from './archive.js';
