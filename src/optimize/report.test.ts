import { describe, expect, it } from 'vitest';
import type { RewriteSummary } from './graph.js';
import type { Comparison } from './measure.js';
import { buildReport } from './report.js';

const rewrite: RewriteSummary = { optimization: 'int8', nodesRewritten: 1, nodesSkipped: [], tensorsConverted: 1, nodesRemoved: 0, initializersRemoved: 0, opsetBefore: 13, opsetAfter: 13 };

function comparison(original: number | null, optimized: number | null): Comparison {
  return {
    original: { sizeBytes: 1000, latency: [{ batch: 1, p50Ms: 2, p99Ms: 3 }, { batch: 32, p50Ms: 10, p99Ms: 12 }], accuracy: original },
    optimized: { sizeBytes: 260, latency: [{ batch: 1, p50Ms: 1, p99Ms: 2 }, { batch: 32, p50Ms: 4, p99Ms: 5 }], accuracy: optimized },
    rows: original === null ? 0 : 150,
    output: 'probabilities',
    top1Agreement: original === null ? null : 0.99,
    maxAbsDiff: 0.01,
  };
}

const report = (c: Comparison, maxAccuracyDrop?: number): ReturnType<typeof buildReport> => buildReport({ model: 'm', original: '1', version: '2', rewrite, comparison: c, maxAccuracyDrop });

describe('optimization report', () => {
  it('gives size and latency as ratios of the original and the accuracy drop in points', () => {
    const r = report(comparison(0.98, 0.9733));
    expect(r.sizeRatio).toBe(0.26);
    expect(r.latency.map((l) => [l.batch, l.ratio])).toEqual([[1, 0.5], [32, 0.4]]);
    expect(r.accuracy.drop).toBeCloseTo(0.0067, 6);
    expect(r.gate.status).toBe('skipped');
    expect(r.version).toBe('2');
  });

  it('passes a version within the accuracy budget and refuses one beyond it, by the release gate decision', () => {
    expect(report(comparison(0.98, 0.9733), 0.01).gate).toMatchObject({ status: 'passed', maxAccuracyDrop: 0.01 });
    const refused = report(comparison(0.98, 0.9533), 0.01);
    expect(refused.gate.status).toBe('failed');
    expect(refused.gate.detail).toMatch(/below production's 98\.0%/);
    expect(refused.version).toBeNull();
  });

  it('refuses when a budget is set but the model has no dataset to measure it on', () => {
    const r = report(comparison(null, null), 0.01);
    expect(r.gate.status).toBe('failed');
    expect(r.gate.detail).toMatch(/continuum models dataset/);
  });
});
