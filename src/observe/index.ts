/**
 * Observability: what a deployment is asked (data drift against a reference) and what serving it
 * costs in energy (RAPL or a CodeCarbon-style estimate, attributed per deployment).
 */
export { DEFAULT_PSI_BINS, DriftMonitor, driftLevel, driftScore, featureDrift, kolmogorovSurvival, ksTwoSample, psi, PSI_EMPTY_BIN_SHARE, PSI_THRESHOLDS, quantileEdges } from './drift.js';
export type { DriftLevel, DriftMonitorOptions, DriftReport, FeatureColumns, FeatureDrift, KsResult } from './drift.js';
