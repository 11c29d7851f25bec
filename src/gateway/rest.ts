/**
 * The OIP v2 REST front end as a Fastify plugin: health, server and model metadata, inference
 * (JSON and Triton's binary tensor extension), and Triton's statistics and model repository
 * extensions. It decodes wire formats into OIP values, calls the {@link InferenceService}, and
 * encodes the answer; every failure is a thrown ContinuumError that the app's error handler
 * ({@link httpErrorHandler}) turns into `{"error": ...}` and a status.
 *
 * Spec: KServe "Open Inference Protocol (V2)", REST; Triton "Binary Tensor Data Extension",
 * "Statistics Extension", "Model Repository Extension".
 */
import type { Context } from '@opentelemetry/api';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ContinuumError } from '../errors.js';
import type { InferRequest } from '../oip/types.js';
import type { InferenceTracing } from '../observe/index.js';
import type { InferenceService } from '../runtime/service.js';
import { decodeBinaryInferRequest, encodeRestInferResponse, INFERENCE_HEADER_CONTENT_LENGTH } from './binary-codec.js';
import { headerValue } from './headers.js';
import { decodeInferRequest, parseJsonBody } from './json-codec.js';
import type { CompiledRequestLimits } from './limits.js';

/** Options of {@link oipRestPlugin}. */
export interface OipRestPluginOptions {
  readonly service: InferenceService;
  readonly limits: CompiledRequestLimits;
  /** Server spans of inference calls; absent when tracing is off. */
  readonly tracing?: InferenceTracing;
}

/**
 * Media types read as a JSON request. Besides application/json: `curl -d` sends
 * application/x-www-form-urlencoded, and OIP/Triton examples post JSON that way; text/plain is what
 * many HTTP tools send for a raw string body. Anything else is refused with 415.
 */
const JSON_MEDIA_TYPES: ReadonlySet<string> = new Set(['application/json', 'application/x-www-form-urlencoded', 'text/plain']);

const EMPTY_BODY = new Uint8Array(0);

/** The media type of a Content-Type header value, lower-cased, without parameters. */
function mediaType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const semicolon = contentType.indexOf(';');
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/**
 * Decodes an inference request body: the binary tensor extension when the request carries
 * Inference-Header-Content-Length (whatever its Content-Type, as Triton's clients send it), JSON
 * otherwise.
 */
export function decodeRestInferRequest(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: Uint8Array | undefined,
  limits: CompiledRequestLimits,
): InferRequest {
  const bytes = body ?? EMPTY_BODY;
  const headerLength = headers[INFERENCE_HEADER_CONTENT_LENGTH];
  if (typeof headerLength === 'string') return decodeBinaryInferRequest(bytes, headerLength, limits);
  const contentType = headers['content-type'];
  const type = mediaType(typeof contentType === 'string' ? contentType : undefined);
  if (type === 'application/octet-stream') {
    throw new ContinuumError(
      'CONTINUUM_ERR_BAD_REQUEST',
      'a binary request body needs the Inference-Header-Content-Length header (the byte length of its JSON header; binary tensor extension)',
    );
  }
  if (type !== undefined && !JSON_MEDIA_TYPES.has(type)) {
    throw new ContinuumError(
      'CONTINUUM_ERR_UNSUPPORTED_MEDIA_TYPE',
      `Content-Type ${type} is not supported; send application/json, or the binary tensor extension with Inference-Header-Content-Length`,
    );
  }
  return decodeInferRequest(parseJsonBody(bytes, limits), limits);
}

interface ModelParams {
  readonly model: string;
  readonly version?: string;
}

/** An inference request as Fastify hands it to the route. */
type InferCall = FastifyRequest<{ Params: ModelParams; Body: Uint8Array | undefined }>;

/** Replies 200 or 503 with an empty body: OIP health answers are the status alone. */
function healthReply(reply: FastifyReply, ok: boolean): FastifyReply {
  // OIP says "a 4xx status code indicates false"; 503 is used instead because readiness is a
  // temporary state (Kubernetes probes and load balancers treat any status >= 400 as not ready).
  return reply.code(ok ? 200 : 503).send();
}

/**
 * The OIP REST routes, registered at the root (`app.register(oipRestPlugin, {service, limits})`).
 * The plugin reads request bodies itself as raw bytes (its own content-type parser, encapsulated
 * in this plugin) so it can scan JSON depth before parsing and take binary-extension bodies.
 */
export const oipRestPlugin: FastifyPluginAsync<OipRestPluginOptions> = async (app, { service, limits, tracing }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limits.maxBodyBytes }, (_request, body, done) => {
    done(null, body);
  });

  app.get('/v2', async () => service.serverMetadata());
  app.get('/v2/health/live', async (_request, reply) => healthReply(reply, service.isLive()));
  app.get('/v2/health/ready', async (_request, reply) => healthReply(reply, service.isReady()));
  // Statistics extension: every loaded model version.
  app.get('/v2/models/stats', async () => ({ model_stats: service.statistics() }));

  for (const prefix of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
    app.get<{ Params: ModelParams }>(prefix, async (request) => service.modelMetadata(request.params.model, request.params.version));
    app.get<{ Params: ModelParams }>(`${prefix}/ready`, async (request, reply) =>
      healthReply(reply, service.modelReady(request.params.model, request.params.version)),
    );
    app.get<{ Params: ModelParams }>(`${prefix}/stats`, async (request) => ({
      model_stats: service.statistics(request.params.model, request.params.version),
    }));
    const route = `${prefix}/infer`;
    const infer = async (request: InferCall, reply: FastifyReply, traceContext: Context | undefined): Promise<FastifyReply> => {
      const inferRequest = decodeRestInferRequest(request.headers, request.body, limits);
      const header = (name: string): string | undefined => headerValue(request.headers[name]);
      const response = await service.infer(request.params.model, request.params.version, inferRequest, traceContext === undefined ? { header } : { header, traceContext });
      const encoded = encodeRestInferResponse(inferRequest, response);
      if (encoded.headerLength === undefined) return reply.type('application/json; charset=utf-8').send(encoded.body);
      return reply.header(INFERENCE_HEADER_CONTENT_LENGTH, encoded.headerLength).type('application/octet-stream').send(encoded.body);
    };
    app.post<{ Params: ModelParams; Body: Uint8Array | undefined }>(route, (request, reply) =>
      tracing === undefined
        ? infer(request, reply, undefined)
        : tracing.inServerSpan(
            `POST ${route}`,
            'http',
            { 'http.request.method': 'POST', 'http.route': route, 'url.path': request.url, 'continuum.model': request.params.model },
            (name) => headerValue(request.headers[name]),
            (context) => infer(request, reply, context),
          ),
    );
  }

  // Model repository extension. The index body is optional: {"ready": true} lists ready models only.
  app.post<{ Body: Uint8Array | undefined }>('/v2/repository/index', async (request) => {
    const body = request.body === undefined || request.body.length === 0 ? {} : parseJsonBody(request.body, limits);
    const ready = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['ready'] : undefined;
    if (ready !== undefined && typeof ready !== 'boolean') {
      throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', '"ready" of a repository index request must be true or false');
    }
    const entries = service.repositoryIndex();
    return ready === true ? entries.filter((e) => e.state === 'READY') : entries;
  });
  // Load and unload take no parameters here (Triton's optional "config"/file overrides are not
  // supported: models come from the registry), so a body, if any, is not read.
  app.post<{ Params: { model: string } }>('/v2/repository/models/:model/load', async (request, reply) => {
    await service.loadModel(request.params.model);
    return reply.code(200).send();
  });
  app.post<{ Params: { model: string } }>('/v2/repository/models/:model/unload', async (request, reply) => {
    await service.unloadModel(request.params.model);
    return reply.code(200).send();
  });
};
