/**
 * Observability: what a deployment is asked (data drift against a reference) and what serving it
 * costs in energy (RAPL or a CodeCarbon-style estimate, attributed per deployment).
 */
export { DEFAULT_PSI_BINS, DriftMonitor, driftLevel, driftScore, featureDrift, kolmogorovSurvival, ksTwoSample, psi, PSI_EMPTY_BIN_SHARE, PSI_THRESHOLDS, quantileEdges } from './drift.js';
export type { DriftLevel, DriftMonitorOptions, DriftReport, FeatureColumns, FeatureDrift, KsResult } from './drift.js';
export { attribute, CONSTANT_TDP_SHARE, CPU_TDP_TABLE, cpuLoad, cpuPowerW, cpuTdp, DEFAULT_TDP_W_PER_CPU, EnergyMeter, estimateDimms, HOST_FILES, parseCpuModel, parseProcStat, processCpuPowerW, RAM_W_PER_DIMM, ramPowerW, raplDeltaUj, raplDomains } from './energy.js';
export type { Attribution, AttributionInput, CpuTdp, CpuTdpEntry, CpuTimes, DeploymentEnergy, DeploymentEnergyShare, DeploymentShareInput, DeploymentUsage, EnergyMeterOptions, EnergyMode, EnergyScope, EnergySnapshot, MemoryReading, RaplDomain, SystemFiles } from './energy.js';
