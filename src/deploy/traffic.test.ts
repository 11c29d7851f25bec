import { describe, expect, it } from 'vitest';
import { quantile, TrafficMeter } from './traffic.js';

describe('TrafficMeter', () => {
  it('reports the time-weighted concurrency, counts and percentiles of one interval, then starts afresh', () => {
    const meter = new TrafficMeter(0);
    // One request in the system 0-1000 ms, a second 500-1000 ms: mean concurrency 1.5 over 1 s.
    meter.arrive(0);
    meter.arrive(500);
    meter.complete(1000, 1000, 1000);
    meter.complete(1000, 500, 200, true);
    const first = meter.read(1000);
    expect(first).toMatchObject({ intervalMs: 1000, arrivals: 2, completions: 2, errors: 1, inSystem: 0, busyMs: 1200, lastArrivalMs: 500 });
    expect(first.concurrency).toBeCloseTo(1.5, 10);
    expect(first.latencyP50Ms).toBe(500);
    expect(first.latencyP99Ms).toBe(1000);
    const second = meter.read(2000);
    expect(second).toMatchObject({ arrivals: 0, completions: 0, errors: 0, concurrency: 0, busyMs: 0, lastArrivalMs: 500 });
    expect(second.latencyP50Ms).toBeNaN();
  });

  it('carries requests still in the system into the next interval', () => {
    const meter = new TrafficMeter(0);
    meter.arrive(250);
    expect(meter.read(1000).concurrency).toBeCloseTo(0.75, 10);
    expect(meter.read(2000)).toMatchObject({ concurrency: 1, inSystem: 1 });
  });
});

describe('quantile', () => {
  it('takes the nearest rank', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.99)).toBe(4);
    expect(quantile([], 0.5)).toBeNaN();
  });
});
