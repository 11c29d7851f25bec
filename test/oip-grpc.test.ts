/**
 * OIP v2 gRPC end to end (`inference.GRPCInferenceService`): every RPC, every datatype through
 * typed contents and raw contents, error statuses, and a round trip from an independent Python
 * grpcio client that declares the protocol's messages itself.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcStatus } from '../src/errors.js';
import { grpcClient, identityModel, SAMPLES, startOipServer } from './oip-fixture.js';
import type { GrpcCall, OipServer } from './oip-fixture.js';

let server: OipServer;
let call: GrpcCall;
let closeClient: () => void;

beforeAll(async () => {
  server = await startOipServer();
  ({ call, close: closeClient } = grpcClient(server.grpcPort));
});

afterAll(async () => {
  closeClient();
  await server.close();
});

/** Calls and expects a failure; returns the gRPC status error. */
async function failure(method: string, request: object): Promise<ServiceError> {
  try {
    await call(method, request);
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error(`${method} succeeded but was expected to fail`);
}

interface WireOutput {
  name: string;
  datatype: string;
  shape: string[];
}

const MLP_X = [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3];

describe('OIP gRPC: server and model RPCs', () => {
  it('answers ServerLive, ServerReady and ServerMetadata', async () => {
    expect(await call('ServerLive', {})).toMatchObject({ live: true });
    expect(await call('ServerReady', {})).toMatchObject({ ready: true });
    expect(await call('ServerMetadata', {})).toMatchObject({ name: 'continuum', extensions: expect.arrayContaining(['statistics']) });
  });

  it('answers ModelMetadata and ModelReady, and NOT_FOUND for an unknown model', async () => {
    expect(await call('ModelMetadata', { name: 'mlp' })).toMatchObject({
      name: 'mlp',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: ['-1', '4'] }],
      outputs: [
        { name: 'output', datatype: 'FP32', shape: ['-1', '3'] },
        { name: 'label', datatype: 'INT64', shape: ['-1'] },
      ],
    });
    expect(await call('ModelReady', { name: 'mlp', version: '1' })).toMatchObject({ ready: true });
    const err = await failure('ModelMetadata', { name: 'nope' });
    expect(err.code).toBe(GrpcStatus.NOT_FOUND);
    expect(err.details).toContain('nope');
    expect(err.metadata.get('continuum-error-code')).toEqual(['CONTINUUM_ERR_MODEL_NOT_FOUND']);
    expect((await failure('ModelReady', { name: 'mlp', version: '9' })).code).toBe(GrpcStatus.NOT_FOUND);
  });
});

describe('OIP gRPC: ModelInfer', () => {
  it.each(SAMPLES.filter((s) => s.contents !== undefined))('round-trips $datatype from typed contents', async (sample) => {
    const response = await call('ModelInfer', {
      model_name: identityModel(sample.datatype),
      id: `typed-${sample.datatype}`,
      inputs: [{ name: 'in_0', datatype: sample.datatype, shape: [2, 3], contents: sample.contents }],
    });
    expect(response['id']).toBe(`typed-${sample.datatype}`);
    expect(response['outputs']).toMatchObject([{ name: 'out_0', datatype: sample.datatype, shape: ['2', '3'] }]);
    const raw = response['raw_output_contents'] as Buffer[];
    expect(raw).toHaveLength(1);
    expect(Buffer.compare(raw[0]!, sample.raw)).toBe(0);
  });

  it.each(SAMPLES)('round-trips $datatype from raw_input_contents, within a deadline', async (sample) => {
    const request = {
      model_name: identityModel(sample.datatype),
      model_version: '1',
      inputs: [{ name: 'in_0', datatype: sample.datatype, shape: [2, 3] }],
      raw_input_contents: [sample.raw],
    };
    const response = await call('ModelInfer', request, { deadline: Date.now() + 30_000 });
    expect(response['model_version']).toBe('1');
    expect(Buffer.compare((response['raw_output_contents'] as Buffer[])[0]!, sample.raw)).toBe(0);
  });

  it('refuses FP16 in typed contents: it has no typed form', async () => {
    const err = await failure('ModelInfer', {
      model_name: 'id-fp16',
      inputs: [{ name: 'in_0', datatype: 'FP16', shape: [1, 3], contents: { fp32_contents: [1, 2, 3] } }],
    });
    expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(err.details).toContain('raw_input_contents');
  });

  it('returns only the requested outputs and gives the same numbers as REST', async () => {
    const response = await call('ModelInfer', {
      model_name: 'mlp',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], contents: { fp32_contents: MLP_X } }],
      outputs: [{ name: 'label' }],
    });
    expect((response['outputs'] as WireOutput[]).map((o) => o.name)).toEqual(['label']);
    const label = (response['raw_output_contents'] as Buffer[])[0]!;
    const rest = (await (
      await fetch(`${server.url}/v2/models/mlp/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], data: MLP_X }], outputs: [{ name: 'label' }] }),
      })
    ).json()) as { outputs: { data: number[] }[] };
    expect(Array.from(new BigInt64Array(label.buffer.slice(label.byteOffset, label.byteOffset + label.length)), Number)).toEqual(rest.outputs[0]?.data);
  });

  it('maps failures to OIP gRPC statuses', async () => {
    const input = { name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } };
    expect((await failure('ModelInfer', { model_name: 'nope', inputs: [input] })).code).toBe(GrpcStatus.NOT_FOUND);
    expect((await failure('ModelInfer', { model_name: 'mlp', model_version: '3', inputs: [input] })).code).toBe(GrpcStatus.NOT_FOUND);
    const shapeMismatch = await failure('ModelInfer', { model_name: 'mlp', inputs: [{ ...input, shape: [2, 4] }] });
    expect(shapeMismatch.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(shapeMismatch.details).toContain('needs 8');
    const wrongField = await failure('ModelInfer', { model_name: 'mlp', inputs: [{ ...input, contents: { int_contents: [1, 2, 3, 4] } }] });
    expect(wrongField.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(wrongField.details).toContain('fp32_contents');
    expect((await failure('ModelInfer', { model_name: 'mlp', inputs: [] })).code).toBe(GrpcStatus.INVALID_ARGUMENT);
    const both = await failure('ModelInfer', { model_name: 'mlp', inputs: [input], raw_input_contents: [Buffer.alloc(16)] });
    expect(both.code).toBe(GrpcStatus.INVALID_ARGUMENT);
  });
});

describe('OIP gRPC: statistics and repository extensions', () => {
  it('reports statistics, lists the repository, unloads (UNAVAILABLE) and loads a model', async () => {
    const stats = (await call('ModelStatistics', { name: 'mlp' })) as { model_stats: { name: string; inference_count: string }[] };
    expect(stats.model_stats.map((s) => s.name)).toEqual(['mlp']);
    expect(Number(stats.model_stats[0]?.inference_count)).toBeGreaterThan(0);
    const index = (await call('RepositoryIndex', {})) as { models: { name: string; state: string }[] };
    expect(index.models).toContainEqual(expect.objectContaining({ name: 'id-uint8', state: 'READY' }));

    await call('RepositoryModelUnload', { model_name: 'id-uint8' });
    const refused = await failure('ModelInfer', { model_name: 'id-uint8', inputs: [{ name: 'in_0', datatype: 'UINT8', shape: [1, 3], contents: { uint_contents: [1, 2, 3] } }] });
    expect(refused.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(refused.metadata.get('retry-after')).toEqual(['1']);
    const ready = (await call('RepositoryIndex', { ready: true })) as { models: { name: string }[] };
    expect(ready.models.map((m) => m.name)).not.toContain('id-uint8');
    await call('RepositoryModelLoad', { model_name: 'id-uint8' });
    expect(await call('ModelReady', { name: 'id-uint8' })).toMatchObject({ ready: true });
    expect((await failure('RepositoryModelLoad', { model_name: 'nope' })).code).toBe(GrpcStatus.NOT_FOUND);
  });
});

/** What a raw HTTP/2 call got back: the HTTP status, and grpc-status/grpc-message from headers or trailers. */
interface RawAnswer {
  readonly httpStatus: number | undefined;
  readonly grpcStatus: string | undefined;
  readonly grpcMessage: string | undefined;
}

/** A gRPC message frame: compressed flag, big-endian length, message. */
function frame(message: Uint8Array, compressed = false): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Sends one HTTP/2 request by hand; `write` sends the body (all at once unless it says otherwise). */
function rawCall(session: ClientHttp2Session, headers: OutgoingHttpHeaders, write: (send: (chunk: Buffer, end: boolean) => void) => void): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let httpStatus: number | undefined;
    let fields: IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      httpStatus = Number(h[':status']);
      fields = h;
    });
    stream.on('trailers', (t) => {
      fields = t;
    });
    stream.on('data', () => {});
    stream.on('error', reject);
    stream.on('close', () => {
      const message = fields['grpc-message'];
      resolve({ httpStatus, grpcStatus: fields['grpc-status'] as string | undefined, grpcMessage: typeof message === 'string' ? decodeURIComponent(message) : undefined });
    });
    write((chunk, end) => (end ? stream.end(chunk) : stream.write(chunk)));
  });
}

describe('OIP gRPC: the HTTP/2 transport', () => {
  const live = `/inference.GRPCInferenceService/ServerLive`;
  let session: ClientHttp2Session;
  beforeAll(() => {
    session = connect(`http://127.0.0.1:${server.grpcPort}`);
  });
  afterAll(() => {
    session.close();
  });

  it('answers an unknown method with UNIMPLEMENTED', async () => {
    const a = await rawCall(session, { ':path': '/inference.GRPCInferenceService/Nope' }, (send) => send(frame(Buffer.alloc(0)), true));
    expect(a.grpcStatus).toBe(String(GrpcStatus.UNIMPLEMENTED));
    expect(a.grpcMessage).toContain('/inference.GRPCInferenceService/Nope');
  });

  it('refuses a compressed message with UNIMPLEMENTED, and a second message with INVALID_ARGUMENT', async () => {
    const compressed = await rawCall(session, { ':path': live, 'grpc-encoding': 'gzip' }, (send) => send(frame(Buffer.from([1, 2, 3]), true), true));
    expect(compressed.grpcStatus).toBe(String(GrpcStatus.UNIMPLEMENTED));
    expect(compressed.grpcMessage).toContain('gzip');
    const two = await rawCall(session, { ':path': live }, (send) => send(Buffer.concat([frame(Buffer.alloc(0)), frame(Buffer.alloc(0))]), true));
    expect(two.grpcStatus).toBe(String(GrpcStatus.INVALID_ARGUMENT));
  });

  it('answers 415 to a request that is not gRPC', async () => {
    const a = await rawCall(session, { ':path': live, 'content-type': 'application/json' }, (send) => send(Buffer.from('{}'), true));
    expect(a.httpStatus).toBe(415);
  });

  it('ends a call whose grpc-timeout passes with DEADLINE_EXCEEDED', async () => {
    // The deadline runs from the headers; the message comes after it has passed.
    const a = await rawCall(session, { ':path': live, 'grpc-timeout': '20m' }, (send) => {
      setTimeout(() => send(frame(Buffer.alloc(0)), true), 200);
    });
    expect(a.grpcStatus).toBe(String(GrpcStatus.DEADLINE_EXCEEDED));
    // A far deadline (beyond what a timer holds) does not end the call either.
    for (const far of ['10S', '99999999H']) {
      const ok = await rawCall(session, { ':path': live, 'grpc-timeout': far }, (send) => {
        setTimeout(() => send(frame(Buffer.alloc(0)), true), 50);
      });
      expect(ok.grpcStatus).toBe('0');
    }
  });
});

describe('OIP gRPC: an independent Python grpcio client', () => {
  it('completes a round trip with messages it declares itself', async () => {
    // Debian's python3-grpcio and python3-protobuf; a missing package fails this test (no skip).
    const script = fileURLToPath(new URL('./python/oip_grpc_client.py', import.meta.url));
    const { stdout } = await promisify(execFile)('/usr/bin/python3', [script, `127.0.0.1:${server.grpcPort}`], { timeout: 30_000 });
    const result = JSON.parse(stdout) as Record<string, unknown>;
    expect(result).toMatchObject({
      live: true,
      ready: true,
      model_ready: true,
      server: { name: 'continuum' },
      model: { name: 'mlp', versions: ['1'], platform: 'onnxruntime_onnx', inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }] },
      bytes: ['grpc', '', 'ünïcödé'],
      int64: ['-9223372036854775808', '9223372036854775807', '42'],
      errors: { unknown_model: 'NOT_FOUND', bad_datatype: 'INVALID_ARGUMENT' },
    });
    // The Python client's numbers equal what the REST front end computes for the same input.
    const rest = (await (
      await fetch(`${server.url}/v2/models/mlp/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], data: MLP_X }] }),
      })
    ).json()) as { outputs: { name: string; data: number[] }[] };
    const typed = result['typed'] as { id: string; model_name: string; outputs: Record<string, { shape: number[]; data: number[] }> };
    expect(typed).toMatchObject({ id: 'py-typed', model_name: 'mlp', model_version: '1' });
    expect(typed.outputs['output']?.shape).toEqual([2, 3]);
    expect(typed.outputs['output']?.data).toEqual(rest.outputs.find((o) => o.name === 'output')?.data);
    expect(typed.outputs['label']?.data).toEqual(rest.outputs.find((o) => o.name === 'label')?.data);
    const raw = result['raw'] as { id: string; outputs: Record<string, { data: number[] }> };
    expect(raw.id).toBe('py-raw');
    expect(Object.keys(raw.outputs)).toEqual(['label']);
    expect(raw.outputs['label']?.data).toEqual(rest.outputs.find((o) => o.name === 'label')?.data);
  });
});
