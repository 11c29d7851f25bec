/**
 * The placement decision (pure: requests, nodes and links in, a choice out). Every (node, replica
 * count) a node can hold is a candidate; the constraints remove some; the remaining ones are
 * compared on four objectives, all to be minimised: mean latency, cost per hour, power, and
 * privacy (1 when raw data leaves its site, else 0) — the survey's latency, monetary cost and
 * privacy (Matta & Zhang 2025, arXiv:2510.22909) plus the energy paper 003 measured per tier.
 *
 * The answer is the Pareto front (the candidates no other beats on every objective at once) and
 * one choice: the weighted-sum minimum, each objective scaled to 0–1 by min–max over the feasible
 * candidates, ties broken by latency, cost, power, privacy, then name and replica count. That
 * lexicographic order makes the choice always a member of the front. The optimizer is exact:
 * src/placement/reference.ts finds the same choice by brute force.
 */
import { estimate, estimateReplicaCounts, maxReplicas, routeBetween } from './estimate.js';
import type { Estimate, Route } from './estimate.js';
import type { Link, Node, Placement, PlacementConstraints, PlacementRequest, PlacementWeights, Tier } from './types.js';

/** The objectives, in the order of every objective vector. */
export const OBJECTIVES = ['latency', 'cost', 'energy', 'privacy'] as const;

/** One objective's name. */
export type Objective = (typeof OBJECTIVES)[number];

/** An objective's value for each objective. */
export type ObjectiveValues = Readonly<Record<Objective, number>>;

/** A feasible candidate with its scaled objectives and weighted score. */
export interface ScoredCandidate extends Estimate {
  readonly tier: Tier;
  readonly site: string;
  /** Each objective scaled to 0–1 over the feasible candidates. */
  readonly scaled: ObjectiveValues;
  /** Weighted mean of the scaled objectives: 0 is best on everything weighed. */
  readonly score: number;
}

/** A node on which no replica count meets the constraints, and why. */
export interface ExcludedNode {
  readonly node: string;
  readonly reason: string;
}

/** Least and greatest value of each objective over the feasible candidates. */
export interface ObjectiveBounds {
  readonly min: ObjectiveValues;
  readonly max: ObjectiveValues;
}

/** What the optimizer found. */
export interface PlacementResult {
  /** How many (node, replica count) candidates met the constraints. */
  readonly feasibleCount: number;
  /** The Pareto front, best score first. */
  readonly front: readonly ScoredCandidate[];
  /** The weighted choice; undefined when nothing is feasible. */
  readonly choice: ScoredCandidate | undefined;
  readonly excluded: readonly ExcludedNode[];
  /** Bounds the scores were scaled by (undefined when nothing is feasible). */
  readonly bounds: ObjectiveBounds | undefined;
  /** Why the choice is what it is, one sentence a line. */
  readonly explanation: readonly string[];
}

/** The objective vector of an estimate. */
export function objectivesOf(e: Estimate): ObjectiveValues {
  return { latency: e.latencyMs, cost: e.costPerHour, energy: e.watts, privacy: e.dataLeavesSite ? 1 : 0 };
}

/** Which constraint an estimate breaks first. */
type Breach = 'overloaded' | 'data' | 'slo' | 'budget' | 'watts';

/** The first constraint an estimate breaks (cheap: no text), undefined when it meets them all. */
function breach(e: Estimate, constraints: PlacementConstraints): Breach | undefined {
  if (e.utilisation >= 1) return 'overloaded';
  if (constraints.dataStaysOnSite === true && e.dataLeavesSite) return 'data';
  if (constraints.latencySloMs !== undefined && e.p99LatencyMs > constraints.latencySloMs) return 'slo';
  if (constraints.budgetPerHour !== undefined && e.costPerHour > constraints.budgetPerHour) return 'budget';
  if (constraints.maxWatts !== undefined && e.watts > constraints.maxWatts) return 'watts';
  return undefined;
}

/** The first constraint an estimate breaks, in words; undefined when it meets them all. */
export function violation(e: Estimate, constraints: PlacementConstraints, dataSite: string): string | undefined {
  const replicas = replicasText(e.replicas);
  switch (breach(e, constraints)) {
    case undefined:
      return undefined;
    case 'overloaded':
      return `overloaded: ${fixed(e.utilisation * 100, 0)}% utilisation with ${replicas}`;
    case 'data':
      return `raw data would leave site ${dataSite}`;
    case 'slo':
      return `p99 latency ${fixed(e.p99LatencyMs, 1)} ms exceeds the ${constraints.latencySloMs} ms SLO with ${replicas}`;
    case 'budget':
      return `$${fixed(e.costPerHour, 4)}/h exceeds the $${constraints.budgetPerHour}/h budget with ${replicas}`;
    case 'watts':
      return `${fixed(e.watts, 1)} W exceeds the ${constraints.maxWatts} W limit with ${replicas}`;
  }
}

/** The weighted score of objective values under bounds: the weighted mean of each scaled to 0–1. */
export function scoreOf(values: ObjectiveValues, bounds: ObjectiveBounds, weights: PlacementWeights): { readonly scaled: ObjectiveValues; readonly score: number } {
  const scale = (o: Objective): number => {
    const span = bounds.max[o] - bounds.min[o];
    return span > 0 ? (values[o] - bounds.min[o]) / span : 0;
  };
  const scaled: ObjectiveValues = { latency: scale('latency'), cost: scale('cost'), energy: scale('energy'), privacy: scale('privacy') };
  const total = weights.latency + weights.cost + weights.energy + weights.privacy;
  const weighted = weights.latency * scaled.latency + weights.cost * scaled.cost + weights.energy * scaled.energy + weights.privacy * scaled.privacy;
  return { scaled, score: total > 0 ? weighted / total : 0 };
}

/** Orders candidates by score, then latency, cost, power, privacy, name and replica count. */
export function compareCandidates(a: ScoredCandidate, b: ScoredCandidate): number {
  return a.score - b.score || compareObjectives(a, b) || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) || a.replicas - b.replicas;
}

function compareObjectives(a: Estimate, b: Estimate): number {
  return compareValues(objectivesOf(a), objectivesOf(b));
}

function compareValues(a: ObjectiveValues, b: ObjectiveValues): number {
  return a.latency - b.latency || a.cost - b.cost || a.energy - b.energy || a.privacy - b.privacy;
}

/** Places a request: its Pareto front over nodes × replica counts and the weighted choice. */
export function optimize(request: PlacementRequest, nodes: readonly Node[], links: readonly Link[]): PlacementResult {
  const feasible: { readonly node: Node; readonly estimate: Estimate }[] = [];
  const excluded: ExcludedNode[] = [];
  for (const node of nodes) {
    const route = routeBetween(links, request.dataSite, node.site);
    if (route === undefined) {
      excluded.push({ node: node.name, reason: `no link from site ${request.dataSite} to site ${node.site}` });
      continue;
    }
    const before = feasible.length;
    for (const e of estimateReplicaCounts(request, node, route, request.constraints)) if (breach(e, request.constraints) === undefined) feasible.push({ node, estimate: e });
    if (feasible.length === before) excluded.push({ node: node.name, reason: exclusionReason(request, node, route) });
  }
  if (feasible.length === 0) {
    return { feasibleCount: 0, front: [], choice: undefined, excluded, bounds: undefined, explanation: ['no node meets the constraints', ...excluded.map((x) => `${x.node}: ${x.reason}`)] };
  }
  const values = feasible.map((f) => objectivesOf(f.estimate));
  const bounds = boundsOf(values);
  const front = paretoFrontIndices(values)
    .map((i) => scored(feasible[i]?.estimate as Estimate, feasible[i]?.node as Node, values[i] as ObjectiveValues, bounds, request.weights))
    .sort(compareCandidates);
  const choice = front[0] as ScoredCandidate;
  return { feasibleCount: feasible.length, front, choice, excluded, bounds, explanation: explain(request, choice, front, feasible.length, excluded) };
}

function scored(e: Estimate, node: Node, values: ObjectiveValues, bounds: ObjectiveBounds, weights: PlacementWeights): ScoredCandidate {
  return { ...e, tier: node.tier, site: node.site, ...scoreOf(values, bounds, weights) };
}

/** Least and greatest of each objective, in one pass. */
export function boundsOf(values: readonly ObjectiveValues[]): ObjectiveBounds {
  const min = { latency: Infinity, cost: Infinity, energy: Infinity, privacy: Infinity };
  const max = { latency: -Infinity, cost: -Infinity, energy: -Infinity, privacy: -Infinity };
  for (const v of values) {
    for (const o of OBJECTIVES) {
      if (v[o] < min[o]) min[o] = v[o];
      if (v[o] > max[o]) max[o] = v[o];
    }
  }
  return { min, max };
}

/** A point of a privacy group's staircase: mutually non-dominated in (cost, power). */
interface StairPoint {
  readonly latency: number;
  readonly cost: number;
  readonly energy: number;
}

/**
 * The Pareto front of four objectives in O(n·h) (h: the staircase's size), after Kung, Luccio &
 * Preparata's sweep ("On finding the maxima of a set of vectors", J. ACM 22(4), 1975): in order of
 * latency, a candidate is dominated exactly when an earlier one is no worse on cost and power and
 * no worse on privacy. Privacy takes two values, so each keeps its own (cost, power) staircase; a
 * candidate whose data leaves its site is checked against both. Returns the indices of the
 * non-dominated vectors, in sweep order.
 */
export function paretoFrontIndices(values: readonly ObjectiveValues[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => compareValues(values[a] as ObjectiveValues, values[b] as ObjectiveValues));
  const stairs: [StairPoint[], StairPoint[]] = [[], []];
  const front: number[] = [];
  for (const i of order) {
    const p = values[i] as ObjectiveValues;
    const privacy = p.privacy === 1 ? 1 : 0;
    let dominated = false;
    for (let group = 0; group <= privacy && !dominated; group++) {
      dominated = (stairs[group] as StairPoint[]).some((q) => q.cost <= p.cost && q.energy <= p.energy && (q.latency < p.latency || q.cost < p.cost || q.energy < p.energy || group < privacy));
    }
    if (dominated) continue;
    front.push(i);
    const own = stairs[privacy];
    if (own.some((q) => q.cost <= p.cost && q.energy <= p.energy)) continue;
    stairs[privacy] = own.filter((q) => !(p.cost <= q.cost && p.energy <= q.energy));
    stairs[privacy].push(p);
  }
  return front;
}

/** Why no replica count fits on a node: the constraint broken with 1 replica and with the most that fit. */
function exclusionReason(request: PlacementRequest, node: Node, route: Route): string {
  const most = maxReplicas(node, request.model);
  if (most === 0) {
    return `no replica fits: ${Math.floor(node.cores)} core(s), ${mib(node.memoryBytes)} MiB memory for ${mib(request.model.memoryBytes)} MiB per replica`;
  }
  const atFirst = violation(estimate(request, node, route, 1), request.constraints, request.dataSite) as string;
  const atLast = violation(estimate(request, node, route, most), request.constraints, request.dataSite) as string;
  return atFirst === atLast || most === 1 ? atFirst : `${atFirst}; ${atLast}`;
}

function explain(request: PlacementRequest, choice: ScoredCandidate, front: readonly ScoredCandidate[], feasibleCount: number, excluded: readonly ExcludedNode[]): string[] {
  const w = request.weights;
  const lines = [
    describeCandidate(choice, request),
    `chosen for the lowest weighted score ${fixed(choice.score, 3)} (weights latency=${w.latency}, cost=${w.cost}, energy=${w.energy}, privacy=${w.privacy}; each objective scaled to 0-1 over ${feasibleCount} feasible placements; ${front.length} on the Pareto front)`,
  ];
  const best = (o: Objective): ScoredCandidate => front.reduce((a, b) => (objectivesOf(b)[o] < objectivesOf(a)[o] ? b : a));
  const winners = [
    ['lowest latency', best('latency'), (c: ScoredCandidate) => `${fixed(c.latencyMs, 1)} ms`],
    ['lowest cost', best('cost'), (c: ScoredCandidate) => `$${fixed(c.costPerHour, 4)}/h`],
    ['least power', best('energy'), (c: ScoredCandidate) => `${fixed(c.watts, 1)} W`],
  ] as const;
  lines.push(winners.map(([what, c, value]) => `${what}: ${label(c)} (${value(c)})`).join('; '));
  const runnerUp = front.find((c) => c.node !== choice.node);
  if (runnerUp !== undefined) lines.push(`next best on another node: ${label(runnerUp)}, score ${fixed(runnerUp.score, 3)}`);
  for (const x of excluded) lines.push(`excluded ${x.node}: ${x.reason}`);
  return lines;
}

/** One line describing a candidate's estimates. */
export function describeCandidate(c: ScoredCandidate, request: PlacementRequest): string {
  const slo = request.constraints.latencySloMs === undefined ? '' : `, SLO ${request.constraints.latencySloMs} ms`;
  const data = c.dataLeavesSite ? `raw data leaves site ${request.dataSite}` : `raw data stays on site ${request.dataSite}`;
  return `${label(c)} on ${c.tier} site ${c.site}: mean latency ${fixed(c.latencyMs, 1)} ms (p99 ${fixed(c.p99LatencyMs, 1)} ms${slo}; network ${fixed(c.networkMs, 1)}, wait ${fixed(c.waitMs, 2)}, compute ${fixed(c.computeMs, 2)}), $${fixed(c.costPerHour, 4)}/h, ${fixed(c.watts, 1)} W (${fixed(c.joulesPerInference, 3)} J/inference), ${data}`;
}

function label(c: Placement): string {
  return `${c.node} × ${c.replicas}`;
}

function replicasText(n: number): string {
  return n === 1 ? '1 replica' : `${n} replicas`;
}

function fixed(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}

/** Options of {@link replace}. */
export interface ReplacementOptions {
  /** How much lower (in score units, 0–1) a new choice must score to move a feasible deployment. @default 0.05 */
  readonly marginScore?: number;
}

/** What to do with a running deployment after nodes or links changed. */
export interface ReplacementDecision {
  /** `keep` the current placement, `move` to `placement`, or `none` when nothing is feasible. */
  readonly action: 'keep' | 'move' | 'none';
  /** Where the deployment should run (the current placement when kept). */
  readonly placement: Placement | undefined;
  readonly reason: string;
  readonly result: PlacementResult;
}

/** Default hysteresis: a move must gain 5% of the scaled range, so near-ties do not make a deployment flap. */
export const DEFAULT_MARGIN_SCORE = 0.05;

/**
 * Re-places a running deployment when a node is lost or a link degrades: it keeps the current
 * placement unless that became infeasible (node gone, link gone, a constraint broken) or the new
 * choice scores lower by more than the hysteresis margin, since a move restarts replicas.
 */
export function replace(current: Placement, request: PlacementRequest, nodes: readonly Node[], links: readonly Link[], opts: ReplacementOptions = {}): ReplacementDecision {
  const result = optimize(request, nodes, links);
  const margin = opts.marginScore ?? DEFAULT_MARGIN_SCORE;
  const moveOrNone = (why: string): ReplacementDecision =>
    result.choice === undefined
      ? { action: 'none', placement: undefined, reason: `${why}, and no node meets the constraints`, result }
      : { action: 'move', placement: { node: result.choice.node, replicas: result.choice.replicas }, reason: `${why}: moving to ${label(result.choice)}`, result };
  const node = nodes.find((n) => n.name === current.node);
  if (node === undefined) return moveOrNone(`node ${current.node} is lost`);
  const route = routeBetween(links, request.dataSite, node.site);
  if (route === undefined) return moveOrNone(`node ${current.node} is no longer linked to site ${request.dataSite}`);
  if (current.replicas > maxReplicas(node, request.model)) return moveOrNone(`${label(current)} no longer fits on the node`);
  const now = estimate(request, node, route, current.replicas);
  const broken = violation(now, request.constraints, request.dataSite);
  if (broken !== undefined) return moveOrNone(`${label(current)} became infeasible (${broken})`);
  const choice = result.choice as ScoredCandidate;
  if (choice.node === current.node && choice.replicas === current.replicas) return { action: 'keep', placement: current, reason: `${label(current)} is still the best choice`, result };
  const currentScore = scoreOf(objectivesOf(now), result.bounds as ObjectiveBounds, request.weights).score;
  const gain = currentScore - choice.score;
  if (gain > margin) return { action: 'move', placement: { node: choice.node, replicas: choice.replicas }, reason: `${label(choice)} scores ${fixed(gain, 3)} lower than ${label(current)} (margin ${margin}): moving`, result };
  return { action: 'keep', placement: current, reason: `${label(choice)} scores only ${fixed(gain, 3)} lower than ${label(current)} (margin ${margin}): keeping`, result };
}
