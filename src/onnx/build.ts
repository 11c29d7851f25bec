/**
 * Builds ONNX models in code with onnx-proto: the demo classifier, the benchmark MLP, and the
 * small graphs tests need. Nothing is downloaded; every model Continuum ships is made here.
 */
import onnxProto from 'onnx-proto';
import type { Datatype } from '../oip/types.js';

const { onnx } = onnxProto;

/** ONNX `TensorProto.DataType` numbers (onnx.proto, "DataType"). */
export const OnnxElemType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
} as const;

/** ONNX element type for each OIP datatype (BYTES is ONNX STRING). */
export const ONNX_ELEM_TYPE_OF: Readonly<Record<Datatype, number>> = {
  BOOL: OnnxElemType.BOOL,
  UINT8: OnnxElemType.UINT8,
  UINT16: OnnxElemType.UINT16,
  UINT32: OnnxElemType.UINT32,
  UINT64: OnnxElemType.UINT64,
  INT8: OnnxElemType.INT8,
  INT16: OnnxElemType.INT16,
  INT32: OnnxElemType.INT32,
  INT64: OnnxElemType.INT64,
  FP16: OnnxElemType.FLOAT16,
  FP32: OnnxElemType.FLOAT,
  FP64: OnnxElemType.DOUBLE,
  BYTES: OnnxElemType.STRING,
};

/** A dimension of a graph input or output: a number, or a name for a dynamic one. */
export type Dim = number | string;

/** A graph input or output. */
export interface ValueSpec {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly Dim[];
}

/** A node of the graph. */
export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly domain?: string;
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

/**
 * A node attribute: a number (INT when whole, else FLOAT), a number list (INTS), a string, or a
 * tagged list of FLOATS or STRINGS (the ai.onnx.ml tree ensembles need both).
 */
export type AttributeValue = number | readonly number[] | string | { readonly floats: readonly number[] } | { readonly strings: readonly string[] };

/** A float32 initializer (weights). */
export interface InitializerSpec {
  readonly name: string;
  readonly dims: readonly number[];
  readonly values: Float32Array | readonly number[];
}

/** A whole model. */
export interface ModelSpec {
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly nodes: readonly NodeSpec[];
  readonly initializers?: readonly InitializerSpec[];
  /** Default-domain opset. @default 13 */
  readonly opset?: number;
  readonly graphName?: string;
  /** Extra opset imports, e.g. a custom domain (tests of refused models use it). */
  readonly extraOpsets?: readonly { readonly domain: string; readonly version: number }[];
}

function valueInfo(v: ValueSpec): onnxProto.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: ONNX_ELEM_TYPE_OF[v.datatype],
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: T.INT, i: value } : { name, type: T.FLOAT, f: value };
  }
  if ('floats' in value) return { name, type: T.FLOATS, floats: [...value.floats] };
  if ('strings' in value) return { name, type: T.STRINGS, strings: value.strings.map((v) => new TextEncoder().encode(v)) };
  return { name, type: T.INTS, ints: [...value] };
}

/** Encodes a model spec into ONNX protobuf bytes. */
export function buildModel(spec: ModelSpec): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'continuum',
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }, ...(spec.extraOpsets ?? [])],
    graph: {
      name: spec.graphName ?? 'graph',
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      node: spec.nodes.map((n, i) => ({
        name: `${n.op}_${i}`,
        opType: n.op,
        domain: n.domain ?? '',
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: (spec.initializers ?? []).map((t) => ({
        name: t.name,
        dims: [...t.dims],
        dataType: OnnxElemType.FLOAT,
        rawData: new Uint8Array(Float32Array.from(t.values).buffer),
      })),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** A deterministic pseudo-random generator (mulberry32), so built models are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link buildMlp}. */
export interface MlpOptions {
  readonly inputSize: number;
  readonly hiddenSizes: readonly number[];
  readonly outputSize: number;
  /** Weights of every layer, row-major [in, out]; drawn from `seed` ({@link mlpWeights}) when absent. */
  readonly weights?: readonly DenseWeights[];
  /** @default 42 */
  readonly seed?: number;
  /** Add Softmax over the logits. @default true */
  readonly softmax?: boolean;
  /** Also output the arg-max class as INT64 `label`. @default false */
  readonly argmaxLabel?: boolean;
  readonly inputName?: string;
  readonly outputName?: string;
  /** Prefix of the internal tensor names (weights, activations), so several MLPs fit in one graph. @default '' */
  readonly namePrefix?: string;
}

/** One dense layer's weights: `w` row-major [in, out], `b` [out]. */
export interface DenseWeights {
  readonly w: Float32Array;
  readonly b: Float32Array;
}

/**
 * The weights {@link buildMlp} draws for layer sizes `[input, ...hidden, output]` from `seed`,
 * layer by layer, so other graphs can be built over the very same weights.
 */
export function mlpWeights(sizes: readonly number[], seed: number): DenseWeights[] {
  const rand = seededRandom(seed);
  const layers: DenseWeights[] = [];
  for (let layer = 0; layer + 1 < sizes.length; layer++) {
    const fanIn = sizes[layer] as number;
    const fanOut = sizes[layer + 1] as number;
    // He initialisation keeps activations in range for random benchmark weights.
    const scale = Math.sqrt(2 / fanIn);
    const w = Float32Array.from({ length: fanIn * fanOut }, () => (rand() * 2 - 1) * scale);
    const b = Float32Array.from({ length: fanOut }, () => (rand() * 2 - 1) * 0.1);
    layers.push({ w, b });
  }
  return layers;
}

/**
 * A multi-layer perceptron with a dynamic batch dimension: `input` FP32 [batch, inputSize] →
 * Gemm/Relu layers → `output` FP32 [batch, outputSize] (softmax probabilities by default).
 */
export function buildMlp(opts: MlpOptions): Uint8Array {
  return buildModel(mlpSpec(opts));
}

/** The model spec {@link buildMlp} encodes, for graphs that compose an MLP with other nodes. */
export function mlpSpec(opts: MlpOptions): ModelSpec {
  const sizes = [opts.inputSize, ...opts.hiddenSizes, opts.outputSize];
  const layers = opts.weights ?? mlpWeights(sizes, opts.seed ?? 42);
  if (layers.length !== sizes.length - 1) throw new Error(`buildMlp: ${sizes.length - 1} layers of weights are needed, ${layers.length} were given`);
  const inputName = opts.inputName ?? 'input';
  const outputName = opts.outputName ?? 'output';
  const p = opts.namePrefix ?? '';
  const nodes: NodeSpec[] = [];
  const initializers: InitializerSpec[] = [];
  let current = inputName;
  for (let layer = 0; layer + 1 < sizes.length; layer++) {
    const fanIn = sizes[layer] as number;
    const fanOut = sizes[layer + 1] as number;
    const { w, b } = layers[layer] as DenseWeights;
    initializers.push({ name: `${p}W${layer}`, dims: [fanIn, fanOut], values: w }, { name: `${p}B${layer}`, dims: [fanOut], values: b });
    const last = layer + 2 === sizes.length;
    const gemmOut = last ? (opts.softmax === false ? outputName : `${p}logits`) : `${p}h${layer}`;
    nodes.push({ op: 'Gemm', inputs: [current, `${p}W${layer}`, `${p}B${layer}`], outputs: [gemmOut] });
    if (!last) {
      nodes.push({ op: 'Relu', inputs: [gemmOut], outputs: [`${p}a${layer}`] });
      current = `${p}a${layer}`;
    } else {
      current = gemmOut;
    }
  }
  if (opts.softmax !== false) nodes.push({ op: 'Softmax', inputs: [current], outputs: [outputName], attributes: { axis: 1 } });
  const outputs: ValueSpec[] = [{ name: outputName, datatype: 'FP32', shape: ['batch', opts.outputSize] }];
  if (opts.argmaxLabel === true) {
    nodes.push({ op: 'ArgMax', inputs: [outputName], outputs: ['label'], attributes: { axis: 1, keepdims: 0 } });
    outputs.push({ name: 'label', datatype: 'INT64', shape: ['batch'] });
  }
  return {
    inputs: [{ name: inputName, datatype: 'FP32', shape: ['batch', opts.inputSize] }],
    outputs,
    nodes,
    initializers,
    graphName: 'mlp',
  };
}

/**
 * A model that passes each input through unchanged (`Identity`), for every datatype: inputs
 * `in_{i}` → outputs `out_{i}`. Tests use it to check datatype round trips exactly.
 */
export function buildIdentity(specs: readonly { readonly datatype: Datatype; readonly shape: readonly Dim[] }[]): Uint8Array {
  return buildModel({
    inputs: specs.map((s, i) => ({ name: `in_${i}`, datatype: s.datatype, shape: s.shape })),
    outputs: specs.map((s, i) => ({ name: `out_${i}`, datatype: s.datatype, shape: s.shape })),
    nodes: specs.map((_, i) => ({ op: 'Identity', inputs: [`in_${i}`], outputs: [`out_${i}`] })),
    graphName: 'identity',
  });
}
