/**
 * Bad (and harmless) new versions of one model, built in code, for the tests and benchmarks of
 * progressive delivery: each shares the baseline's signature (`input` FP32 [batch, inputSize] →
 * `output` FP32 [batch, outputSize]) and differs from it in one way a rollout must notice — or
 * must not mind. Each bad version hides its fault behind a term that is zero on the values it
 * serves, so ONNX Runtime still has to compute it (its optimizer folds constants, never data).
 */
import { buildMlp, buildModel, mlpSpec, OnnxElemType, seededRandom, type InitializerSpec, type MlpOptions, type ModelSpec, type NodeSpec } from './build.js';

/** Rows whose first input feature exceeds this make the `faulty` version fail. */
export const FLAGGED_INPUT_THRESHOLD = 1000;

/** Options of {@link buildCandidateFamily}: the baseline MLP's shape and weights, as {@link mlpSpec} takes them. */
export interface CandidateFamilyOptions {
  readonly inputSize: number;
  readonly hiddenSizes: readonly number[];
  readonly outputSize: number;
  readonly seed: number;
  /** About how many times the baseline's run time the `slow` version takes (an integer). @default 3 */
  readonly slowdown?: number;
}

/** ONNX bytes of a baseline and its candidate versions, all with the baseline's signature. */
export interface CandidateFamily {
  /** The baseline: the MLP {@link buildMlp} builds from the options. */
  readonly good: Uint8Array;
  /** Same weights in a renamed graph: other bytes (another artifact), the same outputs. */
  readonly goodRetrained: Uint8Array;
  /** Same outputs, about `slowdown` times the run time at any batch size. */
  readonly slow: Uint8Array;
  /** Same outputs, except that a batch holding a flagged row fails inside ONNX Runtime. */
  readonly faulty: Uint8Array;
  /** Other weights: outputs far beyond any agreement tolerance. */
  readonly disagreeing: Uint8Array;
}

/** The baseline's output inside the graphs that add a zero term to it. */
const BASELINE_OUTPUT = 'baseline_output';

/** Width of the batch-independent chain in `slow`; 4 bytes × 256² of weights, shared by its layers. */
const CHAIN_WIDTH = 256;

/** Chain layers per unit of slowdown, measured: on a 2-core x86 host three 256-wide layers cost about what onnxruntime-node spends per run outside the graph (~20 µs). */
const CHAIN_LAYERS_PER_SLOWDOWN = 3;

/** The baseline's options, its seed given. */
type SeededMlp = MlpOptions & { readonly seed: number };

/** Nodes that compute a tensor which is zero on every served value, and the weights they read. */
interface ZeroTerm {
  readonly nodes: readonly NodeSpec[];
  readonly initializers: readonly InitializerSpec[];
  /** Broadcastable to [batch, outputSize]. */
  readonly output: string;
}

/** Builds the baseline's five-member family; the same options give the same bytes. */
export function buildCandidateFamily(opts: CandidateFamilyOptions): CandidateFamily {
  const slowdown = opts.slowdown ?? 3;
  if (!Number.isInteger(slowdown) || slowdown < 2) throw new Error(`buildCandidateFamily: slowdown must be an integer of at least 2, got ${slowdown}`);
  const baseline: SeededMlp = { inputSize: opts.inputSize, hiddenSizes: opts.hiddenSizes, outputSize: opts.outputSize, seed: opts.seed };
  return {
    good: buildMlp(baseline),
    goodRetrained: buildModel({ ...mlpSpec({ ...baseline, namePrefix: 'retrained_' }), graphName: 'mlp_retrained' }),
    slow: buildModel(baselinePlus(baseline, 'mlp_slow', slowTerm(baseline, slowdown))),
    faulty: buildModel(baselinePlus(baseline, 'mlp_faulty', faultTerm())),
    // Any other draw of the weights: a random MLP's softmax differs by far more than 1e-3.
    disagreeing: buildModel(mlpSpec({ ...baseline, seed: opts.seed + 0x9e37 })),
  };
}

/** The baseline MLP with `term` added to its output: `output = baseline(input) + term`. */
function baselinePlus(baseline: SeededMlp, graphName: string, term: ZeroTerm): ModelSpec {
  const spec = mlpSpec({ ...baseline, outputName: BASELINE_OUTPUT });
  return {
    ...spec,
    graphName,
    outputs: [{ name: 'output', datatype: 'FP32', shape: ['batch', baseline.outputSize] }],
    nodes: [...spec.nodes, ...term.nodes, { op: 'Add', inputs: [BASELINE_OUTPUT, term.output], outputs: ['output'] }],
    initializers: [...(spec.initializers ?? []), ...term.initializers],
  };
}

/**
 * The work of `slow`, multiplied by zero. A run's time is what the graph costs per row plus what
 * it costs per run (onnxruntime-node's binding, output allocation), so the term repeats both:
 * `slowdown - 1` copies of the MLP with other weights (the same nodes and multiply-adds per row;
 * other weights, so common-subexpression elimination cannot merge them with the baseline) and a
 * chain over the batch's column means whose cost does not grow with the batch. Softmax and Tanh
 * bound every value, so the product with zero is exactly zero (never 0 × ∞).
 */
function slowTerm(baseline: SeededMlp, slowdown: number): ZeroTerm {
  const copies = Array.from({ length: slowdown - 1 }, (_, i) =>
    mlpSpec({ ...baseline, seed: baseline.seed + 1 + i, namePrefix: `copy${i}_`, outputName: `copy${i}` }),
  );
  const chainLayers = CHAIN_LAYERS_PER_SLOWDOWN * (slowdown - 1);
  const rand = seededRandom(baseline.seed ^ 0x51ed);
  const draw = (length: number, fanIn: number): Float32Array => Float32Array.from({ length }, () => (rand() * 2 - 1) / Math.sqrt(fanIn));
  const chain: NodeSpec[] = [
    { op: 'ReduceMean', inputs: ['input'], outputs: ['chain_in'], attributes: { axes: [0], keepdims: 1 } },
    { op: 'Gemm', inputs: ['chain_in', 'chain_w_in', 'chain_b'], outputs: ['chain_0'] },
  ];
  for (let i = 0; i < chainLayers; i++) {
    chain.push(
      { op: 'Gemm', inputs: [`chain_${i}`, 'chain_w', 'chain_b'], outputs: [`chain_gemm_${i}`] },
      { op: 'Tanh', inputs: [`chain_gemm_${i}`], outputs: [`chain_${i + 1}`] },
    );
  }
  chain.push(
    { op: 'ReduceSum', inputs: [`chain_${chainLayers}`], outputs: ['chain_sum'], attributes: { keepdims: 1 } },
    { op: 'Sum', inputs: [...copies.map((_, i) => `copy${i}`), 'chain_sum'], outputs: ['extra'] },
    { op: 'Mul', inputs: ['extra', 'zero'], outputs: ['extra_zero'] },
  );
  return {
    nodes: [...copies.flatMap((c) => c.nodes), ...chain],
    initializers: [
      ...copies.flatMap((c) => c.initializers ?? []),
      { name: 'chain_w_in', dims: [baseline.inputSize, CHAIN_WIDTH], values: draw(baseline.inputSize * CHAIN_WIDTH, baseline.inputSize) },
      { name: 'chain_w', dims: [CHAIN_WIDTH, CHAIN_WIDTH], values: draw(CHAIN_WIDTH * CHAIN_WIDTH, CHAIN_WIDTH) },
      { name: 'chain_b', dims: [CHAIN_WIDTH], values: new Float32Array(CHAIN_WIDTH) },
      { name: 'zero', dims: [1], values: [0] },
    ],
    output: 'extra_zero',
  };
}

/**
 * The trap of `faulty`: a Gather from a one-element table of zeros at index `input[:, 0] >
 * threshold` (0 or 1). A flagged row asks for index 1, which ONNX Runtime's Gather refuses
 * ("indices element out of data bounds"), failing the run — and so every row batched with it,
 * as a run is all or nothing. Other rows read the zero and get the baseline's output.
 */
function faultTerm(): ZeroTerm {
  return {
    nodes: [
      { op: 'Constant', inputs: [], outputs: ['first_column'], attributes: { value_ints: [0] } },
      { op: 'Gather', inputs: ['input', 'first_column'], outputs: ['first_feature'], attributes: { axis: 1 } },
      { op: 'Greater', inputs: ['first_feature', 'flag_threshold'], outputs: ['flagged'] },
      { op: 'Cast', inputs: ['flagged'], outputs: ['trap_index'], attributes: { to: OnnxElemType.INT64 } },
      { op: 'Gather', inputs: ['trap_table', 'trap_index'], outputs: ['trap'], attributes: { axis: 0 } },
    ],
    initializers: [
      { name: 'flag_threshold', dims: [1], values: [FLAGGED_INPUT_THRESHOLD] },
      { name: 'trap_table', dims: [1], values: [0] },
    ],
    output: 'trap',
  };
}
