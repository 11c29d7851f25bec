/**
 * What running a model on a node would give, estimated in closed form (pure; no I/O):
 *
 * - latency = the link's round trip + the request's and answer's bytes over its bandwidth
 *   + the wait in the node's queue + compute time (the profiled time over the node's speed);
 * - the wait: each replica is one server of an M/M/c queue, Poisson arrivals at the request's rate
 *   and service rate 1 / compute time. The probability of waiting is Erlang's C formula, computed
 *   by the numerically stable Erlang B recursion B(0) = 1, B(c) = a·B(c−1) / (c + a·B(c−1)),
 *   C = c·B / (c − a(1 − B)) with offered load a = λ/μ; the mean wait is C / (cμ − λ) and the
 *   wait's tail is P(W > t) = C·e^{−(cμ−λ)t} (Harchol-Balter, "Performance Modeling and Design of
 *   Computer Systems", 2013, ch. 14; Kleinrock, "Queueing Systems" vol. 1, 1975, §3.5). Inference
 *   times vary far less than an exponential's, and by the Allen–Cunneen approximation an M/D/c
 *   queue waits about half as long as M/M/c, so these waits err on the safe side;
 * - cost = the replicas' one-core shares of the node's hourly price + the bytes crossing the link
 *   at its egress price;
 * - power = the replicas' cores idle + the busy cores' extra draw (λ × compute seconds cores are
 *   busy on average), linear between idle and busy power (Fan, Weber & Barroso, ISCA 2007);
 * - privacy = whether raw data leaves the data's site.
 */
import type { Link, ModelProfile, Node, PlacementConstraints, PlacementRequest } from './types.js';

/** How the data reaches a node: the link used, or none when the sites are not joined. */
export interface Route {
  readonly rttMs: number;
  readonly bandwidthBytesPerS: number;
  readonly egressPricePerGB: number;
}

/** Within one site, without a link given: no round trip, no bandwidth limit, no egress price. */
export const SAME_SITE_ROUTE: Route = { rttMs: 0, bandwidthBytesPerS: Number.POSITIVE_INFINITY, egressPricePerGB: 0 };

/** The p99 of the wait is read from the M/M/c waiting-time tail at this probability. */
const TAIL_PROBABILITY = 0.01;

/** Most replicas considered on one node (a bound on the work per node, far above real core counts per deployment). */
export const MAX_REPLICAS_PER_NODE = 256;

/** The estimate for a model on a node with a number of replicas. */
export interface Estimate {
  readonly node: string;
  readonly replicas: number;
  /** Mean end-to-end latency: network + mean wait + compute, ms. */
  readonly latencyMs: number;
  /** Estimated p99 end-to-end latency: network + p99 wait + compute, ms. */
  readonly p99LatencyMs: number;
  readonly networkMs: number;
  readonly waitMs: number;
  readonly computeMs: number;
  /** Share of the replicas' time spent computing (λ / cμ); 1 or more means the queue grows without bound. */
  readonly utilisation: number;
  /** Replicas plus egress, US dollars per hour. */
  readonly costPerHour: number;
  /** Power the deployment draws, watts. */
  readonly watts: number;
  readonly joulesPerInference: number;
  readonly dataLeavesSite: boolean;
}

/** The route from `fromSite` to `toSite`: a link given either way, the same-site route, or undefined. */
export function routeBetween(links: readonly Link[], fromSite: string, toSite: string): Route | undefined {
  const link = links.find((l) => (l.fromSite === fromSite && l.toSite === toSite) || (l.fromSite === toSite && l.toSite === fromSite));
  if (link !== undefined) return link;
  return fromSite === toSite ? SAME_SITE_ROUTE : undefined;
}

/** Replicas that fit on the node: one per core, within its memory. */
export function maxReplicas(node: Node, model: ModelProfile): number {
  const byMemory = model.memoryBytes > 0 ? Math.floor(node.memoryBytes / model.memoryBytes) : Number.POSITIVE_INFINITY;
  return Math.max(0, Math.min(Math.floor(node.cores), byMemory, MAX_REPLICAS_PER_NODE));
}

/** Everything about a node and route that does not depend on the replica count. */
interface NodeTerms {
  readonly computeMs: number;
  readonly networkMs: number;
  readonly arrivalsPerMs: number;
  readonly offeredLoad: number;
  readonly replicaCostPerHour: number;
  readonly egressCostPerHour: number;
  readonly idleWattsPerReplica: number;
  readonly busyWatts: number;
  readonly dataLeavesSite: boolean;
}

function nodeTerms(request: PlacementRequest, node: Node, route: Route): NodeTerms {
  const { model, ratePerS } = request;
  const computeMs = model.computeMsAtSpeed1 / node.speedScore;
  const bytes = model.inputBytes + model.outputBytes;
  const arrivalsPerMs = ratePerS / 1000;
  const offeredLoad = arrivalsPerMs * computeMs;
  const wattsPerCore = (node.powerWatts.busy - node.powerWatts.idle) / node.cores;
  return {
    computeMs,
    networkMs: route.rttMs + (bytes / route.bandwidthBytesPerS) * 1000,
    arrivalsPerMs,
    offeredLoad,
    replicaCostPerHour: node.pricePerHour / node.cores,
    egressCostPerHour: ((ratePerS * 3600 * bytes) / 1e9) * route.egressPricePerGB,
    idleWattsPerReplica: node.powerWatts.idle / node.cores,
    // λ × service time is the mean number of busy cores (Little's law).
    busyWatts: wattsPerCore * offeredLoad,
    dataLeavesSite: node.site !== request.dataSite,
  };
}

function estimateWith(node: Node, terms: NodeTerms, replicas: number, erlangC: number, ratePerS: number): Estimate {
  const { computeMs, networkMs, arrivalsPerMs, offeredLoad } = terms;
  const utilisation = offeredLoad / replicas;
  const drainPerMs = replicas / computeMs - arrivalsPerMs;
  const stable = utilisation < 1;
  const waitMs = stable ? erlangC / drainPerMs : Number.POSITIVE_INFINITY;
  const p99WaitMs = !stable ? Number.POSITIVE_INFINITY : erlangC > TAIL_PROBABILITY ? Math.log(erlangC / TAIL_PROBABILITY) / drainPerMs : 0;
  const watts = replicas * terms.idleWattsPerReplica + terms.busyWatts;
  return {
    node: node.name,
    replicas,
    latencyMs: networkMs + waitMs + computeMs,
    p99LatencyMs: networkMs + p99WaitMs + computeMs,
    networkMs,
    waitMs,
    computeMs,
    utilisation,
    costPerHour: replicas * terms.replicaCostPerHour + terms.egressCostPerHour,
    watts,
    joulesPerInference: ratePerS > 0 ? watts / ratePerS : 0,
    dataLeavesSite: terms.dataLeavesSite,
  };
}

/**
 * Estimates for every replica count from 1 to {@link maxReplicas} on one node, in one pass of
 * the Erlang B recursion (each count's probability of waiting comes from the previous one's).
 * Given `skipCertainBreaches`, counts that surely break a constraint are not built: those with no
 * more replicas than the offered load (an unstable queue) and, as cost and power grow with every
 * replica, those beyond the budget or the power limit. The rest still need checking.
 */
export function estimateReplicaCounts(request: PlacementRequest, node: Node, route: Route, skipCertainBreaches?: PlacementConstraints): Estimate[] {
  const terms = nodeTerms(request, node, route);
  const a = terms.offeredLoad;
  const { from, to } = skipCertainBreaches === undefined ? { from: 1, to: Number.POSITIVE_INFINITY } : plausibleReplicas(terms, skipCertainBreaches);
  const estimates: Estimate[] = [];
  let erlangB = 1;
  for (let c = 1, last = Math.min(maxReplicas(node, request.model), to); c <= last; c++) {
    erlangB = (a * erlangB) / (c + a * erlangB);
    if (c >= from) estimates.push(estimateWith(node, terms, c, erlangCFromB(c, a, erlangB), request.ratePerS));
  }
  return estimates;
}

/** Slack on the budget and power bounds, so rounding never drops a count that meets them exactly. */
const BOUND_SLACK = 1 + 1e-9;

function plausibleReplicas(terms: NodeTerms, constraints: PlacementConstraints): { readonly from: number; readonly to: number } {
  const within = (limit: number | undefined, fixedPart: number, perReplica: number): number =>
    limit === undefined || perReplica <= 0 ? Number.POSITIVE_INFINITY : Math.floor(((limit - fixedPart) / perReplica) * BOUND_SLACK);
  return {
    from: Math.floor(terms.offeredLoad) + 1,
    to: Math.min(within(constraints.budgetPerHour, terms.egressCostPerHour, terms.replicaCostPerHour), within(constraints.maxWatts, terms.busyWatts, terms.idleWattsPerReplica)),
  };
}

/** The estimate for one replica count (which may exceed what fits; feasibility is the optimizer's). */
export function estimate(request: PlacementRequest, node: Node, route: Route, replicas: number): Estimate {
  const terms = nodeTerms(request, node, route);
  return estimateWith(node, terms, replicas, erlangC(replicas, terms.offeredLoad), request.ratePerS);
}

/** Erlang's C formula: the probability an arrival waits in an M/M/c queue with offered load `a` (1 when a >= c). */
export function erlangC(servers: number, offeredLoad: number): number {
  let erlangB = 1;
  for (let c = 1; c <= servers; c++) erlangB = (offeredLoad * erlangB) / (c + offeredLoad * erlangB);
  return erlangCFromB(servers, offeredLoad, erlangB);
}

function erlangCFromB(servers: number, a: number, erlangB: number): number {
  if (a >= servers) return 1;
  return (servers * erlangB) / (servers - a * (1 - erlangB));
}
