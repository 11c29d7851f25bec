import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ContinuumError } from '../../errors.js';
import type { Datatype, InferRequest, TensorData } from '../../oip/types.js';
import { FrameKind, FrameReader, FrameWriter, jsonHeader, MAX_FRAME_BYTES } from './frames.js';
import type { Frame } from './frames.js';
import { decodeFailure, decodeInferRequest, decodeInferResponse, decodeResultTiming, encodeFailure, encodeInferRequest, encodeInferResponse, parseParentMessage } from './messages.js';

/** The bytes a FrameWriter sends, captured once it has flushed (cork and uncork are what a socket does with them). */
function capture(): { writer: FrameWriter; bytes: () => Promise<Buffer>; writes: () => number } {
  const chunks: Buffer[] = [];
  let writes = 0;
  let corked = false;
  const socket = {
    destroyed: false,
    cork: () => (corked = true),
    uncork: () => {
      corked = false;
      writes += 1;
    },
    write: (b: Uint8Array) => {
      chunks.push(Buffer.from(b));
      if (!corked) writes += 1;
    },
  };
  return {
    writer: new FrameWriter(socket as unknown as Socket, 'turn'),
    // The writer sends at the end of the turn.
    bytes: () => new Promise((resolve) => setImmediate(() => resolve(Buffer.concat(chunks)))),
    writes: () => writes,
  };
}

function readAll(bytes: Buffer, splitAt: readonly number[] = []): Frame[] {
  const frames: Frame[] = [];
  const reader = new FrameReader((f) => frames.push(f));
  let start = 0;
  for (const at of [...splitAt, bytes.length]) {
    reader.push(bytes.subarray(start, at));
    start = at;
  }
  return frames;
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const SAMPLES: Readonly<Record<Datatype, TensorData>> = {
  BOOL: Uint8Array.from([1, 0]),
  UINT8: Uint8Array.from([0, 255]),
  UINT16: Uint16Array.from([0, 65535]),
  UINT32: Uint32Array.from([0, 4294967295]),
  UINT64: BigUint64Array.from([0n, 18446744073709551615n]),
  INT8: Int8Array.from([-128, 127]),
  INT16: Int16Array.from([-32768, 32767]),
  INT32: Int32Array.from([-2147483648, 2147483647]),
  INT64: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]),
  FP16: Uint16Array.from([0x7c00, 0x7e01]),
  FP32: Float32Array.from([3.4028234663852886e38, -0]),
  FP64: Float64Array.from([Number.MIN_VALUE, -Infinity]),
  BYTES: [utf8(''), utf8('日本語 🚀')],
};

const plain = (data: TensorData): unknown[] => Array.from(data as ArrayLike<unknown>, (v) => (v instanceof Uint8Array ? Array.from(v) : v));

describe('replica channel messages', () => {
  const request: InferRequest = {
    id: 'req-7',
    parameters: { priority: 2 },
    outputs: [{ name: 'out_3', parameters: { binary_data: true } }],
    inputs: (Object.entries(SAMPLES) as [Datatype, TensorData][]).map(([datatype, data], i) =>
      i === 0 ? { name: `in_${i}`, datatype, shape: [1, 2], data, parameters: { note: 'first' } } : { name: `in_${i}`, datatype, shape: [1, 2], data },
    ),
  };

  it('carries every datatype, ids, parameters and the deadline exactly, however the bytes are split', async () => {
    const { writer, bytes, writes } = capture();
    const encoded = encodeInferRequest(request, 1_700_000_000_123);
    writer.write(FrameKind.Infer, 42, encoded.header, encoded.payload);
    writer.writeJson(FrameKind.Control, 0, { op: 'ping' });
    const all = await bytes();
    // Both frames left in one write, each a multiple of 8 bytes long.
    expect(writes()).toBe(1);
    expect(all.readUInt32LE(0) % 8).toBe(0);
    expect(all.length % 8).toBe(0);
    for (const splits of [[], [1], [5, 13], [all.length - 3], Array.from({ length: all.length - 1 }, (_, i) => i + 1)]) {
      const frames = readAll(all, splits);
      expect(frames.map((f) => [f.kind, f.id])).toEqual([
        [FrameKind.Infer, 42],
        [FrameKind.Control, 0],
      ]);
      const [first] = frames as [Frame];
      const { request: decoded, deadlineMs } = decodeInferRequest(first.header, first.payload);
      expect(deadlineMs).toBe(1_700_000_000_123);
      expect(decoded.id).toBe('req-7');
      expect(decoded.parameters).toEqual({ priority: 2 });
      expect(decoded.outputs).toEqual([{ name: 'out_3', parameters: { binary_data: true } }]);
      expect(decoded.inputs.map((t) => [t.name, t.datatype, t.shape, t.parameters])).toEqual(request.inputs.map((t) => [t.name, t.datatype, t.shape, t.parameters]));
      decoded.inputs.forEach((t, i) => expect(plain(t.data)).toEqual(plain((request.inputs[i] as { data: TensorData }).data)));
      expect(parseParentMessage(jsonHeader(frames[1] as Frame))).toEqual({ op: 'ping' });
      // Tensors are viewed where they were read, not copied (each starts 8-aligned).
      if (splits.length === 0) for (const t of decoded.inputs) if (!Array.isArray(t.data)) expect((t.data as Uint8Array).buffer).toBe(first.payload.buffer);
    }
  });

  it('sends large payloads without copying them into the frame and reads them back whole', async () => {
    const { writer, bytes } = capture();
    const data = Float32Array.from({ length: 3 * 48 * 320 }, (_, i) => i / 7);
    const encoded = encodeInferResponse({ model_name: 'm', model_version: '1', outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 3, 48, 320], data }] }, undefined);
    writer.write(FrameKind.Result, 9, encoded.header, encoded.payload);
    expect(encoded.payload[0]?.buffer).toBe(data.buffer);
    const all = await bytes();
    const [frame] = readAll(all, [100, 70_000, 140_000]) as [Frame];
    const response = decodeInferResponse(frame.header, frame.payload, 'm', '1');
    expect(response).toMatchObject({ model_name: 'm', model_version: '1' });
    expect(response.outputs[0]?.shape).toEqual([1, 3, 48, 320]);
    expect(Array.from(response.outputs[0]?.data as Float32Array)).toEqual(Array.from(data));
    expect(decodeResultTiming(frame.header)).toBeUndefined();
  });

  it('carries the request\'s batcher timing in a Result header, in whole microseconds, clamped to u32', async () => {
    const { writer, bytes } = capture();
    const response = { model_name: 'm', model_version: '1', id: 'r1', outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [1, 2], data: Float32Array.from([1, 2]) }] };
    const timed = encodeInferResponse(response, { queueUs: 12.6, computeUs: 2 ** 40, batchSize: 8 });
    writer.write(FrameKind.Result, 3, timed.header, timed.payload);
    const [frame] = readAll(await bytes()) as [Frame];
    expect(decodeResultTiming(frame.header)).toEqual({ queueUs: 13, computeUs: 0xffff_ffff, batchSize: 8 });
    const decoded = decodeInferResponse(frame.header, frame.payload, 'm', '1');
    expect(decoded.id).toBe('r1');
    expect(Array.from(decoded.outputs[0]?.data as Float32Array)).toEqual([1, 2]);
    // Four bytes more than an untimed request's fixed part, no more.
    expect(timed.header.length - encodeInferRequest({ inputs: response.outputs }, undefined).header.length).toBe(4 + Buffer.byteLength(JSON.stringify({ r: 'r1' })));
    expect(() => decodeResultTiming(Buffer.alloc(11))).toThrow(/timing/);
  });

  it('keeps an error\'s code, message, details and Retry-After across the channel', () => {
    const err = decodeFailure(
      JSON.parse(JSON.stringify(encodeFailure(new ContinuumError('CONTINUUM_ERR_QUEUE_FULL', 'queue full', { details: { model: 'm' }, retryAfterS: 1 })))),
    );
    expect(err).toBeInstanceOf(ContinuumError);
    expect([err.code, err.message, err.details, err.retryAfterS, err.httpStatus]).toEqual(['CONTINUUM_ERR_QUEUE_FULL', 'queue full', { model: 'm' }, 1, 429]);
    expect(decodeFailure({ c: 'NOT_A_CODE', m: 'x' }).code).toBe('CONTINUUM_ERR_INTERNAL');
    expect(encodeFailure(new TypeError('boom')).c).toBe('CONTINUUM_ERR_INTERNAL');
  });

  it('refuses malformed streams and tensors instead of trusting them', async () => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(MAX_FRAME_BYTES + 8);
    expect(() => readAll(length)).toThrow(/malformed frame/);
    const { writer, bytes } = capture();
    const four: InferRequest = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: new Float32Array(4) }] };
    const encoded = encodeInferRequest(four, undefined);
    // The header says 16 bytes, the payload holds 8.
    writer.write(FrameKind.Infer, 1, encoded.header, [new Uint8Array(8)]);
    const [frame] = readAll(await bytes()) as [Frame];
    expect(() => decodeInferRequest(frame.header, frame.payload)).toThrow(ContinuumError);
    // A datatype code no datatype has (the first tensor's starts after deadline, extras length and count).
    const badType = Buffer.from(encoded.header);
    badType[14] = 200;
    expect(() => decodeInferRequest(badType, Buffer.alloc(16))).toThrow(/datatype/);
    expect(() => decodeInferRequest(Buffer.from(encoded.header).subarray(0, 20), Buffer.alloc(16))).toThrow(/header ends/);
    expect(() => parseParentMessage({ op: 'load', spec: { deployment: 'd' } })).toThrow(/control message/);
  });
});
