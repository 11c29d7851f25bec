/**
 * From dataset rows to request tensors and from output tensors to top-1 hits: the arithmetic of
 * the accuracy and smoke gates, pure so it is tested without a model.
 */
import { ContinuumError } from '../errors.js';
import { STORAGE_OF } from '../oip/types.js';
import type { Tensor, TensorData, TensorSpec } from '../oip/types.js';
import type { SmokeOutput } from './gates.js';

/** Most rows per request when the input has a dynamic batch dimension (and the model's batch limit allows). */
export const ROWS_PER_REQUEST = 64;

function invalid(message: string): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_INVALID_TENSOR', message);
}

/**
 * How many dataset rows one request carries: a chunk within the model's largest batch (0: the
 * runtime does not batch, so any request size goes) when the input's first dimension is dynamic,
 * else one row per request shaped as the input.
 */
export function rowsPerRequest(spec: TensorSpec, maxBatchSize: number): number {
  if (spec.shape[0] === undefined || spec.shape[0] >= 0) return 1;
  return maxBatchSize > 0 ? Math.min(ROWS_PER_REQUEST, maxBatchSize) : ROWS_PER_REQUEST;
}

/**
 * The concrete shape of `rows` rows of `rowWidth` features for an input: a dynamic first
 * dimension takes the row count, one other dynamic dimension is inferred from the width.
 */
export function inputShape(spec: TensorSpec, rows: number, rowWidth: number): number[] {
  const batched = spec.shape[0] !== undefined && spec.shape[0] < 0;
  const rest = batched ? spec.shape.slice(1) : spec.shape;
  const dynamic = rest.filter((d) => d < 0).length;
  const fixed = rest.reduce((a, d) => (d < 0 ? a : a * d), 1);
  const mismatch = (): ContinuumError => invalid(`dataset rows have ${rowWidth} features; input '${spec.name}' of shape [${spec.shape.join(', ')}] takes ${dynamic === 0 ? fixed : `a multiple of ${fixed}`} per row`);
  if (dynamic > 1) throw invalid(`input '${spec.name}' of shape [${spec.shape.join(', ')}] has more than one dynamic dimension besides the batch; a dataset row cannot fill it`);
  if (dynamic === 0 ? fixed !== rowWidth : rowWidth % fixed !== 0) throw mismatch();
  const filled = rest.map((d) => (d < 0 ? rowWidth / fixed : d));
  return batched ? [rows, ...filled] : filled;
}

/** A request tensor of dataset rows in the input's datatype (numeric inputs only). */
export function rowsTensor(spec: TensorSpec, rows: readonly (readonly number[])[]): Tensor {
  if (spec.datatype === 'BYTES') throw invalid(`input '${spec.name}' is BYTES; a dataset of numbers cannot feed it`);
  const width = rows[0]?.length ?? 0;
  const shape = inputShape(spec, rows.length, width);
  const data = new STORAGE_OF[spec.datatype](rows.length * width);
  const big = data instanceof BigInt64Array || data instanceof BigUint64Array;
  let i = 0;
  for (const row of rows) {
    for (const v of row) {
      // Integer inputs take the rounded value; the typed array clamps or wraps as its type does.
      if (big) data[i] = BigInt(Math.round(v));
      else (data as Float64Array)[i] = v;
      i += 1;
    }
  }
  return { name: spec.name, datatype: spec.datatype, shape, data };
}

function numberAt(data: TensorData, i: number): number {
  const v = (data as Float64Array | BigInt64Array)[i];
  return typeof v === 'bigint' ? Number(v) : (v ?? Number.NaN);
}

/**
 * Top-1 hits of one answered chunk: with one value per row (an INT64 label output) the value is
 * the predicted class; with several (probabilities or logits) the arg-max is.
 */
export function countTopOneCorrect(output: Tensor, labels: readonly number[]): number {
  // FP16 arrives as raw half bits, which do not order as the numbers they stand for.
  if (output.datatype === 'BYTES' || output.datatype === 'FP16') throw invalid(`output '${output.name}' is ${output.datatype}; name an FP32, FP64 or integer output in the dataset's 'output'`);
  const perRow = output.data.length / labels.length;
  if (!Number.isInteger(perRow) || perRow < 1) throw invalid(`output '${output.name}' has ${output.data.length} values for ${labels.length} rows`);
  const floating = output.datatype === 'FP32' || output.datatype === 'FP64';
  if (perRow === 1 && floating) throw invalid(`output '${output.name}' has one ${output.datatype} value per row; name a class-index output or a per-class score output in the dataset's 'output'`);
  let correct = 0;
  labels.forEach((label, row) => {
    let best = 0;
    if (perRow === 1) {
      best = numberAt(output.data, row);
    } else {
      let bestValue = -Infinity;
      for (let k = 0; k < perRow; k++) {
        const v = numberAt(output.data, row * perRow + k);
        if (v > bestValue) {
          bestValue = v;
          best = k;
        }
      }
    }
    if (best === label) correct += 1;
  });
  return correct;
}

/** What the smoke gate looks at in an answer: names, datatypes, shapes and non-finite values per output. */
export function smokeOutputs(outputs: readonly Tensor[]): SmokeOutput[] {
  return outputs.map((o) => {
    let nonFinite = 0;
    if (o.data instanceof Float32Array || o.data instanceof Float64Array) for (const v of o.data) if (!Number.isFinite(v)) nonFinite += 1;
    return { name: o.name, datatype: o.datatype, shape: o.shape, nonFinite };
  });
}
