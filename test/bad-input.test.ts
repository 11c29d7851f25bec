/**
 * Hostile and malformed requests against the OIP front ends, as a table: each row is a request
 * and the status and error text a client must get back. After every row the server still answers
 * a good request correctly. Real Runtime, real ONNX Runtime, real HTTP and gRPC on 127.0.0.1.
 */
import type { ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcStatus } from '../src/errors.js';
import { binaryBody, grpcClient, startOipServer } from './oip-fixture.js';
import type { GrpcCall, OipServer } from './oip-fixture.js';

/** The body limit of the server under test: small, so the 413 row stays cheap. */
const MAX_BODY_BYTES = 1024 * 1024;

let server: OipServer;
let call: GrpcCall;
let closeClient: () => void;

beforeAll(async () => {
  server = await startOipServer(undefined, { maxBodyBytes: MAX_BODY_BYTES });
  ({ call, close: closeClient } = grpcClient(server.grpcPort));
});

afterAll(async () => {
  closeClient();
  await server.close();
});

interface RestCase {
  readonly name: string;
  readonly method?: 'GET' | 'POST';
  /** @default '/v2/models/id-fp32/infer' (input `in_0` FP32 [batch, 3]) */
  readonly path?: string;
  /** @default {'content-type': 'application/json'} */
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  readonly status: number;
  /** A substring of the `error` text. */
  readonly error: string;
}

const FP32 = 'FP32';
/** A JSON request for the FP32 identity model with one input built from `input`. */
const one = (input: Record<string, unknown>, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ inputs: [{ name: 'in_0', datatype: FP32, shape: [1, 3], data: [1, 2, 3], ...input }], ...extra });
/** A JSON request for the identity model of another datatype. */
const typed = (datatype: string, data: unknown[]): string => JSON.stringify({ inputs: [{ name: 'in_0', datatype, shape: [1, data.length], data }] });

/** A binary-extension request: header JSON, raw bytes, and the header length (optionally overridden). */
function binary(header: object, raw: Buffer, headerLength?: string): Pick<RestCase, 'headers' | 'body'> {
  const built = binaryBody(header, raw);
  return { headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': headerLength ?? String(built.headerLength) }, body: built.body };
}
const f32 = (...values: number[]): Buffer => Buffer.from(Float32Array.from(values).buffer);
const binaryInput = (size: number, datatype = FP32): object => ({ inputs: [{ name: 'in_0', datatype, shape: [1, 3], parameters: { binary_data_size: size } }] });

const REST_CASES: readonly RestCase[] = [
  { name: 'malformed JSON', body: '{"inputs": [', status: 400, error: 'not valid JSON' },
  { name: 'a NaN token (JSON has no NaN)', body: '{"inputs":[{"name":"in_0","datatype":"FP32","shape":[1,3],"data":[NaN,1,2]}]}', status: 400, error: 'not valid JSON' },
  { name: 'empty body', body: '', status: 400, error: 'body is empty' },
  { name: 'wrong content type', headers: { 'content-type': 'application/xml' }, body: '<inputs/>', status: 415, error: 'application/xml is not supported' },
  { name: 'octet-stream without the binary header', headers: { 'content-type': 'application/octet-stream' }, body: f32(1, 2, 3), status: 400, error: 'Inference-Header-Content-Length' },
  { name: 'a JSON array instead of an object', body: '[]', status: 400, error: 'must be a JSON object' },
  { name: 'missing inputs', body: '{}', status: 400, error: 'needs "inputs"' },
  { name: 'empty inputs', body: '{"inputs":[]}', status: 400, error: 'no inputs' },
  { name: 'an input that is not an object', body: '{"inputs":[5]}', status: 400, error: 'input 0 must be an object' },
  { name: 'an input without a name', body: one({ name: undefined }), status: 400, error: 'needs a "name"' },
  { name: 'an input without data', body: one({ data: undefined }), status: 400, error: 'needs "data"' },
  { name: 'unknown datatype', body: one({ datatype: 'FP99' }), status: 400, error: 'datatype "FP99"' },
  { name: 'datatype other than the model input', body: one({ datatype: 'INT32' }), status: 400, error: 'has datatype FP32, got INT32' },
  { name: 'BYTES sent to an FP32 input', body: one({ datatype: 'BYTES', data: ['a', 'b', 'c'] }), status: 400, error: 'has datatype FP32, got BYTES' },
  { name: 'numbers as BYTES', body: typed('BYTES', [1, 2, 3]), path: '/v2/models/id-bytes/infer', status: 400, error: 'BYTES needs strings' },
  { name: 'strings in FP32 data', body: one({ data: ['a', 2, 3] }), status: 400, error: `element 0 of input 'in_0' is "a"; FP32 needs numbers` },
  { name: 'FP16 in JSON', body: typed('FP16', [1, 2, 3]), path: '/v2/models/id-fp16/infer', status: 400, error: 'FP16, which has no JSON' },
  { name: 'UINT8 value out of range', body: typed('UINT8', [1, 300, 3]), path: '/v2/models/id-uint8/infer', status: 400, error: 'is 300; UINT8 needs integers in [0, 255]' },
  { name: 'negative UINT8', body: typed('UINT8', [-1, 0, 3]), path: '/v2/models/id-uint8/infer', status: 400, error: 'UINT8 needs integers in [0, 255]' },
  { name: 'INT64 beyond 2^53 as a JSON number', body: typed('INT64', [9007199254740993, 0, 1]), path: '/v2/models/id-int64/infer', status: 400, error: 'decimal strings' },
  { name: 'FP32 overflow', body: one({ data: [1e39, 0, 0] }), status: 400, error: 'within ±3.4028235e38' },
  { name: 'BOOL as a number', body: typed('BOOL', [1, 0, 1]), path: '/v2/models/id-bool/infer', status: 400, error: 'BOOL needs true or false' },
  { name: 'shape and data length differ', body: one({ data: [1, 2] }), status: 400, error: 'has 2 elements of data, but shape [1,3] needs 3' },
  { name: 'negative dimension', body: one({ shape: [-1, 3] }), status: 400, error: 'dimension 0 = -1' },
  { name: 'non-integer dimension', body: one({ shape: [1.5, 3] }), status: 400, error: 'dimension 0 = 1.5' },
  { name: 'string dimension', body: one({ shape: ['1', 3] }), status: 400, error: 'dimension 0 = "1"' },
  { name: 'huge declared shape, refused before allocation', body: one({ shape: [1e9, 1e9] }), status: 400, error: 'more than the 16777216 elements' },
  { name: 'ragged nested data', body: one({ shape: [2, 3], data: [[1, 2, 3], [4, 5]] }), status: 400, error: 'data[1] has 2 elements, expected an array of 3' },
  { name: 'nested data deeper than the shape', body: one({ shape: [1, 3], data: [[[1], [2], [3]]] }), status: 400, error: 'is an array; FP32 needs numbers' },
  { name: 'deep nesting (10k brackets)', body: `{"inputs":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, status: 400, error: 'nested deeper than 32 levels' },
  { name: 'oversized body', body: `{"inputs":[],"pad":"${'x'.repeat(MAX_BODY_BYTES)}"}`, status: 413, error: 'larger than the server accepts' },
  { name: 'unknown model', path: '/v2/models/nope/infer', body: one({}), status: 404, error: "model 'nope' not found" },
  { name: 'unknown version', path: '/v2/models/id-fp32/versions/7/infer', body: one({}), status: 404, error: "has no version '7'" },
  { name: 'unknown input name', body: one({ name: 'nope' }), status: 400, error: "has no input 'nope'" },
  { name: 'unknown output', body: one({}, { outputs: [{ name: 'nope' }] }), status: 400, error: "has no output 'nope'" },
  { name: 'outputs not an array', body: one({}, { outputs: { name: 'out_0' } }), status: 400, error: '"outputs" must be an array' },
  { name: 'binary_data that is not a boolean', body: one({}, { outputs: [{ name: 'out_0', parameters: { binary_data: 'yes' } }] }), status: 400, error: '"binary_data" of output' },
  { name: 'duplicate input names', body: JSON.stringify({ inputs: [JSON.parse(one({})).inputs[0], JSON.parse(one({})).inputs[0]] }), status: 400, error: 'more than once' },
  { name: 'id too long', body: one({}, { id: 'i'.repeat(300) }), status: 400, error: '"id" is 300 characters; at most 256' },
  { name: 'id not a string', body: one({}, { id: 5 }), status: 400, error: '"id" must be a string' },
  { name: 'parameters not an object', body: one({}, { parameters: [1] }), status: 400, error: '"parameters" of the request must be an object' },
  { name: 'a parameter value that is an object', body: one({}, { parameters: { a: { b: 1 } } }), status: 400, error: "parameter 'a' of the request must be a string, number or boolean" },
  {
    name: 'too many inputs',
    body: JSON.stringify({ inputs: Array.from({ length: 65 }, (_, i) => ({ name: `in_${i}`, datatype: FP32, shape: [1, 3], data: [1, 2, 3] })) }),
    status: 400,
    error: 'has 65 inputs; at most 64',
  },
  { name: 'binary header length beyond the body', ...binary(binaryInput(12), f32(1, 2, 3), '100000'), status: 400, error: 'Inference-Header-Content-Length is 100000 but the body has only' },
  { name: 'binary header length that is not a number', ...binary(binaryInput(12), f32(1, 2, 3), 'ten'), status: 400, error: 'must be a byte count' },
  { name: 'binary_data_size that does not fit the shape', ...binary(binaryInput(8), f32(1, 2)), status: 400, error: 'has 8 bytes of raw data, but FP32 shape [1,3] needs 12' },
  { name: 'binary_data_size beyond the body', ...binary(binaryInput(100), f32(1, 2, 3)), status: 400, error: 'claims 100 bytes of binary data but only 12 remain' },
  { name: 'binary bytes no input claims', ...binary(binaryInput(12), f32(1, 2, 3, 4)), status: 400, error: '4 bytes of binary data after the JSON header belong to no input' },
  { name: 'binary_data_size without the binary header', body: one({ data: undefined, parameters: { binary_data_size: 12 } }), status: 400, error: 'no Inference-Header-Content-Length' },
  {
    name: 'raw BYTES element longer than the data',
    path: '/v2/models/id-bytes/infer',
    ...binary(binaryInput(12, 'BYTES'), Buffer.from([0xff, 0, 0, 0, 0x61, 0x62, 0x63, 0x64, 0, 0, 0, 0])),
    status: 400,
    error: 'claims 255 bytes, past the end of the data',
  },
  {
    name: 'raw BYTES too short for its declared elements',
    path: '/v2/models/id-bytes/infer',
    ...binary(binaryInput(8, 'BYTES'), Buffer.from([1, 0, 0, 0, 0x61, 0, 0, 0])),
    status: 400,
    error: 'cannot hold them',
  },
  { name: 'raw BOOL byte other than 0 or 1', path: '/v2/models/id-bool/infer', ...binary(binaryInput(3, 'BOOL'), Buffer.from([1, 2, 0])), status: 400, error: 'bytes 0 or 1' },
  { name: 'GET on the infer route', method: 'GET', body: undefined, status: 404, error: 'no route GET /v2/models/id-fp32/infer' },
];

const GOOD_REQUEST = { id: 'good', inputs: [{ name: 'in_0', datatype: FP32, shape: [2, 3], data: [0.5, -1, 2, 3, 4, 5] }] };

/** The server still serves: a good request gets the right answer. */
async function expectHealthy(): Promise<void> {
  const res = await fetch(`${server.url}/v2/models/id-fp32/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(GOOD_REQUEST) });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({
    model_name: 'id-fp32',
    model_version: '1',
    id: 'good',
    outputs: [{ name: 'out_0', datatype: FP32, shape: [2, 3], data: [0.5, -1, 2, 3, 4, 5] }],
  });
}

describe('bad input over REST', () => {
  it('has a row for each kind of bad request', () => {
    expect(REST_CASES.length).toBeGreaterThanOrEqual(25);
  });

  it.each(REST_CASES)('$name → $status', async (c) => {
    const res = await fetch(`${server.url}${c.path ?? '/v2/models/id-fp32/infer'}`, {
      method: c.method ?? 'POST',
      headers: c.headers ?? { 'content-type': 'application/json' },
      body: c.body,
    });
    const text = await res.text();
    expect({ status: res.status, text }).toMatchObject({ status: c.status });
    const body = JSON.parse(text) as { error: string; code: string };
    expect(body.error).toContain(c.error);
    expect(body.code).toMatch(/^CONTINUUM_ERR_/);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('still answers a good request correctly after every bad one', async () => {
    await expectHealthy();
  });
});

interface GrpcCase {
  readonly name: string;
  readonly request: object;
  readonly status: number;
  readonly error: string;
}

const grpcInput = (input: Record<string, unknown>): object => ({
  model_name: 'id-fp32',
  inputs: [{ name: 'in_0', datatype: FP32, shape: [1, 3], contents: { fp32_contents: [1, 2, 3] }, ...input }],
});

const GRPC_CASES: readonly GrpcCase[] = [
  { name: 'no model name', request: { inputs: [] }, status: GrpcStatus.INVALID_ARGUMENT, error: 'needs model_name' },
  { name: 'huge declared shape', request: grpcInput({ shape: ['1000000000', '1000000000'] }), status: GrpcStatus.INVALID_ARGUMENT, error: 'more than the 16777216 elements' },
  { name: 'negative dimension', request: grpcInput({ shape: ['-2', '3'] }), status: GrpcStatus.INVALID_ARGUMENT, error: 'dimension 0 = -2' },
  { name: 'unknown datatype', request: grpcInput({ datatype: 'FP99' }), status: GrpcStatus.INVALID_ARGUMENT, error: 'datatype "FP99"' },
  { name: 'contents shorter than the shape', request: grpcInput({ contents: { fp32_contents: [1] } }), status: GrpcStatus.INVALID_ARGUMENT, error: 'has 1 elements of data' },
  {
    name: 'raw contents that do not fit the shape',
    request: { ...grpcInput({ contents: undefined }), raw_input_contents: [f32(1, 2)] },
    status: GrpcStatus.INVALID_ARGUMENT,
    error: 'has 8 bytes of raw data',
  },
  {
    name: 'fewer raw contents than inputs',
    request: { model_name: 'id-fp32', inputs: [{ name: 'a', datatype: FP32, shape: [1] }, { name: 'b', datatype: FP32, shape: [1] }], raw_input_contents: [f32(1)] },
    status: GrpcStatus.INVALID_ARGUMENT,
    error: 'raw_input_contents has 1 entries for 2 inputs',
  },
  {
    name: 'message larger than the limit',
    request: { ...grpcInput({ contents: undefined }), raw_input_contents: [Buffer.alloc(MAX_BODY_BYTES + 16)] },
    status: GrpcStatus.RESOURCE_EXHAUSTED,
    error: 'larger than max',
  },
  { name: 'unknown model', request: { ...grpcInput({}), model_name: 'nope' }, status: GrpcStatus.NOT_FOUND, error: "model 'nope' not found" },
  { name: 'a parameter without a value', request: { ...grpcInput({}), parameters: { a: {} } }, status: GrpcStatus.INVALID_ARGUMENT, error: "parameter 'a' of the request has no value" },
  {
    name: 'a string parameter beyond the length limit',
    request: grpcInput({ parameters: { note: { string_param: 'n'.repeat(5000) } } }),
    status: GrpcStatus.INVALID_ARGUMENT,
    error: "parameter 'note' of input 0 is 5000 characters",
  },
];

describe('bad input over gRPC', () => {
  it.each(GRPC_CASES)('$name → status $status', async (c) => {
    let failure: ServiceError | undefined;
    try {
      await call('ModelInfer', c.request);
    } catch (err) {
      failure = err as ServiceError;
    }
    expect(failure?.code).toBe(c.status);
    expect(failure?.details).toContain(c.error);
  });

  it('still answers a good request correctly after every bad one', async () => {
    const response = await call('ModelInfer', {
      ...grpcInput({ parameters: { note: { string_param: 'ok' } } }),
      parameters: { priority: { int64_param: '3' }, sampled: { bool_param: true }, ratio: { double_param: 0.5 } },
    });
    const raw = (response['raw_output_contents'] as Buffer[])[0]!;
    expect(Buffer.compare(raw, f32(1, 2, 3))).toBe(0);
    await expectHealthy();
  });
});
