import { describe, expect, it } from 'vitest';
import { compileGateOptions, decideAccuracy, decideLatency, decideSignature, decideSizeMemory, decideSmoke, GATE_NAMES, gateOptionsSchema } from './gates.js';

const defaults = compileGateOptions({});

describe('gate options', () => {
  it('runs every gate by default, in the pipeline order whatever order was given', () => {
    expect(defaults.run).toEqual(GATE_NAMES);
    expect(compileGateOptions({ run: ['latency', 'signature'] }).run).toEqual(['signature', 'latency']);
  });

  it('refuses unknown gates and out-of-range criteria at the edge', () => {
    expect(gateOptionsSchema.safeParse({ run: ['speed'] }).success).toBe(false);
    expect(gateOptionsSchema.safeParse({ minAccuracy: 1.5 }).success).toBe(false);
    expect(gateOptionsSchema.safeParse({ maxLatencyFactor: 0.5 }).success).toBe(false);
  });
});

describe('decideSignature', () => {
  const incompatible = { compatible: false, problems: ["input 'input' is gone"] };

  it('passes a first release and a compatible candidate', () => {
    expect(decideSignature(undefined, false).status).toBe('passed');
    expect(decideSignature({ compatible: true, problems: [] }, false).status).toBe('passed');
  });

  it('fails an incompatible candidate, naming the problem and the way through', () => {
    const d = decideSignature(incompatible, false);
    expect(d.status).toBe('failed');
    expect(d.detail).toContain("input 'input' is gone");
    expect(d.detail).toContain('--breaking');
  });

  it('passes it as a breaking change when allowed, and says so', () => {
    expect(decideSignature(incompatible, true)).toEqual({ status: 'passed', detail: "breaking change allowed: input 'input' is gone" });
  });
});

describe('decideSmoke', () => {
  const expected = [
    { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
    { name: 'label', datatype: 'INT64', shape: [-1] },
  ];

  it('passes declared outputs with finite values', () => {
    const d = decideSmoke(expected, [
      { name: 'probabilities', datatype: 'FP32', shape: [1, 3], nonFinite: 0 },
      { name: 'label', datatype: 'INT64', shape: [1], nonFinite: 0 },
    ]);
    expect(d.status).toBe('passed');
  });

  it('fails a missing output, a wrong shape and NaNs', () => {
    const d = decideSmoke(expected, [{ name: 'probabilities', datatype: 'FP32', shape: [1, 2], nonFinite: 1 }]);
    expect(d.status).toBe('failed');
    expect(d.detail).toBe("output 'probabilities' has shape [1, 2], declared [-1, 3]; output 'probabilities' has 1 NaN or infinite value(s); output 'label' is missing");
  });
});

describe('decideAccuracy', () => {
  it('skips without dataset and criterion, fails without dataset but with one', () => {
    expect(decideAccuracy({ hasDataset: false, candidate: undefined, production: undefined }, defaults).status).toBe('skipped');
    const d = decideAccuracy({ hasDataset: false, candidate: undefined, production: undefined }, { minAccuracy: 0.9, maxAccuracyDrop: undefined });
    expect(d.status).toBe('failed');
    expect(d.detail).toContain('continuum models dataset');
  });

  it('holds the candidate to the minimum', () => {
    expect(decideAccuracy({ hasDataset: true, candidate: 0.95, production: undefined }, { minAccuracy: 0.9, maxAccuracyDrop: undefined }).status).toBe('passed');
    const d = decideAccuracy({ hasDataset: true, candidate: 0.85, production: undefined }, { minAccuracy: 0.9, maxAccuracyDrop: undefined });
    expect(d).toEqual({ status: 'failed', detail: 'accuracy 85.0% is below the minimum 90.0%' });
  });

  it('allows a drop up to the limit below production, not beyond', () => {
    const options = { minAccuracy: undefined, maxAccuracyDrop: 0.05 };
    expect(decideAccuracy({ hasDataset: true, candidate: 0.93, production: 0.97 }, options).status).toBe('passed');
    const d = decideAccuracy({ hasDataset: true, candidate: 0.33, production: 0.97 }, options);
    expect(d.status).toBe('failed');
    expect(d.detail).toContain("below production's 97.0%");
  });

  it('fails a drop criterion when production could not be measured', () => {
    expect(decideAccuracy({ hasDataset: true, candidate: 0.9, production: undefined }, { minAccuracy: undefined, maxAccuracyDrop: 0.02 }).status).toBe('failed');
  });

  it('passes a measured candidate with no criterion, reporting the figures', () => {
    expect(decideAccuracy({ hasDataset: true, candidate: 0.5, production: 0.9 }, defaults)).toEqual({ status: 'passed', detail: 'candidate 50.0%, production 90.0% (no accuracy criterion set)' });
  });
});

describe('decideLatency', () => {
  const fast = { sequentialP99Ms: 1, burstP99Ms: 4, errors: 0 };

  it('fails any failed request', () => {
    expect(decideLatency({ ...fast, errors: 2 }, fast, defaults).status).toBe('failed');
  });

  it('holds both p99s to the absolute limit', () => {
    const options = { ...defaults, maxP99Ms: 3 };
    expect(decideLatency({ sequentialP99Ms: 1, burstP99Ms: 2, errors: 0 }, undefined, options).status).toBe('passed');
    const d = decideLatency(fast, undefined, options);
    expect(d).toEqual({ status: 'failed', detail: 'burst p99 4.00 ms exceeds 3.00 ms' });
  });

  it("compares with production's p99 by the default factor of 2", () => {
    const production = { sequentialP99Ms: 20, burstP99Ms: 40, errors: 0 };
    expect(decideLatency({ sequentialP99Ms: 39, burstP99Ms: 79, errors: 0 }, production, defaults).status).toBe('passed');
    const d = decideLatency({ sequentialP99Ms: 45, burstP99Ms: 60, errors: 0 }, production, defaults);
    expect(d.status).toBe('failed');
    expect(d.detail).toBe("sequential p99 45.00 ms is more than 2× production's 20.00 ms");
  });

  it('does not fail a difference within the noise allowance, however large the ratio', () => {
    expect(decideLatency({ sequentialP99Ms: 0.9, burstP99Ms: 6, errors: 0 }, { sequentialP99Ms: 0.2, burstP99Ms: 1, errors: 0 }, defaults).status).toBe('passed');
    expect(decideLatency({ sequentialP99Ms: 0.9, burstP99Ms: 6, errors: 0 }, { sequentialP99Ms: 0.2, burstP99Ms: 1, errors: 0 }, { ...defaults, latencyNoiseMs: 0 }).status).toBe('failed');
  });

  it('skips with nothing to compare with and no limit', () => {
    expect(decideLatency(fast, undefined, defaults).status).toBe('skipped');
  });
});

describe('decideSizeMemory', () => {
  it('passes within the limits and fails beyond either', () => {
    const limits = { maxArtifactBytes: 1000, maxMemoryBytes: 10_000 };
    expect(decideSizeMemory({ artifactBytes: 1000, rssBytes: 10_000 }, limits).status).toBe('passed');
    expect(decideSizeMemory({ artifactBytes: 1001, rssBytes: 10 }, limits).detail).toContain('artifact');
    expect(decideSizeMemory({ artifactBytes: 10, rssBytes: 10_001 }, limits).detail).toContain('resident memory');
  });

  it('fails when no health check reported the memory', () => {
    expect(decideSizeMemory({ artifactBytes: 10, rssBytes: undefined }, defaults)).toEqual({ status: 'failed', detail: "the replica's resident memory was not reported" });
  });
});
