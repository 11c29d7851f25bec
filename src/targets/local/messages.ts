/**
 * What travels in the frames of the gateway→replica channel (see frames.ts): inference requests
 * and responses as a small JSON header plus raw tensor bytes (the OIP raw tensor layout, decoded
 * with the gateway's checks), errors as their stable code and message, and the control messages
 * of a replica's life (load, ready, ping, statistics, drain).
 */
import { z } from 'zod';
import { ContinuumError, ERROR_KINDS, toContinuumError } from '../../errors.js';
import type { ErrorCode } from '../../errors.js';
import { dataToRaw, rawToData } from '../../gateway/tensor-codec.js';
import { isDatatype } from '../../oip/types.js';
import type { InferRequest, InferResponse, ModelStatistics, Parameters, RequestedOutput, Tensor } from '../../oip/types.js';
import type { ReplicaSpec } from '../types.js';

/** A tensor in a header: name, datatype, shape, bytes in the payload, parameters (when any). */
type TensorEntry = readonly [name: string, datatype: string, shape: readonly number[], byteLength: number, parameters?: Parameters];

/** Header of an Infer frame. */
interface InferHeader {
  /** Inputs. */
  readonly i: readonly TensorEntry[];
  /** Requested outputs (absent: every output). */
  readonly o?: readonly RequestedOutput[];
  /** Request parameters. */
  readonly p?: Parameters;
  /** The client's request id, echoed in the response. */
  readonly r?: string;
  /** Absolute deadline, ms since epoch. */
  readonly d?: number;
}

/** Header of a Result frame. */
interface ResultHeader {
  readonly o: readonly TensorEntry[];
  readonly r?: string;
  readonly p?: Parameters;
}

/** Header of a Failure frame. */
interface FailureHeader {
  readonly c: string;
  readonly m: string;
  readonly d?: Readonly<Record<string, unknown>>;
  readonly a?: number;
}

/** A message encoded for a frame: its JSON header and payload bytes. */
export interface EncodedMessage {
  readonly header: unknown;
  readonly payload: readonly Uint8Array[];
}

const malformed = (what: string): ContinuumError =>
  new ContinuumError('CONTINUUM_ERR_INTERNAL', `malformed message on the replica channel: ${what}`);

function encodeTensors(tensors: readonly Tensor[]): { entries: TensorEntry[]; payload: Uint8Array[] } {
  const entries: TensorEntry[] = [];
  const payload: Uint8Array[] = [];
  for (const t of tensors) {
    const bytes = dataToRaw(t.datatype, t.data);
    entries.push(t.parameters === undefined ? [t.name, t.datatype, t.shape, bytes.byteLength] : [t.name, t.datatype, t.shape, bytes.byteLength, t.parameters]);
    payload.push(bytes);
  }
  return { entries, payload };
}

/**
 * Rebuilds tensors from header entries and the payload. Both ends are Continuum, but a frame is
 * still checked before it is trusted: datatypes, shapes and byte counts must agree (rawToData).
 */
function decodeTensors(entries: unknown, payload: Buffer): Tensor[] {
  if (!Array.isArray(entries)) throw malformed('tensor list');
  const tensors: Tensor[] = [];
  let offset = 0;
  for (const entry of entries as unknown[]) {
    if (!Array.isArray(entry)) throw malformed('tensor entry');
    const [name, datatype, shape, byteLength, parameters] = entry as unknown[];
    if (typeof name !== 'string' || typeof datatype !== 'string' || !isDatatype(datatype)) throw malformed('tensor name or datatype');
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw malformed(`shape of '${name}'`);
    if (!Number.isSafeInteger(byteLength) || (byteLength as number) < 0 || offset + (byteLength as number) > payload.length) {
      throw malformed(`byte length of '${name}'`);
    }
    const dims = shape as number[];
    const params = parameters === undefined ? undefined : (parameters as Parameters);
    const bytes = payload.subarray(offset, offset + (byteLength as number));
    offset += byteLength as number;
    const data = rawToData({ name, datatype, shape: dims, elements: dims.reduce((a, b) => a * b, 1), parameters: params }, bytes);
    tensors.push(params === undefined ? { name, datatype, shape: dims, data } : { name, datatype, shape: dims, data, parameters: params });
  }
  if (offset !== payload.length) throw malformed(`${payload.length - offset} bytes left after the tensors`);
  return tensors;
}

/** Encodes an inference request (parent side); `deadlineMs` is absolute (Date.now() clock). */
export function encodeInferRequest(request: InferRequest, deadlineMs: number | undefined): EncodedMessage {
  const { entries, payload } = encodeTensors(request.inputs);
  const header: { -readonly [K in keyof InferHeader]: InferHeader[K] } = { i: entries };
  if (request.outputs !== undefined) header.o = request.outputs;
  if (request.parameters !== undefined) header.p = request.parameters;
  if (request.id !== undefined) header.r = request.id;
  if (deadlineMs !== undefined) header.d = deadlineMs;
  return { header, payload };
}

/** Decodes an inference request (replica side); throws a ContinuumError on a malformed frame. */
export function decodeInferRequest(header: unknown, payload: Buffer): { request: InferRequest; deadlineMs: number | undefined } {
  if (typeof header !== 'object' || header === null) throw malformed('request header');
  const h = header as Partial<Record<keyof InferHeader, unknown>>;
  const request: { -readonly [K in keyof InferRequest]: InferRequest[K] } = { inputs: decodeTensors(h.i, payload) };
  if (h.o !== undefined) {
    if (!Array.isArray(h.o) || !h.o.every((o) => typeof o === 'object' && o !== null && typeof (o as RequestedOutput).name === 'string')) {
      throw malformed('requested outputs');
    }
    request.outputs = h.o as RequestedOutput[];
  }
  if (h.p !== undefined) request.parameters = h.p as Parameters;
  if (typeof h.r === 'string') request.id = h.r;
  return { request, deadlineMs: typeof h.d === 'number' ? h.d : undefined };
}

/** Encodes an inference response (replica side); the parent knows the model name and version. */
export function encodeInferResponse(response: InferResponse): EncodedMessage {
  const { entries, payload } = encodeTensors(response.outputs);
  const header: { -readonly [K in keyof ResultHeader]: ResultHeader[K] } = { o: entries };
  if (response.id !== undefined) header.r = response.id;
  if (response.parameters !== undefined) header.p = response.parameters;
  return { header, payload };
}

/** Decodes an inference response (parent side) of the model version the replica runs. */
export function decodeInferResponse(header: unknown, payload: Buffer, modelName: string, modelVersion: string): InferResponse {
  if (typeof header !== 'object' || header === null) throw malformed('response header');
  const h = header as Partial<Record<keyof ResultHeader, unknown>>;
  const response: { -readonly [K in keyof InferResponse]: InferResponse[K] } = {
    model_name: modelName,
    model_version: modelVersion,
    outputs: decodeTensors(h.o, payload),
  };
  if (typeof h.r === 'string') response.id = h.r;
  if (h.p !== undefined) response.parameters = h.p as Parameters;
  return response;
}

/** Encodes an error for a Failure frame, keeping its code, message, details and Retry-After. */
export function encodeFailure(err: unknown): FailureHeader {
  const e = toContinuumError(err);
  const header: { -readonly [K in keyof FailureHeader]: FailureHeader[K] } = { c: e.code, m: e.message };
  if (Object.keys(e.details).length > 0) header.d = e.details;
  if (e.retryAfterS !== undefined) header.a = e.retryAfterS;
  return header;
}

/** Rebuilds the ContinuumError a Failure frame carries; an unknown code becomes CONTINUUM_ERR_INTERNAL. */
export function decodeFailure(header: unknown): ContinuumError {
  if (typeof header !== 'object' || header === null) return malformed('failure header');
  const h = header as Partial<Record<keyof FailureHeader, unknown>>;
  const code = typeof h.c === 'string' && Object.hasOwn(ERROR_KINDS, h.c) ? (h.c as ErrorCode) : 'CONTINUUM_ERR_INTERNAL';
  const options: { details?: Readonly<Record<string, unknown>>; retryAfterS?: number } = {};
  if (typeof h.d === 'object' && h.d !== null) options.details = h.d as Record<string, unknown>;
  if (typeof h.a === 'number') options.retryAfterS = h.a;
  return new ContinuumError(code, typeof h.m === 'string' ? h.m : 'the replica failed', options);
}

/** Control messages from the parent to a replica process. */
export type ParentMessage =
  /** Load this model version and report `ready` (or `failed`). */
  | { readonly op: 'load'; readonly spec: ReplicaSpec }
  /** Answer `pong` with the same frame id. */
  | { readonly op: 'ping' }
  /** Answer `statistics` with the same frame id. */
  | { readonly op: 'statistics' }
  /** Finish accepted requests, release the sessions, exit. */
  | { readonly op: 'drain' };

/** Control messages from a replica process to its parent. */
export type ReplicaMessage =
  /** The runtime and ONNX Runtime are imported; times are ms since epoch (performance.timeOrigin clock). */
  | { readonly op: 'imported'; readonly mainStartEpochMs: number; readonly importedEpochMs: number }
  | { readonly op: 'ready'; readonly sessionMs: number; readonly warmupMs: number }
  | { readonly op: 'failed'; readonly error: FailureHeader }
  | { readonly op: 'pong'; readonly cpuUserUs: number; readonly cpuSystemUs: number; readonly rssBytes: number }
  | { readonly op: 'statistics'; readonly statistics: ModelStatistics };

const finite = z.number().finite();
const failureSchema = z.object({ c: z.string(), m: z.string(), d: z.record(z.string(), z.unknown()).optional(), a: finite.optional() });

/** Control messages a parent accepts from a replica; statistics are passed through as the runtime made them. */
const replicaMessageSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('imported'), mainStartEpochMs: finite, importedEpochMs: finite }),
  z.object({ op: z.literal('ready'), sessionMs: finite, warmupMs: finite }),
  z.object({ op: z.literal('failed'), error: failureSchema }),
  z.object({ op: z.literal('pong'), cpuUserUs: finite, cpuSystemUs: finite, rssBytes: finite }),
  z.object({ op: z.literal('statistics'), statistics: z.custom<ModelStatistics>((v) => typeof v === 'object' && v !== null) }),
]);

const signatureSchema = z.object({
  inputs: z.array(z.object({ name: z.string(), datatype: z.string().refine(isDatatype), shape: z.array(z.int()) })),
  outputs: z.array(z.object({ name: z.string(), datatype: z.string().refine(isDatatype), shape: z.array(z.int()) })),
});

/** Control messages a replica accepts from its parent; runtime options are validated by the runtime itself. */
const parentMessageSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('load'),
    spec: z.object({
      deployment: z.string(),
      revision: z.int(),
      model: z.object({
        name: z.string(),
        version: z.string(),
        artifactPath: z.string(),
        sha256: z.string(),
        signature: signatureSchema,
        runtimeOptions: z.record(z.string(), z.unknown()),
      }),
    }),
  }),
  z.object({ op: z.literal('ping') }),
  z.object({ op: z.literal('statistics') }),
  z.object({ op: z.literal('drain') }),
]);

/** Parses a control message from a replica; throws a ContinuumError when it is not one. */
export function parseReplicaMessage(header: unknown): ReplicaMessage {
  const parsed = replicaMessageSchema.safeParse(header);
  if (!parsed.success) throw malformed(`control message from the replica (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  return parsed.data as ReplicaMessage;
}

/** Parses a control message from the parent; throws a ContinuumError when it is not one. */
export function parseParentMessage(header: unknown): ParentMessage {
  const parsed = parentMessageSchema.safeParse(header);
  if (!parsed.success) throw malformed(`control message from the parent (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  return parsed.data as ParentMessage;
}
