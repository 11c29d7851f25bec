/**
 * What travels in the frames of the gateway→replica channel (see frames.ts): inference requests
 * and responses as a small binary header plus raw tensor bytes (the OIP raw tensor layout, decoded
 * with the gateway's checks), errors as their stable code and message, and the control messages
 * of a replica's life (load, ready, ping, statistics, drain) as JSON.
 *
 * The header of an Infer or Result frame (little-endian):
 *
 * ```
 * Infer:  f64 deadline, ms since epoch (NaN: none)
 * Result: u32 queue µs, u32 compute µs, u32 batch size: the request's timing in the replica's
 *         batcher (InferTiming; batch size 0: not timed)
 * u32     length of the extras, then the extras: UTF-8 JSON of what is rare (request id, request
 *         parameters, requested outputs, tensor parameters), absent when there are none
 * u16     tensor count, then per tensor:
 *   u8    datatype (index in DATATYPES)
 *   u8    rank
 *   u16   name length
 *   u32   byte length in the payload
 *   f64   each dimension
 *   ...   name, UTF-8
 * ```
 *
 * In the payload each tensor starts at a multiple of 8 bytes, so it can be viewed in place. A
 * binary header costs neither JSON.stringify nor JSON.parse per request, on either side.
 */
import { z } from 'zod';
import { ContinuumError, ERROR_KINDS, toContinuumError } from '../../errors.js';
import type { ErrorCode } from '../../errors.js';
import { dataToRaw, rawToData } from '../../gateway/tensor-codec.js';
import { DATATYPES, isDatatype } from '../../oip/types.js';
import type { Datatype, InferRequest, InferResponse, ModelStatistics, Parameters, RequestedOutput, Tensor } from '../../oip/types.js';
import type { InferTiming } from '../../runtime/index.js';
import type { ReplicaSpec } from '../types.js';
import { align8, ZEROS } from './frames.js';

/** The rare parts of a request or response, carried as JSON in the header's extras. */
interface Extras {
  /** Requested outputs (absent: every output). */
  readonly o?: readonly RequestedOutput[];
  /** Request or response parameters. */
  readonly p?: Parameters;
  /** The client's request id, echoed in the response. */
  readonly r?: string;
  /** Tensor parameters, by the tensor's index. */
  readonly t?: Readonly<Record<string, Parameters>>;
}

/** Header of a Failure frame. */
interface FailureHeader {
  readonly c: string;
  readonly m: string;
  readonly d?: Readonly<Record<string, unknown>>;
  readonly a?: number;
}

/** A message encoded for a frame: its header and payload bytes. */
export interface EncodedMessage {
  readonly header: Uint8Array;
  readonly payload: readonly Uint8Array[];
}

/** Bytes of a tensor's fixed part in the header: datatype, rank, name length, byte length. */
const TENSOR_FIXED_BYTES = 8;
/** The largest rank a header carries (u8); ONNX Runtime's limit is far lower in practice. */
const MAX_RANK = 255;
/** The longest tensor name a header carries (u16), in UTF-8 bytes. */
const MAX_NAME_BYTES = 0xffff;
/** The most tensors a header carries (u16). */
const MAX_TENSORS = 0xffff;

/** Bytes before the extras: an Infer frame's deadline (f64), a Result frame's timing (3 × u32). */
const INFER_LEAD_BYTES = 8;
const RESULT_LEAD_BYTES = 12;
/** The largest duration a Result header carries (u32 µs, 71 minutes); longer ones are clamped. */
const MAX_TIMING_US = 0xffff_ffff;

const DATATYPE_CODES: ReadonlyMap<string, number> = new Map(DATATYPES.map((d, i) => [d, i]));

const malformed = (what: string): ContinuumError =>
  new ContinuumError('CONTINUUM_ERR_INTERNAL', `malformed message on the replica channel: ${what}`);

/**
 * Encodes tensors and the extras into a header after `leadBytes` left for the caller's fixed
 * fields, and lays out the payload (each tensor 8-aligned).
 */
function encodeMessage(tensors: readonly Tensor[], extras: Extras, leadBytes: number): { header: Buffer; payload: Uint8Array[] } {
  if (tensors.length > MAX_TENSORS) throw malformed(`${tensors.length} tensors`);
  const raws: Buffer[] = [];
  let tensorParams: Record<string, Parameters> | undefined;
  let size = leadBytes + 4 + 2;
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i] as Tensor;
    const nameBytes = Buffer.byteLength(t.name);
    if (t.shape.length > MAX_RANK || nameBytes > MAX_NAME_BYTES) throw malformed(`rank or name length of '${t.name.slice(0, 64)}'`);
    raws.push(dataToRaw(t.datatype, t.data));
    size += TENSOR_FIXED_BYTES + 8 * t.shape.length + nameBytes;
    if (t.parameters !== undefined) (tensorParams ??= {})[i] = t.parameters;
  }
  const all: Extras = tensorParams === undefined ? extras : { ...extras, t: tensorParams };
  const json = all.o === undefined && all.p === undefined && all.r === undefined && all.t === undefined ? '' : JSON.stringify(all);
  const jsonBytes = Buffer.byteLength(json);
  size += jsonBytes;
  const header = Buffer.allocUnsafe(size);
  let at = header.writeUInt32LE(jsonBytes, leadBytes);
  at += header.write(json, at, 'utf8');
  at = header.writeUInt16LE(tensors.length, at);
  const payload: Uint8Array[] = [];
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i] as Tensor;
    const raw = raws[i] as Buffer;
    at = header.writeUInt8(DATATYPE_CODES.get(t.datatype) as number, at);
    at = header.writeUInt8(t.shape.length, at);
    const nameAt = at;
    at = header.writeUInt32LE(raw.byteLength, at + 2);
    for (const d of t.shape) at = header.writeDoubleLE(d, at);
    const nameBytes = header.write(t.name, at, 'utf8');
    header.writeUInt16LE(nameBytes, nameAt);
    at += nameBytes;
    payload.push(raw);
    const pad = align8(raw.byteLength) - raw.byteLength;
    if (pad > 0) payload.push(ZEROS.subarray(0, pad));
  }
  return { header, payload };
}

/** Reads a header's fields in order; every read past its end is a malformed message. */
class HeaderCursor {
  private at = 0;

  constructor(private readonly bytes: Buffer) {}

  private take(n: number, what: string): number {
    const at = this.at;
    if (at + n > this.bytes.length) throw malformed(`header ends inside ${what}`);
    this.at = at + n;
    return at;
  }

  u8(what: string): number {
    return this.bytes.readUInt8(this.take(1, what));
  }

  u16(what: string): number {
    return this.bytes.readUInt16LE(this.take(2, what));
  }

  u32(what: string): number {
    return this.bytes.readUInt32LE(this.take(4, what));
  }

  f64(what: string): number {
    return this.bytes.readDoubleLE(this.take(8, what));
  }

  skip(n: number, what: string): void {
    this.take(n, what);
  }

  utf8(n: number, what: string): string {
    const at = this.take(n, what);
    return this.bytes.toString('utf8', at, at + n);
  }

  get done(): boolean {
    return this.at === this.bytes.length;
  }
}

/** What a header decodes to before its tensors are rebuilt. */
interface DecodedHeader {
  readonly extras: Extras;
  readonly tensors: Tensor[];
}

function readExtras(json: string): Extras {
  if (json === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw malformed('extras');
  }
  if (typeof value !== 'object' || value === null) throw malformed('extras');
  const e = value as Partial<Record<keyof Extras, unknown>>;
  if (e.o !== undefined && (!Array.isArray(e.o) || !e.o.every((o) => typeof o === 'object' && o !== null && typeof (o as RequestedOutput).name === 'string'))) {
    throw malformed('requested outputs');
  }
  if (e.r !== undefined && typeof e.r !== 'string') throw malformed('request id');
  for (const k of ['p', 't'] as const) if (e[k] !== undefined && (typeof e[k] !== 'object' || e[k] === null)) throw malformed('parameters');
  return e as Extras;
}

/**
 * Rebuilds a header and its tensors from the payload. Both ends are Continuum, but a frame is
 * still checked before it is trusted: datatypes, shapes and byte counts must agree (rawToData).
 */
function decodeMessage(header: Buffer, payload: Buffer, leadBytes: number): DecodedHeader {
  const c = new HeaderCursor(header);
  c.skip(leadBytes, 'the fixed fields');
  const extras = readExtras(c.utf8(c.u32('the extras length'), 'the extras'));
  const count = c.u16('the tensor count');
  const tensors: Tensor[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const datatype = DATATYPES[c.u8('a datatype')] as Datatype | undefined;
    if (datatype === undefined) throw malformed('tensor datatype');
    const rank = c.u8('a rank');
    const nameBytes = c.u16('a name length');
    const byteLength = c.u32('a byte length');
    const shape: number[] = [];
    let elements = 1;
    for (let k = 0; k < rank; k++) {
      const d = c.f64('a shape');
      if (!Number.isSafeInteger(d) || d < 0) throw malformed('tensor shape');
      shape.push(d);
      elements *= d;
    }
    const name = c.utf8(nameBytes, 'a name');
    if (offset + byteLength > payload.length) throw malformed(`byte length of '${name}'`);
    const parameters = extras.t?.[i];
    const data = rawToData({ name, datatype, shape, elements, parameters }, payload.subarray(offset, offset + byteLength));
    offset += align8(byteLength);
    tensors.push(parameters === undefined ? { name, datatype, shape, data } : { name, datatype, shape, data, parameters });
  }
  if (!c.done) throw malformed(`${header.length} header bytes hold more than ${count} tensors`);
  if (offset !== payload.length) throw malformed(`${payload.length - offset} bytes left after the tensors`);
  return { extras, tensors };
}

/** Encodes an inference request (parent side); `deadlineMs` is absolute (Date.now() clock). */
export function encodeInferRequest(request: InferRequest, deadlineMs: number | undefined): EncodedMessage {
  const extras: { -readonly [K in keyof Extras]: Extras[K] } = {};
  if (request.outputs !== undefined) extras.o = request.outputs;
  if (request.parameters !== undefined) extras.p = request.parameters;
  if (request.id !== undefined) extras.r = request.id;
  const { header, payload } = encodeMessage(request.inputs, extras, INFER_LEAD_BYTES);
  header.writeDoubleLE(deadlineMs ?? Number.NaN, 0);
  return { header, payload };
}

/** Decodes an inference request (replica side); throws a ContinuumError on a malformed frame. */
export function decodeInferRequest(header: Buffer, payload: Buffer): { request: InferRequest; deadlineMs: number | undefined } {
  const { extras, tensors } = decodeMessage(header, payload, INFER_LEAD_BYTES);
  const deadline = header.readDoubleLE(0);
  const deadlineMs = Number.isNaN(deadline) ? undefined : deadline;
  const request: { -readonly [K in keyof InferRequest]: InferRequest[K] } = { inputs: tensors };
  if (extras.o !== undefined) request.outputs = extras.o;
  if (extras.p !== undefined) request.parameters = extras.p;
  if (extras.r !== undefined) request.id = extras.r;
  return { request, deadlineMs };
}

const clampUs = (us: number): number => Math.min(MAX_TIMING_US, Math.max(0, Math.round(us)));

/**
 * Encodes an inference response (replica side) with the request's timing in the replica's
 * batcher (absent: not timed); the parent knows the model name and version.
 */
export function encodeInferResponse(response: InferResponse, timing: InferTiming | undefined): EncodedMessage {
  const extras: { -readonly [K in keyof Extras]: Extras[K] } = {};
  if (response.id !== undefined) extras.r = response.id;
  if (response.parameters !== undefined) extras.p = response.parameters;
  const { header, payload } = encodeMessage(response.outputs, extras, RESULT_LEAD_BYTES);
  header.writeUInt32LE(timing === undefined ? 0 : clampUs(timing.queueUs), 0);
  header.writeUInt32LE(timing === undefined ? 0 : clampUs(timing.computeUs), 4);
  header.writeUInt32LE(timing === undefined ? 0 : Math.min(MAX_TIMING_US, timing.batchSize), 8);
  return { header, payload };
}

/** The timing a Result frame's header carries; undefined when the replica did not time the request. */
export function decodeResultTiming(header: Buffer): InferTiming | undefined {
  if (header.length < RESULT_LEAD_BYTES) throw malformed('header ends inside the timing');
  const batchSize = header.readUInt32LE(8);
  return batchSize === 0 ? undefined : { queueUs: header.readUInt32LE(0), computeUs: header.readUInt32LE(4), batchSize };
}

/** Decodes an inference response (parent side) of the model version the replica runs. */
export function decodeInferResponse(header: Buffer, payload: Buffer, modelName: string, modelVersion: string): InferResponse {
  const { extras, tensors } = decodeMessage(header, payload, RESULT_LEAD_BYTES);
  const response: { -readonly [K in keyof InferResponse]: InferResponse[K] } = { model_name: modelName, model_version: modelVersion, outputs: tensors };
  if (extras.r !== undefined) response.id = extras.r;
  if (extras.p !== undefined) response.parameters = extras.p;
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
  | { readonly op: 'pong'; readonly cpuUserUs: number; readonly cpuSystemUs: number; readonly rssBytes: number; readonly queued: number }
  | { readonly op: 'statistics'; readonly statistics: ModelStatistics };

const finite = z.number().finite();
const failureSchema = z.object({ c: z.string(), m: z.string(), d: z.record(z.string(), z.unknown()).optional(), a: finite.optional() });

/** Control messages a parent accepts from a replica; statistics are passed through as the runtime made them. */
const replicaMessageSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('imported'), mainStartEpochMs: finite, importedEpochMs: finite }),
  z.object({ op: z.literal('ready'), sessionMs: finite, warmupMs: finite }),
  z.object({ op: z.literal('failed'), error: failureSchema }),
  z.object({ op: z.literal('pong'), cpuUserUs: finite, cpuSystemUs: finite, rssBytes: finite, queued: finite }),
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
