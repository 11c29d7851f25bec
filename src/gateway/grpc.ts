/**
 * The OIP v2 gRPC front end (`inference.GRPCInferenceService`) on @grpc/grpc-js, with the
 * statistics and model repository extensions. Requests are decoded with the same tensor codec as
 * REST; ModelInfer accepts typed `contents` and `raw_input_contents` and answers with
 * `raw_output_contents`, as Triton does. Failures become gRPC statuses from the error table
 * (NOT_FOUND, INVALID_ARGUMENT, UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL), with the Continuum
 * code in the `continuum-error-code` trailer.
 *
 * The service definition is src/gateway/proto/grpc_service.proto (KServe "Open Inference
 * Protocol (V2)", gRPC; Triton statistics and model repository extensions).
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ContinuumError, toContinuumError } from '../errors.js';
import type { Datatype, InferRequest, InferResponse, ModelStatistics, Parameter, Parameters, RequestedOutput, StatDuration, Tensor, TensorSpec } from '../oip/types.js';
import type { InferenceService } from '../runtime/service.js';
import type { CompiledRequestLimits } from './limits.js';
import {
  checkInputCount,
  checkName,
  checkOutputCount,
  checkParameters,
  checkRequestId,
  checkTensorHeader,
  checkTotalElements,
  dataToRaw,
  rawToData,
  valuesToData,
} from './tensor-codec.js';
import type { TensorHeader } from './tensor-codec.js';

/**
 * Where the service definition lives. Resolved from the package root so it is found both from
 * src/gateway (tests, tsx) and from dist/gateway (the built CLI); package.json ships src/.
 */
export const GRPC_PROTO_PATH = fileURLToPath(new URL('../../src/gateway/proto/grpc_service.proto', import.meta.url));

/**
 * proto-loader options: field names as in the proto, 64-bit integers as decimal strings (exact,
 * and what the shared codec accepts for INT64/UINT64), oneofs named by their `parameter_choice`,
 * absent fields left undefined (proto3 defaults are filled in here, where they mean something).
 */
const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true };

/** An InferParameter / ModelRepositoryParameter as proto-loader decodes it. */
interface WireParameter {
  readonly parameter_choice?: string;
  readonly bool_param?: boolean;
  readonly int64_param?: string | number;
  readonly string_param?: string;
  readonly double_param?: number;
  readonly uint64_param?: string | number;
}

type WireParameters = Readonly<Record<string, WireParameter>>;

/** InferTensorContents as proto-loader decodes it. */
interface WireContents {
  readonly bool_contents?: readonly boolean[];
  readonly int_contents?: readonly number[];
  readonly int64_contents?: readonly string[];
  readonly uint_contents?: readonly number[];
  readonly uint64_contents?: readonly string[];
  readonly fp32_contents?: readonly number[];
  readonly fp64_contents?: readonly number[];
  readonly bytes_contents?: readonly Uint8Array[];
}

interface WireInferInput {
  readonly name?: string;
  readonly datatype?: string;
  readonly shape?: readonly (string | number)[];
  readonly parameters?: WireParameters;
  readonly contents?: WireContents;
}

/** ModelInferRequest as proto-loader decodes it. */
interface WireInferRequest {
  readonly model_name?: string;
  readonly model_version?: string;
  readonly id?: string;
  readonly parameters?: WireParameters;
  readonly inputs?: readonly WireInferInput[];
  readonly outputs?: readonly { readonly name?: string; readonly parameters?: WireParameters }[];
  readonly raw_input_contents?: readonly Uint8Array[];
}

interface NameVersion {
  readonly name?: string;
  readonly version?: string;
}

/** The `InferTensorContents` field that carries each datatype (OIP gRPC, "Tensor Data"). FP16 has none. */
const CONTENTS_FIELD: Readonly<Record<Exclude<Datatype, 'FP16'>, keyof WireContents>> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

/** A 64-bit wire integer as a JS number when exact, else as its decimal string. */
function wireInteger(value: string | number): number | string {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : String(value);
}

/** Converts a wire `parameters` map; the result is checked like a JSON `parameters` object. */
function fromWireParameters(map: WireParameters | undefined, where: string, limits: CompiledRequestLimits): Parameters | undefined {
  if (map === undefined) return undefined;
  // A null-prototype object: map keys come from the client and may be "__proto__".
  const out = Object.create(null) as Record<string, Parameter>;
  for (const [key, p] of Object.entries(map)) {
    const choice = p.parameter_choice;
    let value: Parameter | undefined;
    if (choice === 'bool_param') value = p.bool_param;
    else if (choice === 'int64_param' && p.int64_param !== undefined) value = wireInteger(p.int64_param);
    else if (choice === 'uint64_param' && p.uint64_param !== undefined) value = wireInteger(p.uint64_param);
    else if (choice === 'string_param') value = p.string_param;
    else if (choice === 'double_param') value = p.double_param;
    if (value === undefined) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `parameter '${key}' of ${where} has no value`);
    out[key] = value;
  }
  return checkParameters(out, where, limits);
}

/** Converts `parameters` to wire InferParameters: integers as int64, other numbers as double. */
function toWireParameters(parameters: Parameters | undefined): Record<string, WireParameter> | undefined {
  if (parameters === undefined) return undefined;
  const out: Record<string, WireParameter> = {};
  for (const [key, v] of Object.entries(parameters)) {
    if (typeof v === 'boolean') out[key] = { bool_param: v };
    else if (typeof v === 'string') out[key] = { string_param: v };
    else out[key] = Number.isSafeInteger(v) ? { int64_param: v } : { double_param: v };
  }
  return out;
}

/** The typed contents of one input, from the field its datatype uses; other fields must be empty. */
function contentsValues(header: TensorHeader, contents: WireContents | undefined): ArrayLike<unknown> {
  if (header.datatype === 'FP16') return []; // valuesToData explains that FP16 travels raw
  const field = CONTENTS_FIELD[header.datatype];
  if (contents !== undefined) {
    for (const key of Object.keys(contents) as (keyof WireContents)[]) {
      if (key !== field && (contents[key]?.length ?? 0) > 0) {
        throw new ContinuumError(
          'CONTINUUM_ERR_INVALID_TENSOR',
          `input '${header.name}' is ${header.datatype} but carries ${key}; ${header.datatype} data goes in ${field}`,
          { details: { input: header.name } },
        );
      }
    }
  }
  return contents?.[field] ?? [];
}

const hasContents = (contents: WireContents | undefined): boolean =>
  contents !== undefined && Object.values(contents).some((v: readonly unknown[] | undefined) => (v?.length ?? 0) > 0);

/** proto3 strings have no "absent": an empty one means not given. */
const orUndefined = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);

/** A decoded ModelInfer call: which model, and the request. */
export interface GrpcInferCall {
  readonly model: string;
  readonly version: string | undefined;
  readonly request: InferRequest;
}

/**
 * Decodes a ModelInferRequest (proto-loader object) into an {@link InferRequest}, with the same
 * checks and limits as REST; an empty `model_version` or `id` means none.
 */
export function decodeGrpcInferRequest(wire: WireInferRequest, limits: CompiledRequestLimits): GrpcInferCall {
  const model = wire.model_name ?? '';
  if (model === '') throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'ModelInferRequest needs model_name');
  const version = orUndefined(wire.model_version);
  const id = checkRequestId(orUndefined(wire.id), limits);
  const parameters = fromWireParameters(wire.parameters, 'the request', limits);
  const wireInputs = wire.inputs ?? [];
  checkInputCount(wireInputs.length, limits);
  const headers = wireInputs.map((t, i) =>
    checkTensorHeader(
      {
        name: t.name,
        datatype: t.datatype,
        // int64 dims arrive as decimal strings; Number() of garbage is NaN, which checkShape refuses.
        shape: (t.shape ?? []).map(Number),
        parameters: fromWireParameters(t.parameters, `input ${i}`, limits),
      },
      i,
      limits,
    ),
  );
  checkTotalElements(headers, limits);

  const raw = wire.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== wireInputs.length) {
    throw new ContinuumError(
      'CONTINUUM_ERR_BAD_REQUEST',
      `raw_input_contents has ${raw.length} entries for ${wireInputs.length} inputs; send one per input, in input order`,
    );
  }
  const inputs = headers.map((header, i): Tensor => {
    const contents = wireInputs[i]?.contents;
    let data;
    if (raw.length > 0) {
      if (hasContents(contents)) {
        throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `input '${header.name}' has both contents and raw_input_contents; use one`);
      }
      data = rawToData(header, raw[i] as Uint8Array);
    } else {
      data = valuesToData(header, contentsValues(header, contents));
    }
    return header.parameters === undefined
      ? { name: header.name, datatype: header.datatype, shape: header.shape, data }
      : { name: header.name, datatype: header.datatype, shape: header.shape, data, parameters: header.parameters };
  });

  let outputs: RequestedOutput[] | undefined;
  if (wire.outputs !== undefined) {
    checkOutputCount(wire.outputs.length, limits);
    outputs = wire.outputs.map((o, i) => {
      const name = checkName(o.name, `output ${i}`, limits);
      const outputParameters = fromWireParameters(o.parameters, `output '${name}'`, limits);
      return outputParameters === undefined ? { name } : { name, parameters: outputParameters };
    });
  }
  return { model, version, request: { id, parameters, inputs, outputs } };
}

/** Encodes an {@link InferResponse} as a ModelInferResponse with raw_output_contents. */
export function encodeGrpcInferResponse(response: InferResponse): object {
  return {
    model_name: response.model_name,
    model_version: response.model_version,
    id: response.id ?? '',
    parameters: toWireParameters(response.parameters),
    outputs: response.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape, parameters: toWireParameters(o.parameters) })),
    raw_output_contents: response.outputs.map((o) => dataToRaw(o.datatype, o.data)),
  };
}

const tensorMetadata = (t: TensorSpec): object => ({ name: t.name, datatype: t.datatype, shape: t.shape });

const duration = (d: StatDuration): object => ({ count: d.count, ns: d.ns });

/** ModelStatistics in the shape of Triton's statistics extension messages. */
function statisticsMessage(s: ModelStatistics): object {
  const i = s.inference_stats;
  return {
    name: s.name,
    version: s.version,
    last_inference: s.last_inference,
    inference_count: s.inference_count,
    execution_count: s.execution_count,
    inference_stats: {
      success: duration(i.success),
      fail: duration(i.fail),
      queue: duration(i.queue),
      compute_input: duration(i.compute_input),
      compute_infer: duration(i.compute_infer),
      compute_output: duration(i.compute_output),
    },
    batch_stats: s.batch_stats.map((b) => ({
      batch_size: b.batch_size,
      compute_input: duration(b.compute_input),
      compute_infer: duration(b.compute_infer),
      compute_output: duration(b.compute_output),
    })),
  };
}

/** A gRPC error status for anything thrown, from the error table. */
function serviceError(err: unknown): Partial<grpc.StatusObject> {
  const e = toContinuumError(err);
  const metadata = new grpc.Metadata();
  metadata.set('continuum-error-code', e.code);
  if (e.retryAfterS !== undefined) metadata.set('retry-after', String(Math.max(0, Math.ceil(e.retryAfterS))));
  return { code: e.grpcStatus as number as grpc.status, details: e.message, metadata };
}

/** Wraps a request → response function as a unary handler; throws and rejections become statuses. */
function unary<Req>(answer: (request: Req, call: grpc.ServerUnaryCall<Req, object>) => object | Promise<object>): grpc.handleUnaryCall<Req, object> {
  return (call, callback) => {
    let result: object | Promise<object>;
    try {
      result = answer(call.request, call);
    } catch (err) {
      callback(serviceError(err));
      return;
    }
    if (result instanceof Promise) result.then((r) => callback(null, r), (err: unknown) => callback(serviceError(err)));
    else callback(null, result);
  };
}

function requireModelName(name: string | undefined): string {
  if (name === undefined || name === '') throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'the request needs a model name');
  return name;
}

/** The handlers of `inference.GRPCInferenceService` over an {@link InferenceService}. */
function handlers(service: InferenceService, limits: CompiledRequestLimits): grpc.UntypedServiceImplementation {
  return {
    ServerLive: unary(() => ({ live: service.isLive() })),
    ServerReady: unary(() => ({ ready: service.isReady() })),
    ModelReady: unary((r: NameVersion) => ({ ready: service.modelReady(requireModelName(r.name), orUndefined(r.version)) })),
    ServerMetadata: unary(() => service.serverMetadata()),
    ModelMetadata: unary((r: NameVersion) => {
      const m = service.modelMetadata(requireModelName(r.name), orUndefined(r.version));
      return { name: m.name, versions: m.versions, platform: m.platform, inputs: m.inputs.map(tensorMetadata), outputs: m.outputs.map(tensorMetadata) };
    }),
    ModelInfer: unary(async (r: WireInferRequest, call) => {
      const decoded = decodeGrpcInferRequest(r, limits);
      // A client's gRPC deadline becomes the request's deadline, so the runtime drops work nobody waits for.
      const deadline = call.getDeadline();
      const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
      const options = Number.isFinite(deadlineMs) ? { deadlineMs } : undefined;
      return encodeGrpcInferResponse(await service.infer(decoded.model, decoded.version, decoded.request, options));
    }),
    ModelStatistics: unary((r: NameVersion) => ({ model_stats: service.statistics(orUndefined(r.name), orUndefined(r.version)).map(statisticsMessage) })),
    RepositoryIndex: unary((r: { ready?: boolean }) => ({
      models: service.repositoryIndex().filter((e) => r.ready !== true || e.state === 'READY'),
    })),
    RepositoryModelLoad: unary(async (r: { model_name?: string }) => {
      await service.loadModel(requireModelName(r.model_name));
      return {};
    }),
    RepositoryModelUnload: unary(async (r: { model_name?: string }) => {
      await service.unloadModel(requireModelName(r.model_name));
      return {};
    }),
  };
}

let serviceDefinition: grpc.ServiceDefinition | undefined;

/** The loaded service definition (parsed once per process). */
function inferenceServiceDefinition(): grpc.ServiceDefinition {
  serviceDefinition ??= protoLoader.loadSync(GRPC_PROTO_PATH, LOADER_OPTIONS)['inference.GRPCInferenceService'] as grpc.ServiceDefinition;
  return serviceDefinition;
}

/** Options of {@link startGrpcServer}. */
export interface GrpcServerOptions {
  readonly service: InferenceService;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly limits: CompiledRequestLimits;
  /** How long close() lets in-flight calls finish before cutting them off, in ms. @default 10000 */
  readonly shutdownGraceMs?: number;
}

/** A running gRPC server. */
export interface GrpcServerHandle {
  /** The bound port (the chosen one when 0 was asked). */
  readonly port: number;
  /** Stops taking calls, lets in-flight ones finish (up to the grace period), then closes. */
  close(): Promise<void>;
}

/** Starts the OIP gRPC server; resolves once it listens. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServerHandle> {
  const { service, host, limits } = options;
  // Channelz keeps per-call bookkeeping that costs CPU on every call; nothing reads it here.
  const server = new grpc.Server({ 'grpc.max_receive_message_length': limits.maxBodyBytes, 'grpc.enable_channelz': 0 });
  server.addService(inferenceServiceDefinition(), handlers(service, limits));
  const address = `${host.includes(':') ? `[${host}]` : host}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => (err === null ? resolve(bound) : reject(err)));
  });
  const graceMs = options.shutdownGraceMs ?? 10_000;
  let closing: Promise<void> | undefined;
  return {
    port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return closing;
    },
  };
}
