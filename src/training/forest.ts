/**
 * A random forest classifier (Breiman 2001, "Random Forests"): CART trees grown on bootstrap
 * samples by Gini impurity, each split chosen among a random subset of √features features, the
 * forest's probability the mean of its leaves' class frequencies. Exported with the ai.onnx.ml
 * `TreeEnsembleClassifier` op (its `Z` scores are those means), then ArgMax for the label.
 * Bootstraps and feature subsets come from one `seededRandom` stream, so training is deterministic.
 */
import { buildModel, seededRandom } from '../onnx/build.js';
import { argmax, scorePrediction, shuffledIndices, trainingSet, type ClassifierMetrics, type Prediction, type TrainedClassifier, type TrainingSet } from './dataset.js';

/** Options of {@link trainRandomForest}. */
export interface RandomForestOptions {
  /** @default 50 */
  readonly trees?: number;
  /** Deepest split level; a node at this depth becomes a leaf. @default 8 */
  readonly maxDepth?: number;
  /** Rows a node needs before it is split. @default 2 */
  readonly minSamplesSplit?: number;
  /** Features tried at each split. @default ⌈√features⌉ (Breiman's choice for classification) */
  readonly featuresPerSplit?: number;
  /** Seed of the bootstraps and feature subsets. @default 42 */
  readonly seed?: number;
  /** Number of classes; the largest label + 1 when absent. */
  readonly classes?: number;
}

/** Metrics of a random forest. */
export interface RandomForestMetrics extends ClassifierMetrics {
  readonly trees: number;
  /** Nodes (splits and leaves) over all trees. */
  readonly nodes: number;
}

/** A tree node: a split `x[feature] <= threshold` (true branch first), or a leaf's class frequencies. */
type TreeNode =
  | { readonly kind: 'split'; readonly feature: number; readonly threshold: number; readonly yes: TreeNode; readonly no: TreeNode }
  | { readonly kind: 'leaf'; readonly frequencies: readonly number[] };

interface GrowContext {
  readonly set: TrainingSet;
  readonly rand: () => number;
  readonly maxDepth: number;
  readonly minSamplesSplit: number;
  readonly featuresPerSplit: number;
}

function counts(set: TrainingSet, rows: readonly number[]): number[] {
  const c = new Array<number>(set.classes).fill(0);
  for (const i of rows) c[set.y[i] as number] = (c[set.y[i] as number] as number) + 1;
  return c;
}

/** Gini impurity × rows: n − Σ c²/n, so the children's sum compares directly with the parent's. */
function weightedGini(c: readonly number[], n: number): number {
  return n === 0 ? 0 : n - c.reduce((s, v) => s + v * v, 0) / n;
}

/** The best split of `rows` over a random subset of features, or undefined when none lowers the impurity. */
function bestSplit(ctx: GrowContext, rows: readonly number[], parent: readonly number[]): { feature: number; threshold: number } | undefined {
  const { set } = ctx;
  let best: { feature: number; threshold: number; score: number } | undefined;
  const parentScore = weightedGini(parent, rows.length);
  for (const feature of shuffledIndices(set.features, ctx.rand).slice(0, ctx.featuresPerSplit)) {
    const sorted = [...rows].sort((a, b) => (set.x[a]?.[feature] as number) - (set.x[b]?.[feature] as number));
    const left = new Array<number>(set.classes).fill(0);
    const right = [...parent];
    for (let i = 0; i + 1 < sorted.length; i++) {
      const label = set.y[sorted[i] as number] as number;
      left[label] = (left[label] as number) + 1;
      right[label] = (right[label] as number) - 1;
      const here = set.x[sorted[i] as number]?.[feature] as number;
      const next = set.x[sorted[i + 1] as number]?.[feature] as number;
      // Thresholds are stored as float32 in the graph, so the split must separate the float32 values too.
      const threshold = Math.fround((here + next) / 2);
      if (!(Math.fround(here) <= threshold && Math.fround(next) > threshold)) continue;
      const score = weightedGini(left, i + 1) + weightedGini(right, sorted.length - i - 1);
      if (score < parentScore - 1e-12 && (best === undefined || score < best.score)) best = { feature, threshold, score };
    }
  }
  return best;
}

function grow(ctx: GrowContext, rows: readonly number[], depth: number): TreeNode {
  const c = counts(ctx.set, rows);
  const leaf: TreeNode = { kind: 'leaf', frequencies: c.map((v) => v / rows.length) };
  if (depth >= ctx.maxDepth || rows.length < ctx.minSamplesSplit || c.filter((v) => v > 0).length < 2) return leaf;
  const split = bestSplit(ctx, rows, c);
  if (split === undefined) return leaf;
  const goesYes = (i: number): boolean => Math.fround(ctx.set.x[i]?.[split.feature] as number) <= split.threshold;
  return {
    kind: 'split',
    ...split,
    yes: grow(ctx, rows.filter(goesYes), depth + 1),
    no: grow(ctx, rows.filter((i) => !goesYes(i)), depth + 1),
  };
}

function leafOf(node: TreeNode, row: readonly number[]): readonly number[] {
  let at = node;
  while (at.kind === 'split') at = Math.fround(row[at.feature] as number) <= at.threshold ? at.yes : at.no;
  return at.frequencies;
}

/** The forest's probabilities, the mean of the trees' leaf frequencies (what the graph's Z holds). */
function predictForest(trees: readonly TreeNode[], classes: number, features: readonly (readonly number[])[]): Prediction {
  const probabilities = features.map((row) => {
    const sum = new Array<number>(classes).fill(0);
    for (const tree of trees) leafOf(tree, row).forEach((p, k) => (sum[k] = (sum[k] as number) + p));
    return sum.map((v) => v / trees.length);
  });
  return { labels: probabilities.map(argmax), probabilities };
}

/**
 * The ai.onnx.ml TreeEnsembleClassifier attributes for the forest: nodes numbered in pre-order per
 * tree; every leaf carries a weight per class, its frequency / trees, so the summed Z is the mean.
 */
function treeEnsembleAttributes(trees: readonly TreeNode[], classes: number) {
  const nodes = { treeIds: [] as number[], nodeIds: [] as number[], featureIds: [] as number[], values: [] as number[], modes: [] as string[], trueIds: [] as number[], falseIds: [] as number[] };
  const leaves = { treeIds: [] as number[], nodeIds: [] as number[], classIds: [] as number[], weights: [] as number[] };
  trees.forEach((tree, treeId) => {
    let nextId = 0;
    const visit = (node: TreeNode): number => {
      const id = nextId++;
      const at = nodes.nodeIds.length;
      nodes.treeIds.push(treeId);
      nodes.nodeIds.push(id);
      nodes.featureIds.push(node.kind === 'split' ? node.feature : 0);
      nodes.values.push(node.kind === 'split' ? node.threshold : 0);
      nodes.modes.push(node.kind === 'split' ? 'BRANCH_LEQ' : 'LEAF');
      nodes.trueIds.push(0);
      nodes.falseIds.push(0);
      if (node.kind === 'split') {
        nodes.trueIds[at] = visit(node.yes);
        nodes.falseIds[at] = visit(node.no);
      } else {
        node.frequencies.forEach((p, k) => {
          leaves.treeIds.push(treeId);
          leaves.nodeIds.push(id);
          leaves.classIds.push(k);
          leaves.weights.push(p / trees.length);
        });
      }
      return id;
    };
    visit(tree);
  });
  return {
    attributes: {
      classlabels_int64s: Array.from({ length: classes }, (_, k) => k),
      nodes_treeids: nodes.treeIds,
      nodes_nodeids: nodes.nodeIds,
      nodes_featureids: nodes.featureIds,
      nodes_values: { floats: nodes.values },
      nodes_modes: { strings: nodes.modes },
      nodes_truenodeids: nodes.trueIds,
      nodes_falsenodeids: nodes.falseIds,
      class_treeids: leaves.treeIds,
      class_nodeids: leaves.nodeIds,
      class_ids: leaves.classIds,
      class_weights: { floats: leaves.weights },
      post_transform: 'NONE',
    },
    nodeCount: nodes.nodeIds.length,
  };
}

/** Trains a random forest on rows of features and integer labels 0..classes-1. */
export function trainRandomForest(
  features: readonly (readonly number[])[],
  labels: readonly number[],
  opts: RandomForestOptions = {},
): TrainedClassifier<RandomForestMetrics> {
  const set = trainingSet(features, labels, opts.classes);
  const treeCount = opts.trees ?? 50;
  if (!Number.isInteger(treeCount) || treeCount < 1) throw new Error(`trainRandomForest: trees ${treeCount} is not a positive integer; pass e.g. 50`);
  const rand = seededRandom(opts.seed ?? 42);
  const ctx: GrowContext = {
    set,
    rand,
    maxDepth: opts.maxDepth ?? 8,
    minSamplesSplit: opts.minSamplesSplit ?? 2,
    featuresPerSplit: Math.min(set.features, Math.max(1, opts.featuresPerSplit ?? Math.ceil(Math.sqrt(set.features)))),
  };
  const n = set.x.length;
  const trees = Array.from({ length: treeCount }, () => {
    const bootstrap = Array.from({ length: n }, () => Math.floor(rand() * n));
    return grow(ctx, bootstrap, 0);
  });
  const { attributes, nodeCount } = treeEnsembleAttributes(trees, set.classes);
  const model = buildModel({
    inputs: [{ name: 'input', datatype: 'FP32', shape: ['batch', set.features] }],
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: ['batch', set.classes] },
      { name: 'label', datatype: 'INT64', shape: ['batch'] },
    ],
    nodes: [
      { op: 'TreeEnsembleClassifier', domain: 'ai.onnx.ml', inputs: ['input'], outputs: ['ensemble_label', 'probabilities'], attributes },
      // ArgMax over the scores, as predict() does, rather than the op's own label, so ties break alike.
      { op: 'ArgMax', inputs: ['probabilities'], outputs: ['label'], attributes: { axis: 1, keepdims: 0 } },
    ],
    extraOpsets: [{ domain: 'ai.onnx.ml', version: 3 }],
    graphName: 'random_forest',
  });
  const predict = (x: readonly (readonly number[])[]) => predictForest(trees, set.classes, x);
  const score = scorePrediction(predict(set.x), set.y);
  return {
    model,
    metrics: { trainAccuracy: score.accuracy, trainLoss: score.loss, features: set.features, classes: set.classes, trees: treeCount, nodes: nodeCount },
    predict,
  };
}
