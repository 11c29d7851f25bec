import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { isContinuumError } from '../errors.js';
import { buildMlp, buildModel, mlpWeights } from './build.js';
import { chooseCut, cutAt, cutCandidates } from './partition.js';
import type { CutTiming } from './partition.js';
import { profileCuts, sampleInputs, splitsOf } from './partition-profile.js';

const { onnx } = onnxProto;

/** A deep MLP: 64 → 48 → 32 → 32 → 16 → 4, softmax. */
const DEEP_MLP = buildMlp({ inputSize: 64, hiddenSizes: [48, 32, 32, 16], outputSize: 4, seed: 11 });

/** A residual block: h = Gemm(x), a = Relu(h), y = Gemm(a + h): after the Relu both a and h cross. */
function residualModel(): Uint8Array {
  const [first, second] = mlpWeights([8, 8, 3], 5);
  return buildModel({
    inputs: [{ name: 'x', datatype: 'FP32', shape: ['batch', 8] }],
    outputs: [{ name: 'y', datatype: 'FP32', shape: ['batch', 3] }],
    nodes: [
      { op: 'Gemm', inputs: ['x', 'W0', 'B0'], outputs: ['h'] },
      { op: 'Relu', inputs: ['h'], outputs: ['a'] },
      { op: 'Add', inputs: ['a', 'h'], outputs: ['s'] },
      { op: 'Gemm', inputs: ['s', 'W1', 'B1'], outputs: ['y'] },
    ],
    initializers: [
      { name: 'W0', dims: [8, 8], values: first?.w ?? [] },
      { name: 'B0', dims: [8], values: first?.b ?? [] },
      { name: 'W1', dims: [8, 3], values: second?.w ?? [] },
      { name: 'B1', dims: [3], values: second?.b ?? [] },
    ],
  });
}

/** Runs the whole model and head∘tail at every cut on a batch, returning the largest difference of any output. */
async function largestSplitDifference(bytes: Uint8Array, maxTensors: number): Promise<{ cuts: number; maxDiff: number }> {
  const whole = await ort.InferenceSession.create(bytes);
  const one = sampleInputs(whole, 3);
  // A batch of 5 rows, so the dynamic batch dimension is exercised.
  const feeds = Object.fromEntries(Object.entries(one).map(([name, t]) => [name, new ort.Tensor('float32', Float32Array.from({ length: 5 * t.size }, (_, i) => Math.sin(i * 0.37)), [5, ...t.dims.slice(1)])]));
  const expected = await whole.run(feeds);
  let maxDiff = 0;
  const splits = await splitsOf(bytes, maxTensors);
  for (const split of splits) {
    const head = await ort.InferenceSession.create(split.head);
    const tail = await ort.InferenceSession.create(split.tail);
    const got = await tail.run(await head.run(feeds));
    for (const [name, tensor] of Object.entries(expected)) {
      const a = tensor.data as Float32Array;
      const b = got[name]?.data as Float32Array;
      expect(b.length).toBe(a.length);
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a[i] as number) - (b[i] as number)));
    }
  }
  return { cuts: splits.length, maxDiff };
}

describe('cutting a graph', () => {
  it('offers a cut after every layer of a chain, each crossed by one tensor', () => {
    const cuts = cutCandidates(DEEP_MLP);
    expect(cuts.map((c) => c.tensors)).toEqual([['h0'], ['a0'], ['h1'], ['a1'], ['h2'], ['a2'], ['h3'], ['a3'], ['logits']]);
    expect(cuts[0]).toMatchObject({ after: 1, lastHeadNode: 'Gemm Gemm_0' });
  });

  it('offers a cut crossed by two tensors only when two are allowed', () => {
    expect(cutCandidates(residualModel()).map((c) => c.tensors)).toEqual([['h'], ['s']]);
    expect(cutCandidates(residualModel(), 2).map((c) => c.tensors)).toEqual([['h'], ['h', 'a'], ['s']]);
    let refused: unknown;
    try {
      cutAt(residualModel(), ['a']);
    } catch (err) {
      refused = err;
    }
    expect(isContinuumError(refused, 'CONTINUUM_ERR_INVALID_CUT')).toBe(true);
    expect(cutAt(residualModel(), ['h', 'a']).after).toBe(2);
  });

  it('gives each half only the weights its nodes use', async () => {
    const [split] = await splitsOf(DEEP_MLP);
    const head = onnx.ModelProto.decode(split?.head ?? new Uint8Array());
    const tail = onnx.ModelProto.decode(split?.tail ?? new Uint8Array());
    expect(head.graph?.initializer?.map((t) => t.name)).toEqual(['W0', 'B0']);
    expect(tail.graph?.initializer?.map((t) => t.name)).toEqual(['W1', 'B1', 'W2', 'B2', 'W3', 'B3', 'W4', 'B4']);
    expect(head.graph?.output?.map((o) => o.name)).toEqual(['h0']);
    expect(tail.graph?.input?.map((i) => i.name)).toEqual(['h0']);
  });

  it('composes head and tail into the whole model’s outputs within 1e-5 at every cut, on ONNX Runtime', async () => {
    const deep = await largestSplitDifference(DEEP_MLP, 1);
    expect(deep.cuts).toBe(9);
    expect(deep.maxDiff).toBeLessThanOrEqual(1e-5);
    const residual = await largestSplitDifference(residualModel(), 2);
    expect(residual.cuts).toBe(3);
    expect(residual.maxDiff).toBeLessThanOrEqual(1e-5);
  });

  it('profiles all-cloud, every cut and all-edge with the bytes that cross', async () => {
    const profile = await profileCuts(DEEP_MLP, { runs: 5 });
    expect(profile.cuts.map((c) => c.kind)).toEqual(['all-cloud', ...Array<string>(9).fill('split'), 'all-edge']);
    // FP32: 4 bytes per value of one request.
    expect(profile.cuts.map((c) => c.bytes)).toEqual([64 * 4, 48 * 4, 48 * 4, 32 * 4, 32 * 4, 32 * 4, 32 * 4, 16 * 4, 16 * 4, 4 * 4, 0]);
    expect(profile.inputBytes).toBe(256);
    expect(profile.outputBytes).toBe(16);
    for (const c of profile.cuts) expect(c.headMs + c.tailMs).toBeGreaterThan(0);
  });
});

describe('chooseCut', () => {
  // A model whose first layer shrinks 100 kB of input to 1 kB, then computes for long.
  const timings: CutTiming[] = [
    { label: 'all-cloud', kind: 'all-cloud', headMs: 0, tailMs: 10 },
    { label: 'after layer 1', kind: 'split', headMs: 1, tailMs: 9 },
    { label: 'after layer 2', kind: 'split', headMs: 6, tailMs: 4 },
    { label: 'all-edge', kind: 'all-edge', headMs: 10, tailMs: 0 },
  ];
  const bytes = [100_000, 1000, 20_000, 0];

  it('cuts where the tensor is small when the edge is slow and the link narrow', () => {
    const choice = chooseCut(timings, bytes, { bandwidthBytesPerS: 1e6, rttMs: 10 }, 0.25, 2);
    expect(choice.chosen).toBe(1);
    // 1 ms / 0.25 on the edge, 1 kB at 1 MB/s + 5 ms one way, 9 ms / 2 in the cloud.
    expect(choice.estimates[1]).toEqual({ label: 'after layer 1', edgeMs: 4, transferMs: 6, cloudMs: 4.5, totalMs: 14.5 });
    expect(choice.estimates[0]?.totalMs).toBeCloseTo(100 + 5 + 5, 9);
    expect(choice.estimates[3]?.totalMs).toBe(40);
  });

  it('runs all in the cloud over a fast link, all on the edge over a slow one', () => {
    expect(chooseCut(timings, bytes, { bandwidthBytesPerS: 1e9, rttMs: 1 }, 0.25, 2).chosen).toBe(0);
    expect(chooseCut(timings, bytes, { bandwidthBytesPerS: 1e6, rttMs: 200 }, 0.25, 2).chosen).toBe(3);
    expect(chooseCut(timings, bytes, { bandwidthBytesPerS: 1e6, rttMs: 10 }, 1, 1).chosen).toBe(3);
  });

  it('charges the way back for predictions used at the asset, except when all runs on the edge', () => {
    const oneWay = chooseCut(timings, bytes, { bandwidthBytesPerS: 1e6, rttMs: 20 }, 0.4, 1);
    const back = chooseCut(timings, bytes, { bandwidthBytesPerS: 1e6, rttMs: 20 }, 0.4, 1, 1000);
    expect(back.estimates[1]?.transferMs).toBeCloseTo((oneWay.estimates[1]?.transferMs ?? 0) + 1 + 10, 9);
    expect(back.estimates[3]?.transferMs).toBe(0);
    expect(oneWay.chosen).toBe(1);
    expect(back.chosen).toBe(3);
  });
});
