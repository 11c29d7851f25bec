/**
 * The OIP REST JSON codec: request bodies into {@link InferRequest} values and
 * {@link InferResponse} values into JSON text (KServe "Open Inference Protocol (V2)", REST,
 * "Inference Request JSON Object" and "Inference Response JSON Object").
 *
 * Speed matters here: every REST inference passes through. A request body is scanned once for
 * nesting depth (so JSON.parse never meets a hostile 10k-deep array), parsed once, and each
 * tensor's `data` is walked once into typed storage by the shared tensor codec. Responses are
 * written by hand: typed arrays join straight into JSON text without intermediate arrays.
 *
 * JSON value choices (what clients can rely on):
 * - INT64/UINT64 inputs accept JSON numbers that are safe integers (|v| <= 2^53 - 1) and decimal
 *   strings for anything larger, since JSON.parse cannot keep larger numbers exact.
 * - INT64/UINT64 outputs are written as exact JSON integer literals (as Triton does); clients
 *   that parse JSON numbers as doubles see values beyond 2^53 rounded.
 * - FP outputs that are NaN or infinite are written as null (JSON has no literal for them, the
 *   JSON.stringify rule); the binary tensor extension keeps them exact.
 * - FP16 outputs are written as the numbers their half-precision bits stand for; FP16 inputs must
 *   travel raw (binary tensor extension), as Triton requires.
 * - BYTES travel as strings: inputs are stored as their UTF-8 bytes, outputs decoded as UTF-8
 *   (invalid sequences become U+FFFD; ask for binary_data to get exact bytes).
 */
import { ContinuumError } from '../errors.js';
import type { Datatype, InferRequest, InferResponse, RequestedOutput, Tensor, TensorData } from '../oip/types.js';
import type { CompiledRequestLimits } from './limits.js';
import {
  checkInputCount,
  checkName,
  checkOutputCount,
  checkParameters,
  checkRequestId,
  checkTensorHeader,
  checkTotalElements,
  rawToData,
  valuesToData,
} from './tensor-codec.js';
import type { TensorHeader } from './tensor-codec.js';

const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Refuses JSON text nested deeper than `maxDepth` arrays/objects, in one linear pass over the
 * UTF-8 bytes (strings are skipped; UTF-8 continuation bytes never equal an ASCII bracket).
 */
export function checkJsonDepth(body: Uint8Array, maxDepth: number): void {
  let depth = 0;
  const n = body.length;
  for (let i = 0; i < n; i++) {
    const c = body[i];
    if (c === QUOTE) {
      for (i++; i < n; i++) {
        const d = body[i];
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) {
        throw new ContinuumError('CONTINUUM_ERR_LIMIT_EXCEEDED', `the JSON body is nested deeper than ${maxDepth} levels`, { details: { limit: maxDepth } });
      }
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
}

/** Parses a JSON request body after the depth check; empty or malformed bodies are CONTINUUM_ERR_INVALID_JSON. */
export function parseJsonBody(body: Uint8Array, limits: CompiledRequestLimits): unknown {
  if (body.length === 0) {
    throw new ContinuumError('CONTINUUM_ERR_INVALID_JSON', 'the request body is empty; send an OIP inference request as JSON');
  }
  checkJsonDepth(body, limits.maxJsonDepth);
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (err) {
    throw new ContinuumError('CONTINUUM_ERR_INVALID_JSON', `the request body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Flattens nested `data` (OIP allows row-major nesting) after checking it matches the shape exactly. */
function flattenNested(header: TensorHeader, data: readonly unknown[]): unknown[] {
  const { shape } = header;
  const rank = shape.length;
  const out = new Array<unknown>(header.elements);
  let k = 0;
  // Recursion depth is bounded by the rank, which checkShape bounded by maxRank.
  const walk = (level: number, value: unknown, path: string): void => {
    const expected = shape[level] as number;
    if (!Array.isArray(value) || value.length !== expected) {
      const got = Array.isArray(value) ? `${value.length} elements` : 'a scalar';
      throw new ContinuumError(
        'CONTINUUM_ERR_INVALID_TENSOR',
        `nested data of input '${header.name}' does not match shape [${shape.join(',')}]: data${path} has ${got}, expected an array of ${expected}`,
        { details: { input: header.name } },
      );
    }
    if (level === rank - 1) {
      for (let i = 0; i < expected; i++) out[k++] = value[i];
    } else {
      for (let i = 0; i < expected; i++) walk(level + 1, value[i], `${path}[${i}]`);
    }
  };
  walk(0, data, '');
  return out;
}

/** A tensor's JSON `data`, flat or nested, as its flat row-major element list. */
function jsonElements(header: TensorHeader, data: unknown): ArrayLike<unknown> {
  if (!Array.isArray(data)) {
    throw new ContinuumError(
      'CONTINUUM_ERR_INVALID_TENSOR',
      `input '${header.name}' needs "data": an array of its elements, flat or nested as its shape (or "parameters.binary_data_size" with the binary tensor extension)`,
      { details: { input: header.name } },
    );
  }
  return header.shape.length > 1 && data.length > 0 && Array.isArray(data[0]) ? flattenNested(header, data) : data;
}

/** Reads a non-negative integer parameter of the binary extension (e.g. `binary_data_size`). */
function byteCount(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `${what} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Decodes a parsed OIP inference request. With the binary tensor extension `tail` holds the bytes
 * after the JSON header; inputs with `parameters.binary_data_size` take their data from it, in
 * input order (Triton "Binary Tensor Data Extension"), and every tail byte must be claimed.
 */
export function decodeInferRequest(body: unknown, limits: CompiledRequestLimits, tail?: Uint8Array): InferRequest {
  if (!isObject(body)) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'the request body must be a JSON object: an OIP inference request');
  const id = checkRequestId(body['id'], limits);
  const parameters = checkParameters(body['parameters'], 'the request', limits);
  const rawInputs = body['inputs'];
  if (!Array.isArray(rawInputs)) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'the request needs "inputs": an array of input tensors');
  checkInputCount(rawInputs.length, limits);

  const entries = rawInputs.map((raw: unknown, i) => {
    if (!isObject(raw)) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `input ${i} must be an object with name, datatype, shape and data`);
    return raw;
  });
  const headers = entries.map((raw, i) => checkTensorHeader(raw, i, limits));
  checkTotalElements(headers, limits);

  let offset = 0;
  const inputs = headers.map((header, i): Tensor => {
    const raw = entries[i] as Record<string, unknown>;
    const binarySize = header.parameters?.['binary_data_size'];
    let data: TensorData;
    if (binarySize === undefined) {
      data = valuesToData(header, jsonElements(header, raw['data']));
    } else {
      if (tail === undefined) {
        throw new ContinuumError(
          'CONTINUUM_ERR_BAD_REQUEST',
          `input '${header.name}' has "binary_data_size" but the request has no Inference-Header-Content-Length header (binary tensor extension)`,
        );
      }
      if (raw['data'] !== undefined) {
        throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `input '${header.name}' has both "data" and "binary_data_size"; send one`);
      }
      const size = byteCount(binarySize, `"binary_data_size" of input '${header.name}'`);
      if (size > tail.length - offset) {
        throw new ContinuumError(
          'CONTINUUM_ERR_INVALID_TENSOR',
          `input '${header.name}' claims ${size} bytes of binary data but only ${tail.length - offset} remain after the JSON header`,
          { details: { input: header.name } },
        );
      }
      data = rawToData(header, tail.subarray(offset, offset + size));
      offset += size;
    }
    return header.parameters === undefined
      ? { name: header.name, datatype: header.datatype, shape: header.shape, data }
      : { name: header.name, datatype: header.datatype, shape: header.shape, data, parameters: header.parameters };
  });
  if (tail !== undefined && offset !== tail.length) {
    throw new ContinuumError(
      'CONTINUUM_ERR_INVALID_TENSOR',
      `${tail.length - offset} bytes of binary data after the JSON header belong to no input; each binary input needs "binary_data_size"`,
    );
  }

  const outputs = decodeRequestedOutputs(body['outputs'], limits);
  return { id, parameters, inputs, outputs };
}

/** Decodes the optional `outputs` list (OIP "Request Output"); `binary_data` must be a boolean. */
function decodeRequestedOutputs(value: unknown, limits: CompiledRequestLimits): RequestedOutput[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', '"outputs" must be an array of {"name": ...} objects');
  checkOutputCount(value.length, limits);
  return value.map((raw: unknown, i): RequestedOutput => {
    if (!isObject(raw)) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `output ${i} must be an object with a name`);
    const name = checkName(raw['name'], `output ${i}`, limits);
    const parameters = checkParameters(raw['parameters'], `output '${name}'`, limits);
    const binary = parameters?.['binary_data'];
    if (binary !== undefined && typeof binary !== 'boolean') {
      throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `"binary_data" of output '${name}' must be true or false`);
    }
    return parameters === undefined ? { name } : { name, parameters };
  });
}

const utf8Decoder = new TextDecoder('utf-8');

/** The number an IEEE-754 half-precision bit pattern stands for. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Floating-point elements as JSON; NaN and infinities become null (see the module comment). */
function floatsJson(values: Float32Array | Float64Array): string {
  const text = values.join(',');
  // Number-to-string yields 'NaN' / 'Infinity' only for non-finite values; plain numbers never contain N or I.
  if (!text.includes('N') && !text.includes('I')) return `[${text}]`;
  return JSON.stringify(Array.from(values));
}

/** A tensor's elements as a flat JSON array text (OIP "Tensor Data", row-major). */
export function tensorDataJson(datatype: Datatype, data: TensorData): string {
  switch (datatype) {
    case 'FP32':
    case 'FP64':
      return floatsJson(data as Float32Array | Float64Array);
    case 'FP16':
      return floatsJson(Float64Array.from(data as Uint16Array, halfToNumber));
    case 'BOOL': {
      const bytes = data as Uint8Array;
      let text = '[';
      for (let i = 0; i < bytes.length; i++) text += (i === 0 ? '' : ',') + (bytes[i] === 0 ? 'false' : 'true');
      return `${text}]`;
    }
    case 'BYTES':
      return JSON.stringify((data as Uint8Array[]).map((b) => utf8Decoder.decode(b)));
    default:
      // Integer typed arrays (BigInt ones included) join into exact decimal literals.
      return `[${(data as Int32Array).join(',')}]`;
  }
}

/**
 * Writes an inference response as OIP JSON. Outputs named in `binarySizes` are announced with
 * `parameters.binary_data_size` instead of `data` (their bytes follow the header; binary tensor
 * extension).
 */
export function encodeInferResponse(response: InferResponse, binarySizes?: ReadonlyMap<string, number>): string {
  let text = `{"model_name":${JSON.stringify(response.model_name)},"model_version":${JSON.stringify(response.model_version)}`;
  if (response.id !== undefined) text += `,"id":${JSON.stringify(response.id)}`;
  if (response.parameters !== undefined) text += `,"parameters":${JSON.stringify(response.parameters)}`;
  text += ',"outputs":[';
  const { outputs } = response;
  for (let i = 0; i < outputs.length; i++) {
    const o = outputs[i] as Tensor;
    if (i > 0) text += ',';
    text += `{"name":${JSON.stringify(o.name)},"datatype":"${o.datatype}","shape":[${o.shape.join(',')}]`;
    const size = binarySizes?.get(o.name);
    const parameters = size === undefined ? o.parameters : { ...o.parameters, binary_data_size: size };
    if (parameters !== undefined) text += `,"parameters":${JSON.stringify(parameters)}`;
    text += size === undefined ? `,"data":${tensorDataJson(o.datatype, o.data)}}` : '}';
  }
  return `${text}]}`;
}
