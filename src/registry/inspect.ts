/**
 * Reads what a pushed ONNX file declares and refuses what Continuum will not serve, before it
 * enters the registry: bytes that are not an ONNX model, operators outside the standard domains,
 * tensors whose data lives in external files, absurd declared sizes, and signatures that the
 * Open Inference Protocol cannot carry. References: ONNX IR spec (onnx/docs/IR.md: "Models",
 * "Graphs", "Tensor Definition", "External Data"), onnx.proto (ModelProto, TensorProto).
 */
import onnxProto from 'onnx-proto';
import { ContinuumError } from '../errors.js';
import type { Datatype, Signature, TensorSpec } from '../oip/types.js';
import { ONNX_ELEM_TYPE_OF } from '../onnx/build.js';
import { modelTooLarge } from './names.js';

const { onnx } = onnxProto;
type GraphProto = onnxProto.onnx.IGraphProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type SparseTensorProto = onnxProto.onnx.ISparseTensorProto;
type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

/** Operator set domains Continuum serves: the ONNX default domain (spelled "" or "ai.onnx") and ONNX-ML. */
export const ALLOWED_OPSET_DOMAINS: ReadonlySet<string> = new Set(['', 'ai.onnx', 'ai.onnx.ml']);

/** Limits applied while inspecting a model file. */
export interface InspectLimits {
  /** Largest file decoded at all; checked before decoding so a hostile file cannot exhaust memory. */
  readonly maxModelBytes: number;
  /** Largest size any tensor may declare (dims product × element size): initializers, constants, value_info. */
  readonly maxTensorBytes: number;
  /** Deepest nesting of subgraphs (If/Loop/Scan bodies) walked. @default 32 */
  readonly maxGraphDepth?: number;
}

/** What the registry keeps from an ONNX model it accepted. */
export interface OnnxInspection {
  readonly irVersion: number;
  readonly opsets: readonly { readonly domain: string; readonly version: number }[];
  readonly signature: Signature;
}

/** ONNX element type number → OIP datatype: {@link ONNX_ELEM_TYPE_OF} inverted. */
const DATATYPE_OF_ELEM_TYPE: ReadonlyMap<number, Datatype> = new Map(
  Object.entries(ONNX_ELEM_TYPE_OF).map(([datatype, elemType]) => [elemType, datatype as Datatype]),
);

const ElemType = onnx.TensorProto.DataType;

/** Bytes per element of each ONNX element type (onnx.proto "DataType"); STRING counted as 1 per element. */
const ELEM_TYPE_BYTES: ReadonlyMap<number, number> = new Map([
  [ElemType.FLOAT, 4], [ElemType.UINT8, 1], [ElemType.INT8, 1], [ElemType.UINT16, 2], [ElemType.INT16, 2],
  [ElemType.INT32, 4], [ElemType.INT64, 8], [ElemType.STRING, 1], [ElemType.BOOL, 1], [ElemType.FLOAT16, 2],
  [ElemType.DOUBLE, 8], [ElemType.UINT32, 4], [ElemType.UINT64, 8], [ElemType.COMPLEX64, 8], [ElemType.COMPLEX128, 16],
  [ElemType.BFLOAT16, 2],
]);

const DEFAULT_MAX_GRAPH_DEPTH = 32;

function invalid(message: string, details: Record<string, unknown> = {}): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_INVALID_MODEL', `invalid model: ${message}`, { details });
}

/** protobufjs decodes int64 fields as Long objects when the `long` package is present. */
function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/**
 * Inspects ONNX bytes: returns the IR version, opsets and the serving signature, or throws
 * CONTINUUM_ERR_INVALID_MODEL (CONTINUUM_ERR_MODEL_TOO_LARGE for an oversized file) saying what
 * is wrong.
 */
export function inspectOnnx(bytes: Uint8Array, limits: InspectLimits): OnnxInspection {
  if (bytes.byteLength === 0) throw invalid('the file is empty');
  if (bytes.byteLength > limits.maxModelBytes) throw modelTooLarge(limits.maxModelBytes);
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    // protobufjs throws on malformed wire data, and RangeError on absurd nesting.
    throw invalid(`the file does not decode as an ONNX ModelProto (${err instanceof Error ? err.message : String(err)})`);
  }
  const irVersion = toNumber(model.irVersion);
  if (irVersion <= 0) throw invalid('the file has no ir_version, so it is not an ONNX model (ONNX IR spec, "Models")');
  const graph = model.graph;
  if (graph === null || graph === undefined) throw invalid('the file has no graph, so it is not an ONNX model');
  if (model.opsetImport.length === 0) throw invalid('the model imports no operator set (opset_import is empty)');
  const opsets = model.opsetImport.map((o) => ({ domain: o.domain ?? '', version: toNumber(o.version) }));
  for (const opset of opsets) checkDomain(opset.domain, 'opset_import');

  const walker = new GraphWalker(limits);
  walker.walkGraph(graph, 0);
  for (const info of model.trainingInfo) {
    if (info.initialization) walker.walkGraph(info.initialization, 0);
    if (info.algorithm) walker.walkGraph(info.algorithm, 0);
  }
  for (const fn of model.functions) {
    checkDomain(fn.domain ?? '', `function '${fn.name ?? ''}'`);
    for (const opset of fn.opsetImport ?? []) checkDomain(opset.domain ?? '', `opset_import of function '${fn.name ?? ''}'`);
    for (const node of fn.node ?? []) walker.walkNode(node, 0);
  }
  return { irVersion, opsets, signature: readSignature(graph) };
}

function checkDomain(domain: string, where: string): void {
  if (!ALLOWED_OPSET_DOMAINS.has(domain)) {
    throw invalid(
      `${where} uses operator domain '${domain}'; Continuum serves only the standard ONNX domains ('', 'ai.onnx', 'ai.onnx.ml') because custom operators need native code it will not load`,
      { domain },
    );
  }
}

/** Walks graphs, nodes and tensors, checking domains, external data and declared sizes. */
class GraphWalker {
  private readonly maxDepth: number;

  constructor(private readonly limits: InspectLimits) {
    this.maxDepth = limits.maxGraphDepth ?? DEFAULT_MAX_GRAPH_DEPTH;
  }

  walkGraph(graph: GraphProto, depth: number): void {
    if (depth > this.maxDepth) throw invalid(`subgraphs are nested more than ${this.maxDepth} levels deep`);
    for (const tensor of graph.initializer ?? []) this.checkTensor(tensor);
    for (const sparse of graph.sparseInitializer ?? []) this.checkSparseTensor(sparse);
    for (const info of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) this.checkValueInfo(info);
    for (const node of graph.node ?? []) this.walkNode(node, depth);
  }

  walkNode(node: NodeProto, depth: number): void {
    checkDomain(node.domain ?? '', `node '${node.name ?? ''}' (${node.opType ?? '?'})`);
    for (const attr of node.attribute ?? []) {
      if (attr.t) this.checkTensor(attr.t);
      for (const t of attr.tensors ?? []) this.checkTensor(t);
      for (const sparse of [...(attr.sparseTensor ? [attr.sparseTensor] : []), ...(attr.sparseTensors ?? [])]) this.checkSparseTensor(sparse);
      if (attr.g) this.walkGraph(attr.g, depth + 1);
      for (const g of attr.graphs ?? []) this.walkGraph(g, depth + 1);
    }
  }

  private checkTensor(tensor: TensorProto): void {
    const name = tensor.name ?? '';
    const external = tensor.externalData ?? [];
    if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || external.length > 0) {
      const location = external.find((e) => e.key === 'location')?.value ?? '';
      if (escapesModelFolder(location)) {
        throw invalid(
          `tensor '${name}' points its external data outside the model's folder (location ${JSON.stringify(location)}); this model is refused as hostile`,
          { tensor: name, location },
        );
      }
      throw invalid(
        `tensor '${name}' keeps its data in an external file (${JSON.stringify(location)}); push a self-contained model (save it with save_as_external_data=False)`,
        { tensor: name, location },
      );
    }
    this.checkDeclaredSize(`tensor '${name}'`, (tensor.dims ?? []).map(toNumber), tensor.dataType ?? 0);
  }

  /** A sparse tensor's own dims are its dense shape, which ONNX Runtime materialises at load. */
  private checkSparseTensor(sparse: SparseTensorProto): void {
    if (sparse.values) this.checkTensor(sparse.values);
    if (sparse.indices) this.checkTensor(sparse.indices);
    this.checkDeclaredSize(`sparse tensor '${sparse.values?.name ?? ''}'`, (sparse.dims ?? []).map(toNumber), sparse.values?.dataType ?? 0);
  }

  private checkValueInfo(info: ValueInfoProto): void {
    const tensorType = info.type?.tensorType;
    if (!tensorType?.shape) return;
    const dims = (tensorType.shape.dim ?? []).map((d) => (d.dimValue === null || d.dimValue === undefined ? 1 : toNumber(d.dimValue)));
    this.checkDeclaredSize(`value '${info.name ?? ''}'`, dims, tensorType.elemType ?? 0);
  }

  private checkDeclaredSize(what: string, dims: readonly number[], elemType: number): void {
    let bytes = ELEM_TYPE_BYTES.get(elemType) ?? 1;
    for (const dim of dims) {
      if (!Number.isSafeInteger(dim) || dim < 0) throw invalid(`${what} declares an invalid dimension ${dim}`, { dims });
      bytes *= dim;
    }
    if (bytes > this.limits.maxTensorBytes) {
      throw invalid(`${what} declares ${bytes} bytes (dims [${dims.join(', ')}]), more than the limit of ${this.limits.maxTensorBytes} bytes`, {
        dims,
        limitBytes: this.limits.maxTensorBytes,
      });
    }
  }
}

/**
 * True when an external-data `location` is absolute or climbs out of the model's folder
 * (ONNX IR spec, "External Tensor Data": the location is relative to the model file).
 */
export function escapesModelFolder(location: string): boolean {
  if (location.startsWith('/') || location.startsWith('\\') || /^[A-Za-z]:/.test(location)) return true;
  return location.split(/[/\\]/).includes('..');
}

/** The serving signature: graph inputs that are not initializers (IR spec, "Graphs"), and outputs. */
function readSignature(graph: GraphProto): Signature {
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const inputs = (graph.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map((v) => tensorSpec(v, 'input'));
  const outputs = (graph.output ?? []).map((v) => tensorSpec(v, 'output'));
  if (inputs.length === 0) throw invalid('the graph has no inputs (every graph input is an initializer)');
  if (outputs.length === 0) throw invalid('the graph has no outputs');
  return { inputs, outputs };
}

function tensorSpec(info: ValueInfoProto, role: 'input' | 'output'): TensorSpec {
  const name = info.name ?? '';
  const type = info.type;
  const tensorType = type?.tensorType;
  if (!tensorType) {
    const kind = type?.sequenceType ? 'a sequence' : type?.mapType ? 'a map' : type?.sparseTensorType ? 'a sparse tensor' : type?.optionalType ? 'an optional' : 'of unknown type';
    throw invalid(
      `${role} '${name}' is ${kind}; the Open Inference Protocol carries dense tensors only (for scikit-learn classifiers convert with zipmap=False)`,
      { [role]: name },
    );
  }
  const elemType = tensorType.elemType ?? 0;
  const datatype = DATATYPE_OF_ELEM_TYPE.get(elemType);
  if (datatype === undefined) {
    // protobufjs enums map numbers back to names (COMPLEX64, BFLOAT16, UNDEFINED...).
    const typeName = (ElemType as unknown as Record<number, string | undefined>)[elemType] ?? `element type ${elemType}`;
    throw invalid(`${role} '${name}' has datatype ${typeName}, which has no Open Inference Protocol v2 equivalent`, { [role]: name, elemType });
  }
  // An unknown rank is reported as [-1], the convention Triton uses for a variable shape.
  const shape = tensorType.shape
    ? (tensorType.shape.dim ?? []).map((d) => (d.dimValue === null || d.dimValue === undefined ? -1 : toNumber(d.dimValue)))
    : [-1];
  return { name, datatype, shape };
}
