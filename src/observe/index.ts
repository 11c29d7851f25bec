/**
 * Observability: Prometheus metrics of the router, the deployments and their replicas (`GET
 * /metrics`) and OpenTelemetry traces of inference requests exported over OTLP/HTTP; the event
 * log's live stream, alert rules evaluated on every autoscaler tick (pure) and their webhook
 * notifications; what a deployment is asked (data drift against a reference) and what serving it
 * costs in energy (RAPL or a CodeCarbon-style estimate, attributed per deployment).
 */
export { ContinuumMetrics, METRIC_PREFIX, metricsPlugin } from './metrics.js';
export type { EnergyReading, MetricsPluginOptions, MetricsSources } from './metrics.js';
export { BATCH_SIZE_BUCKETS, HistogramCells, LATENCY_BUCKETS_S, RequestMetrics, RequestObserver, RequestSeries } from './metrics-requests.js';
export { InferenceTracing, otlpTracesUrl, parseTraceparent } from './tracing.js';
export type { TracedProtocol, TracingOptions } from './tracing.js';
export { EventStream, formatSseComment, formatSseEvent, matchesFilter, SseParser } from './events.js';
export type { EventFilter, EventLog, EventStreamOptions, SseMessage } from './events.js';
export { ALERT_KINDS, ALERT_SEVERITIES, ANY_DEPLOYMENT, compileAlertRule, DEFAULT_WINDOW_MS, evaluateAlerts, INITIAL_ALERT_STATE } from './alerts.js';
export type { AlertKind, AlertObservation, AlertRule, AlertRuleInput, AlertSeverity, AlertState, AlertTransition } from './alerts.js';
export { AlertEngine, alertPayload, describeRule, formatAlertValue } from './alerts-engine.js';
export type { AlertEngineOptions, AlertList } from './alerts-engine.js';
export { AlertStore } from './alerts-store.js';
export type { AlertRecord, DeliveryRecord } from './alerts-store.js';
export { backoffDelayMs, checkWebhookUrl, WebhookNotifier } from './webhooks.js';
export type { AlertmanagerPayload, DeliveryOutcome, DeliveryState, WebhookDelivery, WebhookNotifierOptions } from './webhooks.js';
export { DEFAULT_PSI_BINS, DriftMonitor, driftLevel, driftScore, featureDrift, kolmogorovSurvival, ksTwoSample, psi, PSI_EMPTY_BIN_SHARE, PSI_THRESHOLDS, quantileEdges } from './drift.js';
export type { DriftLevel, DriftMonitorOptions, DriftReport, FeatureColumns, FeatureDrift, KsResult } from './drift.js';
export { attribute, CONSTANT_TDP_SHARE, CPU_TDP_TABLE, cpuLoad, cpuPowerW, cpuTdp, DEFAULT_TDP_W_PER_CPU, EnergyMeter, estimateDimms, HOST_FILES, parseCpuModel, parseProcStat, processCpuPowerW, RAM_W_PER_DIMM, ramPowerW, raplDeltaUj, raplDomains } from './energy.js';
export type { Attribution, AttributionInput, CpuTdp, CpuTdpEntry, CpuTimes, DeploymentEnergy, DeploymentEnergyShare, DeploymentShareInput, DeploymentUsage, EnergyMeterOptions, EnergyMode, EnergyScope, EnergySnapshot, MemoryReading, RaplDomain, SystemFiles } from './energy.js';
