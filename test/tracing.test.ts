/**
 * OpenTelemetry traces end to end: `continuum serve` with an OTLP endpoint posts its spans to a
 * local HTTP receiver (the OTLP/HTTP exporter sends JSON, decoded here as far as the test needs).
 * A REST request carrying a W3C traceparent to a deployment with replica processes gives the chain
 * client span → gateway (SERVER) → router (deployment, track, version) → queue → compute, with the
 * queue and compute spans timed inside the replica; a gRPC call and an in-process model give the
 * same chain under their own roots.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIrisClassifier } from '../src/demo/iris.js';
import { DEMO_REQUEST, startServer } from '../src/server/index.js';
import { grpcClient } from './oip-fixture.js';
import { inferJson, pushModel } from './support/http.js';

/** The parts of an OTLP JSON span the test reads. */
interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly attributes: readonly { key: string; value: { stringValue?: string; intValue?: number | string; boolValue?: boolean } }[];
  readonly status?: { code?: number };
}

/** OTLP span kinds (opentelemetry-proto trace.proto). */
const KIND_INTERNAL = 1;
const KIND_SERVER = 2;

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

const spans: OtlpSpan[] = [];
const contentTypes: string[] = [];
let resourceService: string | undefined;
let receiver: Server;

function attribute(span: OtlpSpan, key: string): string | number | boolean | undefined {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (v === undefined) return undefined;
  return v.stringValue ?? (v.intValue === undefined ? v.boolValue : Number(v.intValue));
}

const ns = (t: string): bigint => BigInt(t);

function only(predicate: (s: OtlpSpan) => boolean, what: string): OtlpSpan {
  const found = spans.filter(predicate);
  if (found.length !== 1) throw new Error(`expected one ${what}, found ${found.length}: ${JSON.stringify(spans.map((s) => [s.name, s.traceId, s.parentSpanId]))}`);
  return found[0] as OtlpSpan;
}

/** The router span under `gateway`, and its queue and compute children, checked for structure and timing. */
function chainUnder(gateway: OtlpSpan): { route: OtlpSpan; queue: OtlpSpan; compute: OtlpSpan } {
  const route = only((s) => s.parentSpanId === gateway.spanId, `child of ${gateway.name}`);
  expect([route.name, route.kind, route.traceId]).toEqual(['continuum.route', KIND_INTERNAL, gateway.traceId]);
  const queue = only((s) => s.parentSpanId === route.spanId && s.name === 'continuum.queue', 'queue span');
  const compute = only((s) => s.parentSpanId === route.spanId && s.name === 'continuum.compute', 'compute span');
  // The queue wait ends where the batch's run starts; both lie within the router's span.
  expect(queue.endTimeUnixNano).toBe(compute.startTimeUnixNano);
  expect(ns(queue.startTimeUnixNano)).toBeGreaterThanOrEqual(ns(route.startTimeUnixNano));
  expect(ns(compute.endTimeUnixNano)).toBeLessThanOrEqual(ns(route.endTimeUnixNano));
  expect(ns(compute.endTimeUnixNano)).toBeGreaterThan(ns(compute.startTimeUnixNano));
  expect(ns(route.endTimeUnixNano)).toBeLessThanOrEqual(ns(gateway.endTimeUnixNano));
  expect(attribute(compute, 'continuum.batch_size')).toBe(2);
  return { route, queue, compute };
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      contentTypes.push(`${req.method} ${req.url} ${req.headers['content-type'] ?? ''}`);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of body.resourceSpans) {
        resourceService = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
        for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  const dataDir = mkdtempSync(join(tmpdir(), 'continuum-tracing-e2e-'));
  try {
    const server = await startServer({ port: 0, grpcPort: 0, dataDir, logLevel: 'silent', otlpEndpoint: `http://127.0.0.1:${port}` });
    try {
      await pushModel(server.url, 'iris-local', buildIrisClassifier().model);
      const traced = await inferJson(server.url, 'iris', DEMO_REQUEST, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` });
      expect(traced.status).toBe(200);
      expect((await inferJson(server.url, 'iris-local', DEMO_REQUEST)).status).toBe(200);
      const grpc = grpcClient(server.grpcPort);
      try {
        await grpc.call('ModelInfer', { model_name: 'iris', inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], contents: { fp32_contents: DEMO_REQUEST.inputs[0].data } }] });
      } finally {
        grpc.close();
      }
      expect((await inferJson(server.url, 'no-such-model', DEMO_REQUEST)).status).toBe(404);
    } finally {
      // Closing flushes the batch span processor.
      await server.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 120_000);

afterAll(() => {
  receiver?.close();
});

describe('OpenTelemetry traces over OTLP/HTTP', () => {
  it('posts JSON to /v1/traces under the service name', () => {
    expect(contentTypes.length).toBeGreaterThan(0);
    for (const c of contentTypes) expect(c).toBe('POST /v1/traces application/json');
    expect(resourceService).toBe('continuum');
  });

  it('continues the caller\'s trace: gateway → router (deployment, track, version) → queue → compute in the replica', () => {
    const gateway = only((s) => s.traceId === CLIENT_TRACE && s.kind === KIND_SERVER, 'REST server span in the client\'s trace');
    expect(gateway.parentSpanId).toBe(CLIENT_SPAN);
    expect(gateway.name).toBe('POST /v2/models/:model/infer');
    expect(attribute(gateway, 'http.request.method')).toBe('POST');
    expect(attribute(gateway, 'url.path')).toBe('/v2/models/iris/infer');
    expect(attribute(gateway, 'http.response.status_code')).toBe(200);
    const { route } = chainUnder(gateway);
    expect([attribute(route, 'continuum.deployment'), attribute(route, 'continuum.track'), attribute(route, 'continuum.model'), attribute(route, 'continuum.model_version')]).toEqual(['iris', 'baseline', 'iris', '1']);
    expect(spans.filter((s) => s.traceId === CLIENT_TRACE)).toHaveLength(4);
  });

  it('gives a gRPC call and an in-process model the same chain under a root of their own', () => {
    const grpc = only((s) => s.name === 'inference.GRPCInferenceService/ModelInfer', 'gRPC server span');
    expect(grpc.parentSpanId ?? '').toBe('');
    expect([grpc.kind, attribute(grpc, 'rpc.system'), attribute(grpc, 'rpc.grpc.status_code')]).toEqual([KIND_SERVER, 'grpc', 0]);
    expect(attribute(chainUnder(grpc).route, 'continuum.deployment')).toBe('iris');

    const local = only((s) => s.kind === KIND_SERVER && attribute(s, 'url.path') === '/v2/models/iris-local/infer', 'in-process REST span');
    const { route } = chainUnder(local);
    expect([attribute(route, 'continuum.deployment'), attribute(route, 'continuum.model'), attribute(route, 'continuum.model_version')]).toEqual(['', 'iris-local', '1']);
  });

  it('marks a failed call as an error with its status, without queue or compute spans', () => {
    const failed = only((s) => attribute(s, 'url.path') === '/v2/models/no-such-model/infer', 'failed call span');
    expect(failed.status?.code).toBe(2);
    expect(attribute(failed, 'http.response.status_code')).toBe(404);
    const route = only((s) => s.parentSpanId === failed.spanId, 'router span of the failed call');
    expect(route.status?.code).toBe(2);
    expect(spans.filter((s) => s.parentSpanId === route.spanId)).toHaveLength(0);
  });
});
