import { describe, expect, it } from 'vitest';
import { candidateOptions, finalists, pickBest, poolTrials, type TuneTrial } from './tune.js';

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

describe('finalists and poolTrials', () => {
  it('takes the best trial of each of the best distinct configurations, by the pick rule', () => {
    const trials = [trial(1, 1, 100, 2), trial(1, 32, 900, 40), trial(2, 32, 1200, 100), trial(3, 32, 1000, 70), trial(4, 32, 950, 45)];
    // Configuration 2 has the most throughput but a tail beyond 2x the best at c32; 1 appears once.
    expect(finalists(trials, 2, 3).map((t) => [t.options.instances, t.throughput])).toEqual([
      [3, 1000],
      [4, 950],
      [1, 900],
    ]);
    expect(finalists(trials, 2, 1)).toHaveLength(1);
  });

  it('pools repeated trials into the mean throughput and the worst tail', () => {
    const pooled = poolTrials([trial(1, 8, 400, 10), trial(1, 8, 600, 14)]);
    expect(pooled).toMatchObject({ concurrency: 8, throughput: 500, p99Ms: 14, requests: 200, errors: 0 });
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
