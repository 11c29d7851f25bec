/**
 * The vocabulary of placement: the nodes a model may run on, the links between sites, the
 * model's measured cost, and what a deployment asks for. Placement across edge, fog and cloud is
 * a multi-objective problem of latency, monetary cost and privacy (Matta & Zhang 2025,
 * arXiv:2510.22909, ../shared/papers/002), to which Continuum adds energy: paper 003
 * (../shared/papers/003, Table 1, Figs. 6–7) measured the same workflow 8.5 ms from the asset on a
 * weak edge device, 173.8 ms away on a fog VM and 241.9 ms away on the strongest cloud VM, and
 * found a different winner for prediction time (cloud) than for energy (edge).
 */

/** Where a node sits on the continuum. */
export type Tier = 'edge' | 'fog' | 'cloud';

/** The tiers, in order from the asset outwards. */
export const TIERS: readonly Tier[] = ['edge', 'fog', 'cloud'];

/** Power a node draws, in watts: idle, and with every core busy; linear in utilisation between them (Fan, Weber & Barroso, ISCA 2007). */
export interface PowerWatts {
  readonly idle: number;
  readonly busy: number;
}

/** A machine that can run replicas. */
export interface Node {
  readonly name: string;
  readonly tier: Tier;
  /** The site (building, data centre) the node is in; links join sites. */
  readonly site: string;
  /** Cores; a replica runs one inference at a time on one core, so at most `cores` replicas fit. */
  readonly cores: number;
  readonly memoryBytes: number;
  /** Compute speed relative to the machine the model was profiled on (2 = twice as fast). */
  readonly speedScore: number;
  /** US dollars per hour for the whole node; a replica is billed its one-core share. */
  readonly pricePerHour: number;
  readonly powerWatts: PowerWatts;
}

/** A network path between two sites; it carries traffic both ways. */
export interface Link {
  readonly fromSite: string;
  readonly toSite: string;
  /** Round-trip time, ms (a ping, as paper 003 measured its 8.5/173.8/241.9 ms). */
  readonly rttMs: number;
  readonly bandwidthBytesPerS: number;
  /** US dollars per GB (10^9 bytes) crossing the link, either way. */
  readonly egressPricePerGB: number;
}

/** What one inference of the model costs, measured on the profiling machine (speed score 1). */
export interface ModelProfile {
  /** Compute time of one request at speed score 1, ms. */
  readonly computeMsAtSpeed1: number;
  /** Bytes of one request's inputs (raw data from the asset). */
  readonly inputBytes: number;
  /** Bytes of one request's outputs (the prediction sent back). */
  readonly outputBytes: number;
  /** Memory one replica holds, bytes. */
  readonly memoryBytes: number;
}

/** Hard limits a placement must meet; an absent one does not apply. */
export interface PlacementConstraints {
  /** The estimated p99 end-to-end latency must not exceed this, ms. */
  readonly latencySloMs?: number;
  /** Raw data must not leave the data's site (privacy as a constraint rather than an objective). */
  readonly dataStaysOnSite?: boolean;
  /** Replicas plus egress must not cost more than this, US dollars per hour. */
  readonly budgetPerHour?: number;
  /** The power the deployment draws must not exceed this, watts. */
  readonly maxWatts?: number;
}

/** How much each objective weighs in the choice (non-negative; at least one positive). */
export interface PlacementWeights {
  readonly latency: number;
  readonly cost: number;
  readonly energy: number;
  readonly privacy: number;
}

/** A deployment asking where to run. */
export interface PlacementRequest {
  /** The site the data comes from (the asset's site). */
  readonly dataSite: string;
  /** Requests per second the deployment must serve. */
  readonly ratePerS: number;
  readonly model: ModelProfile;
  readonly constraints: PlacementConstraints;
  readonly weights: PlacementWeights;
}

/** Where a deployment runs: a node and how many replicas on it. */
export interface Placement {
  readonly node: string;
  readonly replicas: number;
}
