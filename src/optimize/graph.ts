/**
 * Pure rewrites of ONNX graphs that make a model smaller and faster: int8 dynamic quantization of
 * MatMul and Gemm, float16 weights, and removal of what no output needs. Bytes in, bytes out,
 * no I/O. The int8 form is the one ONNX Runtime's own quantizer writes
 * (onnxruntime/python/tools/quantization, `quantize_dynamic` with `per_channel=True`):
 *
 *   X ─ DynamicQuantizeLinear ─► Xq (uint8), Xscale, Xzp
 *   MatMulInteger(Xq, Wq int8 [K, N], Xzp, Wzp = 0) ─► int32 ─ Cast ─► float
 *   Mul(·, Mul(Xscale, Wscale [N]))  (+ Add bias for Gemm)
 *
 * which ONNX Runtime's graph optimizer fuses into one MatMulIntegerToFloat kernel. Weights are
 * symmetric per output channel (zero point 0, 7 bits: see INT8_MATMUL_WEIGHT_MAX), activations asymmetric uint8
 * per tensor, computed at run time (ONNX operators DynamicQuantizeLinear, opset 11; MatMulInteger,
 * opset 10).
 */
import onnxProto from 'onnx-proto';
import { ContinuumError } from '../errors.js';
import { OnnxElemType } from '../onnx/build.js';
import { HALF_MAX, toHalfBits } from './half.js';

const { onnx } = onnxProto;
type ModelProto = onnxProto.onnx.ModelProto;
type GraphProto = onnxProto.onnx.IGraphProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

/** The optimizations Continuum makes. */
export const OPTIMIZATIONS = ['int8', 'fp16'] as const;

/** One optimization: `int8` (dynamic int8 MatMul/Gemm) or `fp16` (float16 weights). */
export type Optimization = (typeof OPTIMIZATIONS)[number];

/** What a rewrite did, for the report. */
export interface RewriteSummary {
  readonly optimization: Optimization;
  /** Nodes rewritten (int8: MatMul/Gemm quantized). */
  readonly nodesRewritten: number;
  /** Nodes left as they were, each with the reason. */
  readonly nodesSkipped: readonly { readonly node: string; readonly op: string; readonly reason: string }[];
  /** Weight tensors stored in the smaller type. */
  readonly tensorsConverted: number;
  /** Nodes and initializers removed because no graph output depends on them. */
  readonly nodesRemoved: number;
  readonly initializersRemoved: number;
  /** The default-domain opset before and after (int8 needs 11 or later). */
  readonly opsetBefore: number;
  readonly opsetAfter: number;
}

/** Opset of the default domain the int8 form needs (DynamicQuantizeLinear). */
const INT8_MIN_OPSET = 11;
/**
 * Float tensors smaller than this stay float32 in the fp16 form: shapes, scalars and small
 * constants gain nothing and some are read by shape logic (onnxconverter-common's
 * `convert_float_to_float16` likewise leaves small and shape-bearing values alone).
 */
const FP16_MIN_ELEMENTS = 16;
/** Symmetric int8 range of weights stored for float compute (Conv): ±127 keeps zero exact and the range balanced. */
const INT8_WEIGHT_MAX = 127;
/**
 * Symmetric range of weights MatMulInteger multiplies: 7 bits. On x86-64 without VNNI the uint8 ×
 * int8 kernel adds pairs of products in int16 (VPMADDUBSW), which saturates beyond 255 × 127 × 2;
 * ±63 keeps every pair within int16 (ONNX Runtime's quantizer calls this `reduce_range`, its docs
 * "Quantize ONNX models", section "When and why do I need to try U8U8?"). Measured here: with
 * ±127 one Clip → MatMul test graph lost 0.59 in an output of 1.5.
 */
const INT8_MATMUL_WEIGHT_MAX = 63;
/**
 * MatMul and Gemm weights with fewer elements stay float32: they save few bytes, and they are
 * typically a network's first and last layers, the ones most sensitive to rounding (a first layer
 * with standardisation folded in subtracts large products from a large bias). Measured: an Iris
 * MLP 4→256→256→3 with all three layers in int8 moved its probabilities by 0.27, with only the
 * middle one by less than 0.05.
 */
const INT8_MIN_WEIGHT_ELEMENTS = 16_384;

function unsupported(message: string, details: Record<string, unknown> = {}): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_OPTIMIZE_UNSUPPORTED', message, { details });
}

/** protobufjs decodes int64 fields as Long objects when the `long` package is present. */
function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

const isDefaultDomain = (domain: string | null | undefined): boolean => domain === undefined || domain === null || domain === '' || domain === 'ai.onnx';

/** The version of the default-domain opset a model imports (0 when none). */
export function defaultOpset(model: ModelProto): number {
  return toNumber(model.opsetImport.find((o) => isDefaultDomain(o.domain))?.version);
}

/** A float32 tensor's values, from raw_data (little-endian) or float_data. */
export function floatValues(tensor: TensorProto): Float32Array {
  const raw = tensor.rawData;
  if (raw !== null && raw !== undefined && raw.byteLength > 0) {
    const copy = new Uint8Array(raw);
    return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
  }
  return Float32Array.from(tensor.floatData ?? []);
}

const dimsOf = (tensor: TensorProto): number[] => (tensor.dims ?? []).map(toNumber);

function tensor(name: string, dataType: number, dims: readonly number[], raw: ArrayBufferView): TensorProto {
  return { name, dataType, dims: [...dims], rawData: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) };
}

function node(opType: string, inputs: readonly string[], outputs: readonly string[], name: string, attribute: onnxProto.onnx.IAttributeProto[] = []): NodeProto {
  return { opType, domain: '', input: [...inputs], output: [...outputs], name, attribute };
}

const intAttr = (name: string, i: number): onnxProto.onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });

function attrNumber(n: NodeProto, name: string, fallback: number): number {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  if (a === undefined) return fallback;
  return a.type === onnx.AttributeProto.AttributeType.FLOAT ? (a.f ?? fallback) : toNumber(a.i);
}

function decode(bytes: Uint8Array): ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new ContinuumError('CONTINUUM_ERR_INVALID_MODEL', `invalid model: the file does not decode as an ONNX ModelProto (${err instanceof Error ? err.message : String(err)})`);
  }
}

function graphOf(model: ModelProto): GraphProto {
  if (model.graph === null || model.graph === undefined) throw new ContinuumError('CONTINUUM_ERR_INVALID_MODEL', 'invalid model: the file has no graph');
  return model.graph;
}

/**
 * Turns `Constant` nodes holding a tensor into initializers, so weights written as constants
 * (paddle2onnx, tf2onnx do that) are found and rewritten like any other weight.
 */
export function constantsToInitializers(graph: GraphProto): number {
  let moved = 0;
  const kept: NodeProto[] = [];
  graph.initializer ??= [];
  for (const n of graph.node ?? []) {
    const value = n.opType === 'Constant' && isDefaultDomain(n.domain) && n.attribute?.length === 1 ? n.attribute[0] : undefined;
    const output = n.output?.[0];
    if (value?.name === 'value' && value.t !== null && value.t !== undefined && output !== undefined) {
      graph.initializer.push({ ...value.t, name: output });
      moved += 1;
    } else {
      kept.push(n);
    }
  }
  graph.node = kept;
  return moved;
}

/**
 * Operators whose signature changed between opsets 9 and 11 in a way this upgrade does not
 * rewrite (onnx/docs/Changelog.md): a model using them is refused rather than changed in meaning.
 */
const UNCONVERTED_BEFORE_11: ReadonlySet<string> = new Set(['Pad', 'Upsample', 'Resize', 'TopK', 'Scatter']);

/**
 * Raises the default-domain opset of a model from 9 or 10 to 11, rewriting the two operators
 * whose attributes became inputs on the way: Slice (opset 10: starts, ends, axes as int64 inputs)
 * and Clip (opset 11: min and max as inputs). Refuses operators it does not convert.
 */
export function upgradeOpsetTo11(model: ModelProto): void {
  const from = defaultOpset(model);
  if (from >= INT8_MIN_OPSET) return;
  if (from < 9) throw unsupported(`the model imports opset ${from}; int8 quantization needs opset ${INT8_MIN_OPSET} and Continuum upgrades models from opset 9 or 10 only (re-export at opset 11 or later)`, { opset: from });
  const graph = graphOf(model);
  graph.initializer ??= [];
  for (const n of graph.node ?? []) {
    if (!isDefaultDomain(n.domain)) continue;
    if (UNCONVERTED_BEFORE_11.has(n.opType ?? '')) {
      throw unsupported(`node '${n.name ?? ''}' is ${n.opType ?? ''}, whose inputs changed after opset ${from}; re-export the model at opset ${INT8_MIN_OPSET} or later to quantize it`, { node: n.name, op: n.opType });
    }
    const name = `${n.name || n.output?.[0] || 'node'}`;
    if (n.opType === 'Clip') {
      const min = attrNumber(n, 'min', -3.4028234663852886e38);
      const max = attrNumber(n, 'max', 3.4028234663852886e38);
      graph.initializer.push(tensor(`${name}.min`, OnnxElemType.FLOAT, [], Float32Array.of(min)), tensor(`${name}.max`, OnnxElemType.FLOAT, [], Float32Array.of(max)));
      n.input = [n.input?.[0] ?? '', `${name}.min`, `${name}.max`];
      n.attribute = [];
    } else if (n.opType === 'Slice') {
      const ints = (key: string): number[] | undefined => (n.attribute ?? []).find((a) => a.name === key)?.ints?.map(toNumber);
      const starts = ints('starts') ?? [];
      const ends = ints('ends') ?? [];
      const axes = ints('axes') ?? starts.map((_, i) => i);
      const inputs = [n.input?.[0] ?? ''];
      for (const [key, values] of [['starts', starts], ['ends', ends], ['axes', axes]] as const) {
        graph.initializer.push(tensor(`${name}.${key}`, OnnxElemType.INT64, [values.length], BigInt64Array.from(values.map((v) => BigInt(v)))));
        inputs.push(`${name}.${key}`);
      }
      n.input = inputs;
      n.attribute = [];
    }
  }
  for (const o of model.opsetImport) if (isDefaultDomain(o.domain)) o.version = INT8_MIN_OPSET;
}

/**
 * Symmetric per-channel int8 quantization: one scale per channel (max |w| / `levels`, zero
 * point 0), `channelOf(i)` saying which channel element i belongs to.
 */
export function quantizeSymmetric(w: Float32Array, channels: number, channelOf: (i: number) => number, levels = INT8_WEIGHT_MAX): { readonly q: Int8Array; readonly scales: Float32Array } {
  const max = new Float32Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = channelOf(i);
    max[c] = Math.max(max[c] as number, Math.abs(w[i] as number));
  }
  const scales = max.map((m) => (m === 0 ? 1 : m / levels));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-levels, Math.min(levels, Math.round((w[i] as number) / (scales[channelOf(i)] as number))));
  return { q, scales };
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c] as number;
  return t;
}

/** A MatMul or Gemm ready to be quantized: its activation input, its int8 weight [K, N] and per-column scales, the bias to add. */
interface QuantizableNode {
  readonly activation: string;
  readonly weight: Int8Array;
  readonly weightDims: readonly number[];
  readonly scales: Float32Array;
  /** The bias value's name (Gemm's C). */
  readonly bias: string | undefined;
}

/** The MatMul's or Gemm's int8 form, or why it cannot be quantized. */
function quantizable(n: NodeProto, weights: ReadonlyMap<string, TensorProto>): QuantizableNode | string {
  const weight = weights.get(n.input?.[1] ?? '');
  if (weight === undefined) return 'its weight input is not a constant';
  if (weight.dataType !== OnnxElemType.FLOAT) return 'its weight is not float32';
  const dims = dimsOf(weight);
  const values = floatValues(weight);
  const bias = n.input?.[2] === undefined || n.input[2] === '' ? undefined : n.input[2];
  if (dims.length !== 2) return `its weight has ${dims.length} dimensions, not 2`;
  if (values.length < INT8_MIN_WEIGHT_ELEMENTS) return `its weight has ${values.length} elements, fewer than ${INT8_MIN_WEIGHT_ELEMENTS}: too few bytes to save for the rounding it costs`;
  const [d0, d1] = dims as [number, number];
  let k = d0;
  let cols = d1;
  let w = values;
  let alpha = 1;
  if (n.opType === 'Gemm') {
    if (attrNumber(n, 'transA', 0) !== 0) return 'Gemm with transA=1';
    if (bias !== undefined && attrNumber(n, 'beta', 1) !== 1) return 'Gemm with beta other than 1';
    alpha = attrNumber(n, 'alpha', 1);
    if (attrNumber(n, 'transB', 0) !== 0) [w, k, cols] = [transpose(values, d0, d1), d1, d0];
  }
  const { q, scales } = quantizeSymmetric(w, cols, (i) => i % cols, INT8_MATMUL_WEIGHT_MAX);
  // Gemm's alpha scales the product; folding it into the weight scales keeps the graph the same shape.
  const folded = alpha === 1 ? scales : scales.map((x) => x * alpha);
  return { activation: n.input?.[0] ?? '', weight: q, weightDims: [k, cols], scales: folded, bias };
}

const QUANTIZED_OPS: ReadonlySet<string> = new Set(['MatMul', 'Gemm', 'Conv']);

/**
 * A Conv's weight stored as int8 with one scale per output channel, turned back into float32 by
 * Cast and Mul. Both read only initializers, so ONNX Runtime folds them when it loads the model
 * (its constant folding skips DequantizeLinear, hence not that operator) and the Conv runs in
 * float32: a quarter of the bytes on disk, the float32 speed. ConvInteger, the dynamic form, was
 * measured 2.7× slower than float32 on the PP-OCRv4 recognizer with ONNX Runtime 1.30's CPU
 * provider, so Continuum does not use it.
 */
function int8ConvWeight(n: NodeProto, weights: ReadonlyMap<string, TensorProto>, prefix: string): { readonly tensors: TensorProto[]; readonly nodes: NodeProto[] } | string {
  const name = n.input?.[1] ?? '';
  const weight = weights.get(name);
  if (weight === undefined) return 'its weight input is not a constant';
  if (weight.dataType !== OnnxElemType.FLOAT) return 'its weight is not float32';
  const dims = dimsOf(weight);
  const values = floatValues(weight);
  const m = dims[0] ?? 0;
  if (dims.length < 3 || m === 0) return `its weight has dimensions [${dims.join(', ')}]`;
  const perChannel = values.length / m;
  const { q, scales } = quantizeSymmetric(values, m, (i) => Math.floor(i / perChannel));
  n.input = [n.input?.[0] ?? '', `${prefix}.w_float`, ...(n.input ?? []).slice(2)];
  return {
    tensors: [tensor(`${prefix}.w`, OnnxElemType.INT8, dims, q), tensor(`${prefix}.w_scale`, OnnxElemType.FLOAT, [m, ...dims.slice(1).map(() => 1)], scales)],
    nodes: [
      node('Cast', [`${prefix}.w`], [`${prefix}.w_cast`], `${prefix}.cast`, [intAttr('to', OnnxElemType.FLOAT)]),
      node('Mul', [`${prefix}.w_cast`, `${prefix}.w_scale`], [`${prefix}.w_float`], `${prefix}.dequantize`),
    ],
  };
}

/** Rewrites every quantizable MatMul and Gemm into the int8 form (see the module comment) and stores Conv weights as int8. */
function quantizeNodes(graph: GraphProto): { rewritten: number; skipped: RewriteSummary['nodesSkipped'] } {
  const weights = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const added: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  const skipped: { node: string; op: string; reason: string }[] = [];
  let rewritten = 0;
  for (const [i, n] of (graph.node ?? []).entries()) {
    if (!QUANTIZED_OPS.has(n.opType ?? '') || !isDefaultDomain(n.domain)) {
      nodes.push(n);
      continue;
    }
    const p = `${n.name || `${n.opType ?? ''}_${i}`}.int8`;
    const parts = n.opType === 'Conv' ? int8ConvWeight(n, weights, p) : quantizable(n, weights);
    if (typeof parts === 'string') {
      skipped.push({ node: n.name ?? '', op: n.opType ?? '', reason: parts });
      nodes.push(n);
      continue;
    }
    rewritten += 1;
    if ('tensors' in parts) {
      added.push(...parts.tensors);
      nodes.push(...parts.nodes, n);
      continue;
    }
    const output = n.output?.[0] ?? '';
    added.push(
      tensor(`${p}.w`, OnnxElemType.INT8, parts.weightDims, parts.weight),
      tensor(`${p}.w_scale`, OnnxElemType.FLOAT, [parts.scales.length], parts.scales),
      // Symmetric weights have zero point 0 in every channel, so one scalar says it (ConvInteger on ONNX Runtime's CPU accepts only a scalar).
      tensor(`${p}.w_zero_point`, OnnxElemType.INT8, [], new Int8Array(1)),
    );
    const { bias } = parts;
    const scaled = bias === undefined ? output : `${p}.y`;
    nodes.push(
      node('DynamicQuantizeLinear', [parts.activation], [`${p}.x`, `${p}.x_scale`, `${p}.x_zero_point`], `${p}.quantize`),
      node('MatMulInteger', [`${p}.x`, `${p}.w`, `${p}.x_zero_point`, `${p}.w_zero_point`], [`${p}.y_int32`], `${p}.matmul`),
      node('Cast', [`${p}.y_int32`], [`${p}.y_float`], `${p}.cast`, [intAttr('to', OnnxElemType.FLOAT)]),
      node('Mul', [`${p}.x_scale`, `${p}.w_scale`], [`${p}.scale`], `${p}.scale`),
      node('Mul', [`${p}.y_float`, `${p}.scale`], [scaled], `${p}.rescale`),
    );
    if (bias !== undefined) nodes.push(node('Add', [scaled, bias], [output], `${p}.bias`));
  }
  graph.node = nodes;
  graph.initializer = [...(graph.initializer ?? []), ...added];
  return { rewritten, skipped };
}

/**
 * Stores float32 weights as float16 with a Cast back to float32 beside each: the file halves
 * while every operator still computes in float32, since ONNX Runtime's CPU provider has float16
 * kernels for few operators. ONNX Runtime folds the casts once when it loads the model, so the
 * cost is at load, not per inference. Weights beyond the half range stay float32.
 */
function weightsToFp16(graph: GraphProto): number {
  const graphInputs = new Set((graph.input ?? []).map((v) => v.name ?? ''));
  const casts: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  for (const t of graph.initializer ?? []) {
    const name = t.name ?? '';
    const values = t.dataType === OnnxElemType.FLOAT ? floatValues(t) : undefined;
    // A weight that is also a graph input may be overridden at run time in its declared type.
    if (values === undefined || values.length < FP16_MIN_ELEMENTS || graphInputs.has(name) || values.some((v) => Math.abs(v) > HALF_MAX)) {
      initializers.push(t);
      continue;
    }
    const bits = Uint16Array.from(values, toHalfBits);
    initializers.push(tensor(`${name}.fp16`, OnnxElemType.FLOAT16, dimsOf(t), bits));
    casts.push(node('Cast', [`${name}.fp16`], [name], `${name}.fp16.cast`, [intAttr('to', OnnxElemType.FLOAT)]));
  }
  graph.initializer = initializers;
  graph.node = [...casts, ...(graph.node ?? [])];
  return casts.length;
}

/** Every value name a node reads, including names its subgraphs (If, Loop, Scan bodies) read from the outer scope. */
function inputsRead(n: NodeProto): string[] {
  const names = [...(n.input ?? [])];
  for (const a of n.attribute ?? []) {
    for (const g of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) for (const inner of g.node ?? []) names.push(...inputsRead(inner));
  }
  return names;
}

/**
 * Removes nodes no graph output depends on, then initializers no node reads (and their entries
 * among the graph inputs); returns the counts.
 */
export function pruneUnused(graph: GraphProto): { readonly nodesRemoved: number; readonly initializersRemoved: number } {
  const needed = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const nodes = graph.node ?? [];
  const keep = new Array<boolean>(nodes.length).fill(false);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i] as NodeProto;
    if ((n.output ?? []).some((o) => needed.has(o))) {
      keep[i] = true;
      for (const name of inputsRead(n)) needed.add(name);
    }
  }
  const kept = nodes.filter((_, i) => keep[i]);
  const initializers = graph.initializer ?? [];
  const usedInitializers = initializers.filter((t) => needed.has(t.name ?? ''));
  const removedNames = new Set(initializers.filter((t) => !needed.has(t.name ?? '')).map((t) => t.name ?? ''));
  graph.node = kept;
  graph.initializer = usedInitializers;
  graph.input = (graph.input ?? []).filter((v) => !removedNames.has(v.name ?? ''));
  return { nodesRemoved: nodes.length - kept.length, initializersRemoved: removedNames.size };
}

/**
 * Optimizes an ONNX model: `int8` quantizes MatMul and Gemm dynamically (raising opset 9/10 to 11
 * first), `fp16` stores weights as float16; both then drop what no output needs. Throws
 * CONTINUUM_ERR_OPTIMIZE_UNSUPPORTED when nothing in the model can be optimized that way.
 */
export function optimizeOnnx(bytes: Uint8Array, optimization: Optimization): { readonly bytes: Uint8Array; readonly summary: RewriteSummary } {
  const model = decode(bytes);
  const graph = graphOf(model);
  const opsetBefore = defaultOpset(model);
  constantsToInitializers(graph);
  // Removing dead nodes first keeps unused weights from being converted.
  const before = pruneUnused(graph);
  let nodesRewritten = 0;
  let nodesSkipped: RewriteSummary['nodesSkipped'] = [];
  let tensorsConverted = 0;
  if (optimization === 'int8') {
    upgradeOpsetTo11(model);
    const result = quantizeNodes(graph);
    nodesRewritten = result.rewritten;
    nodesSkipped = result.skipped;
    tensorsConverted = result.rewritten;
    if (nodesRewritten === 0) throw unsupported(`the model has no MatMul, Gemm or Conv with a constant float weight to quantize${nodesSkipped.length > 0 ? ` (${nodesSkipped.map((s) => `${s.node}: ${s.reason}`).join('; ')})` : ''}`);
  } else {
    tensorsConverted = weightsToFp16(graph);
    if (tensorsConverted === 0) throw unsupported(`the model has no float32 weight of ${FP16_MIN_ELEMENTS} or more elements to store as float16`);
  }
  const after = pruneUnused(graph);
  model.producerName = 'continuum';
  return {
    bytes: onnx.ModelProto.encode(model).finish(),
    summary: {
      optimization,
      nodesRewritten,
      nodesSkipped,
      tensorsConverted,
      nodesRemoved: before.nodesRemoved + after.nodesRemoved,
      initializersRemoved: before.initializersRemoved,
      opsetBefore,
      opsetAfter: defaultOpset(model),
    },
  };
}
