/**
 * Limits on what one inference request may ask of the server. Every OIP front end (REST JSON, the
 * binary-tensor extension, gRPC) checks a request against them at the edge, before it allocates
 * tensor storage, so a hostile body cannot make the server allocate or recurse without bound.
 */
import { z } from 'zod';
import { ContinuumError } from '../errors.js';

/** Friendly request limits, every field optional; compiled once by {@link compileRequestLimits}. */
export interface RequestLimits {
  /** Largest request body (REST) or message (gRPC), in bytes. @default 67108864 (64 MiB) */
  readonly maxBodyBytes?: number;
  /** Deepest nesting of JSON arrays and objects in a request body. @default 32 */
  readonly maxJsonDepth?: number;
  /** Most elements in one tensor (product of its shape). @default 16777216 (16 Mi) */
  readonly maxTensorElements?: number;
  /** Most elements over all input tensors of one request. @default 67108864 (64 Mi) */
  readonly maxTotalElements?: number;
  /** Most input tensors in one request. @default 64 */
  readonly maxInputs?: number;
  /** Most requested outputs in one request. @default 64 */
  readonly maxOutputs?: number;
  /** Most dimensions of one tensor. @default 16 */
  readonly maxRank?: number;
  /** Longest request `id`, in characters. @default 256 */
  readonly maxIdLength?: number;
  /** Longest tensor or parameter name, in characters. @default 256 */
  readonly maxNameLength?: number;
  /** Most entries in one `parameters` object. @default 64 */
  readonly maxParameters?: number;
  /** Longest string parameter value, in characters. @default 4096 */
  readonly maxParameterLength?: number;
}

/** Request limits after validation and defaults: every field present, units in the names. */
export type CompiledRequestLimits = Required<RequestLimits>;

const positive = z.number().int().positive();

const limitsSchema = z
  .object({
    maxBodyBytes: positive.default(64 * 1024 * 1024),
    maxJsonDepth: positive.default(32),
    maxTensorElements: positive.default(16 * 1024 * 1024),
    maxTotalElements: positive.default(64 * 1024 * 1024),
    maxInputs: positive.default(64),
    maxOutputs: positive.default(64),
    maxRank: positive.default(16),
    maxIdLength: positive.default(256),
    maxNameLength: positive.default(256),
    maxParameters: positive.default(64),
    maxParameterLength: positive.default(4096),
  })
  .strict();

/** Validates friendly limits and fills in defaults; throws CONTINUUM_ERR_BAD_REQUEST on a bad value. */
export function compileRequestLimits(options: RequestLimits = {}): CompiledRequestLimits {
  const parsed = limitsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ContinuumError(
      'CONTINUUM_ERR_BAD_REQUEST',
      `invalid request limit${issue === undefined || issue.path.length === 0 ? '' : ` ${issue.path.join('.')}`}: ${issue?.message ?? 'invalid'} (limits are positive integers)`,
      { details: { issues: parsed.error.issues } },
    );
  }
  return parsed.data;
}
