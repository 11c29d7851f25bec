/**
 * Continuum's Prometheus metrics, served at `GET /metrics` (text exposition format 0.0.4): the
 * router's per-request figures (metrics-requests.ts), the deployments' replicas, cold starts,
 * scaling, cost and activator, every replica's CPU and memory (from its health checks), and the
 * server process's own (prom-client's default metrics). Everything about deployments is read from
 * the controller when Prometheus scrapes (prom-client `collect`), so nothing is kept per tick.
 *
 * Names follow Prometheus' conventions (base units, `_total` for counters, `_seconds`, `_bytes`)
 * and keep close to Triton's (`nv_inference_request_success`, `nv_inference_queue_duration_us`,
 * `nv_inference_compute_infer_duration_us`) and KServe's (`request_predict_seconds`) where one
 * maps. The catalogue with every label is docs/metrics.md.
 */
import type { FastifyPluginAsync } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { Metric } from 'prom-client';
import type { DeploymentController, DeploymentRoute, ReplicaSet, TrackName } from '../deploy/index.js';
import type { Runtime } from '../runtime/index.js';
import type { ReplicaUsage } from '../targets/index.js';
import type { HistogramCells, RequestMetrics, RequestSeries } from './metrics-requests.js';

/** Prefix of every metric Continuum exports. */
export const METRIC_PREFIX = 'continuum_';

/** Cold-start latency buckets in seconds: a warm-pool start is tens of ms, a cold process hundreds. */
const COLD_START_BUCKETS_S: readonly number[] = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Label values of one sample. */
type Labels = Readonly<Record<string, string | number>>;

/** One sample of a collected family, as prom-client's registry reads it. */
interface Sample {
  readonly value: number;
  readonly labels: Labels;
  readonly metricName?: string;
}

/**
 * A family whose samples are computed when scraped. prom-client's registry reads only `name`,
 * `help`, `type` and `get()` of what it holds (lib/registry.js), so figures kept elsewhere (the
 * router's plain counters, the controller's state) are exposed without copying them into
 * prom-client's label-hashed maps on every request.
 */
function scrapedFamily(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', read: () => Sample[]): Metric {
  const family = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: () => Promise.resolve({ name, help, type, aggregator: 'sum', values: read() }),
    reset: () => undefined,
  };
  // prom-client types a registrable metric as the union of its own classes; its registry only reads the fields above.
  return family as unknown as Metric;
}

/** The samples of one histogram series: cumulative `_bucket{le}`, `_sum`, `_count`. */
function histogramSamples(name: string, labels: Labels, cells: HistogramCells, out: Sample[]): void {
  let cumulative = 0;
  for (let i = 0; i < cells.bounds.length; i++) {
    cumulative += cells.counts[i] as number;
    out.push({ metricName: `${name}_bucket`, labels: { le: cells.bounds[i] as number, ...labels }, value: cumulative });
  }
  out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', ...labels }, value: cells.count });
  out.push({ metricName: `${name}_sum`, labels, value: cells.sum });
  out.push({ metricName: `${name}_count`, labels, value: cells.count });
}

/** Joules a deployment's replicas used, as an energy estimator reports them (see {@link ContinuumMetrics.setEnergySource}). */
export interface EnergyReading {
  readonly deployment: string;
  /** How the figure was obtained (e.g. `rapl`, `tdp`: measured or estimated from CPU time). */
  readonly mode: string;
  readonly joules: number;
}

/** What the metrics read from the running server at scrape time. */
export interface MetricsSources {
  readonly requests: RequestMetrics;
  readonly runtime: Pick<Runtime, 'queueDepths'>;
  readonly deployments: Pick<DeploymentController, 'all'>;
}

/** A route's replica sets with the track each serves. */
function tracks(route: DeploymentRoute): [TrackName, ReplicaSet][] {
  const out: [TrackName, ReplicaSet][] = [['baseline', route.baseline]];
  if (route.candidate !== undefined) out.push(['candidate', route.candidate]);
  if (route.control !== undefined) out.push(['control', route.control]);
  return out;
}

/** Share of a route's requests each track gets under its traffic rule (a mirror's candidate share counts copies). */
function trafficShares(route: DeploymentRoute): [TrackName, number][] {
  const rule = route.traffic;
  switch (rule.kind) {
    case 'baseline':
      return [['baseline', 1]];
    case 'weighted':
    case 'sticky':
      return [
        ['baseline', 1 - (rule.candidateBps + rule.controlBps) / 10_000],
        ['candidate', rule.candidateBps / 10_000],
        ['control', rule.controlBps / 10_000],
      ];
    case 'mirror':
      return [
        ['baseline', 1],
        ['candidate', rule.shareBps / 10_000],
      ];
    case 'header':
      // Depends on the clients' headers: no fixed share to report.
      return [];
  }
}

/** The registry behind `GET /metrics` and the families Continuum registers in it; see the module comment. */
export class ContinuumMetrics {
  /** Every family; extra collectors may be registered here (`registry.registerMetric`). */
  readonly registry = new Registry();
  private readonly coldStarts: Counter<'deployment' | 'track'>;
  private readonly coldStartSeconds: Histogram<'deployment' | 'track'>;
  private readonly scalingEvents: Counter<'deployment' | 'track' | 'direction'>;
  private energySource: (() => readonly EnergyReading[]) | undefined;

  constructor(private readonly sources: MetricsSources) {
    const p = METRIC_PREFIX;
    const register = (name: string, help: string, type: 'counter' | 'gauge' | 'histogram', read: () => Sample[]): void =>
      this.registry.registerMetric(scrapedFamily(`${p}${name}`, help, type, read));
    collectDefaultMetrics({ register: this.registry, prefix: p });

    register('inference_requests_total', 'Inference requests answered by the router, by model, version, deployment and HTTP status code (gRPC calls by the equivalent).', 'counter', () => {
      const out: Sample[] = [];
      for (const s of sources.requests.all()) for (const [code, n] of s.codes) out.push({ labels: { model: s.model, version: s.version, deployment: s.deployment, code }, value: n });
      return out;
    });
    const requestHistogram = (name: string, help: string, cells: (s: RequestSeries) => HistogramCells): void =>
      register(name, help, 'histogram', () => {
        const out: Sample[] = [];
        for (const s of sources.requests.all()) {
          const c = cells(s);
          if (c.count > 0) histogramSamples(`${p}${name}`, { model: s.model, version: s.version, deployment: s.deployment }, c, out);
        }
        return out;
      });
    requestHistogram('inference_request_duration_seconds', 'Time from the router receiving a request to its answer (activator wait, hop to the replica, queue and compute).', (s) => s.duration);
    requestHistogram('inference_queue_duration_seconds', "Time a request waited in the dynamic batcher's queue before its batch started.", (s) => s.queue);
    requestHistogram('inference_compute_duration_seconds', 'Run time of the batch a request was in: inputs gathered, the session run, outputs sliced.', (s) => s.compute);
    requestHistogram('inference_batch_size', 'Size, in slots, of the batch each request ran in.', (s) => s.batchSize);
    register('inference_requests_in_flight', 'Requests the router holds now (queued, running, or waiting for a replica), by deployment.', 'gauge', () =>
      [...sources.requests.inFlight].map(([deployment, n]) => ({ labels: { deployment }, value: n })),
    );
    register('inference_queue_depth', "Requests waiting in a dynamic batcher's queue (a deployment's: summed over its replicas, as of their last health check).", 'gauge', () => this.queueDepths());

    register('deployment_replicas_desired', 'Replicas the autoscaling policy asks for, by deployment and track.', 'gauge', () =>
      this.perTrack((set) => set.desiredReplicas),
    );
    register('deployment_replicas_ready', "Ready replicas of the track's current revision.", 'gauge', () => this.perTrack((set) => set.readyReplicas));
    register('deployment_activator_buffered', 'Requests waiting in the activator for a ready replica.', 'gauge', () => this.perTrack((set) => set.status().buffered));
    register('deployment_cost_usd_total', 'Cost accrued by the cost model since the replica set started, USD, by billing mode.', 'counter', () => this.costs());
    register('deployment_traffic_share', 'Share of requests each track gets under the traffic rule (0..1; a mirror counts the candidate\'s copies).', 'gauge', () =>
      sources.deployments.all().flatMap((route) => trafficShares(route).map(([track, share]) => ({ labels: { deployment: route.baseline.current.name, track }, value: share }))),
    );
    register('replica_cpu_seconds_total', "CPU time (user and system) of a replica's process, from its last health check.", 'counter', () =>
      this.perReplica((u) => (u.cpuUserUs + u.cpuSystemUs) / 1e6),
    );
    register('replica_resident_memory_bytes', "Resident memory of a replica's process, from its last health check.", 'gauge', () => this.perReplica((u) => u.rssBytes));
    register('energy_joules_total', 'Energy used by a deployment, joules, by how it was obtained (mode); absent until an energy source is set.', 'counter', () =>
      (this.energySource?.() ?? []).map((e) => ({ labels: { deployment: e.deployment, mode: e.mode }, value: e.joules })),
    );

    this.coldStarts = new Counter({ name: `${p}deployment_cold_starts_total`, help: 'Starts from zero replicas that ended with a served request.', labelNames: ['deployment', 'track'], registers: [this.registry] });
    this.coldStartSeconds = new Histogram({
      name: `${p}deployment_cold_start_duration_seconds`,
      help: 'From the first request finding no replica to its answer.',
      labelNames: ['deployment', 'track'],
      buckets: [...COLD_START_BUCKETS_S],
      registers: [this.registry],
    });
    this.scalingEvents = new Counter({
      name: `${p}deployment_scaling_events_total`,
      help: 'Autoscaler decisions that changed the replica count, by direction (up, down).',
      labelNames: ['deployment', 'track', 'direction'],
      registers: [this.registry],
    });
  }

  /**
   * Hears a deployment event (DeploymentControllerOptions.onEvent): a cold start's latency and a
   * scaling decision's direction; other events are ignored.
   */
  onDeploymentEvent(deployment: string, track: TrackName, type: string, data: Readonly<Record<string, unknown>> | undefined): void {
    if (type === 'cold-start' && typeof data?.['latencyMs'] === 'number') {
      this.coldStarts.inc({ deployment, track });
      this.coldStartSeconds.observe({ deployment, track }, data['latencyMs'] / 1000);
    } else if (type === 'decision' && typeof data?.['from'] === 'number' && typeof data['to'] === 'number' && data['from'] !== data['to']) {
      this.scalingEvents.inc({ deployment, track, direction: data['to'] > data['from'] ? 'up' : 'down' });
    }
  }

  /**
   * Where `continuum_energy_joules_total` reads its figures at each scrape (per deployment and
   * mode; joules since the server started). None is set by default: the family is then empty.
   */
  setEnergySource(source: () => readonly EnergyReading[]): void {
    this.energySource = source;
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ readonly contentType: string; readonly body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private perTrack(value: (set: ReplicaSet) => number): Sample[] {
    return this.sources.deployments.all().flatMap((route) => tracks(route).map(([track, set]) => ({ labels: { deployment: set.current.name, track }, value: value(set) })));
  }

  private costs(): Sample[] {
    return this.sources.deployments.all().flatMap((route) =>
      tracks(route).flatMap(([track, set]) => {
        const cost = set.status().cost;
        const deployment = set.current.name;
        return [
          { labels: { deployment, track, mode: 'always-on' }, value: cost.alwaysOnUsd },
          { labels: { deployment, track, mode: 'serverless' }, value: cost.serverlessUsd },
        ];
      }),
    );
  }

  private perReplica(value: (usage: ReplicaUsage) => number): Sample[] {
    return this.sources.deployments.all().flatMap((route) =>
      route.sets().flatMap((set) =>
        set.replicaUsage().flatMap((r) => (r.usage === undefined ? [] : [{ labels: { deployment: set.current.name, revision: r.revision, replica: r.id }, value: value(r.usage) }])),
      ),
    );
  }

  private queueDepths(): Sample[] {
    const out: Sample[] = this.sources.runtime.queueDepths().map((q) => ({ labels: { model: q.name, version: q.version, deployment: '' }, value: q.queued }));
    for (const route of this.sources.deployments.all()) {
      // A control runs production's version: its replicas' queues add to production's series.
      const byVersion = new Map<string, { model: string; queued: number }>();
      for (const set of route.sets()) {
        const spec = set.current.revision.spec;
        const entry = byVersion.get(spec.version) ?? { model: spec.model, queued: 0 };
        for (const r of set.replicaUsage()) entry.queued += r.usage?.queued ?? 0;
        byVersion.set(spec.version, entry);
      }
      for (const [version, { model, queued }] of byVersion) out.push({ labels: { model, version, deployment: route.baseline.current.name }, value: queued });
    }
    return out;
  }
}

/** Options of {@link metricsPlugin}. */
export interface MetricsPluginOptions {
  readonly metrics: ContinuumMetrics;
}

/** `GET /metrics` in Prometheus' text format; outside /api, so like the OIP health routes it needs no token. */
export const metricsPlugin: FastifyPluginAsync<MetricsPluginOptions> = async (app, { metrics }) => {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.scrape();
    return reply.type(contentType).send(body);
  });
};
