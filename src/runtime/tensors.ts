/**
 * Tensor conversion between OIP typed storage ({@link Tensor}) and ONNX Runtime tensors, and the
 * concatenation and slicing along the batch dimension that the dynamic batcher needs. Numeric data
 * is passed to ONNX Runtime without copying; BYTES become ONNX `string` tensors (UTF-8).
 */
import type * as ort from 'onnxruntime-node';
import { STORAGE_OF } from '../oip/types.js';
import { loadedOrt } from './ort.js';
import type { Datatype, NumericTensorData, Tensor, TensorData, TensorSpec } from '../oip/types.js';

/** ONNX Runtime's tensor type name for each OIP datatype (BYTES is ONNX STRING). */
export const ORT_TYPE_OF: Readonly<Record<Datatype, ort.Tensor.Type>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

/** Zero-filled storage of `length` elements of `datatype` (BYTES: empty strings). */
export function zeros(datatype: Datatype, length: number): TensorData {
  if (datatype === 'BYTES') return Array.from({ length }, () => new Uint8Array(0));
  return new STORAGE_OF[datatype](length);
}

/**
 * Zero tensors for every input of a signature, a dynamic first dimension `batchSize`, other
 * dynamic dimensions `dynamicDimSize`: for warm-up runs and generated load.
 */
export function zeroInputs(inputs: readonly TensorSpec[], dynamicDimSize: number, batchSize = 1): Tensor[] {
  return inputs.map((spec) => {
    const shape = spec.shape.map((d, i) => (d >= 0 ? d : i === 0 ? batchSize : dynamicDimSize));
    return { name: spec.name, datatype: spec.datatype, shape, data: zeros(spec.datatype, shape.reduce((a, b) => a * b, 1)) };
  });
}

/** Wraps OIP storage as an ONNX Runtime tensor; numeric data is shared, not copied. */
export function toOrtTensor(datatype: Datatype, data: TensorData, dims: readonly number[]): ort.Tensor {
  if (datatype === 'BYTES') {
    const strings = (data as Uint8Array[]).map((b) => utf8Decoder.decode(b));
    return new (loadedOrt().Tensor)('string', strings, dims);
  }
  // The Tensor constructor overloads are keyed by type name; the pairing is guaranteed by ORT_TYPE_OF.
  return new (loadedOrt().Tensor)(ORT_TYPE_OF[datatype] as 'float32', data as Float32Array, dims);
}

/** Joins the storage of several tensors of one datatype along their first dimension (one copy). */
export function concatData(datatype: Datatype, parts: readonly TensorData[]): TensorData {
  if (datatype === 'BYTES') return (parts as readonly Uint8Array[][]).flat();
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new STORAGE_OF[datatype](length);
  let offset = 0;
  for (const p of parts) {
    // Same datatype means same typed-array class; TypeScript cannot see that across the union.
    (out as Float32Array).set(p as Float32Array, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Turns ONNX Runtime output data, elements [start, end), into OIP storage: numeric data as a view
 * (no copy), strings as UTF-8 byte strings.
 */
export function fromOrtData(datatype: Datatype, data: ort.Tensor['data'], start: number, end: number): TensorData {
  if (datatype === 'BYTES') {
    const strings = data as string[];
    const out: Uint8Array[] = new Array<Uint8Array>(end - start);
    for (let i = start; i < end; i++) out[i - start] = utf8Encoder.encode(strings[i] as string);
    return out;
  }
  const typed = data as NumericTensorData;
  return start === 0 && end === typed.length ? typed : typed.subarray(start, end);
}
