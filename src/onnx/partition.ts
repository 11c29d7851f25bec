/**
 * Splitting a model between the edge and the cloud, as Neurosurgeon does (Kang et al.,
 * "Neurosurgeon: Collaborative Intelligence Between the Cloud and Mobile Edge", ASPLOS 2017: a
 * DNN cut at the best layer for the current link ran 3.1× faster on average than all on the
 * device or all in the cloud). The survey of inference placement (Matta & Zhang 2025,
 * arXiv:2510.22909, ../shared/papers/002) frames the cut as a latency/cost/privacy trade: the raw
 * input stays on the edge, an intermediate tensor crosses the link.
 *
 * Graph surgery (pure, on onnx-proto): the nodes in topological order are cut after the k-th;
 * the tensors produced before the cut and used after it cross it. The head takes the graph's
 * inputs and gives the crossing tensors as outputs; the tail takes them as inputs and gives the
 * graph's outputs; each initializer goes with the nodes that use it (to both halves if both do).
 * Only cuts whose crossing tensors are few, and none a graph input or output, are offered.
 * `chooseCut` picks the cut of least edge compute + transfer + cloud compute.
 */
import onnxProto from 'onnx-proto';
import { ContinuumError } from '../errors.js';

const { onnx } = onnxProto;
type ModelProto = onnxProto.onnx.IModelProto;
type GraphProto = onnxProto.onnx.IGraphProto;
type NodeProto = onnxProto.onnx.INodeProto;

/** Most tensors a cut may send across the link. @default 1 (Neurosurgeon's layer boundaries in a chain) */
export const DEFAULT_MAX_CUT_TENSORS = 1;

/** A tensor's element type (onnx.proto `TensorProto.DataType`) and shape (a name for a dynamic dimension). */
export interface TensorType {
  readonly elemType: number;
  readonly shape: readonly (number | string)[];
}

/** A place to cut a model: after its first `after` nodes in topological order. */
export interface Cut {
  /** Nodes in the head (1 to nodes − 1). */
  readonly after: number;
  /** The tensors that cross from head to tail. */
  readonly tensors: readonly string[];
  /** The last node of the head, `op name`, for people. */
  readonly lastHeadNode: string;
}

/** A model split in two: run `head` on the graph's inputs, then `tail` on its outputs. */
export interface SplitModel {
  readonly head: Uint8Array;
  readonly tail: Uint8Array;
  readonly cut: Cut;
}

function invalidCut(message: string): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_INVALID_CUT', message);
}

/** Decodes ONNX bytes, refusing what cannot be cut: not a model, no graph, or control flow (subgraphs read outer tensors a cut cannot see). */
export function decodeForCut(bytes: Uint8Array): ModelProto & { readonly graph: GraphProto } {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new ContinuumError('CONTINUUM_ERR_INVALID_MODEL', 'invalid model: the bytes are not an ONNX model', { cause: err });
  }
  const graph = model.graph;
  if (graph === null || graph === undefined || (graph.node ?? []).length === 0) throw invalidCut('the model has no graph nodes to cut');
  const sub = (graph.node ?? []).find((n) => (n.attribute ?? []).some((a) => (a.g !== null && a.g !== undefined) || (a.graphs ?? []).length > 0));
  if (sub !== undefined) throw invalidCut(`node ${sub.name ?? sub.opType ?? '?'} holds a subgraph (If/Loop/Scan); models with control flow cannot be cut`);
  return { ...model, graph };
}

/** The graph's nodes in topological order (Kahn's algorithm, keeping file order among ready nodes). */
export function topologicalNodes(graph: GraphProto): NodeProto[] {
  const nodes = graph.node ?? [];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((t) => t !== '' && producer.set(t, i)));
  const waitingOn = nodes.map((n) => new Set((n.input ?? []).filter((t) => t !== '' && producer.has(t)).map((t) => producer.get(t) as number)));
  const users = nodes.map(() => [] as number[]);
  waitingOn.forEach((deps, i) => deps.forEach((d) => users[d]?.push(i)));
  const ready = nodes.map((_, i) => i).filter((i) => waitingOn[i]?.size === 0);
  const order: NodeProto[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => a - b);
    const i = ready.shift() as number;
    order.push(nodes[i] as NodeProto);
    for (const u of users[i] ?? []) {
      const deps = waitingOn[u] as Set<number>;
      deps.delete(i);
      if (deps.size === 0) ready.push(u);
    }
  }
  if (order.length !== nodes.length) throw invalidCut('the graph has a cycle');
  return order;
}

/** Names of the graph's initializers (weights), which never cross a cut. */
function initializerNames(graph: GraphProto): Set<string> {
  return new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
}

/**
 * Every tensor's span in the topological order: produced at `from` (−1 for a graph input), last
 * used at `to` (the node count for a graph output). A cut after k nodes crosses tensor t exactly
 * when from(t) < k <= to(t).
 */
function tensorSpans(graph: GraphProto, order: readonly NodeProto[]): Map<string, { from: number; to: number }> {
  const weights = initializerNames(graph);
  const spans = new Map<string, { from: number; to: number }>();
  for (const input of graph.input ?? []) if (!weights.has(input.name ?? '')) spans.set(input.name ?? '', { from: -1, to: -1 });
  order.forEach((n, i) => {
    for (const t of n.input ?? []) {
      const span = spans.get(t);
      if (span !== undefined) span.to = i;
    }
    for (const t of n.output ?? []) if (t !== '') spans.set(t, { from: i, to: i });
  });
  for (const output of graph.output ?? []) {
    const span = spans.get(output.name ?? '');
    if (span !== undefined) span.to = order.length;
  }
  return spans;
}

/** The cuts a model offers: at most `maxTensors` crossing tensors, none of them a graph input or output. */
export function cutCandidates(bytes: Uint8Array, maxTensors = DEFAULT_MAX_CUT_TENSORS): Cut[] {
  const { graph } = decodeForCut(bytes);
  const order = topologicalNodes(graph);
  const spans = tensorSpans(graph, order);
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const cuts: Cut[] = [];
  for (let k = 1; k < order.length; k++) {
    const crossing = [...spans].filter(([, s]) => s.from < k && k <= s.to);
    if (crossing.length === 0 || crossing.length > maxTensors) continue;
    if (crossing.some(([name, s]) => s.from === -1 || outputs.has(name))) continue;
    const last = order[k - 1] as NodeProto;
    cuts.push({ after: k, tensors: crossing.map(([name]) => name), lastHeadNode: `${last.opType ?? '?'} ${last.name ?? ''}`.trim() });
  }
  return cuts;
}

/** Finds the offered cut whose crossing tensors are exactly `tensors` (the earliest when several are). */
export function cutAt(bytes: Uint8Array, tensors: readonly string[]): Cut {
  const want = [...tensors].sort().join('\n');
  const cut = cutCandidates(bytes, Math.max(tensors.length, 1)).find((c) => [...c.tensors].sort().join('\n') === want);
  if (cut === undefined) throw invalidCut(`no cut of the graph is crossed by exactly ${tensors.join(', ')}; see \`continuum partition\` for the cuts the model offers`);
  return cut;
}

/** Splits a model at a cut; `types` gives each crossing tensor's type (read from ONNX Runtime by `tensorTypes`). */
export function splitModel(bytes: Uint8Array, cut: Cut, types: ReadonlyMap<string, TensorType>): SplitModel {
  const model = decodeForCut(bytes);
  const { graph } = model;
  const order = topologicalNodes(graph);
  if (cut.after < 1 || cut.after >= order.length) throw invalidCut(`a cut must leave at least one node on each side; the model has ${order.length} nodes`);
  const crosses = [...tensorSpans(graph, order)].filter(([, span]) => span.from < cut.after && cut.after <= span.to).map(([name]) => name);
  if ([...crosses].sort().join('\n') !== [...cut.tensors].sort().join('\n')) throw invalidCut(`after node ${cut.after} the tensors ${crosses.join(', ')} cross, not ${cut.tensors.join(', ')}`);
  const crossing = cut.tensors.map((name) => {
    const type = types.get(name);
    if (type === undefined) throw invalidCut(`the type of tensor ${name} is unknown`);
    return valueInfo(name, type);
  });
  const headNodes = order.slice(0, cut.after);
  const tailNodes = order.slice(cut.after);
  const weights = initializerNames(graph);
  // Inputs that name weights (models of IR version < 4 list them) go with the nodes that use them.
  const half = (nodes: NodeProto[], dataInputs: GraphProto['input'], output: GraphProto['output'], name: string): Uint8Array => {
    const used = new Set(nodes.flatMap((n) => [...(n.input ?? []), ...(n.output ?? [])]));
    const sub: GraphProto = {
      name,
      node: nodes,
      input: [...(dataInputs ?? []), ...(graph.input ?? []).filter((i) => weights.has(i.name ?? '') && used.has(i.name ?? ''))],
      output,
      initializer: (graph.initializer ?? []).filter((t) => used.has(t.name ?? '')),
      sparseInitializer: (graph.sparseInitializer ?? []).filter((t) => used.has(t.values?.name ?? '')),
      valueInfo: (graph.valueInfo ?? []).filter((v) => used.has(v.name ?? '')),
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create({ ...model, graph: sub })).finish();
  };
  const dataInputs = (graph.input ?? []).filter((i) => !weights.has(i.name ?? ''));
  return {
    head: half(headNodes, dataInputs, crossing, `${graph.name ?? 'graph'}_head`),
    tail: half(tailNodes, crossing, graph.output, `${graph.name ?? 'graph'}_tail`),
    cut,
  };
}

function valueInfo(name: string, type: TensorType): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: type.elemType, shape: { dim: type.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

/** What one cut costs at the profiling machine's speed (speed score 1), ms, with a label for people. */
export interface CutTiming {
  readonly label: string;
  /** `all-edge` runs the whole model on the edge and sends nothing; `all-cloud` sends the raw input. */
  readonly kind: 'all-edge' | 'split' | 'all-cloud';
  /** Compute of the part on the edge (0 for all-cloud). */
  readonly headMs: number;
  /** Compute of the part in the cloud (0 for all-edge). */
  readonly tailMs: number;
}

/** The link between the edge and the cloud. */
export interface CutLink {
  readonly bandwidthBytesPerS: number;
  readonly rttMs: number;
}

/** One cut's estimated end-to-end latency and its parts, ms. */
export interface CutEstimate {
  readonly label: string;
  readonly edgeMs: number;
  readonly transferMs: number;
  readonly cloudMs: number;
  readonly totalMs: number;
}

/** The estimates of every cut and the index of the one chosen. */
export interface CutChoice {
  readonly chosen: number;
  readonly estimates: readonly CutEstimate[];
}

/**
 * Chooses where to cut: for each cut, edge compute (head time / edge speed) + transfer of the
 * crossing bytes (bytes / bandwidth + rtt/2, one way) + cloud compute (tail time / cloud speed);
 * a cut with no tail (all-edge) sends nothing. `resultBytes`, when given, is sent back to the edge
 * too for every cut with a tail (bytes / bandwidth + rtt/2), for predictions used at the asset.
 * Ties go to the earlier cut. Neurosurgeon's latency model (Kang et al. 2017, §5).
 */
export function chooseCut(profiles: readonly CutTiming[], tensorBytes: readonly number[], link: CutLink, edgeSpeed: number, cloudSpeed: number, resultBytes?: number): CutChoice {
  if (profiles.length === 0 || profiles.length !== tensorBytes.length) throw invalidCut(`chooseCut needs one crossing size per cut: ${profiles.length} cuts, ${tensorBytes.length} sizes`);
  const oneWayMs = (bytes: number): number => (bytes / link.bandwidthBytesPerS) * 1000 + link.rttMs / 2;
  const estimates = profiles.map((p, i): CutEstimate => {
    const edgeMs = p.headMs / edgeSpeed;
    const cloudMs = p.tailMs / cloudSpeed;
    const crosses = p.kind !== 'all-edge';
    const transferMs = crosses ? oneWayMs(tensorBytes[i] as number) + (resultBytes === undefined ? 0 : oneWayMs(resultBytes)) : 0;
    return { label: p.label, edgeMs, transferMs, cloudMs, totalMs: edgeMs + transferMs + cloudMs };
  });
  const chosen = estimates.reduce((best, e, i) => (e.totalMs < (estimates[best] as CutEstimate).totalMs ? i : best), 0);
  return { chosen, estimates };
}
