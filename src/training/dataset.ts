/**
 * What every trainer shares: checking a training set, standardisation statistics and how to fold
 * them into a first dense layer, softmax and arg-max, a seeded train/test split, and the shape of
 * a trained classifier.
 */
import { buildMlp, seededRandom, type DenseWeights } from '../onnx/build.js';

/** Class predictions for a batch: one label and one probability row per input row. */
export interface Prediction {
  readonly labels: number[];
  readonly probabilities: number[][];
}

/** A trained classifier: its ONNX bytes, how it fitted, and the same prediction computed in JS. */
export interface TrainedClassifier<M extends ClassifierMetrics = ClassifierMetrics> {
  /** ONNX: `input` FP32 [batch, features] → `probabilities` FP32 [batch, classes], `label` INT64 [batch]. */
  readonly model: Uint8Array;
  readonly metrics: M;
  /** Predicts in JS with the exported (float32) weights, so it agrees with the ONNX graph. */
  predict(features: readonly (readonly number[])[]): Prediction;
}

/** Metrics every trainer reports. */
export interface ClassifierMetrics {
  /** Share of training rows the exported model labels correctly. */
  readonly trainAccuracy: number;
  /** Mean cross-entropy of the exported model on the training rows. */
  readonly trainLoss: number;
  readonly features: number;
  readonly classes: number;
}

/** A checked training set: rows of equal width, integer labels in [0, classes). */
export interface TrainingSet {
  readonly x: readonly (readonly number[])[];
  readonly y: readonly number[];
  readonly features: number;
  readonly classes: number;
}

/** Checks features and labels; `classes` defaults to the largest label + 1. */
export function trainingSet(features: readonly (readonly number[])[], labels: readonly number[], classes?: number): TrainingSet {
  if (features.length === 0) throw new Error('training: the training set is empty; pass at least one row of features');
  if (features.length !== labels.length) throw new Error(`training: ${features.length} rows of features but ${labels.length} labels; pass one label per row`);
  const width = features[0]?.length ?? 0;
  if (width === 0) throw new Error('training: rows have no features; pass at least one feature per row');
  features.forEach((row, i) => {
    if (row.length !== width) throw new Error(`training: row ${i} has ${row.length} features, row 0 has ${width}; pass rows of equal width`);
    if (!row.every(Number.isFinite)) throw new Error(`training: row ${i} holds a value that is not a finite number; impute or drop it`);
  });
  // A reduce, not Math.max(...labels): spreading a large label array would overflow the call stack.
  const k = classes ?? labels.reduce((m, label) => Math.max(m, label), 0) + 1;
  labels.forEach((label, i) => {
    if (!Number.isInteger(label) || label < 0 || label >= k) throw new Error(`training: label ${label} of row ${i} is not an integer in [0, ${k}); encode classes as 0, 1, 2, ...`);
  });
  if (k < 2) throw new Error('training: a classifier needs at least two classes; the labels hold only one');
  return { x: features, y: labels, features: width, classes: k };
}

/** Per-feature mean and standard deviation (1 for a constant feature, so it divides safely). */
export interface Standardisation {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** The training set's per-feature mean and population standard deviation. */
export function standardisation(set: TrainingSet): Standardisation {
  const n = set.x.length;
  const mean = Array.from({ length: set.features }, (_, j) => set.x.reduce((s, r) => s + (r[j] as number), 0) / n);
  const std = mean.map((m, j) => {
    const sd = Math.sqrt(set.x.reduce((s, r) => s + ((r[j] as number) - m) ** 2, 0) / n);
    return sd > 0 ? sd : 1;
  });
  return { mean, std };
}

/** Standardised copies of the rows. */
export function standardise(x: readonly (readonly number[])[], s: Standardisation): number[][] {
  return x.map((row) => row.map((v, j) => (v - (s.mean[j] as number)) / (s.std[j] as number)));
}

/**
 * Folds standardisation into a dense layer trained on standardised inputs, so the exported graph
 * takes raw features: ((x − mean) / std) W + b = x (W / std) + (b − Σ_j mean_j W_j / std_j).
 * `w` is row-major [features, out].
 */
export function foldStandardisation(w: ArrayLike<number>, b: ArrayLike<number>, s: Standardisation): DenseWeights {
  const features = s.mean.length;
  const out = b.length;
  const wf = new Float32Array(features * out);
  const bf = new Float32Array(out);
  for (let k = 0; k < out; k++) {
    let shift = b[k] as number;
    for (let j = 0; j < features; j++) {
      const wjk = w[j * out + k] as number;
      wf[j * out + k] = wjk / (s.std[j] as number);
      shift -= (wjk * (s.mean[j] as number)) / (s.std[j] as number);
    }
    bf[k] = shift;
  }
  return { w: wf, b: bf };
}

/** Softmax of a row of logits, shifted by the maximum for numerical stability. */
export function softmax(logits: readonly number[]): number[] {
  const m = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - m));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

/** Index of the largest value; the first on ties, as ONNX ArgMax (select_last_index = 0). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  values.forEach((v, i) => {
    if (v > (values[best] as number)) best = i;
  });
  return best;
}

/**
 * A dense ReLU network over float32 weights (the exported ones): Gemm, Relu between layers, and
 * Softmax + ArgMax at the end — the graph {@link denseClassifierModel} exports, computed in JS.
 */
export function predictDense(layers: readonly DenseWeights[], features: readonly (readonly number[])[]): Prediction {
  const probabilities = features.map((row) => {
    let a: number[] = [...row];
    layers.forEach((layer, index) => {
      const out = layer.b.length;
      const z = Array.from({ length: out }, (_, k) => a.reduce((s, v, j) => s + v * (layer.w[j * out + k] as number), layer.b[k] as number));
      a = index + 1 < layers.length ? z.map((v) => Math.max(0, v)) : z;
    });
    return softmax(a);
  });
  return { labels: probabilities.map(argmax), probabilities };
}

/** The ONNX graph of {@link predictDense}: `input` → Gemm/Relu … Gemm → Softmax `probabilities`, ArgMax `label`. */
export function denseClassifierModel(layers: readonly DenseWeights[], features: number, classes: number): Uint8Array {
  return buildMlp({
    inputSize: features,
    hiddenSizes: layers.slice(0, -1).map((l) => l.b.length),
    outputSize: classes,
    weights: layers,
    argmaxLabel: true,
    outputName: 'probabilities',
  });
}

/** Accuracy and mean cross-entropy of a prediction against labels. */
export function scorePrediction(p: Prediction, labels: readonly number[]): { readonly accuracy: number; readonly loss: number } {
  const n = labels.length;
  const correct = p.labels.filter((label, i) => label === labels[i]).length;
  // Clamp as scikit-learn's log_loss does, so a confident mistake costs a finite amount.
  const loss = labels.reduce((s, label, i) => s - Math.log(Math.max(p.probabilities[i]?.[label] ?? 0, 1e-15)), 0) / n;
  return { accuracy: correct / n, loss };
}

/** Row indices shuffled by a seeded Fisher–Yates, so splits and mini-batches are reproducible. */
export function shuffledIndices(n: number, rand: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

/** A seeded train/test split: `testFraction` of the rows (rounded) held out. */
export function splitTrainTest<T>(rows: readonly T[], testFraction: number, seed: number): { readonly train: T[]; readonly test: T[] } {
  const order = shuffledIndices(rows.length, seededRandom(seed));
  const testSize = Math.round(rows.length * testFraction);
  const pick = (indices: number[]): T[] => indices.map((i) => rows[i] as T);
  return { test: pick(order.slice(0, testSize)), train: pick(order.slice(testSize)) };
}
