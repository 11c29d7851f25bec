import { describe, expect, it } from 'vitest';
import { candidateOptions, pickBest, type TuneTrial } from './tune.js';

const trial = (name: number, concurrency: number, throughput: number, p99Ms: number, errors = 0): TuneTrial => ({
  options: { instances: name },
  concurrency,
  throughput,
  p50Ms: p99Ms / 2,
  p99Ms,
  requests: 100,
  errors,
});

describe('pickBest', () => {
  it('takes the highest throughput whose p99 is within the factor of the best p99 at its concurrency', () => {
    const trials = [
      trial(1, 1, 100, 2),
      trial(1, 32, 900, 40),
      trial(2, 1, 90, 3),
      // Most throughput, but its tail is 100 ms against the best 40 ms at concurrency 32.
      trial(2, 32, 1200, 100),
      trial(3, 1, 80, 2.5),
      trial(3, 32, 1000, 70),
    ];
    expect(pickBest(trials, 2)?.options).toEqual({ instances: 3 });
    // A looser factor lets the fastest one in.
    expect(pickBest(trials, 3)?.options).toEqual({ instances: 2 });
  });

  it('never picks a trial with errors, breaks ties by the lower p99', () => {
    expect(pickBest([trial(1, 8, 500, 10, 1), trial(2, 8, 400, 12), trial(3, 8, 400, 11)], 2)?.options).toEqual({ instances: 3 });
  });

  it('has no answer when every trial failed', () => {
    expect(pickBest([trial(1, 8, 0, 0, 5)], 2)).toBeUndefined();
    expect(pickBest([], 2)).toBeUndefined();
  });
});

describe('candidateOptions', () => {
  it('spans the grids without oversubscribing the cores or stacking inline instances', () => {
    const base = { maxQueueSize: 64, preferredBatchSizes: [4, 16] };
    const batchable = candidateOptions(base, true, { maxThreads: 2 });
    expect(batchable.map((o) => [o.executor, o.instances, o.intraOpThreads, o.maxBatchSize])).toEqual([
      ['inline', 1, 1, 0], ['inline', 1, 1, 8], ['inline', 1, 1, 32],
      ['inline', 1, 2, 0], ['inline', 1, 2, 8], ['inline', 1, 2, 32],
      ['worker', 1, 1, 0], ['worker', 1, 1, 8], ['worker', 1, 1, 32],
      ['worker', 1, 2, 0], ['worker', 1, 2, 8], ['worker', 1, 2, 32],
      ['worker', 2, 1, 0], ['worker', 2, 1, 8], ['worker', 2, 1, 32],
    ]);
    expect(batchable.every((o) => o.maxQueueSize === 64)).toBe(true);
    expect(batchable.map((o) => o.preferredBatchSizes)).toContainEqual([4]);
    const unbatchable = candidateOptions(base, false, { executors: ['worker'], maxThreads: 2 });
    expect(unbatchable.map((o) => [o.instances, o.intraOpThreads, o.maxBatchSize])).toEqual([[1, 1, 0], [1, 2, 0], [2, 1, 0]]);
  });
});
