import { describe, expect, it } from 'vitest';
import { observation } from '../../test/support/scaling.js';
import { decideProvision, provisionInitialState, replicasForWork, sloUtilization } from './provision.js';
import type { ProvisionParams, ProvisionState } from './provision.js';

/** The PP-OCRv4 recognizer's 32.5 ms per line under a 2 s SLO: 1 − 32.5 × ln 100 / 2000 = 0.9252. */
const SERVICE_MS = 32.5;
const params: ProvisionParams = { targetUtilization: sloUtilization(2000, SERVICE_MS), sloMs: 2000, stableWindowMs: 60_000, burstWindowMs: 6000 };

/** Runs provisioning over one arrival count per 1 s tick (concurrency per tick optional); returns the replicas of each tick. */
function run(arrivals: readonly number[], concurrency: (i: number) => number = () => 0): number[] {
  let state: ProvisionState = provisionInitialState();
  return arrivals.map((n, i) => {
    const step = decideProvision(params, state, observation({ nowMs: (i + 1) * 1000, arrivals: n, concurrency: concurrency(i) }), SERVICE_MS);
    state = step.state;
    return step.replicas;
  });
}

describe('sloUtilization', () => {
  it('is the utilization at which an M/M/1 p99 meets the SLO', () => {
    expect(params.targetUtilization).toBeCloseTo(0.9252, 4);
    expect(sloUtilization(1000, 50)).toBeCloseTo(1 - (50 * Math.log(100)) / 1000, 10);
  });

  it('stays within 5% and 95%', () => {
    expect(sloUtilization(100, 50)).toBe(0.05);
    expect(sloUtilization(1_000_000, 1)).toBe(0.95);
  });
});

describe('replicasForWork', () => {
  it('rounds up, but not for floating-point dust, and never below one', () => {
    expect(replicasForWork(3.25, 0.9252)).toBe(4);
    expect(replicasForWork(0.1 + 0.2, 0.3)).toBe(1);
    expect(replicasForWork(0, 0.5)).toBe(1);
  });
});

describe('decideProvision', () => {
  it('holds steady traffic at its work over the target utilization, whatever the noise of single seconds', () => {
    // 100 req/s × 32.5 ms = 3.25 replicas of work / 0.9252 = 3.51 → 4. A second of 130 (3σ) is noise: read
    // as is, 130 × 32.5 ms = 4.2 would ask for a fifth replica; its lower bound 130 − 3√130 = 95.8 req/s
    // (work 3.1) does not.
    const noisy = Array.from({ length: 180 }, (_, i) => [100, 85, 115, 130, 70][i % 5] as number);
    expect(new Set(run(noisy).slice(60))).toEqual(new Set([4]));
  });

  it('scales out on the first second of a tenfold step, and holds the count for the stable window after it', () => {
    const arrivals = [...Array<number>(120).fill(10), ...Array<number>(60).fill(100), ...Array<number>(150).fill(10)];
    const replicas = run(arrivals);
    expect(replicas[119]).toBe(1);
    // The stable window still reads 11.5 req/s, but the step's second counts at least 100 − 3√100 = 70 req/s:
    // 70 × 32.5 ms = 2.275 replicas of work, at full utilization → 3.
    expect(replicas[120]).toBe(3);
    // Once the stable window is full of the new rate: 3.25 / 0.9252 → 4.
    expect(replicas[179]).toBe(4);
    // After the step the count holds for the 60 s stable window, then falls back to one replica.
    expect(replicas.slice(180, 239).every((r) => r === 4)).toBe(true);
    expect(replicas.at(-1)).toBe(1);
  });

  it('adds what a backlog needs to finish within the SLO', () => {
    // 20 req/s is 0.65 replicas of work. With 40 requests in the system, 40 × 32.5 ms / 2000 ms = 0.65 more:
    // 1.3 at full utilization → 2. With 10 in the system (0.16 more) one replica still does.
    expect(run(Array<number>(70).fill(20), () => 40).at(-1)).toBe(2);
    expect(run(Array<number>(70).fill(20), () => 10).at(-1)).toBe(1);
  });

  it('reads a 1 ms activation tick as at most one second of traffic', () => {
    const step = decideProvision(params, provisionInitialState(), observation({ nowMs: 1, intervalMs: 1, arrivals: 1 }), SERVICE_MS);
    expect(step.replicas).toBe(1);
    expect(step.inputs['stableRps']).toBe(1);
  });
});
