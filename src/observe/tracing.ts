/**
 * OpenTelemetry traces of inference requests: the front end's server span (REST or gRPC), the
 * router's span (deployment, track, model version) and the batcher's queue and compute spans,
 * exported over OTLP/HTTP by a batch span processor. The caller's W3C `traceparent` (and
 * `tracestate`) make the server span a child of the client's span.
 *
 * Off unless an endpoint is configured: then no tracer provider exists anywhere (none is
 * registered globally either), and the request path checks one `undefined`.
 */
import type { Attributes, Context, Span, SpanContext, Tracer } from '@opentelemetry/api';
import { createTraceState, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { toContinuumError } from '../errors.js';

/**
 * Epoch milliseconds with sub-millisecond precision on the monotonic clock. Every span of a request
 * gets its times from here explicitly: the SDK's own clock adds a per-span correction towards
 * Date.now(), which would put children computed after the fact outside their parents.
 */
export const epochNowMs = (): number => performance.timeOrigin + performance.now();

/** Options of {@link InferenceTracing.start}. */
export interface TracingOptions {
  /** The OTLP/HTTP traces URL spans are posted to (e.g. http://collector:4318/v1/traces). */
  readonly tracesUrl: string;
  readonly serviceName: string;
  readonly serviceVersion: string;
  /** Longest a span waits in the batch span processor before it is sent. @default 5000 (the SDK's) */
  readonly exportDelayMs?: number;
}

/** The OTLP/HTTP path of traces (OTLP specification, "OTLP/HTTP Request"). */
const TRACES_PATH = '/v1/traces';

/**
 * Where traces go, or undefined when tracing is off. A flag (`--otlp-endpoint`) or
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is a base URL that gets `/v1/traces` appended;
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as is (OpenTelemetry's "OTLP Exporter
 * Configuration"). The flag wins over the environment.
 */
export function otlpTracesUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const base = (url: string): string => (url.endsWith(TRACES_PATH) ? url : `${url.replace(/\/+$/, '')}${TRACES_PATH}`);
  if (flag !== undefined && flag !== '') return base(flag);
  const traces = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  if (traces !== undefined && traces !== '') return traces;
  const all = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  return all !== undefined && all !== '' ? base(all) : undefined;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZERO = /^0+$/;

/**
 * The caller's span from a `traceparent` header (W3C Trace Context, section 3.2): version, trace
 * id, parent span id and flags in lower-case hex. Version `ff` and all-zero ids are invalid; a
 * version-00 header has exactly four fields, a later version may append more.
 */
export function parseTraceparent(traceparent: string | undefined, tracestate: string | undefined): SpanContext | undefined {
  if (traceparent === undefined) return undefined;
  const m = TRACEPARENT.exec(traceparent.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined) || ALL_ZERO.test(traceId) || ALL_ZERO.test(spanId)) return undefined;
  const context: SpanContext = { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true };
  return tracestate === undefined || tracestate === '' ? context : { ...context, traceState: createTraceState(tracestate) };
}

/** How a front end reports a call's status on its span. */
export type TracedProtocol = 'http' | 'grpc';

/** The tracer of inference requests and the provider that exports its spans; see the module comment. */
export class InferenceTracing {
  private constructor(
    private readonly provider: BasicTracerProvider,
    /** The tracer the front ends and the router start spans with. */
    readonly tracer: Tracer,
  ) {}

  /** A provider exporting to `options.tracesUrl` through a batch span processor; nothing is registered globally. */
  static start(options: TracingOptions): InferenceTracing {
    const exporter = new OTLPTraceExporter({ url: options.tracesUrl });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': options.serviceName, 'service.version': options.serviceVersion }),
      spanProcessors: [new BatchSpanProcessor(exporter, options.exportDelayMs === undefined ? {} : { scheduledDelayMillis: options.exportDelayMs })],
    });
    return new InferenceTracing(provider, provider.getTracer('continuum', options.serviceVersion));
  }

  /**
   * Runs one call of a front end in a server span named `name`, child of the caller's
   * `traceparent` when it sent one; `serve` gets the context to pass on (InferOptions.traceContext).
   * The span ends with the call, with its status (HTTP status or gRPC code) and any error.
   */
  async inServerSpan<T>(name: string, protocol: TracedProtocol, attributes: Attributes, header: (name: string) => string | undefined, serve: (context: Context) => Promise<T>): Promise<T> {
    const remote = parseTraceparent(header('traceparent'), header('tracestate'));
    const parent = remote === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, remote);
    const span: Span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, startTime: epochNowMs(), attributes }, parent);
    try {
      const result = await serve(trace.setSpan(parent, span));
      span.setAttribute(protocol === 'http' ? 'http.response.status_code' : 'rpc.grpc.status_code', protocol === 'http' ? 200 : 0);
      return result;
    } catch (err) {
      const e = toContinuumError(err);
      span.setAttribute(protocol === 'http' ? 'http.response.status_code' : 'rpc.grpc.status_code', protocol === 'http' ? e.httpStatus : e.grpcStatus);
      span.recordException(e);
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
      throw err;
    } finally {
      span.end(epochNowMs());
    }
  }

  /** Sends the spans still buffered and stops exporting (server shutdown). */
  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}
