/**
 * The OIP v2 gRPC front end (`inference.GRPCInferenceService`), with the statistics and model
 * repository extensions, served by the unary gRPC transport in grpc-http2.ts. ModelInfer, the hot
 * path, is coded by hand (grpc-codec.ts): it accepts typed `contents` and `raw_input_contents` and
 * answers with `raw_output_contents`, as Triton does. The other methods use codecs generated from
 * the service definition by @grpc/proto-loader, loaded on their first call. Failures become gRPC
 * statuses from the error table (NOT_FOUND, INVALID_ARGUMENT, UNAVAILABLE, RESOURCE_EXHAUSTED,
 * INTERNAL), with the Continuum code in the `continuum-error-code` trailer.
 *
 * The service definition is src/gateway/proto/grpc_service.proto (KServe "Open Inference
 * Protocol (V2)", gRPC; Triton statistics and model repository extensions).
 */
import { fileURLToPath } from 'node:url';
import type { Context } from '@opentelemetry/api';
import type { MethodDefinition, Options as LoaderOptions, ServiceDefinition } from '@grpc/proto-loader';
import { ContinuumError } from '../errors.js';
import type { ModelStatistics, StatDuration, TensorSpec } from '../oip/types.js';
import type { InferenceTracing } from '../observe/index.js';
import type { InferenceService } from '../runtime/service.js';
import { decodeGrpcInferRequest, encodeGrpcInferResponse } from './grpc-codec.js';
import { GRPC_MESSAGE_PREFIX_BYTES, listenGrpc, withPrefixRoom } from './grpc-http2.js';
import type { ResponseMessage, UnaryHandler } from './grpc-http2.js';
import type { CompiledRequestLimits } from './limits.js';

/**
 * Where the service definition lives. Resolved from the package root so it is found both from
 * src/gateway (tests, tsx) and from dist/gateway (the built CLI); package.json ships src/.
 */
export const GRPC_PROTO_PATH = fileURLToPath(new URL('../../src/gateway/proto/grpc_service.proto', import.meta.url));

/** The service's full name, the first part of every method path. */
const SERVICE = 'inference.GRPCInferenceService';

/**
 * proto-loader options: field names as in the proto, 64-bit integers as decimal strings (exact),
 * oneofs named, absent fields left undefined (proto3 defaults are filled in here, where they mean
 * something).
 */
const LOADER_OPTIONS: LoaderOptions = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true };

interface NameVersion {
  readonly name?: string;
  readonly version?: string;
}

/** proto3 strings have no "absent": an empty one means not given. */
const orUndefined = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);

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

function requireModelName(name: string | undefined): string {
  if (name === undefined || name === '') throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'the request needs a model name');
  return name;
}

/** A method answered with the generated codecs: request object in, response object out. */
type GeneratedAnswer = (request: never) => object | Promise<object>;

/** The generated message codecs, loaded once, on the first call that needs them. */
let generated: Promise<ServiceDefinition> | undefined;

function generatedCodecs(): Promise<ServiceDefinition> {
  generated ??= import('@grpc/proto-loader').then((loader) => loader.loadSync(GRPC_PROTO_PATH, LOADER_OPTIONS)[SERVICE] as ServiceDefinition);
  return generated;
}

/** Wraps an answer as a unary handler that decodes and encodes with the generated codecs. */
function viaGeneratedCodecs(method: string, answer: GeneratedAnswer): UnaryHandler {
  return async (message) => {
    const codec = (await generatedCodecs())[method] as MethodDefinition<object, object>;
    return withPrefixRoom(codec.responseSerialize(await answer(codec.requestDeserialize(message) as never)));
  };
}

/** The handlers of `inference.GRPCInferenceService` over an {@link InferenceService}, by method path. */
function handlers(service: InferenceService, limits: CompiledRequestLimits, tracing: InferenceTracing | undefined): Map<string, UnaryHandler> {
  const generatedAnswers: Record<string, GeneratedAnswer> = {
    ServerLive: () => ({ live: service.isLive() }),
    ServerReady: () => ({ ready: service.isReady() }),
    ModelReady: (r: NameVersion) => ({ ready: service.modelReady(requireModelName(r.name), orUndefined(r.version)) }),
    ServerMetadata: () => service.serverMetadata(),
    ModelMetadata: (r: NameVersion) => {
      const m = service.modelMetadata(requireModelName(r.name), orUndefined(r.version));
      return { name: m.name, versions: m.versions, platform: m.platform, inputs: m.inputs.map(tensorMetadata), outputs: m.outputs.map(tensorMetadata) };
    },
    ModelStatistics: (r: NameVersion) => ({ model_stats: service.statistics(orUndefined(r.name), orUndefined(r.version)).map(statisticsMessage) }),
    RepositoryIndex: (r: { ready?: boolean }) => ({
      models: service.repositoryIndex().filter((e) => r.ready !== true || e.state === 'READY'),
    }),
    RepositoryModelLoad: async (r: { model_name?: string }) => {
      await service.loadModel(requireModelName(r.model_name));
      return {};
    },
    RepositoryModelUnload: async (r: { model_name?: string }) => {
      await service.unloadModel(requireModelName(r.model_name));
      return {};
    },
  };
  const methods = new Map<string, UnaryHandler>();
  for (const [method, answer] of Object.entries(generatedAnswers)) methods.set(`/${SERVICE}/${method}`, viaGeneratedCodecs(method, answer));
  const inferPath = `/${SERVICE}/ModelInfer`;
  const infer = async (message: Buffer, deadlineMs: number | undefined, header: (name: string) => string | undefined, traceContext: Context | undefined): Promise<ResponseMessage> => {
    const call = decodeGrpcInferRequest(message, limits);
    // A client's gRPC deadline becomes the request's deadline, so the runtime drops work nobody waits for.
    const options = traceContext !== undefined ? { deadlineMs, header, traceContext } : deadlineMs === undefined ? { header } : { deadlineMs, header };
    const response = await service.infer(call.model, call.version, call.request, options);
    return encodeGrpcInferResponse(response, GRPC_MESSAGE_PREFIX_BYTES);
  };
  methods.set(inferPath, (message, { deadlineMs, header }) =>
    tracing === undefined
      ? infer(message, deadlineMs, header, undefined)
      : tracing.inServerSpan(
          `${SERVICE}/ModelInfer`,
          'grpc',
          { 'rpc.system': 'grpc', 'rpc.service': SERVICE, 'rpc.method': 'ModelInfer' },
          header,
          (context) => infer(message, deadlineMs, header, context),
        ),
  );
  return methods;
}

/** Options of {@link startGrpcServer}. */
export interface GrpcServerOptions {
  readonly service: InferenceService;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly limits: CompiledRequestLimits;
  /** Server spans of ModelInfer calls; absent when tracing is off. */
  readonly tracing?: InferenceTracing;
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
  return listenGrpc({
    host: options.host,
    port: options.port,
    methods: handlers(options.service, options.limits, options.tracing),
    maxMessageBytes: options.limits.maxBodyBytes,
    shutdownGraceMs: options.shutdownGraceMs ?? 10_000,
  });
}
