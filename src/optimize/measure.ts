/**
 * Measures an optimized model against its original on the real runtime (ONNX Runtime sessions
 * behind the batcher, loaded with the model's runtime options): latency at batch 1 and at the
 * tuned batch, top-1 accuracy on the model's attached dataset, and how far the outputs moved.
 * The two models take turns request by request, so drift in the machine's load hits both alike.
 */
import { quantile } from '../deploy/index.js';
import type { InferRequest, Tensor, TensorSpec } from '../oip/types.js';
import { countTopOneCorrect, labelIndices, rowsPerRequest, rowsTensor } from '../release/index.js';
import type { Dataset } from '../release/index.js';
import { compileRuntimeOptions, LoadedModelVersion, zeroInputs } from '../runtime/index.js';
import type { ResolvedModelVersion } from '../runtime/index.js';

/** How much measuring {@link compareModels} does. */
export interface MeasureOptions {
  /** Measured requests per model and batch size (after 10 unmeasured ones). @default 100 */
  readonly latencyRequests?: number;
  /** Size of dynamic non-batch dimensions in generated requests (an image's width). @default 1 */
  readonly dynamicDimSize?: number;
}

/** Latency of one model at one batch size, ms per request. */
export interface LatencyFigures {
  readonly batch: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** One model's side of the comparison. */
export interface ModelFigures {
  readonly sizeBytes: number;
  readonly latency: readonly LatencyFigures[];
  /** Top-1 accuracy on the dataset (0..1); null without a dataset. */
  readonly accuracy: number | null;
}

/** Both models' figures, and how the optimized model's outputs differ from the original's. */
export interface Comparison {
  readonly original: ModelFigures;
  readonly optimized: ModelFigures;
  /** Rows of the dataset measured; 0 without one. */
  readonly rows: number;
  /** The output compared (the dataset's, else the first). */
  readonly output: string;
  /** Share of rows whose top-1 class is the same for both models (1 without a dataset: not measured). */
  readonly top1Agreement: number | null;
  /** Largest absolute difference of any element of the compared output, over the dataset or the probe request. */
  readonly maxAbsDiff: number;
}

const WARMUP_REQUESTS = 10;

/** The request latency is measured with: `batch` dataset rows when the dataset feeds the only input, else zeros. */
function probe(spec: TensorSpec | undefined, inputs: readonly TensorSpec[], dataset: Dataset | undefined, batch: number, dynamicDimSize: number): InferRequest {
  if (spec !== undefined && dataset !== undefined && inputs.length === 1) {
    const rows = Array.from({ length: batch }, (_, i) => dataset.features[i % dataset.features.length] as number[]);
    return { inputs: [rowsTensor(spec, rows)] };
  }
  return { inputs: zeroInputs(inputs, dynamicDimSize, batch) };
}

function floats(t: Tensor): ArrayLike<number> {
  const d = t.data;
  return d instanceof BigInt64Array || d instanceof BigUint64Array ? Array.from(d, Number) : (d as ArrayLike<number>);
}

/** Each row's top-1 class: the value itself for one value per row (a label output), else the arg-max. */
export function topOne(t: Tensor, rows: number): number[] {
  const values = floats(t);
  const perRow = values.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    if (perRow === 1) return values[r] as number;
    let best = 0;
    for (let k = 1; k < perRow; k++) if ((values[r * perRow + k] as number) > (values[r * perRow + best] as number)) best = k;
    return best;
  });
}

/** Sequential latencies of both models, taking turns; returns p50 and p99 for each. */
async function latencies(models: readonly LoadedModelVersion[], request: InferRequest, requests: number): Promise<{ p50Ms: number; p99Ms: number }[]> {
  const samples = models.map(() => [] as number[]);
  for (let i = 0; i < WARMUP_REQUESTS + requests; i++) {
    for (const [m, model] of models.entries()) {
      const started = performance.now();
      await model.infer(request, Infinity);
      if (i >= WARMUP_REQUESTS) samples[m]?.push(performance.now() - started);
    }
  }
  return samples.map((s) => {
    const sorted = s.sort((a, b) => a - b);
    return { p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99) };
  });
}

/**
 * Loads both models, measures latency at batch 1 and at the model's tuned batch (its runtime
 * options' maxBatchSize) and, when a dataset is given, accuracy, top-1 agreement and the largest
 * output difference on every row; then releases both.
 */
export async function compareModels(original: ResolvedModelVersion & { readonly sizeBytes: number }, optimized: ResolvedModelVersion & { readonly sizeBytes: number }, dataset: Dataset | undefined, options: MeasureOptions = {}): Promise<Comparison> {
  const compiled = compileRuntimeOptions(original.runtimeOptions);
  const models = [await LoadedModelVersion.load(original, compiled)];
  try {
    models.push(await LoadedModelVersion.load(optimized, compiled));
    const [a, b] = models as [LoadedModelVersion, LoadedModelVersion];
    const inputs = original.signature.inputs;
    const spec = dataset === undefined ? undefined : inputs.find((t) => t.name === dataset.input);
    const batchable = (inputs[0]?.shape[0] ?? 0) < 0 && compiled.maxBatchSize > 1;
    const batches = batchable ? [1, compiled.maxBatchSize] : [1];
    const latency: [LatencyFigures[], LatencyFigures[]] = [[], []];
    for (const batch of batches) {
      const [la, lb] = await latencies(models, probe(spec, inputs, dataset, batch, options.dynamicDimSize ?? 1), options.latencyRequests ?? 100);
      latency[0].push({ batch, ...(la as { p50Ms: number; p99Ms: number }) });
      latency[1].push({ batch, ...(lb as { p50Ms: number; p99Ms: number }) });
    }
    const output = dataset?.output ?? original.signature.outputs[0]?.name ?? '';
    let maxAbsDiff = 0;
    const compare = (x: Tensor | undefined, y: Tensor | undefined): void => {
      if (x === undefined || y === undefined) return;
      const [dx, dy] = [floats(x), floats(y)];
      for (let i = 0; i < dx.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs((dx[i] as number) - (dy[i] as number)));
    };
    if (dataset === undefined || spec === undefined) {
      const request = probe(undefined, inputs, undefined, 1, options.dynamicDimSize ?? 1);
      const [ra, rb] = await Promise.all([a.infer(request, Infinity), b.infer(request, Infinity)]);
      compare(ra.outputs.find((t) => t.name === output), rb.outputs.find((t) => t.name === output));
      const figures = (i: 0 | 1): ModelFigures => ({ sizeBytes: [original, optimized][i]?.sizeBytes ?? 0, latency: latency[i], accuracy: null });
      return { original: figures(0), optimized: figures(1), rows: 0, output, top1Agreement: null, maxAbsDiff };
    }
    const labels = labelIndices(dataset);
    const chunk = rowsPerRequest(spec, compiled.maxBatchSize);
    const correct = [0, 0];
    let agreeing = 0;
    for (let start = 0; start < dataset.features.length; start += chunk) {
      const rows = dataset.features.slice(start, start + chunk);
      const request: InferRequest = { inputs: [rowsTensor(spec, rows)], outputs: [{ name: output }] };
      const [ra, rb] = await Promise.all([a.infer(request, Infinity), b.infer(request, Infinity)]);
      const [ta, tb] = [ra.outputs[0], rb.outputs[0]];
      if (ta === undefined || tb === undefined) continue;
      const rowLabels = labels.slice(start, start + rows.length);
      correct[0] = (correct[0] ?? 0) + countTopOneCorrect(ta, rowLabels);
      correct[1] = (correct[1] ?? 0) + countTopOneCorrect(tb, rowLabels);
      compare(ta, tb);
      // Agreement: the original's top-1 classes taken as the labels of the optimized model's answer.
      agreeing += countTopOneCorrect(tb, topOne(ta, rows.length));
    }
    const n = dataset.features.length;
    const figures = (i: 0 | 1): ModelFigures => ({ sizeBytes: [original, optimized][i]?.sizeBytes ?? 0, latency: latency[i], accuracy: (correct[i] ?? 0) / n });
    return { original: figures(0), optimized: figures(1), rows: n, output, top1Agreement: agreeing / n, maxAbsDiff };
  } finally {
    await Promise.all(models.map(async (m) => {
      await m.drain();
      await m.release();
    }));
  }
}
