/**
 * Multinomial logistic regression (softmax regression): full-batch gradient descent on the mean
 * cross-entropy plus an L2 penalty on the weights (not the biases, as scikit-learn's
 * LogisticRegression), on standardised features; the standardisation is folded into the one
 * exported Gemm, so the graph takes raw features.
 */
import {
  denseClassifierModel,
  foldStandardisation,
  predictDense,
  scorePrediction,
  softmax,
  standardisation,
  standardise,
  trainingSet,
  type ClassifierMetrics,
  type TrainedClassifier,
} from './dataset.js';

/** Options of {@link trainLogisticRegression}. */
export interface LogisticRegressionOptions {
  /** Full-batch gradient steps. @default 1000 */
  readonly epochs?: number;
  /** @default 0.5 */
  readonly learningRate?: number;
  /** L2 penalty λ: the loss adds λ/2 · ‖W‖². @default 0.001 */
  readonly l2?: number;
  /** Number of classes; the largest label + 1 when absent. */
  readonly classes?: number;
}

/** Metrics of a logistic regression. */
export interface LogisticRegressionMetrics extends ClassifierMetrics {
  readonly epochs: number;
}

/** Trains a softmax regression on rows of features and integer labels 0..classes-1. */
export function trainLogisticRegression(
  features: readonly (readonly number[])[],
  labels: readonly number[],
  opts: LogisticRegressionOptions = {},
): TrainedClassifier<LogisticRegressionMetrics> {
  const set = trainingSet(features, labels, opts.classes);
  const epochs = opts.epochs ?? 1000;
  const rate = opts.learningRate ?? 0.5;
  const l2 = opts.l2 ?? 0.001;
  const { features: d, classes: k } = set;
  const stats = standardisation(set);
  const z = standardise(set.x, stats);
  const n = z.length;
  // Weights start at zero: the loss is convex, so no seed is needed and training is deterministic.
  const w = new Float64Array(d * k);
  const b = new Float64Array(k);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const gw = new Float64Array(d * k);
    const gb = new Float64Array(k);
    z.forEach((row, i) => {
      const logits = Array.from({ length: k }, (_, c) => row.reduce((s, v, j) => s + v * (w[j * k + c] as number), b[c] as number));
      softmax(logits).forEach((p, c) => {
        const g = (p - (set.y[i] === c ? 1 : 0)) / n;
        gb[c] = (gb[c] as number) + g;
        row.forEach((v, j) => {
          gw[j * k + c] = (gw[j * k + c] as number) + g * v;
        });
      });
    });
    for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) - rate * ((gw[i] as number) + l2 * (w[i] as number));
    for (let c = 0; c < k; c++) b[c] = (b[c] as number) - rate * (gb[c] as number);
  }
  const layers = [foldStandardisation(w, b, stats)];
  const predict = (x: readonly (readonly number[])[]) => predictDense(layers, x);
  const score = scorePrediction(predict(set.x), set.y);
  return {
    model: denseClassifierModel(layers, d, k),
    metrics: { trainAccuracy: score.accuracy, trainLoss: score.loss, features: d, classes: k, epochs },
    predict,
  };
}
