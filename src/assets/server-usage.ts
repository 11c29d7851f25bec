/**
 * CPU time and resident memory of a server and its replicas read from its Prometheus metrics
 * (`GET /metrics`, docs/metrics.md): how `bench asset` measures a server on another machine — an
 * edge device, a fog or cloud VM — where /proc cannot be read.
 */
import type { ProcessTreeProbe, ProcessTreeReading } from './procfs.js';

/** The series summed: the server process's own (prom-client's defaults) and every replica's, from its last health check. */
const CPU_SERIES = new Set(['continuum_process_cpu_seconds_total', 'continuum_replica_cpu_seconds_total']);
const RSS_SERIES = new Set(['continuum_process_resident_memory_bytes', 'continuum_replica_resident_memory_bytes']);

/** A sample line of the Prometheus text format: name, optional labels, value (timestamps are not used). */
const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)/;

/** The server's and its replicas' CPU seconds and resident bytes in a metrics text; undefined when it has no process CPU series. */
export function usageFromMetrics(text: string, nowMs: number): ProcessTreeReading | undefined {
  let cpuSeconds = 0;
  let rssBytes = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const match = SAMPLE_LINE.exec(line);
    if (match === null) continue;
    const [, name = '', raw = ''] = match;
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;
    if (CPU_SERIES.has(name)) cpuSeconds += value;
    if (RSS_SERIES.has(name)) rssBytes += value;
    if (name === 'continuum_process_cpu_seconds_total') found = true;
  }
  return found ? { atMs: nowMs, cpuSeconds, rssBytes } : undefined;
}

/** A probe of the server at `serverUrl` through its `/metrics` (no token needed), read once a second. */
export function metricsProbe(serverUrl: string): ProcessTreeProbe {
  const url = `${serverUrl.replace(/\/+$/, '')}/metrics`;
  return {
    // Replicas report their usage with their health checks, so finer reads would repeat values.
    intervalMs: 1000,
    onThisMachine: false,
    async read(nowMs) {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      const reading = usageFromMetrics(await res.text(), nowMs);
      if (!res.ok || reading === undefined) throw new Error(`${url} gave no process metrics (HTTP ${res.status}); is the server run with --no-metrics?`);
      return reading;
    },
  };
}
