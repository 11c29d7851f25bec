/**
 * Virtual assets and the asset bench: seeded generators of industrial data (PCB solder-paste
 * inspection, IMUs on a worker's hands), a publisher that sends them over MQTT as a real asset
 * would, and `bench asset`, the testing framework that measures a workflow end to end
 * (docs/workflows-reference.md).
 */
export { ASSET_KINDS, ASSET_MODELS, assetDataset } from './catalog.js';
export type { AssetKind, AssetModel, AssetSample, SampleWindow, TrainingDataset } from './catalog.js';
export { PCB_CLASS_SHARES, PCB_CLASSES, PCB_INPUTS, PCB_LABEL_NOISE, pcbSample } from './pcb.js';
export type { PcbClass, PcbInput, PcbSample } from './pcb.js';
export { IMU_ACTIVITIES, IMU_CHANNELS, IMU_RATE_HZ, imuFrames } from './imu.js';
export type { ImuActivity, ImuFrame, ImuFramesOptions } from './imu.js';
export { ASSET_FORMATS, databusMessage, databusMetadata, databusTopics, jsonMessage } from './payload.js';
export type { AssetFormat, DatabusAddress, LabelField } from './payload.js';
export { defaultAssetTopic, VirtualAsset } from './asset.js';
export type { AssetCounters, AssetRunOptions, VirtualAssetOptions } from './asset.js';
export { packWorkflow, readWorkflowManifest } from './package.js';
export type { WorkflowManifest } from './package.js';
export { processTreeProbe, sampleProcessTree } from './procfs.js';
export { metricsProbe, usageFromMetrics } from './server-usage.js';
export type { ProcessTreeProbe, ProcessTreeReading } from './procfs.js';
export { cycleTimings, formatAssetBench, PAPER_SYSTEM_MEASUREMENTS, parsePrediction, resourcePeaks, spread } from './bench-report.js';
export type { AssetBenchResult, CycleTiming, PredictionMessage, ReceivedPrediction, ResourcePeaks, SentMessage, Spread } from './bench-report.js';
export { ApiCallError, assetFor, predictionCycles, runAssetBench } from './bench.js';
export type { AssetBenchOptions, PredictionCyclesOptions, PredictionCyclesResult } from './bench.js';
