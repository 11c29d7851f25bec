/**
 * The brute-force reference the optimizer is checked against (tests and bench/placement.ts only):
 * every (node, replica count) evaluated on its own from the textbook formulas — Erlang C as the
 * sum Σ a^k/k! in log space rather than the optimizer's recursion — every feasible pair scored,
 * the front found by comparing every pair, the choice the plain minimum. The optimum is defined
 * here: the feasible (node, replicas) of least weighted score (objectives scaled to 0–1 by min–max
 * over all feasible pairs), ties broken by latency, cost, power, privacy, name, replicas.
 */
import { MAX_REPLICAS_PER_NODE } from './estimate.js';
import type { Link, Node, Placement, PlacementRequest } from './types.js';

/** A feasible pair's objectives as the reference computes them. */
export interface ReferenceCandidate extends Placement {
  /** latency (mean, ms), cost ($/h), power (W), privacy (0 or 1). */
  readonly objectives: readonly [number, number, number, number];
}

/** The reference's answer. */
export interface ReferenceResult {
  readonly choice: ReferenceCandidate | undefined;
  readonly score: number;
  readonly front: readonly ReferenceCandidate[];
}

function logFactorial(n: number): number {
  let s = 0;
  for (let k = 2; k <= n; k++) s += Math.log(k);
  return s;
}

/** Erlang C = (a^c/c!)·c/(c−a) / (Σ_{k<c} a^k/k! + (a^c/c!)·c/(c−a)), in log space. */
function erlangCDirect(c: number, a: number): number {
  if (a <= 0) return 0;
  if (a >= c) return 1;
  const logTop = c * Math.log(a) - logFactorial(c) + Math.log(c / (c - a));
  const logTerms = Array.from({ length: c }, (_, k) => k * Math.log(a) - logFactorial(k));
  const peak = Math.max(logTop, ...logTerms);
  const sum = logTerms.reduce((s, t) => s + Math.exp(t - peak), 0) + Math.exp(logTop - peak);
  return Math.exp(logTop - peak) / sum;
}

/** Brute force over every node and every replica count that fits. */
export function bruteForcePlacement(request: PlacementRequest, nodes: readonly Node[], links: readonly Link[]): ReferenceResult {
  const { model, constraints: k } = request;
  const all: ReferenceCandidate[] = [];
  for (const node of nodes) {
    const link = links.find((l) => (l.fromSite === request.dataSite && l.toSite === node.site) || (l.toSite === request.dataSite && l.fromSite === node.site));
    if (link === undefined && node.site !== request.dataSite) continue;
    const rtt = link?.rttMs ?? 0;
    const bandwidth = link?.bandwidthBytesPerS ?? Number.POSITIVE_INFINITY;
    const egress = link?.egressPricePerGB ?? 0;
    const fit = Math.min(Math.floor(node.cores), model.memoryBytes > 0 ? Math.floor(node.memoryBytes / model.memoryBytes) : Infinity, MAX_REPLICAS_PER_NODE);
    for (let c = 1; c <= fit; c++) {
      const s = model.computeMsAtSpeed1 / node.speedScore;
      const lambda = request.ratePerS / 1000;
      const a = lambda * s;
      if (a >= c) continue;
      const p = erlangCDirect(c, a);
      const drain = c / s - lambda;
      const net = rtt + ((model.inputBytes + model.outputBytes) / bandwidth) * 1000;
      const mean = net + p / drain + s;
      const p99 = net + (p > 0.01 ? Math.log(p / 0.01) / drain : 0) + s;
      const cost = (c * node.pricePerHour) / node.cores + ((request.ratePerS * 3600 * (model.inputBytes + model.outputBytes)) / 1e9) * egress;
      const watts = (c * node.powerWatts.idle) / node.cores + ((node.powerWatts.busy - node.powerWatts.idle) / node.cores) * a;
      const leaves = node.site !== request.dataSite ? 1 : 0;
      if (k.dataStaysOnSite === true && leaves === 1) continue;
      if (k.latencySloMs !== undefined && p99 > k.latencySloMs) continue;
      if (k.budgetPerHour !== undefined && cost > k.budgetPerHour) continue;
      if (k.maxWatts !== undefined && watts > k.maxWatts) continue;
      all.push({ node: node.name, replicas: c, objectives: [mean, cost, watts, leaves] });
    }
  }
  if (all.length === 0) return { choice: undefined, score: Number.NaN, front: [] };
  const w = [request.weights.latency, request.weights.cost, request.weights.energy, request.weights.privacy];
  const lo = [0, 1, 2, 3].map((i) => Math.min(...all.map((x) => x.objectives[i] as number)));
  const hi = [0, 1, 2, 3].map((i) => Math.max(...all.map((x) => x.objectives[i] as number)));
  const score = (x: ReferenceCandidate): number =>
    x.objectives.reduce((s, v, i) => s + (w[i] as number) * ((hi[i] as number) > (lo[i] as number) ? (v - (lo[i] as number)) / ((hi[i] as number) - (lo[i] as number)) : 0), 0) / w.reduce((s, v) => s + v, 0);
  const before = (x: ReferenceCandidate, y: ReferenceCandidate): boolean => {
    const dx = score(x) - score(y);
    if (dx !== 0) return dx < 0;
    for (let i = 0; i < 4; i++) if (x.objectives[i] !== y.objectives[i]) return (x.objectives[i] as number) < (y.objectives[i] as number);
    return x.node !== y.node ? x.node < y.node : x.replicas < y.replicas;
  };
  const choice = all.reduce((best, x) => (before(x, best) ? x : best));
  const dominates = (x: ReferenceCandidate, y: ReferenceCandidate): boolean => x.objectives.every((v, i) => v <= (y.objectives[i] as number)) && x.objectives.some((v, i) => v < (y.objectives[i] as number));
  return { choice, score: score(choice), front: all.filter((y) => !all.some((x) => dominates(x, y))) };
}
