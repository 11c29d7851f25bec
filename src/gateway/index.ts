/**
 * The gateway: Continuum's Open Inference Protocol v2 front ends. REST (JSON and Triton's binary
 * tensor extension, statistics and repository extensions) as a Fastify plugin, gRPC
 * (`inference.GRPCInferenceService`) as a server, both over an InferenceService, with the request
 * limits they enforce and the one HTTP error mapping the server reuses.
 */
export { compileRequestLimits } from './limits.js';
export type { CompiledRequestLimits, RequestLimits } from './limits.js';
export { oipRestPlugin, decodeRestInferRequest } from './rest.js';
export type { OipRestPluginOptions } from './rest.js';
export { httpErrorHandler, toHttpError } from './http-errors.js';
export { decodeInferRequest, encodeInferResponse, parseJsonBody, tensorDataJson } from './json-codec.js';
export { decodeBinaryInferRequest, encodeRestInferResponse, INFERENCE_HEADER_CONTENT_LENGTH } from './binary-codec.js';
export type { EncodedInferResponse } from './binary-codec.js';
export { GRPC_PROTO_PATH, startGrpcServer } from './grpc.js';
export type { GrpcServerHandle, GrpcServerOptions } from './grpc.js';

/**
 * OIP extensions these front ends implement, as named in `GET /v2` server metadata (Triton's
 * names: binary tensor data, statistics, model repository).
 */
export const OIP_EXTENSIONS: readonly string[] = ['binary_tensor_data', 'statistics', 'model_repository'];
