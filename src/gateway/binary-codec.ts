/**
 * Triton's binary tensor data extension of OIP REST ("Binary Tensor Data Extension"): a body made
 * of a JSON header of `Inference-Header-Content-Length` bytes followed by raw tensor bytes. Inputs
 * say how many bytes are theirs with `parameters.binary_data_size`, in input order; outputs are
 * sent raw when the request asks (`binary_data` on an output, or `binary_data_output` on the
 * request). Raw bytes are little-endian; BYTES elements carry a 4-byte length prefix.
 */
import { ContinuumError } from '../errors.js';
import type { InferRequest, InferResponse } from '../oip/types.js';
import { decodeInferRequest, encodeInferResponse, parseJsonBody } from './json-codec.js';
import type { CompiledRequestLimits } from './limits.js';
import { dataToRaw } from './tensor-codec.js';

/** The HTTP header carrying the JSON header's length, lower-cased as Node presents it. */
export const INFERENCE_HEADER_CONTENT_LENGTH = 'inference-header-content-length';

/** Decodes a binary-extension request body, given the value of its Inference-Header-Content-Length header. */
export function decodeBinaryInferRequest(body: Uint8Array, headerLength: string, limits: CompiledRequestLimits): InferRequest {
  if (!/^[0-9]{1,15}$/.test(headerLength)) {
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `Inference-Header-Content-Length must be a byte count, got ${JSON.stringify(headerLength.slice(0, 40))}`);
  }
  const length = Number(headerLength);
  if (length > body.length) {
    throw new ContinuumError(
      'CONTINUUM_ERR_BAD_REQUEST',
      `Inference-Header-Content-Length is ${length} but the body has only ${body.length} bytes`,
      { details: { headerLength: length, bodyLength: body.length } },
    );
  }
  return decodeInferRequest(parseJsonBody(body.subarray(0, length), limits), limits, body.subarray(length));
}

/**
 * Whether an output goes raw: its own `binary_data` parameter decides; without one the request's
 * `binary_data_output` does (Triton binary extension, "binary_data_output").
 */
export function wantsBinaryOutput(request: InferRequest, output: string): boolean {
  const own = request.outputs?.find((o) => o.name === output)?.parameters?.['binary_data'];
  return own === undefined ? request.parameters?.['binary_data_output'] === true : own === true;
}

/** A REST inference response body; `headerLength` is set when the body uses the binary extension. */
export interface EncodedInferResponse {
  readonly body: string | Buffer;
  readonly headerLength: number | undefined;
}

/** Encodes a response as plain JSON, or as JSON header plus raw outputs when any output goes raw. */
export function encodeRestInferResponse(request: InferRequest, response: InferResponse): EncodedInferResponse {
  // Fast path: nothing in the request asks for binary outputs.
  if (request.parameters?.['binary_data_output'] === undefined && (request.outputs === undefined || request.outputs.every((o) => o.parameters === undefined))) {
    return { body: encodeInferResponse(response), headerLength: undefined };
  }
  const raws: Buffer[] = [];
  const sizes = new Map<string, number>();
  for (const o of response.outputs) {
    if (!wantsBinaryOutput(request, o.name)) continue;
    const raw = dataToRaw(o.datatype, o.data);
    raws.push(raw);
    sizes.set(o.name, raw.length);
  }
  if (raws.length === 0) return { body: encodeInferResponse(response), headerLength: undefined };
  const header = Buffer.from(encodeInferResponse(response, sizes), 'utf8');
  return { body: Buffer.concat([header, ...raws]), headerLength: header.length };
}
