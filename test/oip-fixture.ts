/**
 * A real OIP server for the gateway's end-to-end suites: ONNX models built in code and written to
 * a temp dir, served by the real Runtime (real ONNX Runtime) behind the REST plugin on Fastify and
 * the gRPC server, both on 127.0.0.1 with port 0. The model source is a small in-memory map: the
 * registry is not what these suites test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { ContinuumError } from '../src/errors.js';
import { compileRequestLimits, GRPC_PROTO_PATH, httpErrorHandler, oipRestPlugin, startGrpcServer } from '../src/gateway/index.js';
import type { GrpcServerHandle, RequestLimits } from '../src/gateway/index.js';
import type { Datatype, Signature } from '../src/oip/types.js';
import { DATATYPES } from '../src/oip/types.js';
import { buildIdentity, buildMlp } from '../src/onnx/build.js';
import { Runtime } from '../src/runtime/index.js';
import { TempDirModelSource } from './support/temp-model-source.js';

/** A model to serve: its ONNX bytes and signature, under a name and version. */
export interface FixtureModel {
  readonly name: string;
  readonly version: string;
  readonly bytes: Uint8Array;
  readonly signature: Signature;
}

/** Name of the identity model of a datatype: `in_0` → `out_0`, shape [batch, 3]. */
export const identityModel = (datatype: Datatype): string => `id-${datatype.toLowerCase()}`;

/** Every datatype's identity model, and `mlp` (FP32 [batch,4] → `output` FP32 [batch,3], `label` INT64 [batch]). */
export function standardModels(): FixtureModel[] {
  const identities = DATATYPES.map((datatype) => ({
    name: identityModel(datatype),
    version: '1',
    bytes: buildIdentity([{ datatype, shape: ['batch', 3] }]),
    signature: { inputs: [{ name: 'in_0', datatype, shape: [-1, 3] }], outputs: [{ name: 'out_0', datatype, shape: [-1, 3] }] },
  }));
  const mlp = {
    name: 'mlp',
    version: '1',
    bytes: buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3, argmaxLabel: true }),
    signature: {
      inputs: [{ name: 'input', datatype: 'FP32' as const, shape: [-1, 4] }],
      outputs: [
        { name: 'output', datatype: 'FP32' as const, shape: [-1, 3] },
        { name: 'label', datatype: 'INT64' as const, shape: [-1] },
      ],
    },
  };
  return [...identities, mlp];
}

/** A running REST + gRPC server over a real Runtime. */
export interface OipServer {
  readonly url: string;
  readonly grpcPort: number;
  readonly runtime: Runtime;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

/** Starts the servers with `models` loaded (all of them unless `load` names a subset). */
export async function startOipServer(
  models: readonly FixtureModel[] = standardModels(),
  limits: RequestLimits = {},
  load: readonly string[] = [...new Set(models.map((m) => m.name))],
): Promise<OipServer> {
  const dir = mkdtempSync(join(tmpdir(), 'continuum-oip-'));
  const runtime = new Runtime({ source: models.reduce((source, m) => source.add(m.name, m.version, m.bytes, m.signature), new TempDirModelSource(dir)) });
  for (const name of load) await runtime.loadModel(name);
  const compiled = compileRequestLimits(limits);
  // The same composition as the server: root error handler, not-found handler, plugin at the root.
  const app = Fastify({ logger: false, bodyLimit: compiled.maxBodyBytes });
  app.setErrorHandler(httpErrorHandler);
  app.setNotFoundHandler((req, reply) => {
    httpErrorHandler(new ContinuumError('CONTINUUM_ERR_ROUTE_NOT_FOUND', `no route ${req.method} ${req.url}`), req, reply);
  });
  await app.register(oipRestPlugin, { service: runtime, limits: compiled });
  await app.listen({ host: '127.0.0.1', port: 0 });
  let grpcServer: GrpcServerHandle;
  try {
    grpcServer = await startGrpcServer({ service: runtime, host: '127.0.0.1', port: 0, limits: compiled });
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    grpcPort: grpcServer.port,
    runtime,
    app,
    close: async () => {
      await Promise.all([app.close(), grpcServer.close()]);
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A unary call of the OIP gRPC service with optional metadata, promisified; rejects with the grpc-js ServiceError. */
export type GrpcCall = (method: string, request: object, options?: grpc.CallOptions, metadata?: Readonly<Record<string, string>>) => Promise<Record<string, unknown>>;

/** A Node gRPC client of `inference.GRPCInferenceService` built from the gateway's proto. */
export function grpcClient(port: number): { call: GrpcCall; close(): void } {
  const definition = protoLoader.loadSync(GRPC_PROTO_PATH, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  type Method = (r: object, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: Record<string, unknown>) => void) => void;
  const call: GrpcCall = (method, request, options = {}, metadata = {}) =>
    new Promise((resolve, reject) => {
      // Methods of a generated client are looked up by name; the constructor's type does not list them.
      const fn = (client as unknown as Record<string, Method>)[method];
      if (fn === undefined) throw new Error(`no gRPC method ${method}`);
      const meta = new grpc.Metadata();
      for (const [key, value] of Object.entries(metadata)) meta.set(key, value);
      fn.call(client, request, meta, options, (err, value) => (err === null ? resolve(value) : reject(err)));
    });
  return { call, close: () => client.close() };
}

/** One datatype's test tensor, shape [2, 3], in every form the protocols carry it. */
export interface DatatypeSample {
  readonly datatype: Datatype;
  /** JSON `data` (undefined for FP16, which JSON cannot carry). */
  readonly json: readonly unknown[] | undefined;
  /** The elements as JSON.parse reads them back from a response's `data`. */
  readonly parsed: readonly unknown[];
  /** Little-endian raw bytes (binary extension, gRPC raw contents). */
  readonly raw: Buffer;
  /** gRPC InferTensorContents (undefined for FP16). */
  readonly contents: Record<string, unknown[]> | undefined;
}

const bytesOf = (a: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function lengthPrefixed(strings: readonly string[]): Buffer {
  return Buffer.concat(
    strings.flatMap((s) => {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      return [len, b];
    }),
  );
}

const HALF_BITS = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x0000, 0x3555];
const STRINGS = ['hello', '', 'ünïcödé ✓', 'quote " and \\ backslash', 'x', 'line\nbreak'];
const FP32 = [1.5, -2.25, 0, 3.4028234663852886e38, 1e-7, 0.1];
const FP64 = [0.1, 1e308, -5e-324, 0, -1.5, 123456789.123456789];

function intSample(datatype: Datatype, values: number[], storage: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }, field: string): DatatypeSample {
  return { datatype, json: values, parsed: values, raw: bytesOf(storage), contents: { [field]: values } };
}

/** A sample tensor for every OIP datatype, with edge values (type limits, subnormals, UTF-8, empty strings). */
export const SAMPLES: readonly DatatypeSample[] = [
  { datatype: 'BOOL', json: [true, false, true, false, false, true], parsed: [true, false, true, false, false, true], raw: Buffer.from([1, 0, 1, 0, 0, 1]), contents: { bool_contents: [true, false, true, false, false, true] } },
  intSample('UINT8', [0, 255, 1, 2, 128, 7], Uint8Array.from([0, 255, 1, 2, 128, 7]), 'uint_contents'),
  intSample('UINT16', [0, 65535, 1, 2, 300, 7], Uint16Array.from([0, 65535, 1, 2, 300, 7]), 'uint_contents'),
  intSample('UINT32', [0, 4294967295, 1, 2, 70000, 7], Uint32Array.from([0, 4294967295, 1, 2, 70000, 7]), 'uint_contents'),
  {
    datatype: 'UINT64',
    json: [0, '18446744073709551615', 1, 9007199254740991, 5, 7],
    parsed: [0, 18446744073709551615, 1, 9007199254740991, 5, 7],
    raw: bytesOf(BigUint64Array.from([0n, 18446744073709551615n, 1n, 9007199254740991n, 5n, 7n])),
    contents: { uint64_contents: ['0', '18446744073709551615', '1', '9007199254740991', '5', '7'] },
  },
  intSample('INT8', [-128, 127, 0, -1, 5, 7], Int8Array.from([-128, 127, 0, -1, 5, 7]), 'int_contents'),
  intSample('INT16', [-32768, 32767, 0, -1, 5, 7], Int16Array.from([-32768, 32767, 0, -1, 5, 7]), 'int_contents'),
  intSample('INT32', [-2147483648, 2147483647, 0, -1, 5, 7], Int32Array.from([-2147483648, 2147483647, 0, -1, 5, 7]), 'int_contents'),
  {
    datatype: 'INT64',
    json: ['-9223372036854775808', '9223372036854775807', -9007199254740991, 0, -1, 42],
    parsed: [-9223372036854775808, 9223372036854775807, -9007199254740991, 0, -1, 42],
    raw: bytesOf(BigInt64Array.from([-9223372036854775808n, 9223372036854775807n, -9007199254740991n, 0n, -1n, 42n])),
    contents: { int64_contents: ['-9223372036854775808', '9223372036854775807', '-9007199254740991', '0', '-1', '42'] },
  },
  { datatype: 'FP16', json: undefined, parsed: [1, -2, 65504, 2 ** -24, 0, 0.333251953125], raw: bytesOf(Uint16Array.from(HALF_BITS)), contents: undefined },
  { datatype: 'FP32', json: FP32, parsed: Array.from(Float32Array.from(FP32)), raw: bytesOf(Float32Array.from(FP32)), contents: { fp32_contents: FP32 } },
  { datatype: 'FP64', json: FP64, parsed: FP64, raw: bytesOf(Float64Array.from(FP64)), contents: { fp64_contents: FP64 } },
  { datatype: 'BYTES', json: STRINGS, parsed: STRINGS, raw: lengthPrefixed(STRINGS), contents: { bytes_contents: STRINGS.map((s) => Buffer.from(s, 'utf8')) } },
];

/** Builds a binary-extension body: JSON header then raw tensor bytes; returns it with the header length. */
export function binaryBody(header: object, ...raws: Uint8Array[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([json, ...raws]), headerLength: json.length };
}
