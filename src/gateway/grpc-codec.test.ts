/**
 * The hand-coded ModelInfer codec against the codec @grpc/proto-loader generates from the same
 * service definition: what one encodes the other reads, both wire forms of repeated fields
 * (packed and unpacked) decode alike, and hostile counts are refused before anything is built.
 */
import { loadSync } from '@grpc/proto-loader';
import type { MethodDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { ContinuumError } from '../errors.js';
import type { Parameters } from '../oip/types.js';
import { decodeGrpcInferRequest, encodeGrpcInferResponse } from './grpc-codec.js';
import { GRPC_PROTO_PATH } from './grpc.js';
import { compileRequestLimits } from './limits.js';
import { ProtoWriter, WireType } from './protobuf-wire.js';

const limits = compileRequestLimits();
const service = loadSync(GRPC_PROTO_PATH, { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true })[
  'inference.GRPCInferenceService'
] as ServiceDefinition;
const modelInfer = service['ModelInfer'] as MethodDefinition<object, Record<string, unknown>>;

/** A message written field by field, to state wire forms the generated encoder never picks. */
function message(write: (w: ProtoWriter) => void): Buffer {
  const scratch = new ProtoWriter(Buffer.alloc(4096));
  write(scratch);
  return scratch.buf.subarray(0, scratch.pos);
}

function failure(run: () => unknown): ContinuumError {
  try {
    run();
  } catch (err) {
    if (err instanceof ContinuumError) return err;
    throw err;
  }
  throw new Error('expected a ContinuumError');
}

describe('encodeGrpcInferResponse', () => {
  it('writes a ModelInferResponse the generated codec reads back, raw outputs in output order', () => {
    const parameters: Parameters = { flag: true, count: -3, big: 2 ** 40, ratio: 0.25, text: 'ünï' };
    const encoded = encodeGrpcInferResponse(
      {
        model_name: 'm',
        model_version: '7',
        id: 'req-1',
        parameters,
        outputs: [
          { name: 'scores', datatype: 'FP32', shape: [2, 300], data: new Float32Array(600).fill(0.5), parameters: { unit: 'p' } },
          { name: 'label', datatype: 'INT64', shape: [2], data: BigInt64Array.from([-1n, 9223372036854775807n]) },
          { name: 'scalar', datatype: 'BOOL', shape: [], data: Uint8Array.from([1]) },
        ],
      },
      5,
    );
    // The 2400-byte scores stay in the head; a large output would follow it in the tail.
    expect(encoded.tail).toHaveLength(0);
    const decoded = modelInfer.responseDeserialize(encoded.head.subarray(5));
    expect(decoded).toMatchObject({
      model_name: 'm',
      model_version: '7',
      id: 'req-1',
      outputs: [
        { name: 'scores', datatype: 'FP32', shape: ['2', '300'], parameters: { unit: { string_param: 'p' } } },
        { name: 'label', datatype: 'INT64', shape: ['2'] },
        { name: 'scalar', datatype: 'BOOL' },
      ],
    });
    expect(decoded['parameters']).toEqual({
      flag: { bool_param: true, parameter_choice: 'bool_param' },
      count: { int64_param: '-3', parameter_choice: 'int64_param' },
      big: { int64_param: String(2 ** 40), parameter_choice: 'int64_param' },
      ratio: { double_param: 0.25, parameter_choice: 'double_param' },
      text: { string_param: 'ünï', parameter_choice: 'string_param' },
    });
    const raw = decoded['raw_output_contents'] as Buffer[];
    expect(raw.map((r) => r.length)).toEqual([2400, 16, 1]);
    expect(new BigInt64Array(Uint8Array.from(raw[1] as Buffer).buffer)).toEqual(BigInt64Array.from([-1n, 9223372036854775807n]));
  });

  it('leaves large raw outputs uncopied, in message order', () => {
    const big = new Float32Array(40_000).fill(0.5);
    const encoded = encodeGrpcInferResponse(
      {
        model_name: 'm',
        model_version: '1',
        outputs: [
          { name: 'big', datatype: 'FP32', shape: [40_000], data: big },
          { name: 'small', datatype: 'INT32', shape: [2], data: Int32Array.from([1, -1]) },
        ],
      },
      5,
    );
    expect(encoded.tail[0]?.buffer).toBe(big.buffer);
    const decoded = modelInfer.responseDeserialize(Buffer.concat([encoded.head, ...encoded.tail]).subarray(5));
    const raw = decoded['raw_output_contents'] as Buffer[];
    expect(raw.map((r) => r.length)).toEqual([160_000, 8]);
    expect(new Int32Array(Uint8Array.from(raw[1] as Buffer).buffer)).toEqual(Int32Array.from([1, -1]));
  });
});

describe('decodeGrpcInferRequest', () => {
  it('reads what the generated codec writes: names, parameters, typed and raw contents, outputs', () => {
    const bytes = modelInfer.requestSerialize({
      model_name: 'm',
      model_version: '2',
      id: 'abc',
      parameters: { priority: { int64_param: '-9007199254740993' }, note: { string_param: 'x' } },
      inputs: [{ name: 'a', datatype: 'INT32', shape: [2, 2], contents: { int_contents: [-1, 2, -2147483648, 2147483647] } }],
      outputs: [{ name: 'out', parameters: { binary_data: { bool_param: true } } }],
    });
    const call = decodeGrpcInferRequest(bytes, limits);
    expect(call.model).toBe('m');
    expect(call.version).toBe('2');
    expect(call.request.id).toBe('abc');
    // Beyond 2^53 an int64 stays exact, as its decimal string.
    expect({ ...call.request.parameters }).toEqual({ priority: '-9007199254740993', note: 'x' });
    expect(call.request.inputs[0]?.data).toEqual(Int32Array.from([-1, 2, -2147483648, 2147483647]));
    expect(call.request.outputs).toEqual([{ name: 'out', parameters: expect.objectContaining({ binary_data: true }) }]);
  });

  it('reads unpacked repeated fields like packed ones', () => {
    const floats = [1.5, -2, 0.25];
    const input = message((w) => {
      w.tag(1, WireType.LEN);
      w.string('x', 1);
      w.tag(2, WireType.LEN);
      w.string('FP32', 4);
      // shape [1, 3], one varint per dimension.
      for (const d of [1, 3]) {
        w.tag(3, WireType.VARINT);
        w.varint(d);
      }
      const contents = message((c) => {
        for (const f of floats) {
          c.tag(6, WireType.I32);
          c.pos = c.buf.writeFloatLE(f, c.pos);
        }
      });
      w.tag(5, WireType.LEN);
      w.bytes(contents);
    });
    const bytes = message((w) => {
      w.tag(1, WireType.LEN);
      w.string('m', 1);
      w.tag(5, WireType.LEN);
      w.bytes(input);
    });
    const tensor = decodeGrpcInferRequest(bytes, limits).request.inputs[0];
    expect(tensor?.shape).toEqual([1, 3]);
    expect(tensor?.data).toEqual(Float32Array.from(floats));
  });

  it('refuses a contents count that does not match the shape before reading the elements', () => {
    const bytes = modelInfer.requestSerialize({
      model_name: 'm',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: new Array<number>(100_000).fill(1) } }],
    });
    const err = failure(() => decodeGrpcInferRequest(bytes, limits));
    expect(err.code).toBe('CONTINUUM_ERR_INVALID_TENSOR');
    expect(err.message).toContain('has 100000 elements of data, but shape [1,2] needs 2');
  });

  it('refuses too many inputs or parameters as soon as the count is passed', () => {
    const small = compileRequestLimits({ maxInputs: 2, maxParameters: 2 });
    const input = { name: 'x', datatype: 'FP32', shape: [1], contents: { fp32_contents: [1] } };
    const inputs = failure(() => decodeGrpcInferRequest(modelInfer.requestSerialize({ model_name: 'm', inputs: [input, input, input] }), small));
    expect(inputs.code).toBe('CONTINUUM_ERR_LIMIT_EXCEEDED');
    const parameters = Object.fromEntries(['a', 'b', 'c'].map((k) => [k, { bool_param: true }]));
    const params = failure(() => decodeGrpcInferRequest(modelInfer.requestSerialize({ model_name: 'm', parameters, inputs: [input] }), small));
    expect(params.message).toContain('more than 2 parameters');
  });

  it('refuses a truncated message as malformed', () => {
    const bytes = modelInfer.requestSerialize({ model_name: 'model', inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }] });
    const err = failure(() => decodeGrpcInferRequest(bytes.subarray(0, bytes.length - 3), limits));
    expect(err.code).toBe('CONTINUUM_ERR_BAD_REQUEST');
    expect(err.message).toContain('malformed');
  });
});
