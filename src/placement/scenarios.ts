/**
 * Seeded random placement scenarios for the optimizer's tests and bench/placement.ts: one asset
 * site, edge nodes on it, fog and cloud nodes on sites further out. The tiers' ranges are drawn
 * around paper 003's Table 1 (../shared/papers/003: 8.5 ms to the edge device, 173.8 ms to fog,
 * 241.9 ms to cloud; the edge the weakest CPU and the least energy, the cloud the strongest).
 */
import { seededRandom } from '../onnx/build.js';
import type { Link, Node, PlacementRequest, Tier } from './types.js';

/** A request with the nodes and links it is placed among. */
export interface PlacementScenario {
  readonly request: PlacementRequest;
  readonly nodes: readonly Node[];
  readonly links: readonly Link[];
}

/** Size of a random scenario. */
export interface ScenarioSize {
  readonly nodes: number;
  /** Most cores a node draws. */
  readonly maxCores: number;
}

/** The asset's site in every scenario. */
export const ASSET_SITE = 'plant';

interface TierRange {
  readonly rttMs: readonly [number, number];
  readonly speed: readonly [number, number];
  readonly pricePerCoreHour: readonly [number, number];
  readonly wattsPerCore: readonly [number, number];
  readonly bandwidthBytesPerS: readonly [number, number];
  readonly egressPricePerGB: readonly [number, number];
}

const TIER_RANGES: Readonly<Record<Tier, TierRange>> = {
  edge: { rttMs: [2, 15], speed: [0.15, 0.6], pricePerCoreHour: [0.001, 0.01], wattsPerCore: [1, 4], bandwidthBytesPerS: [10e6, 100e6], egressPricePerGB: [0, 0] },
  fog: { rttMs: [20, 180], speed: [0.6, 1.6], pricePerCoreHour: [0.01, 0.03], wattsPerCore: [5, 12], bandwidthBytesPerS: [5e6, 50e6], egressPricePerGB: [0, 0.02] },
  cloud: { rttMs: [120, 260], speed: [1.2, 4], pricePerCoreHour: [0.02, 0.06], wattsPerCore: [8, 20], bandwidthBytesPerS: [1e6, 20e6], egressPricePerGB: [0.05, 0.09] },
};

/** A scenario drawn from `seed`: the same seed and size give the same scenario. */
export function randomScenario(seed: number, size: ScenarioSize): PlacementScenario {
  const rand = seededRandom(seed);
  const uniform = ([lo, hi]: readonly [number, number]): number => lo + (hi - lo) * rand();
  const chance = (p: number): boolean => rand() < p;
  const tiers: readonly Tier[] = ['edge', 'fog', 'cloud'];
  const nodes: Node[] = [];
  const links: Link[] = [];
  const sites = new Set<string>();
  for (let i = 0; i < size.nodes; i++) {
    const tier = tiers[Math.floor(rand() * tiers.length)] as Tier;
    const range = TIER_RANGES[tier];
    const site = tier === 'edge' && chance(0.7) ? ASSET_SITE : `${tier}-site-${Math.floor(rand() * 4)}`;
    if (!sites.has(site)) {
      sites.add(site);
      if (site !== ASSET_SITE || chance(0.5)) {
        links.push({ fromSite: ASSET_SITE, toSite: site, rttMs: uniform(range.rttMs), bandwidthBytesPerS: uniform(range.bandwidthBytesPerS), egressPricePerGB: uniform(range.egressPricePerGB) });
      }
    }
    const cores = 1 + Math.floor(rand() * size.maxCores);
    const idle = uniform(range.wattsPerCore) * cores;
    nodes.push({
      name: `${tier}-${i}`,
      tier,
      site,
      cores,
      memoryBytes: cores * 2 ** 30 * uniform([0.5, 4]),
      speedScore: uniform(range.speed),
      pricePerHour: uniform(range.pricePerCoreHour) * cores,
      powerWatts: { idle, busy: idle * uniform([1.5, 3]) },
    });
  }
  const computeMsAtSpeed1 = uniform([0.5, 40]);
  const request: PlacementRequest = {
    dataSite: ASSET_SITE,
    ratePerS: uniform([1, 400]),
    model: { computeMsAtSpeed1, inputBytes: Math.round(uniform([100, 200_000])), outputBytes: Math.round(uniform([8, 4000])), memoryBytes: uniform([50, 800]) * 2 ** 20 },
    constraints: {
      ...(chance(0.5) ? { latencySloMs: uniform([20, 400]) } : {}),
      ...(chance(0.2) ? { dataStaysOnSite: true } : {}),
      ...(chance(0.3) ? { budgetPerHour: uniform([0.01, 1]) } : {}),
      ...(chance(0.3) ? { maxWatts: uniform([5, 200]) } : {}),
    },
    weights: randomWeights(rand),
  };
  return { request, nodes, links };
}

/** Weights of 0.1 to 5, each now and then zero (an objective left out), never all zero. */
function randomWeights(rand: () => number): PlacementRequest['weights'] {
  const weight = (): number => (rand() < 0.15 ? 0 : 0.1 + rand() * 4.9);
  const w = { latency: weight(), cost: weight(), energy: weight(), privacy: weight() };
  return w.latency + w.cost + w.energy + w.privacy > 0 ? w : { ...w, latency: 1 };
}
