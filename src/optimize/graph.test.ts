import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { isContinuumError } from '../errors.js';
import { buildMlp, buildModel, seededRandom } from '../onnx/build.js';
import { irisDataset, labelIndices } from '../release/index.js';
import { trainMlp } from '../training/index.js';
import { optimizeOnnx, pruneUnused, quantizeSymmetric } from './graph.js';

const { onnx } = onnxProto;

/** Runs a model in onnxruntime-node, the runtime that serves it, and returns every output. */
async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: ort.Tensor, b: ort.Tensor): number {
  const [x, y] = [a.data as Float32Array, b.data as Float32Array];
  expect(x.length).toBe(y.length);
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - (y[i] as number))), 0);
}

function opTypes(bytes: Uint8Array): string[] {
  return (onnx.ModelProto.decode(bytes).graph?.node ?? []).map((n) => n.opType ?? '');
}

const iris = irisDataset();
const irisLabels = labelIndices(iris);
const irisInput = new ort.Tensor('float32', Float32Array.from(iris.features.flat()), [iris.features.length, 4]);
// An MLP trained on the real Iris data, wide enough that its weights dominate the file.
const trained = trainMlp(iris.features, irisLabels, { hiddenSizes: [256, 256], epochs: 40, seed: 7 });

describe('int8 quantization', () => {
  it('gives a quarter-size model that ONNX Runtime runs, with the same classes on the Iris data', async () => {
    const { bytes, summary } = optimizeOnnx(trained.model, 'int8');
    // The 256×256 layer; the first and last are too small to be worth it and stay float32.
    expect(summary.nodesRewritten).toBe(1);
    expect(summary.nodesSkipped.map((s) => s.reason)).toEqual([expect.stringMatching(/1024 elements/), expect.stringMatching(/768 elements/)]);
    expect(bytes.byteLength / trained.model.byteLength).toBeLessThan(0.3);
    expect(opTypes(bytes)).toEqual(expect.arrayContaining(['DynamicQuantizeLinear', 'MatMulInteger']));
    expect(opTypes(bytes).filter((op) => op === 'Gemm')).toHaveLength(2);
    const [a, b] = [await run(trained.model, { input: irisInput }), await run(bytes, { input: irisInput })];
    // Probabilities move by at most 0.05; at most one of 150 flowers changes class.
    expect(maxAbsDiff(a['probabilities'] as ort.Tensor, b['probabilities'] as ort.Tensor)).toBeLessThan(0.05);
    const [la, lb] = [a['label']?.data as BigInt64Array, b['label']?.data as BigInt64Array];
    expect(la.filter((v, i) => v !== lb[i]).length).toBeLessThanOrEqual(1);
  });

  it('quantizes a Gemm with transB and alpha to the same product', async () => {
    const rand = seededRandom(3);
    const w = Float32Array.from({ length: 128 * 256 }, () => rand() * 2 - 1);
    const bytes = buildModel({
      inputs: [{ name: 'x', datatype: 'FP32', shape: ['batch', 256] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: ['batch', 128] }],
      nodes: [{ op: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], attributes: { transB: 1, alpha: 0.5 } }],
      initializers: [
        { name: 'w', dims: [128, 256], values: w },
        { name: 'b', dims: [128], values: Float32Array.from({ length: 128 }, (_, i) => i) },
      ],
    });
    const x = new ort.Tensor('float32', Float32Array.from({ length: 512 }, () => rand() * 2 - 1), [2, 256]);
    const [a, b] = [await run(bytes, { x }), await run(optimizeOnnx(bytes, 'int8').bytes, { x })];
    const scale = (a['y']?.data as Float32Array).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxAbsDiff(a['y'] as ort.Tensor, b['y'] as ort.Tensor)).toBeLessThan(0.02 * scale);
  });

  it('stores Conv weights as int8 per output channel and keeps the convolution', async () => {
    const rand = seededRandom(5);
    const bytes = buildModel({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 8, 8] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 16, 8, 8] }],
      nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attributes: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] } }],
      initializers: [
        // Channels of very different magnitudes: one scale per channel keeps the small ones exact enough.
        { name: 'w', dims: [16, 3, 3, 3], values: Float32Array.from({ length: 16 * 27 }, (_, i) => (rand() * 2 - 1) * 10 ** -(Math.floor(i / 27) % 3)) },
        { name: 'b', dims: [16], values: Float32Array.from({ length: 16 }, () => rand()) },
      ],
    });
    const x = new ort.Tensor('float32', Float32Array.from({ length: 192 }, () => rand()), [1, 3, 8, 8]);
    const { bytes: int8, summary } = optimizeOnnx(bytes, 'int8');
    expect(summary.nodesRewritten).toBe(1);
    const [a, b] = [await run(bytes, { x }), await run(int8, { x })];
    const reference = a['y']?.data as Float32Array;
    const scale = reference.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxAbsDiff(a['y'] as ort.Tensor, b['y'] as ort.Tensor)).toBeLessThan(0.02 * scale);
  });

  it('raises opset 9 to 11, rewriting Clip and Slice, with the same outputs', async () => {
    const rand = seededRandom(9);
    const bytes = buildModel({
      opset: 9,
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 256] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 3] }],
      nodes: [
        { op: 'Clip', inputs: ['x'], outputs: ['c'], attributes: { min: -0.5, max: 0.75 } },
        { op: 'MatMul', inputs: ['c', 'w'], outputs: ['m'] },
        { op: 'Slice', inputs: ['m'], outputs: ['y'], attributes: { starts: [1], ends: [4], axes: [1] } },
      ],
      initializers: [{ name: 'w', dims: [256, 64], values: Float32Array.from({ length: 256 * 64 }, () => (rand() * 2 - 1) / 16) }],
    });
    const x = new ort.Tensor('float32', Float32Array.from({ length: 512 }, () => rand() * 2 - 1), [2, 256]);
    const { bytes: int8, summary } = optimizeOnnx(bytes, 'int8');
    expect([summary.opsetBefore, summary.opsetAfter]).toEqual([9, 11]);
    const [a, b] = [await run(bytes, { x }), await run(int8, { x })];
    expect(b['y']?.dims).toEqual([2, 3]);
    expect(maxAbsDiff(a['y'] as ort.Tensor, b['y'] as ort.Tensor)).toBeLessThan(0.02);
  });

  it('refuses a model with nothing to quantize, saying so', () => {
    const bytes = buildModel({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 4] }],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
    });
    let caught: unknown;
    try {
      optimizeOnnx(bytes, 'int8');
    } catch (err) {
      caught = err;
    }
    expect(isContinuumError(caught) && caught.code).toBe('CONTINUUM_ERR_OPTIMIZE_UNSUPPORTED');
    expect(() => optimizeOnnx(bytes, 'fp16')).toThrow(/no float32 weight/);
  });

  it('quantizes each channel symmetrically: zero stays zero and the largest weight maps to ±127', () => {
    const { q, scales } = quantizeSymmetric(Float32Array.of(0, 1, -2, 0.5, 0, 0), 2, (i) => i % 2);
    expect(Array.from(scales)).toEqual([Math.fround(2 / 127), Math.fround(1 / 127)]);
    expect(Array.from(q)).toEqual([0, 127, -127, 64, 0, 0]);
  });
});

describe('fp16 weights', () => {
  it('halves the file and keeps the outputs within float16 rounding', async () => {
    const { bytes, summary } = optimizeOnnx(trained.model, 'fp16');
    expect(summary.tensorsConverted).toBeGreaterThanOrEqual(3);
    expect(bytes.byteLength / trained.model.byteLength).toBeLessThan(0.55);
    const [a, b] = [await run(trained.model, { input: irisInput }), await run(bytes, { input: irisInput })];
    expect(maxAbsDiff(a['probabilities'] as ort.Tensor, b['probabilities'] as ort.Tensor)).toBeLessThan(2e-3);
    expect(Array.from(b['label']?.data as BigInt64Array)).toEqual(Array.from(a['label']?.data as BigInt64Array));
  });
});

describe('pruning', () => {
  it('removes nodes no output needs and initializers nothing reads, and the model still runs', async () => {
    const spec = buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3, seed: 1 });
    const model = onnx.ModelProto.decode(spec);
    const graph = model.graph as onnxProto.onnx.GraphProto;
    graph.initializer.push({ name: 'unused', dims: [1000], dataType: 1, rawData: new Uint8Array(4000) });
    graph.node.push(onnx.NodeProto.create({ opType: 'Relu', input: ['input'], output: ['dead'], name: 'dead' }));
    const { nodesRemoved, initializersRemoved } = pruneUnused(graph);
    expect([nodesRemoved, initializersRemoved]).toEqual([1, 1]);
    const bytes = onnx.ModelProto.encode(model).finish();
    const x = new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [1, 4]);
    expect(maxAbsDiff((await run(spec, { input: x }))['output'] as ort.Tensor, (await run(bytes, { input: x }))['output'] as ort.Tensor)).toBe(0);
  });
});
