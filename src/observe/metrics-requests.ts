/**
 * What the router records of each inference request: its outcome and latency per model, version
 * and deployment, and where its time went in the batcher (queue wait, the batch's run, the batch's
 * size) — from the in-process runtime's timing hook or from a replica's answer frame. With tracing
 * on, the same hooks give the router's span and its queue and compute children.
 *
 * The hot path only adds to plain numbers in objects found by Map lookups (no label hashing, no
 * string building per request); prom-client turns them into exposition text when Prometheus
 * scrapes (metrics.ts). prom-client's own `histogram.labels(...).observe()` builds and hashes a
 * label string on every call (about 1 µs here), several times what a request's accounting may cost.
 */
import type { Context, Span, Tracer } from '@opentelemetry/api';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { toContinuumError } from '../errors.js';
import type { InferResponse } from '../oip/types.js';
import type { InferOptions, InferTiming } from '../runtime/index.js';
import { epochNowMs } from './tracing.js';

/**
 * Latency bucket bounds in seconds: 100 µs to 30 s, about 2.5× apart (Prometheus' client defaults
 * start at 5 ms, too coarse for a sub-millisecond model; Triton exports summaries in µs instead).
 */
export const LATENCY_BUCKETS_S: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Batch size bucket bounds in slots: powers of two up to the largest batch the runtime allows. */
export const BATCH_SIZE_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** A histogram's counts as plain numbers: a count per bucket (not cumulative), the sum and the total. */
export class HistogramCells {
  /** counts[i] holds observations v with bounds[i-1] < v <= bounds[i]; the last cell is +Inf's. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Adds one observation (Prometheus buckets are upper-inclusive: `le`). */
  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count += 1;
  }
}

/** One model version's figures at one deployment ('' for a model served in-process). */
export class RequestSeries {
  readonly duration = new HistogramCells(LATENCY_BUCKETS_S);
  readonly queue = new HistogramCells(LATENCY_BUCKETS_S);
  readonly compute = new HistogramCells(LATENCY_BUCKETS_S);
  readonly batchSize = new HistogramCells(BATCH_SIZE_BUCKETS);
  /** Answered requests by HTTP status (a gRPC call counts under its error's HTTP equivalent). */
  readonly codes = new Map<number, number>();

  constructor(
    readonly deployment: string,
    readonly model: string,
    readonly version: string,
  ) {}
}

/** Failures whose model or version name came from the client and names nothing: counted without those labels, so a client cannot create series at will. */
const UNKNOWN_NAME_CODES: ReadonlySet<string> = new Set(['CONTINUUM_ERR_MODEL_NOT_FOUND', 'CONTINUUM_ERR_VERSION_NOT_FOUND']);

/** Every request's figures, by deployment, model and version; read by the /metrics collectors. */
export class RequestMetrics {
  private readonly byDeployment = new Map<string, Map<string, Map<string, RequestSeries>>>();
  /** Requests the router holds now, by deployment ('' for in-process models). */
  readonly inFlight = new Map<string, number>();

  /** The series of one deployment, model and version, created on first use. */
  series(deployment: string, model: string, version: string): RequestSeries {
    let models = this.byDeployment.get(deployment);
    if (models === undefined) this.byDeployment.set(deployment, (models = new Map()));
    let versions = models.get(model);
    if (versions === undefined) models.set(model, (versions = new Map()));
    let series = versions.get(version);
    if (series === undefined) versions.set(version, (series = new RequestSeries(deployment, model, version)));
    return series;
  }

  /** Every series, for a scrape. */
  *all(): Iterable<RequestSeries> {
    for (const models of this.byDeployment.values()) for (const versions of models.values()) yield* versions.values();
  }

  /** A request entered the router. */
  enter(deployment: string): void {
    this.inFlight.set(deployment, (this.inFlight.get(deployment) ?? 0) + 1);
  }

  /** A request left the router. */
  leave(deployment: string): void {
    this.inFlight.set(deployment, (this.inFlight.get(deployment) ?? 1) - 1);
  }
}

/** Microseconds to seconds. */
const US_PER_S = 1e6;


/**
 * One request in the router: records its outcome and timing into the metrics and, with a tracer,
 * its router span with queue and compute children (created after the fact with explicit starts).
 */
class InferenceCall {
  readonly options: InferOptions;
  private model: string;
  private version: string;
  private readonly startMs = performance.now();
  private timing: InferTiming | undefined;
  private readonly span: Span | undefined;
  private readonly spanContext: Context | undefined;

  constructor(
    private readonly observer: RequestObserver,
    model: string,
    version: string | undefined,
    private readonly deployment: string,
    options: InferOptions | undefined,
  ) {
    this.model = model;
    this.version = version ?? '';
    // Fields copied one by one: V8 takes a slow path (about 2 µs here) to spread an object that holds functions.
    this.options = { deadlineMs: options?.deadlineMs, header: options?.header, traceContext: options?.traceContext, onTiming: this.onTiming, onRouted: this.onRouted };
    const tracer = observer.tracer;
    if (tracer !== undefined) {
      const parent = options?.traceContext ?? ROOT_CONTEXT;
      this.span = tracer.startSpan(
        'continuum.route',
        { kind: SpanKind.INTERNAL, startTime: epochNowMs(), attributes: { 'continuum.deployment': deployment, 'continuum.model': model } },
        parent,
      );
      this.spanContext = trace.setSpan(parent, this.span);
    }
    observer.metrics?.enter(deployment);
  }

  /** The route chose a track and model version (deployments only). */
  private readonly onRouted = (track: string, model: string, version: string): void => {
    this.model = model;
    this.version = version;
    this.span?.setAttributes({ 'continuum.track': track, 'continuum.model': model, 'continuum.model_version': version });
  };

  /** The request's batch ran (in-process) or its replica answered with the batcher's timing. */
  private readonly onTiming = (timing: InferTiming): void => {
    this.timing = timing;
    const tracer = this.observer.tracer;
    if (tracer === undefined) return;
    const computeStartMs = epochNowMs() - timing.computeUs / 1000;
    const queueStartMs = computeStartMs - timing.queueUs / 1000;
    const context = this.spanContext;
    tracer.startSpan('continuum.queue', { kind: SpanKind.INTERNAL, startTime: queueStartMs }, context).end(computeStartMs);
    tracer
      .startSpan('continuum.compute', { kind: SpanKind.INTERNAL, startTime: computeStartMs, attributes: { 'continuum.batch_size': timing.batchSize } }, context)
      .end(computeStartMs + timing.computeUs / 1000);
  };

  /** Records the answer and passes it on. */
  succeeded(response: InferResponse): InferResponse {
    this.finish(200, this.model, response.model_version);
    return response;
  }

  /** Records the failure and rethrows it. */
  failed(err: unknown): never {
    const e = toContinuumError(err);
    const unknownName = UNKNOWN_NAME_CODES.has(e.code);
    if (this.span !== undefined) {
      this.span.recordException(e);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
    }
    this.finish(e.httpStatus, unknownName ? '' : this.model, unknownName ? '' : this.version);
    throw err;
  }

  private finish(code: number, model: string, version: string): void {
    const metrics = this.observer.metrics;
    if (metrics !== undefined) {
      metrics.leave(this.deployment);
      const series = metrics.series(this.deployment, model, version);
      series.codes.set(code, (series.codes.get(code) ?? 0) + 1);
      series.duration.observe((performance.now() - this.startMs) / 1000);
      const timing = this.timing;
      if (timing !== undefined) {
        series.queue.observe(timing.queueUs / US_PER_S);
        series.compute.observe(timing.computeUs / US_PER_S);
        series.batchSize.observe(timing.batchSize);
      }
    }
    if (this.span !== undefined) {
      this.span.setAttributes({ 'continuum.model_version': version, 'http.response.status_code': code });
      this.span.end(epochNowMs());
    }
  }
}

/** What the router calls per request; built when metrics or tracing (or both) are on. */
export class RequestObserver {
  constructor(
    /** Where the figures go; undefined when metrics are off. */
    readonly metrics: RequestMetrics | undefined,
    /** The tracer of the router's spans; undefined when tracing is off. */
    readonly tracer: Tracer | undefined,
  ) {}

  /**
   * Observes one request: `serve` runs it with the options to pass on (the caller's plus the
   * timing and routing hooks); the answer is recorded, then returned or rethrown.
   */
  observe(model: string, version: string | undefined, deployment: string, options: InferOptions | undefined, serve: (options: InferOptions) => Promise<InferResponse>): Promise<InferResponse> {
    const call = new InferenceCall(this, model, version, deployment, options);
    let answer: Promise<InferResponse>;
    try {
      answer = serve(call.options);
    } catch (err) {
      answer = Promise.reject(err);
    }
    return answer.then(
      (response) => call.succeeded(response),
      (err: unknown) => call.failed(err),
    );
  }
}
