/**
 * Observability: Prometheus metrics of the router, the deployments and their replicas (`GET
 * /metrics`), and OpenTelemetry traces of inference requests exported over OTLP/HTTP.
 */
export { ContinuumMetrics, METRIC_PREFIX, metricsPlugin } from './metrics.js';
export type { EnergyReading, MetricsPluginOptions, MetricsSources } from './metrics.js';
export { BATCH_SIZE_BUCKETS, HistogramCells, LATENCY_BUCKETS_S, RequestMetrics, RequestObserver, RequestSeries } from './metrics-requests.js';
export { InferenceTracing, otlpTracesUrl, parseTraceparent } from './tracing.js';
export type { TracedProtocol, TracingOptions } from './tracing.js';
