import { describe, expect, it } from 'vitest';
import { isContinuumError } from '../errors.js';
import { erlangC, estimate, SAME_SITE_ROUTE } from './estimate.js';
import { optimize, replace } from './optimize.js';
import { bruteForcePlacement } from './reference.js';
import { randomScenario } from './scenarios.js';
import { parseNodes, parseWeights } from './schema.js';
import type { Link, Node, PlacementRequest, PlacementWeights } from './types.js';

/** Paper 003's three tiers (Table 1): an edge device 8.5 ms from the asset with the weakest CPU, fog at 173.8 ms, cloud at 241.9 ms with the strongest. */
const TIER_NODES: readonly Node[] = [
  { name: 'edge-1', tier: 'edge', site: 'shop-floor', cores: 4, memoryBytes: 4 * 2 ** 30, speedScore: 0.25, pricePerHour: 0.01, powerWatts: { idle: 3, busy: 8 } },
  { name: 'fog-1', tier: 'fog', site: 'datacentre', cores: 8, memoryBytes: 16 * 2 ** 30, speedScore: 1, pricePerHour: 0.2, powerWatts: { idle: 60, busy: 160 } },
  { name: 'cloud-1', tier: 'cloud', site: 'frankfurt', cores: 8, memoryBytes: 32 * 2 ** 30, speedScore: 2, pricePerHour: 0.34, powerWatts: { idle: 90, busy: 250 } },
];

const TIER_LINKS: readonly Link[] = [
  { fromSite: 'shop-floor', toSite: 'shop-floor', rttMs: 8.5, bandwidthBytesPerS: 100e6, egressPricePerGB: 0 },
  { fromSite: 'shop-floor', toSite: 'datacentre', rttMs: 173.8, bandwidthBytesPerS: 50e6, egressPricePerGB: 0 },
  { fromSite: 'shop-floor', toSite: 'frankfurt', rttMs: 241.9, bandwidthBytesPerS: 20e6, egressPricePerGB: 0.09 },
];

function request(weights: Partial<PlacementWeights>, constraints: PlacementRequest['constraints'] = {}): PlacementRequest {
  return {
    dataSite: 'shop-floor',
    ratePerS: 1,
    // A demanding model: 400 ms of compute on the profiling machine.
    model: { computeMsAtSpeed1: 400, inputBytes: 20_000, outputBytes: 100, memoryBytes: 512 * 2 ** 20 },
    constraints,
    weights: { latency: 0, cost: 0, energy: 0, privacy: 0, ...weights },
  };
}

describe('estimates', () => {
  it("computes Erlang C's probability of waiting: ρ for one server, 2ρ²/(1+ρ) for two", () => {
    expect(erlangC(1, 0.3)).toBeCloseTo(0.3, 12);
    expect(erlangC(2, 1)).toBeCloseTo(1 / 3, 12);
    expect(erlangC(3, 3)).toBe(1);
  });

  it('adds the round trip, the transfer, the M/M/1 wait ρ/(μ−λ) and the compute time', () => {
    const node: Node = { name: 'n', tier: 'fog', site: 's', cores: 2, memoryBytes: 2 ** 30, speedScore: 2, pricePerHour: 0.1, powerWatts: { idle: 10, busy: 30 } };
    const route = { rttMs: 20, bandwidthBytesPerS: 1e6, egressPricePerGB: 1 };
    const r: PlacementRequest = { dataSite: 'asset', ratePerS: 50, model: { computeMsAtSpeed1: 20, inputBytes: 9000, outputBytes: 1000, memoryBytes: 0 }, constraints: {}, weights: { latency: 1, cost: 0, energy: 0, privacy: 0 } };
    const e = estimate(r, node, route, 1);
    // 10 ms service at 50/s: ρ = 0.5, mean wait = 0.5 / (0.1 − 0.05) per ms = 10 ms.
    expect(e.computeMs).toBeCloseTo(10, 12);
    expect(e.waitMs).toBeCloseTo(10, 9);
    expect(e.networkMs).toBeCloseTo(20 + 10, 9);
    expect(e.latencyMs).toBeCloseTo(50, 9);
    // Half the node's price for one of two cores, plus 50/s × 3600 s × 10 kB at $1/GB.
    expect(e.costPerHour).toBeCloseTo(0.05 + 1.8, 9);
    // One core idle (5 W) plus half a core busy (0.5 × 10 W).
    expect(e.watts).toBeCloseTo(10, 9);
    expect(e.dataLeavesSite).toBe(true);
    expect(estimate(r, node, SAME_SITE_ROUTE, 1).networkMs).toBe(0);
  });
});

describe('optimize', () => {
  it("gives paper 003's different winners: cloud for latency, edge for energy and for privacy", () => {
    expect(optimize(request({ latency: 1 }), TIER_NODES, TIER_LINKS).choice?.node).toBe('cloud-1');
    expect(optimize(request({ energy: 1 }), TIER_NODES, TIER_LINKS).choice?.node).toBe('edge-1');
    expect(optimize(request({ privacy: 1, latency: 0.01 }), TIER_NODES, TIER_LINKS).choice?.node).toBe('edge-1');
    const balanced = optimize(request({ latency: 1, cost: 1, energy: 1, privacy: 1 }), TIER_NODES, TIER_LINKS);
    expect(new Set(balanced.front.map((c) => c.node))).toEqual(new Set(['edge-1', 'fog-1', 'cloud-1']));
    expect(balanced.explanation.join('\n')).toMatch(/lowest latency: cloud-1 × \d+ .*least power: edge-1 × 2/);
  });

  it('keeps raw data on its site when asked, and says why the other nodes are out', () => {
    const result = optimize(request({ latency: 1 }, { dataStaysOnSite: true }), TIER_NODES, TIER_LINKS);
    expect(result.choice?.node).toBe('edge-1');
    expect(result.excluded).toEqual([
      { node: 'fog-1', reason: 'raw data would leave site shop-floor' },
      { node: 'cloud-1', reason: 'raw data would leave site shop-floor' },
    ]);
  });

  it('adds replicas until the p99 meets the SLO, and refuses when none can', () => {
    const busy = { ...request({ cost: 1 }, { latencySloMs: 2500 }), ratePerS: 6 };
    const choice = optimize(busy, TIER_NODES.slice(0, 1), TIER_LINKS).choice;
    // 1.6 s of compute per request on the edge at 6/s needs at least 10 replicas to be stable: it has 4 cores.
    expect(choice).toBeUndefined();
    const fog = optimize(busy, TIER_NODES.slice(1, 2), TIER_LINKS).choice;
    expect(fog?.replicas).toBeGreaterThan(Math.ceil(6 * 0.4));
    expect(fog?.p99LatencyMs).toBeLessThanOrEqual(2500);
    const oneFewer = estimate(busy, TIER_NODES[1] as Node, TIER_LINKS[1] as Link, (fog?.replicas ?? 0) - 1);
    expect(oneFewer.p99LatencyMs).toBeGreaterThan(2500);
  });

  it('answers "no node meets the constraints" with every node\'s reason', () => {
    const result = optimize(request({ latency: 1 }, { latencySloMs: 100 }), TIER_NODES, TIER_LINKS.slice(0, 1));
    expect(result.choice).toBeUndefined();
    expect(result.explanation[0]).toBe('no node meets the constraints');
    expect(result.excluded.map((x) => x.reason)).toEqual([
      // 1.6 s of compute per request on the edge: one replica cannot keep up with 1/s, four are too slow.
      'overloaded: 160% utilisation with 1 replica; p99 latency 3078.7 ms exceeds the 100 ms SLO with 4 replicas',
      'no link from site shop-floor to site datacentre',
      'no link from site shop-floor to site frankfurt',
    ]);
  });

  it('finds the brute-force optimum and front in at least 99% of 1,000 random scenarios', () => {
    let agree = 0;
    let frontsAgree = 0;
    let feasible = 0;
    for (let seed = 1; seed <= 1000; seed++) {
      const s = randomScenario(seed, { nodes: 2 + (seed % 9), maxCores: 8 });
      const fast = optimize(s.request, s.nodes, s.links);
      const slow = bruteForcePlacement(s.request, s.nodes, s.links);
      if (slow.choice !== undefined) feasible += 1;
      if (fast.choice?.node === slow.choice?.node && fast.choice?.replicas === slow.choice?.replicas) agree += 1;
      const key = (c: { node: string; replicas: number }): string => `${c.node}×${c.replicas}`;
      if (JSON.stringify(fast.front.map(key).sort()) === JSON.stringify(slow.front.map(key).sort())) frontsAgree += 1;
    }
    // The scenarios must exercise both outcomes: mostly placeable, some not.
    expect(feasible).toBeGreaterThan(500);
    expect(feasible).toBeLessThan(1000);
    expect(agree).toBeGreaterThanOrEqual(990);
    expect(frontsAgree).toBeGreaterThanOrEqual(990);
  });
});

describe('replace', () => {
  const latencyFirst = request({ latency: 1, cost: 0.2 });

  it('moves when the node is lost or its link degrades past the SLO', () => {
    const first = optimize(latencyFirst, TIER_NODES, TIER_LINKS).choice;
    expect(first?.node).toBe('cloud-1');
    const current = { node: 'cloud-1', replicas: first?.replicas ?? 1 };
    const lost = replace(current, latencyFirst, TIER_NODES.filter((n) => n.name !== 'cloud-1'), TIER_LINKS);
    expect(lost).toMatchObject({ action: 'move', placement: { node: 'fog-1' } });
    expect(lost.reason).toMatch(/^node cloud-1 is lost: moving to fog-1/);
    const slo = request({ latency: 1, cost: 0.2 }, { latencySloMs: 800 });
    const degraded = TIER_LINKS.map((l) => (l.toSite === 'frankfurt' ? { ...l, rttMs: 900 } : l));
    const moved = replace(current, slo, TIER_NODES, degraded);
    expect(moved.action).toBe('move');
    expect(moved.reason).toMatch(/became infeasible \(p99 latency .* exceeds the 800 ms SLO/);
  });

  it('keeps a feasible placement unless the new choice wins by more than the margin', () => {
    const current = { node: 'cloud-1', replicas: 1 };
    // The cloud link slows a little: fog becomes the best by a hair, which is no reason to move.
    const slower = TIER_LINKS.map((l) => (l.toSite === 'frankfurt' ? { ...l, rttMs: 420 } : l));
    const result = optimize(latencyFirst, TIER_NODES, slower);
    expect(result.choice?.node).toBe('fog-1');
    expect(replace(current, latencyFirst, TIER_NODES, slower)).toMatchObject({ action: 'keep', placement: current });
    // Much slower: the gain exceeds the margin.
    const muchSlower = TIER_LINKS.map((l) => (l.toSite === 'frankfurt' ? { ...l, rttMs: 1500 } : l));
    expect(replace(current, latencyFirst, TIER_NODES, muchSlower)).toMatchObject({ action: 'move', placement: { node: 'fog-1' } });
    expect(replace(current, latencyFirst, TIER_NODES, slower, { marginScore: 0 })).toMatchObject({ action: 'move' });
  });
});

describe('input validation', () => {
  it('refuses malformed nodes and weights with the field named', () => {
    const bad = (f: () => unknown): string => {
      try {
        f();
      } catch (err) {
        if (isContinuumError(err, 'CONTINUUM_ERR_INVALID_PLACEMENT')) return err.message;
      }
      return 'accepted';
    };
    expect(bad(() => parseNodes([{ ...TIER_NODES[0], speedScore: -1 }]))).toMatch(/invalid nodes at 0\.speedScore/);
    expect(bad(() => parseNodes([TIER_NODES[0], TIER_NODES[0]]))).toMatch(/edge-1 is listed twice/);
    expect(bad(() => parseNodes([{ ...TIER_NODES[0], powerWatts: { idle: 9, busy: 1 } }]))).toMatch(/busy power must be at least idle/);
    expect(bad(() => parseWeights('latency=1,speed=2'))).toMatch(/invalid weights/);
    expect(bad(() => parseWeights('latency=0'))).toMatch(/at least one weight must be positive/);
    expect(parseWeights('latency=2,privacy=1')).toEqual({ latency: 2, cost: 0, energy: 0, privacy: 1 });
  });
});
