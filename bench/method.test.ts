import { describe, expect, it } from 'vitest';
import type { ModelStatistics } from '../src/oip/types.js';
import { checkTarget, isStable, median, percentile, probeDistance, probeOf, serverSplit, summarize } from './method.js';
import type { Window } from './method.js';

/** A window of `completed` requests over 1 s, every one taking `latencyUs`. */
function window(completed: number, latencyUs: number, errors = 0): Window {
  return { durationMs: 1000, completed, errors, latenciesUs: Array.from({ length: completed }, () => latencyUs) };
}

describe('stability (perf_analyzer: last three windows within 10%)', () => {
  it('needs three windows before it can call a measurement stable', () => {
    expect(isStable([window(100, 1000), window(100, 1000)])).toBe(false);
    expect(isStable([window(100, 1000), window(100, 1000), window(100, 1000)])).toBe(true);
  });

  it('judges only the last three windows, so a slow warm start does not count', () => {
    expect(isStable([window(10, 9000), window(100, 1000), window(105, 1000), window(108, 1000)])).toBe(true);
  });

  it('refuses a throughput spread over 10% (max/min)', () => {
    expect(isStable([window(100, 1000), window(110, 1000), window(100, 1000)])).toBe(true);
    expect(isStable([window(100, 1000), window(111, 1000), window(100, 1000)])).toBe(false);
  });

  it('refuses a mean-latency spread over 10% even when throughput agrees', () => {
    expect(isStable([window(100, 1000), window(100, 1200), window(100, 1000)])).toBe(false);
  });

  it('never calls a window with errors or without completions stable', () => {
    expect(isStable([window(100, 1000), window(100, 1000, 1), window(100, 1000)])).toBe(false);
    expect(isStable([window(0, 0), window(0, 0), window(0, 0)])).toBe(false);
  });
});

describe('summary', () => {
  it('pools the kept windows: throughput over their time, nearest-rank percentiles', () => {
    const latencies = Array.from({ length: 100 }, (_, i) => (i + 1) * 1000);
    const w: Window = { durationMs: 500, completed: 100, errors: 0, latenciesUs: latencies };
    const s = summarize([window(1, 50_000), w, w, w]);
    expect(s.throughput).toBe(200);
    expect(s.p50Ms).toBe(50);
    expect(s.p90Ms).toBe(90);
    expect(s.p99Ms).toBe(99);
    expect(s.completed).toBe(300);
    expect(s.windowsMeasured).toBe(4);
    expect(s.stable).toBe(true);
  });

  it('percentile of one value is that value; of none, NaN', () => {
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBeNaN();
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });
});

function stats(count: number, queueNs: number, inferNs: number, executions: number): ModelStatistics {
  const d = (ns: number): { count: number; ns: number } => ({ count, ns });
  return {
    name: 'm',
    version: '1',
    last_inference: 0,
    inference_count: count,
    execution_count: executions,
    inference_stats: { success: d(0), fail: d(0), queue: d(queueNs), compute_input: d(1000 * count), compute_infer: d(inferNs), compute_output: d(1000 * count) },
    batch_stats: [],
  };
}

describe('server-side split from the statistics extension', () => {
  it('is the difference of two cumulative snapshots, per request', () => {
    const before = stats(100, 5_000_000, 20_000_000, 100);
    const after = stats(1100, 105_000_000, 220_000_000, 350);
    const split = serverSplit(before, after);
    expect(split.requests).toBe(1000);
    expect(split.queueMs).toBeCloseTo(0.1);
    expect(split.inferMs).toBeCloseTo(0.2);
    expect(split.computeMs).toBeCloseTo(0.202);
    expect(split.meanBatchSize).toBeCloseTo(4);
  });
});

describe('targets', () => {
  it('passes, fails, or says the value is missing', () => {
    expect(checkTarget('ratio', 1.6, '>=', 1.5, 'x', '').verdict).toBe('PASS');
    expect(checkTarget('ratio', 1.4, '>=', 1.5, 'x', '').verdict).toBe('FAIL');
    expect(checkTarget('latency', 0.3, '<=', 0.3, 'ms', '').verdict).toBe('PASS');
    expect(checkTarget('latency', Number.NaN, '<=', 0.3, 'ms', '').verdict).toBe('MISSING');
    expect(checkTarget('latency', undefined, '<=', 0.3, 'ms', '').verdict).toBe('MISSING');
  });
});

describe('probes (do two servers answer the same numbers?)', () => {
  it('measures the largest difference, and refuses different shapes', () => {
    const a = probeOf([1, 3], Float32Array.from([0.25, 0.5, 0.25]));
    expect(a.sum).toBe(1);
    expect(probeDistance(a, probeOf([1, 3], [0.25, 0.5001, 0.25]))).toBeCloseTo(0.0001);
    expect(probeDistance(a, probeOf([3, 1], [0.25, 0.5, 0.25]))).toBe(Number.POSITIVE_INFINITY);
  });
});
