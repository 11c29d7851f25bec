/**
 * The one mapping from anything thrown while serving an HTTP request to the reply a client sees:
 * `{"error": "...", "code": "..."}` (OIP REST "Error Response", plus Continuum's stable code) with
 * the status from the error table, and `Retry-After` when the error says when to retry. Fastify's
 * own errors (body too large, unsupported media type, ...) are translated into Continuum codes so
 * clients see one error shape whatever failed.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ContinuumError, errorBody, toContinuumError } from '../errors.js';
import type { ErrorCode } from '../errors.js';

/** Fastify error codes and what they mean to a Continuum client (Fastify docs, "Errors"). */
const FASTIFY_CODES: Readonly<Record<string, readonly [ErrorCode, string]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['CONTINUUM_ERR_BODY_TOO_LARGE', 'the request body is larger than the server accepts'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['CONTINUUM_ERR_UNSUPPORTED_MEDIA_TYPE', 'unsupported Content-Type; send application/json'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['CONTINUUM_ERR_INVALID_JSON', 'the request body is empty; send JSON'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['CONTINUUM_ERR_BAD_REQUEST', 'the body length differs from its Content-Length'],
};

/** Codes for other HTTP client-error statuses Fastify or a plugin may raise. */
const STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  404: 'CONTINUUM_ERR_ROUTE_NOT_FOUND',
  405: 'CONTINUUM_ERR_METHOD_NOT_ALLOWED',
  413: 'CONTINUUM_ERR_BODY_TOO_LARGE',
  415: 'CONTINUUM_ERR_UNSUPPORTED_MEDIA_TYPE',
};

/** Turns anything thrown during an HTTP request into a {@link ContinuumError}. */
export function toHttpError(err: unknown): ContinuumError {
  if (err instanceof ContinuumError) return err;
  if (err instanceof Error) {
    const fields = err as Error & { code?: unknown; statusCode?: unknown; validation?: unknown };
    const known = typeof fields.code === 'string' ? FASTIFY_CODES[fields.code] : undefined;
    if (known !== undefined) return new ContinuumError(known[0], known[1], { cause: err });
    if (fields.validation !== undefined) return new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', err.message, { cause: err });
    const status = typeof fields.statusCode === 'number' ? fields.statusCode : 500;
    if (status >= 400 && status < 500) return new ContinuumError(STATUS_CODES[status] ?? 'CONTINUUM_ERR_BAD_REQUEST', err.message, { cause: err });
  }
  return toContinuumError(err);
}

/** Fastify error handler: replies with the OIP error body, status and Retry-After. */
export function httpErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const err = toHttpError(error);
  if (err.httpStatus >= 500) request.log.error({ err: error }, err.message);
  if (err.retryAfterS !== undefined) void reply.header('retry-after', String(Math.max(0, Math.ceil(err.retryAfterS))));
  void reply.status(err.httpStatus).type('application/json; charset=utf-8').send(JSON.stringify(errorBody(err)));
}
