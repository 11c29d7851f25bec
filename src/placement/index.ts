/**
 * Placement: where a deployment should run on the edge–fog–cloud continuum. Per-node estimates
 * (latency with M/M/c queueing, cost, power, privacy), the Pareto front and the weighted choice
 * with its explanation, and re-placement with hysteresis when nodes or links change — all pure
 * functions (docs/placement.md). The only public surface of src/placement/.
 */
export { TIERS, type Link, type ModelProfile, type Node, type Placement, type PlacementConstraints, type PlacementRequest, type PlacementWeights, type PowerWatts, type Tier } from './types.js';
export { erlangC, estimate, estimateReplicaCounts, MAX_REPLICAS_PER_NODE, maxReplicas, routeBetween, SAME_SITE_ROUTE, type Estimate, type Route } from './estimate.js';
export {
  DEFAULT_MARGIN_SCORE,
  describeCandidate,
  OBJECTIVES,
  optimize,
  paretoFrontIndices,
  replace,
  scoreOf,
  type ExcludedNode,
  type Objective,
  type ObjectiveBounds,
  type ObjectiveValues,
  type PlacementResult,
  type ReplacementDecision,
  type ReplacementOptions,
  type ScoredCandidate,
} from './optimize.js';
export { MAX_PLACEMENT_ITEMS, parseLinks, parseModelProfile, parseNodes, parseWeights } from './schema.js';
