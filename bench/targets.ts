/**
 * What the load generator drives: one request of a fixed tensor, sent over OIP REST JSON, the OIP
 * binary tensor extension, OIP gRPC, or run in-process on an ONNX Runtime session (the limit).
 * Every target can also answer a probe: one request whose first output is decoded, so the bench
 * can check that every server answers the same numbers before it measures them.
 */
import * as protoLoader from '@grpc/proto-loader';
import ort from 'onnxruntime-node';
import { Pool } from 'undici';
import { z } from 'zod';
import { seededRandom } from '../src/onnx/build.js';
import { H2Connection } from './h2-client.js';
import { encodeLiteralHeaders } from './hpack.js';
import type { HeaderField } from './hpack.js';
import { probeOf } from './method.js';
import type { Probe } from './method.js';


/** The tensor every request carries: FP32, deterministic values from a seed. */
export const InputSpecSchema = z.object({
  name: z.string().min(1).max(256),
  shape: z.array(z.number().int().min(1).max(1 << 20)).min(1).max(8),
  seed: z.number().int(),
});

/** The tensor every request carries. */
export type InputSpec = z.infer<typeof InputSpecSchema>;

/** How and where to send requests. */
export const TargetSpecSchema = z.discriminatedUnion('protocol', [
  z.object({
    protocol: z.enum(['rest-json', 'rest-binary']),
    /** Origin of the HTTP server, e.g. http://127.0.0.1:8080. */
    origin: z.string().url(),
    model: z.string().min(1).max(256),
    input: InputSpecSchema,
    /** The output asked for in binary form (binary extension), and decoded by the probe. */
    outputName: z.string().min(1).max(256),
  }),
  z.object({
    protocol: z.literal('grpc'),
    /** host:port of the gRPC server. */
    address: z.string().min(3).max(300),
    /** The OIP `grpc_predict_v2.proto` (package `inference`). */
    protoPath: z.string().min(1),
    model: z.string().min(1).max(256),
    input: InputSpecSchema,
    outputName: z.string().min(1).max(256),
  }),
  z.object({
    protocol: z.literal('in-process'),
    modelPath: z.string().min(1),
    /** ONNX Runtime intra-op threads; 0 leaves ONNX Runtime's default (one per core). */
    intraOpThreads: z.number().int().min(0).max(64),
    input: InputSpecSchema,
    outputName: z.string().min(1).max(256),
  }),
]);

/** How and where to send requests. */
export type TargetSpec = z.infer<typeof TargetSpecSchema>;

/** One way of running the request. */
export interface Target {
  /** Sends the request and reads the whole answer; rejects when the answer is not a success. */
  send(): Promise<void>;
  /** Sends the request once and decodes its first output. */
  probe(): Promise<Probe>;
  close(): Promise<void>;
}

/**
 * The input values: multiples of 1/256 in [-1, 1), so they are exact in FP32 and short in JSON —
 * the JSON and binary encodings then carry exactly the same numbers.
 */
export function inputValues(spec: InputSpec): Float32Array {
  const rand = seededRandom(spec.seed);
  const n = spec.shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => (Math.floor(rand() * 512) - 256) / 256);
}

function floatsOf(bytes: Uint8Array): Float32Array {
  // Copy: the bytes of a response need not be 4-byte aligned.
  return new Float32Array(Uint8Array.from(bytes).buffer);
}

const JsonOutputSchema = z.object({
  name: z.string(),
  shape: z.array(z.number()),
  data: z.array(z.number()).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
});
const JsonAnswerSchema = z.object({ outputs: z.array(JsonOutputSchema).min(1) });

function restTarget(spec: Extract<TargetSpec, { protocol: 'rest-json' | 'rest-binary' }>, connections: number): Target {
  const values = inputValues(spec.input);
  const path = `/v2/models/${encodeURIComponent(spec.model)}/infer`;
  let body: Buffer;
  let headers: Record<string, string>;
  if (spec.protocol === 'rest-json') {
    body = Buffer.from(JSON.stringify({ inputs: [{ name: spec.input.name, shape: spec.input.shape, datatype: 'FP32', data: Array.from(values) }] }));
    headers = { 'content-type': 'application/json' };
  } else {
    // OIP binary tensor extension: the JSON header, then the raw tensor bytes; the header's
    // length goes in Inference-Header-Content-Length, and binary_data asks for a binary output.
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: spec.input.name, shape: spec.input.shape, datatype: 'FP32', parameters: { binary_data_size: values.byteLength } }],
        outputs: [{ name: spec.outputName, parameters: { binary_data: true } }],
      }),
    );
    body = Buffer.concat([header, Buffer.from(values.buffer, values.byteOffset, values.byteLength)]);
    headers = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) };
  }
  // Closed loop over keep-alive connections, one request in flight per connection (as
  // perf_analyzer's HTTP client): `connections` = the concurrency.
  const pool = new Pool(spec.origin, { connections, pipelining: 1, keepAliveTimeout: 60_000, bodyTimeout: 120_000, headersTimeout: 120_000 });
  const request = async (): Promise<{ readonly headerLength: string | undefined; readonly bytes: Uint8Array }> => {
    const res = await pool.request({ path, method: 'POST', headers, body });
    const bytes = new Uint8Array(await res.body.arrayBuffer());
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${Buffer.from(bytes).toString('utf8').slice(0, 300)}`);
    const h = res.headers['inference-header-content-length'];
    return { headerLength: Array.isArray(h) ? h[0] : h, bytes };
  };
  return {
    async send() {
      await request();
    },
    async probe() {
      const { headerLength, bytes } = await request();
      const jsonLength = headerLength === undefined ? bytes.length : Number(headerLength);
      const answer = JsonAnswerSchema.parse(JSON.parse(Buffer.from(bytes.subarray(0, jsonLength)).toString('utf8')));
      let offset = jsonLength;
      for (const out of answer.outputs) {
        const size = out.parameters?.['binary_data_size'];
        const raw = typeof size === 'number' ? bytes.subarray(offset, offset + size) : undefined;
        if (raw !== undefined) offset += raw.length;
        if (out.name !== spec.outputName) continue;
        const data = raw === undefined ? out.data : floatsOf(raw);
        if (data === undefined) throw new Error(`output ${out.name} carries no data`);
        return probeOf(out.shape, data);
      }
      throw new Error(`the answer has no output ${spec.outputName}`);
    },
    async close() {
      await pool.close();
    },
  };
}

/** The parts of the OIP gRPC ModelInfer messages the bench reads (proto-loader, keepCase). */
interface GrpcInferResponse {
  readonly outputs?: readonly { readonly name: string; readonly shape: readonly (string | number)[]; readonly contents?: { readonly fp32_contents?: readonly number[] } }[];
  readonly raw_output_contents?: readonly Uint8Array[];
}

/** Concurrent calls per HTTP/2 connection: a gRPC client spreads heavy load over a few connections. */
const GRPC_CALLS_PER_CONNECTION = 16;

/** The value of a header field, from the last block that has it. */
function field(fields: readonly HeaderField[], name: string): string | undefined {
  for (let i = fields.length - 1; i >= 0; i--) if ((fields[i] as HeaderField)[0] === name) return (fields[i] as HeaderField)[1];
  return undefined;
}

/**
 * A lean gRPC client for a closed loop: the ModelInfer request is encoded once with the codecs
 * proto-loader generates from the service definition (independent of the server's hand-written
 * codec) and sent, framed, over the small HTTP/2 client in h2-client.ts; an answer counts when it
 * ends with grpc-status 0 (in its trailers, or its only headers for a failure). A general gRPC
 * client library spends several times the server's CPU per call, which on a shared 2-core machine
 * would measure the client more than the server.
 */
async function grpcTarget(spec: Extract<TargetSpec, { protocol: 'grpc' }>, concurrency: number): Promise<Target> {
  const definition = protoLoader.loadSync(spec.protoPath, { keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true });
  const method = (definition['inference.GRPCInferenceService'] as protoLoader.ServiceDefinition)['ModelInfer'] as protoLoader.MethodDefinition<object, GrpcInferResponse>;
  const values = inputValues(spec.input);
  const message = method.requestSerialize({
    model_name: spec.model,
    inputs: [{ name: spec.input.name, datatype: 'FP32', shape: spec.input.shape }],
    outputs: [{ name: spec.outputName }],
    // raw_input_contents: the tensor's bytes, little-endian (OIP gRPC, "Raw input/output contents").
    raw_input_contents: [Buffer.from(values.buffer, values.byteOffset, values.byteLength)],
  });
  // gRPC Length-Prefixed-Message: uncompressed flag, big-endian length, message.
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  const separator = spec.address.lastIndexOf(':');
  const host = spec.address.slice(0, separator).replace(/^\[|\]$/g, '');
  const headerBlock = encodeLiteralHeaders([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', method.path],
    [':authority', spec.address],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ]);
  const connections = await Promise.all(
    Array.from({ length: Math.max(1, Math.ceil(concurrency / GRPC_CALLS_PER_CONNECTION)) }, () => H2Connection.open(host, Number(spec.address.slice(separator + 1)))),
  );
  let next = 0;
  const call = async (keep: boolean): Promise<Buffer> => {
    const answer = await (connections[next++ % connections.length] as H2Connection).request(headerBlock, framed, keep);
    // Trailers-Only answers carry the status in their headers.
    const status = field(answer.trailers, 'grpc-status') ?? field(answer.headers, 'grpc-status');
    if (status !== '0') {
      const detail = field(answer.trailers, 'grpc-message') ?? field(answer.headers, 'grpc-message');
      throw new Error(`gRPC status ${status ?? 'missing'}${detail === undefined ? '' : `: ${decodeURIComponent(detail)}`}`);
    }
    return keep ? Buffer.concat(answer.data) : EMPTY;
  };
  return {
    async send() {
      await call(false);
    },
    async probe() {
      const body = await call(true);
      const res = method.responseDeserialize(body.subarray(5, 5 + body.readUInt32BE(1)));
      const outputs = res.outputs ?? [];
      const index = outputs.findIndex((o) => o.name === spec.outputName);
      const out = outputs[index];
      if (out === undefined) throw new Error(`the answer has no output ${spec.outputName}`);
      const raw = res.raw_output_contents?.[index];
      const data = raw !== undefined ? floatsOf(raw) : out.contents?.fp32_contents;
      if (data === undefined) throw new Error(`output ${out.name} carries no data`);
      return probeOf(out.shape.map(Number), data);
    },
    async close() {
      await Promise.all(connections.map((c) => c.close()));
    },
  };
}

const EMPTY = Buffer.alloc(0);

type InProcessSpec = Extract<TargetSpec, { protocol: 'in-process' }>;

function createSession(spec: InProcessSpec): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(spec.modelPath, {
    ...(spec.intraOpThreads > 0 ? { intraOpNumThreads: spec.intraOpThreads } : {}),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

/**
 * Times `repeats` creations of a session from the model file (each released before the next):
 * the raw load-to-ready a server's own load is compared with. The first one also pays ONNX
 * Runtime's one-time environment set-up, which a running server has already paid.
 */
export async function measureSessionCreate(spec: InProcessSpec, repeats: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    const session = await createSession(spec);
    times.push(performance.now() - start);
    await session.release();
  }
  return times;
}

async function inProcessTarget(spec: InProcessSpec): Promise<Target> {
  const session = await createSession(spec);
  const feeds = { [spec.input.name]: new ort.Tensor('float32', inputValues(spec.input), spec.input.shape) };
  return {
    async send() {
      await session.run(feeds);
    },
    async probe() {
      const out = (await session.run(feeds))[spec.outputName];
      if (out === undefined) throw new Error(`the model has no output ${spec.outputName}`);
      return probeOf(out.dims, out.data as Float32Array);
    },
    async close() {
      await session.release();
    },
  };
}

/** Creates the target; `concurrency` sizes the HTTP connection pool. */
export async function createTarget(spec: TargetSpec, concurrency: number): Promise<Target> {
  switch (spec.protocol) {
    case 'rest-json':
    case 'rest-binary':
      return restTarget(spec, concurrency);
    case 'grpc':
      return grpcTarget(spec, concurrency);
    case 'in-process':
      return inProcessTarget(spec);
  }
}
