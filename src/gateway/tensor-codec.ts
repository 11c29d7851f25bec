/**
 * Validation and decoding of request tensors, and raw encoding of response tensors, shared by
 * every OIP wire format: REST JSON, the binary-tensor extension and gRPC. Each front end pulls the
 * fields out of its own envelope and hands them here, so one piece of code decides what a valid
 * tensor is (OIP "Tensor Data Types", "Request Input"; Triton "Binary Tensor Data Extension").
 *
 * Order matters for safety: a request's headers (names, datatypes, shapes) are checked against the
 * limits first, the total element count next, and only then is tensor storage allocated.
 */
import { ContinuumError } from '../errors.js';
import { DATATYPE_BYTES, isDatatype, STORAGE_OF } from '../oip/types.js';
import type { Datatype, NumericTensorData, Parameter, Parameters, TensorData } from '../oip/types.js';
import type { CompiledRequestLimits } from './limits.js';

// Raw tensor bytes are little-endian on the wire (OIP gRPC `raw_input_contents`, Triton binary
// extension); typed arrays use the host's order. Every platform Node ships for is little-endian,
// and viewing wire bytes in place is what makes the binary paths fast, so a big-endian host is
// refused rather than served wrong numbers.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('Continuum needs a little-endian host: OIP raw tensor data is little-endian');
}

/** A checked input tensor header: the part of a tensor that is validated before any allocation. */
export interface TensorHeader {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  /** Product of the shape. */
  readonly elements: number;
  readonly parameters: Parameters | undefined;
}

/** The unvalidated fields of an input tensor as a wire format carries them. */
export interface RawTensorHeader {
  readonly name?: unknown;
  readonly datatype?: unknown;
  readonly shape?: unknown;
  readonly parameters?: unknown;
}

const invalid = (message: string, details: Record<string, unknown> = {}): ContinuumError =>
  new ContinuumError('CONTINUUM_ERR_INVALID_TENSOR', message, { details });

const overLimit = (message: string, details: Record<string, unknown> = {}): ContinuumError =>
  new ContinuumError('CONTINUUM_ERR_LIMIT_EXCEEDED', message, { details });

/** Short, safe rendering of an offending value for an error message. */
function preview(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value instanceof Uint8Array) return `${value.length} raw bytes`;
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Checks a tensor or parameter name: a non-empty string of at most `maxNameLength` characters. */
export function checkName(value: unknown, what: string, limits: CompiledRequestLimits): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `${what} needs a "name" (a non-empty string), got ${preview(value)}`);
  }
  if (value.length > limits.maxNameLength) {
    throw overLimit(`${what} name is ${value.length} characters; at most ${limits.maxNameLength} are allowed`, { limit: limits.maxNameLength });
  }
  return value;
}

/** Checks a request `id` (OIP "Inference Request JSON Object"): a string of bounded length, echoed back. */
export function checkRequestId(value: unknown, limits: CompiledRequestLimits): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `request "id" must be a string, got ${preview(value)}`);
  if (value.length > limits.maxIdLength) {
    throw overLimit(`request "id" is ${value.length} characters; at most ${limits.maxIdLength} are allowed`, { limit: limits.maxIdLength });
  }
  return value;
}

/** Checks one `parameters` value (OIP: string, number or boolean). */
export function checkParameter(key: string, value: unknown, where: string, limits: CompiledRequestLimits): Parameter {
  if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return value;
  if (typeof value === 'string') {
    if (value.length > limits.maxParameterLength) {
      throw overLimit(`parameter '${key}' of ${where} is ${value.length} characters; at most ${limits.maxParameterLength} are allowed`);
    }
    return value;
  }
  throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `parameter '${key}' of ${where} must be a string, number or boolean, got ${preview(value)}`);
}

/**
 * Checks an OIP `parameters` object: at most `maxParameters` entries, bounded keys, scalar values.
 * Returns the same object (JSON.parse gives own properties only, so nothing is inherited).
 */
export function checkParameters(value: unknown, where: string, limits: CompiledRequestLimits): Parameters | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `"parameters" of ${where} must be an object, got ${preview(value)}`);
  }
  const record = value as Record<string, unknown>;
  let count = 0;
  for (const key in record) {
    if (++count > limits.maxParameters) throw overLimit(`${where} has more than ${limits.maxParameters} parameters`, { limit: limits.maxParameters });
    if (key.length > limits.maxNameLength) throw overLimit(`a parameter name of ${where} is longer than ${limits.maxNameLength} characters`);
    checkParameter(key, record[key], where, limits);
  }
  return record as Parameters;
}

/** Checks that a request has between 1 and `maxInputs` inputs (OIP: "inputs" is required). */
export function checkInputCount(count: number, limits: CompiledRequestLimits): void {
  if (count === 0) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'the request has no inputs; send at least one tensor in "inputs"');
  if (count > limits.maxInputs) {
    throw overLimit(`the request has ${count} inputs; at most ${limits.maxInputs} are allowed`, { limit: limits.maxInputs, count });
  }
}

/** Checks that a request asks for at most `maxOutputs` outputs. */
export function checkOutputCount(count: number, limits: CompiledRequestLimits): void {
  if (count > limits.maxOutputs) {
    throw overLimit(`the request asks for ${count} outputs; at most ${limits.maxOutputs} are allowed`, { limit: limits.maxOutputs, count });
  }
}

/**
 * Checks a shape: at most `maxRank` non-negative integer dimensions whose product is at most
 * `maxTensorElements`. Returns the element count. Nothing is allocated, so a declared shape of
 * [1e9, 1e9] costs nothing to refuse.
 */
export function checkShape(value: unknown, input: string, limits: CompiledRequestLimits): number {
  if (!Array.isArray(value)) throw invalid(`input '${input}' needs a "shape" (an array of non-negative integers), got ${preview(value)}`);
  if (value.length > limits.maxRank) {
    throw overLimit(`input '${input}' has ${value.length} dimensions; at most ${limits.maxRank} are allowed`, { limit: limits.maxRank });
  }
  let product = 1;
  let empty = false;
  let tooLarge = false;
  for (let i = 0; i < value.length; i++) {
    const d: unknown = value[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw invalid(`input '${input}' has shape dimension ${i} = ${preview(d)}; dimensions must be non-negative integers`, { input });
    }
    if (d === 0) empty = true;
    else if (!tooLarge) {
      product *= d;
      tooLarge = product > limits.maxTensorElements;
    }
  }
  if (empty) return 0;
  if (tooLarge) {
    throw overLimit(`input '${input}' declares shape [${value.join(',')}], more than the ${limits.maxTensorElements} elements a tensor may have`, {
      input,
      limit: limits.maxTensorElements,
    });
  }
  return product;
}

/** Checks an input's name, datatype, shape and parameters (OIP "Request Input"), before its data. */
export function checkTensorHeader(raw: RawTensorHeader, index: number, limits: CompiledRequestLimits): TensorHeader {
  const name = checkName(raw.name, `input ${index}`, limits);
  const datatype = raw.datatype;
  if (typeof datatype !== 'string' || !isDatatype(datatype)) {
    throw invalid(`input '${name}' has datatype ${preview(datatype)}; OIP datatypes are BOOL, UINT8-UINT64, INT8-INT64, FP16, FP32, FP64, BYTES`, {
      input: name,
    });
  }
  const elements = checkShape(raw.shape, name, limits);
  const parameters = checkParameters(raw.parameters, `input '${name}'`, limits);
  return { name, datatype, shape: raw.shape as number[], elements, parameters };
}

/** Checks the element count over all inputs against `maxTotalElements`, before any is allocated. */
export function checkTotalElements(headers: readonly TensorHeader[], limits: CompiledRequestLimits): void {
  let total = 0;
  for (const h of headers) total += h.elements;
  if (total > limits.maxTotalElements) {
    throw overLimit(`the request's inputs hold ${total} elements in all; at most ${limits.maxTotalElements} are allowed`, {
      limit: limits.maxTotalElements,
    });
  }
}

const FIXED_INT_RANGE: Readonly<Partial<Record<Datatype, readonly [number, number]>>> = {
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
  UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  INT32: [-0x80000000, 0x7fffffff],
};

const INT64_RANGE = [-(1n << 63n), (1n << 63n) - 1n] as const;
const UINT64_RANGE = [0n, (1n << 64n) - 1n] as const;
const DECIMAL_INTEGER = /^-?[0-9]{1,20}$/;

function badElement(header: TensorHeader, i: number, value: unknown, expected: string): ContinuumError {
  return invalid(`element ${i} of input '${header.name}' is ${preview(value)}; ${header.datatype} needs ${expected}`, { input: header.name, element: i });
}

/** One 64-bit integer element: a safe-integer number, or a decimal string for values beyond 2^53. */
function toBigInt(header: TensorHeader, i: number, v: unknown, range: readonly [bigint, bigint]): bigint {
  let b: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else if (typeof v === 'string' && DECIMAL_INTEGER.test(v)) b = BigInt(v);
  else throw badElement(header, i, v, 'integers (numbers up to 2^53, or decimal strings for larger values)');
  if (b < range[0] || b > range[1]) throw badElement(header, i, v, `integers in [${range[0]}, ${range[1]}]`);
  return b;
}

const utf8Encoder = new TextEncoder();

/**
 * Converts a tensor's elements given as values (JSON `data`, flattened; gRPC `*_contents`) into
 * typed storage. Accepted per datatype: BOOL booleans; integers as integer numbers in range
 * (INT64/UINT64 also as decimal strings, which gRPC 64-bit fields decode to and which keep JSON
 * values beyond 2^53 exact); FP32/FP64 numbers (an FP32 value beyond the float range is refused,
 * not rounded to infinity); BYTES strings (stored as UTF-8) or raw bytes. FP16 has no value form
 * (OIP: FP16 travels raw).
 */
export function valuesToData(header: TensorHeader, values: ArrayLike<unknown>): TensorData {
  const { datatype, elements: n } = header;
  if (datatype === 'FP16') {
    throw invalid(
      `input '${header.name}' is FP16, which has no JSON or typed-contents form; send its raw little-endian bytes (REST: binary tensor extension with "binary_data_size"; gRPC: raw_input_contents)`,
      { input: header.name },
    );
  }
  if (values.length !== n) {
    throw invalid(`input '${header.name}' has ${values.length} elements of data, but shape [${header.shape.join(',')}] needs ${n}`, {
      input: header.name,
      expected: n,
      got: values.length,
    });
  }
  switch (datatype) {
    case 'FP32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number') throw badElement(header, i, v, 'numbers');
        out[i] = v;
        // Math.fround overflow: a finite value that became infinite does not fit in FP32.
        if ((out[i] === Infinity || out[i] === -Infinity) && Number.isFinite(v)) throw badElement(header, i, v, 'numbers within ±3.4028235e38');
      }
      return out;
    }
    case 'FP64': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number') throw badElement(header, i, v, 'numbers');
        out[i] = v;
      }
      return out;
    }
    case 'BOOL': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'boolean') throw badElement(header, i, v, 'true or false');
        out[i] = v ? 1 : 0;
      }
      return out;
    }
    case 'INT64':
    case 'UINT64': {
      const range = datatype === 'INT64' ? INT64_RANGE : UINT64_RANGE;
      const out = datatype === 'INT64' ? new BigInt64Array(n) : new BigUint64Array(n);
      for (let i = 0; i < n; i++) out[i] = toBigInt(header, i, values[i], range);
      return out;
    }
    case 'BYTES': {
      const out = new Array<Uint8Array>(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v === 'string') out[i] = utf8Encoder.encode(v);
        else if (v instanceof Uint8Array) out[i] = v;
        else throw badElement(header, i, v, 'strings');
      }
      return out;
    }
    default: {
      const [min, max] = FIXED_INT_RANGE[datatype] as readonly [number, number];
      const out = new STORAGE_OF[datatype](n) as Exclude<NumericTensorData, BigInt64Array | BigUint64Array>;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw badElement(header, i, v, `integers in [${min}, ${max}]`);
        out[i] = v;
      }
      return out;
    }
  }
}

/** Bytes a fixed-size tensor takes raw; undefined for BYTES, whose size depends on the data. */
export function rawByteSize(header: TensorHeader): number | undefined {
  return header.datatype === 'BYTES' ? undefined : header.elements * DATATYPE_BYTES[header.datatype];
}

/**
 * Decodes a tensor's raw bytes (OIP gRPC `raw_input_contents`, Triton binary extension):
 * fixed-size datatypes are little-endian elements, row-major, no padding, and are viewed in place
 * when aligned; BYTES elements each carry a 4-byte little-endian length prefix. BOOL bytes must be
 * 0 or 1.
 */
export function rawToData(header: TensorHeader, bytes: Uint8Array): TensorData {
  const { datatype, elements: n, name } = header;
  if (datatype === 'BYTES') {
    // Every element takes at least its 4-byte prefix: refuse before allocating n slots.
    if (n > bytes.length / 4) throw invalid(`input '${name}' declares ${n} BYTES elements but its ${bytes.length} raw bytes cannot hold them`, { input: name });
    const out = new Array<Uint8Array>(n);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    for (let i = 0; i < n; i++) {
      if (offset + 4 > bytes.length) throw invalid(`raw BYTES data of input '${name}' ends inside the length prefix of element ${i}`, { input: name });
      const length = view.getUint32(offset, true);
      offset += 4;
      if (length > bytes.length - offset) throw invalid(`raw BYTES element ${i} of input '${name}' claims ${length} bytes, past the end of the data`, { input: name });
      out[i] = bytes.subarray(offset, offset + length);
      offset += length;
    }
    if (offset !== bytes.length) {
      throw invalid(`raw BYTES data of input '${name}' has ${bytes.length - offset} bytes left after its ${n} elements`, { input: name });
    }
    return out;
  }
  const size = DATATYPE_BYTES[datatype];
  if (bytes.length !== n * size) {
    throw invalid(`input '${name}' has ${bytes.length} bytes of raw data, but ${datatype} shape [${header.shape.join(',')}] needs ${n * size}`, {
      input: name,
      expected: n * size,
      got: bytes.length,
    });
  }
  const Storage = STORAGE_OF[datatype] as unknown as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => NumericTensorData;
  // A typed-array view needs an aligned offset; a misaligned slice is copied once.
  const aligned = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
  const out = new Storage(aligned.buffer, aligned.byteOffset, n);
  if (datatype === 'BOOL') {
    for (let i = 0; i < n; i++) if ((out as Uint8Array)[i]! > 1) throw badElement(header, i, (out as Uint8Array)[i], 'bytes 0 or 1');
  }
  return out;
}

/** Encodes tensor storage as raw little-endian bytes (BYTES length-prefixed); numeric data is not copied. */
export function dataToRaw(datatype: Datatype, data: TensorData): Buffer {
  if (datatype !== 'BYTES') {
    const typed = data as NumericTensorData;
    return Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
  }
  const elements = data as Uint8Array[];
  let size = 0;
  for (const e of elements) size += 4 + e.length;
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const e of elements) {
    out.writeUInt32LE(e.length, offset);
    out.set(e, offset + 4);
    offset += 4 + e.length;
  }
  return out;
}
