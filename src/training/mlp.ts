/**
 * A multi-layer perceptron classifier: one or two hidden ReLU layers, softmax output, trained by
 * Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", Algorithm 1) on shuffled
 * mini-batches of standardised features. Weights are drawn and batches shuffled from one
 * `seededRandom` stream, so the same data and seed give the same bytes. Standardisation is folded
 * into the first exported Gemm.
 */
import { seededRandom, type DenseWeights } from '../onnx/build.js';
import {
  denseClassifierModel,
  foldStandardisation,
  predictDense,
  scorePrediction,
  shuffledIndices,
  softmax,
  standardisation,
  standardise,
  trainingSet,
  type ClassifierMetrics,
  type TrainedClassifier,
} from './dataset.js';

/** Options of {@link trainMlp}. */
export interface MlpTrainingOptions {
  /** Widths of the one or two hidden ReLU layers. @default [16] */
  readonly hiddenSizes?: readonly number[];
  /** Passes over the training set. @default 200 */
  readonly epochs?: number;
  /** Rows per Adam step. @default 16 */
  readonly batchSize?: number;
  /** Adam's step size α. @default 0.01 */
  readonly learningRate?: number;
  /** L2 penalty λ on the weights (not the biases): the loss adds λ/2 · ‖W‖². @default 0.0001 */
  readonly l2?: number;
  /** Seed of the weight draw and the batch shuffles. @default 42 */
  readonly seed?: number;
  /** Number of classes; the largest label + 1 when absent. */
  readonly classes?: number;
}

/** Metrics of an MLP. */
export interface MlpMetrics extends ClassifierMetrics {
  readonly epochs: number;
  readonly steps: number;
  readonly parameters: number;
}

/** Adam's decay rates and ε, the paper's defaults. */
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/** One layer's parameters in float64 while training, with Adam's moment estimates. */
interface Layer {
  readonly fanIn: number;
  readonly fanOut: number;
  readonly w: Float64Array;
  readonly b: Float64Array;
  readonly gw: Float64Array;
  readonly gb: Float64Array;
  readonly m: Float64Array;
  readonly v: Float64Array;
}

function initLayer(fanIn: number, fanOut: number, rand: () => number): Layer {
  // He-uniform initialisation (He et al. 2015) suits ReLU layers; biases start at zero.
  const limit = Math.sqrt(6 / fanIn);
  const w = Float64Array.from({ length: fanIn * fanOut }, () => (rand() * 2 - 1) * limit);
  const size = fanIn * fanOut + fanOut;
  return { fanIn, fanOut, w, b: new Float64Array(fanOut), gw: new Float64Array(fanIn * fanOut), gb: new Float64Array(fanOut), m: new Float64Array(size), v: new Float64Array(size) };
}

/** Activations of every layer for one row: `acts[0]` the input, the last the softmax output. */
function forward(layers: readonly Layer[], row: readonly number[]): number[][] {
  const acts: number[][] = [[...row]];
  layers.forEach((layer, index) => {
    const a = acts[index] as number[];
    const z = Array.from({ length: layer.fanOut }, (_, k) => a.reduce((s, v, j) => s + v * (layer.w[j * layer.fanOut + k] as number), layer.b[k] as number));
    acts.push(index + 1 < layers.length ? z.map((v) => Math.max(0, v)) : softmax(z));
  });
  return acts;
}

/** Adds one row's cross-entropy gradient, scaled by `scale`, to every layer's gradient. */
function backward(layers: readonly Layer[], acts: readonly number[][], label: number, scale: number): void {
  const out = acts[acts.length - 1] as number[];
  // Softmax with cross-entropy: ∂L/∂z = p − onehot(label).
  let delta = out.map((p, k) => (p - (k === label ? 1 : 0)) * scale);
  for (let index = layers.length - 1; index >= 0; index--) {
    const layer = layers[index] as Layer;
    const a = acts[index] as number[];
    const below = new Array<number>(layer.fanIn).fill(0);
    for (let j = 0; j < layer.fanIn; j++) {
      for (let k = 0; k < layer.fanOut; k++) {
        const d = delta[k] as number;
        layer.gw[j * layer.fanOut + k] = (layer.gw[j * layer.fanOut + k] as number) + (a[j] as number) * d;
        below[j] = (below[j] as number) + (layer.w[j * layer.fanOut + k] as number) * d;
      }
    }
    delta.forEach((d, k) => {
      layer.gb[k] = (layer.gb[k] as number) + d;
    });
    // ReLU passes the gradient only where its output was positive.
    delta = below.map((g, j) => ((a[j] as number) > 0 ? g : 0));
  }
}

/** One Adam step on every layer (bias-corrected moments; L2 added to the weight gradients), then clears the gradients. */
function adamStep(layers: readonly Layer[], step: number, rate: number, l2: number): void {
  const correct1 = 1 - BETA1 ** step;
  const correct2 = 1 - BETA2 ** step;
  for (const layer of layers) {
    const update = (params: Float64Array, grads: Float64Array, offset: number, decay: number): void => {
      for (let i = 0; i < params.length; i++) {
        const g = (grads[i] as number) + decay * (params[i] as number);
        const m = BETA1 * (layer.m[offset + i] as number) + (1 - BETA1) * g;
        const v = BETA2 * (layer.v[offset + i] as number) + (1 - BETA2) * g * g;
        layer.m[offset + i] = m;
        layer.v[offset + i] = v;
        params[i] = (params[i] as number) - (rate * (m / correct1)) / (Math.sqrt(v / correct2) + EPSILON);
        grads[i] = 0;
      }
    };
    update(layer.w, layer.gw, 0, l2);
    update(layer.b, layer.gb, layer.w.length, 0);
  }
}

/** Trains an MLP classifier on rows of features and integer labels 0..classes-1. */
export function trainMlp(features: readonly (readonly number[])[], labels: readonly number[], opts: MlpTrainingOptions = {}): TrainedClassifier<MlpMetrics> {
  const set = trainingSet(features, labels, opts.classes);
  const hidden = opts.hiddenSizes ?? [16];
  if (hidden.length < 1 || hidden.length > 2 || !hidden.every((h) => Number.isInteger(h) && h > 0)) {
    throw new Error(`trainMlp: hiddenSizes ${JSON.stringify(hidden)} is not one or two positive integer widths; pass e.g. [16] or [32, 16]`);
  }
  const epochs = opts.epochs ?? 200;
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 16));
  const rate = opts.learningRate ?? 0.01;
  const l2 = opts.l2 ?? 0.0001;
  const rand = seededRandom(opts.seed ?? 42);
  const sizes = [set.features, ...hidden, set.classes];
  const layers = sizes.slice(1).map((fanOut, i) => initLayer(sizes[i] as number, fanOut, rand));
  const stats = standardisation(set);
  const z = standardise(set.x, stats);
  let step = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = shuffledIndices(z.length, rand);
    for (let start = 0; start < order.length; start += batchSize) {
      const batch = order.slice(start, start + batchSize);
      for (const i of batch) backward(layers, forward(layers, z[i] as number[]), set.y[i] as number, 1 / batch.length);
      adamStep(layers, ++step, rate, l2);
    }
  }
  const [first, ...rest] = layers as [Layer, ...Layer[]];
  const exported: DenseWeights[] = [
    foldStandardisation(first.w, first.b, stats),
    ...rest.map((layer) => ({ w: Float32Array.from(layer.w), b: Float32Array.from(layer.b) })),
  ];
  const predict = (x: readonly (readonly number[])[]) => predictDense(exported, x);
  const score = scorePrediction(predict(set.x), set.y);
  const parameters = layers.reduce((s, layer) => s + layer.w.length + layer.b.length, 0);
  return {
    model: denseClassifierModel(exported, set.features, set.classes),
    metrics: { trainAccuracy: score.accuracy, trainLoss: score.loss, features: set.features, classes: set.classes, epochs, steps: step, parameters },
    predict,
  };
}
