/**
 * The verdict function and its statistics: reference values (scipy.stats 1.17 computed them, or
 * the hand calculation beside them) and the decisions a rollout relies on.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../onnx/build.js';
import { binomialAtLeast, DEFAULT_CRITERIA, judge, mannWhitneyU, normalCdf, outputsAgree, twoProportionZ } from './analysis.js';
import type { AnalysisCriteria, TrackSample, Verdict, VerdictCheck } from './types.js';

/** `n` log-normal latencies around `medianMs` (Box-Muller over a seeded generator). */
function latencies(n: number, medianMs: number, seed: number, sigma = 0.3): number[] {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const normal = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    return medianMs * Math.exp(sigma * normal);
  });
}

/** A track that answered every latency given plus `errors` failures. */
function track(latenciesMs: number[], extra: Partial<TrackSample> = {}): TrackSample {
  const errors = extra.errors ?? 0;
  return { requests: latenciesMs.length + errors, errors, latenciesMs, compared: 0, disagreed: 0, ...extra };
}

function checkOf(verdict: Verdict, name: string): VerdictCheck {
  const found = verdict.checks.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no ${name} check in ${verdict.checks.map((c) => c.name).join(', ')}`);
  return found;
}

const outcomes = (verdict: Verdict): Record<string, string> => Object.fromEntries(verdict.checks.map((c) => [c.name, c.outcome]));

describe('normalCdf', () => {
  it.each([
    [0, 0.5],
    [1, 0.8413447460685429],
    [1.6448536269514722, 0.95],
    [1.959963984540054, 0.975],
    [-2.3263478740408408, 0.01],
    [3, 0.9986501019683699],
  ])('Φ(%d) = %d', (z, p) => {
    expect(normalCdf(z)).toBeCloseTo(p, 7);
  });

  it.each([
    [-5, 2.866515718791933e-7],
    [-8, 6.22096057427174e-16],
  ])('keeps relative precision in the lower tail: Φ(%d) = %d', (z, p) => {
    expect(Math.abs(normalCdf(z) / p - 1)).toBeLessThan(2e-7);
  });
});

describe('mannWhitneyU', () => {
  it('ranks ties by their mean rank and corrects the variance for them', () => {
    // Ranks of b: 3.5 + 5.5 + 7.5 + 9 + 10 + 11 = 46.5, U = 46.5 − 21 = 25.5; three pairs of ties
    // give variance 30/12 · (12 − 18/110) = 29.59, z = (25.5 − 15 − 0.5) / √29.59.
    const result = mannWhitneyU([1, 2, 3, 4, 5], [3, 4, 5, 6, 7, 8]);
    expect(result.u).toBe(25.5);
    expect(result.z).toBeCloseTo(1.8383188740373877, 10);
    expect(result.pGreater).toBeCloseTo(0.0330077157606155, 6);
  });

  it('matches scipy.stats.mannwhitneyu(b, a, alternative="greater") on a sample with a triple tie', () => {
    const result = mannWhitneyU([10, 12, 12, 15, 18, 20, 20, 20], [14, 15, 20, 22, 25, 25, 30]);
    expect(result.u).toBe(45);
    expect(result.pGreater).toBeCloseTo(0.02667596702992479, 6);
  });

  it('gives z = 0 and p = 0.5 when every value is equal', () => {
    expect(mannWhitneyU([7, 7, 7, 7], [7, 7, 7])).toEqual({ u: 6, z: 0, pGreater: 0.5 });
  });

  it('refuses NaN rather than loop on it', () => {
    expect(() => mannWhitneyU([1, Number.NaN], [2, 3])).toThrow(RangeError);
  });

  it('gives p = 0.5 for an empty sample', () => {
    expect(mannWhitneyU([], [1, 2, 3]).pGreater).toBe(0.5);
  });

  it('tells which sample is larger, not only that they differ', () => {
    const small = latencies(4000, 10, 1);
    const large = latencies(4000, 10.5, 2);
    expect(mannWhitneyU(small, large).pGreater).toBeLessThan(1e-6);
    expect(mannWhitneyU(large, small).pGreater).toBeGreaterThan(1 - 1e-6);
  });
});

describe('twoProportionZ', () => {
  it('matches the pooled z-test: 10/1000 against 25/1000', () => {
    const result = twoProportionZ(10, 1000, 25, 1000);
    expect(result.z).toBeCloseTo(2.557943557892809, 9);
    expect(result.pGreater).toBeCloseTo(0.005264659032641463, 7);
  });

  it('gives a p above one half when B is lower', () => {
    const result = twoProportionZ(3, 200, 1, 200);
    expect(result.z).toBeCloseTo(-1.0050378152592119, 9);
    expect(result.pGreater).toBeCloseTo(0.84256067933179, 6);
  });

  it('gives z = 0 and p = 0.5 when neither track has an error', () => {
    expect(twoProportionZ(0, 100, 0, 100)).toEqual({ z: 0, pGreater: 0.5 });
  });
});

describe('binomialAtLeast', () => {
  it.each([
    [1, 60, 0.01, 0.45284335760923855],
    [2, 60, 0.01, 0.12123327131180733],
    [3, 60, 0.01, 0.02242016478883543],
    [6, 50, 0.05, 0.037776172989777285],
    [16, 1000, 0.01, 0.04787058575794716],
    [120, 100_000, 0.001, 0.028167005850853494],
    [2, 100, 0.001, 0.004638068390424184],
    [30, 1000, 0.05, 0.9992808027197848],
  ])('P(X ≥ %i | n = %i, p = %d) = %d (scipy binom.sf)', (k, n, p, expected) => {
    expect(Math.abs(binomialAtLeast(k, n, p) / expected - 1)).toBeLessThan(1e-9);
  });

  it('is 1 for k = 0, 0 beyond n, and exact at the bounds of p', () => {
    expect(binomialAtLeast(0, 10, 0.1)).toBe(1);
    expect(binomialAtLeast(11, 10, 0.1)).toBe(0);
    expect(binomialAtLeast(1, 10, 0)).toBe(0);
    expect(binomialAtLeast(10, 10, 1)).toBe(1);
  });
});

describe('outputsAgree', () => {
  it('agrees when every element is within the tolerance, typed arrays included', () => {
    expect(outputsAgree([0.1, 0.2, 0.7], Float32Array.from([0.1005, 0.1995, 0.7]), 1e-3)).toBe(true);
  });

  it('disagrees on one element beyond the tolerance, on another length, and on NaN', () => {
    expect(outputsAgree([0.1, 0.2, 0.7], [0.1, 0.2, 0.702], 1e-3)).toBe(false);
    expect(outputsAgree([0.1, 0.2], [0.1, 0.2, 0.7], 1e-3)).toBe(false);
    expect(outputsAgree([Number.NaN], [Number.NaN], 1e-3)).toBe(false);
  });
});

describe('judge', () => {
  const criteria: AnalysisCriteria = DEFAULT_CRITERIA;

  it('fails a candidate that is significantly and substantially slower', () => {
    const verdict = judge(criteria, track(latencies(200, 10, 1)), track(latencies(200, 15, 2)));
    const latency = checkOf(verdict, 'latency');
    expect(latency.outcome).toBe('fail');
    expect(latency.figures['medianRatio']).toBeGreaterThan(1.25);
    expect(latency.figures['p']).toBeLessThan(1e-6);
    expect(latency.detail).toMatch(/significantly slower/);
    expect(verdict.outcome).toBe('fail');
    expect(verdict.summary).toMatch(/^fail: latency fail, errors pass, error-slo pass — /);
  });

  it('passes a slower candidate whose slowdown 50 samples cannot show to be significant', () => {
    const verdict = judge(criteria, track(latencies(50, 10, 3, 1)), track(latencies(50, 13, 4, 1)));
    const latency = checkOf(verdict, 'latency');
    expect(latency.figures['medianRatio']).toBeGreaterThan(criteria.maxLatencyRatio);
    expect(latency.figures['p']).toBeGreaterThan(criteria.alpha);
    expect(latency.outcome).toBe('pass');
    expect(latency.detail).toMatch(/not significantly slower/);
  });

  it('passes a candidate that is significantly slower by less than the ratio that matters', () => {
    const latency = checkOf(judge(criteria, track(latencies(3000, 10, 5)), track(latencies(3000, 11, 6))), 'latency');
    expect(latency.figures['p']).toBeLessThan(criteria.alpha);
    expect(latency.outcome).toBe('pass');
  });

  it('passes a candidate drawn from the baseline distribution', () => {
    const verdict = judge(criteria, track(latencies(500, 10, 7), { errors: 2 }), track(latencies(500, 10, 8), { errors: 2 }));
    expect(outcomes(verdict)).toEqual({ latency: 'pass', errors: 'pass', 'error-slo': 'pass' });
    expect(verdict.outcome).toBe('pass');
    expect(verdict.summary).toBe('pass: latency pass, errors pass, error-slo pass');
  });

  it('fails a candidate whose error rate is significantly higher by more than the allowed increase', () => {
    const verdict = judge(criteria, track(latencies(995, 10, 9), { errors: 5 }), track(latencies(960, 10, 10), { errors: 40 }));
    const errors = checkOf(verdict, 'errors');
    expect(errors.outcome).toBe('fail');
    expect(errors.figures['increase']).toBeCloseTo(0.035, 10);
    expect(errors.detail).toMatch(/4% \(40\/1000\) against the baseline's 0.5% \(5\/1000\) is significantly higher/);
    // 4% is within the 5% SLO: the comparison alone fails it.
    expect(checkOf(verdict, 'error-slo').outcome).toBe('pass');
    expect(verdict.outcome).toBe('fail');
  });

  it('passes an error increase that 100 requests cannot show to be significant', () => {
    const errors = checkOf(judge(criteria, track(latencies(99, 10, 11), { errors: 1 }), track(latencies(97, 10, 12), { errors: 3 })), 'errors');
    expect(errors.figures['p']).toBeGreaterThan(criteria.alpha);
    expect(errors.outcome).toBe('pass');
  });

  it('fails an SLO breach the baseline shares, and says the baseline breaches it too', () => {
    const slo: AnalysisCriteria = { ...criteria, maxP99Ms: 20 };
    const verdict = judge(slo, track(latencies(900, 15, 13), { errors: 100 }), track(latencies(900, 15, 14), { errors: 100 }));
    expect(outcomes(verdict)).toEqual({ latency: 'pass', errors: 'pass', 'error-slo': 'fail', 'p99-slo': 'fail' });
    expect(checkOf(verdict, 'error-slo').detail).toMatch(/the baseline is over it too \(10%\)/);
    expect(checkOf(verdict, 'p99-slo').detail).toMatch(/the baseline is over it too \(p99 /);
    expect(checkOf(verdict, 'p99-slo').figures['p99Ms']).toBeGreaterThan(20);
    expect(verdict.outcome).toBe('fail');
  });

  it('runs only the absolute checks without a baseline', () => {
    const slo: AnalysisCriteria = { ...criteria, maxP99Ms: 50 };
    const verdict = judge(slo, undefined, track(latencies(300, 10, 15), { errors: 3 }));
    expect(outcomes(verdict)).toEqual({ 'error-slo': 'pass', 'p99-slo': 'pass' });
    expect(verdict.outcome).toBe('pass');
  });

  it('is inconclusive when no check applies', () => {
    const verdict = judge({ ...criteria, maxErrorRate: undefined }, undefined, track(latencies(300, 10, 16)));
    expect(verdict).toMatchObject({ outcome: 'inconclusive', checks: [] });
    expect(verdict.summary).toMatch(/no check applies/);
  });

  it('is inconclusive with fewer than minRequests on a track, however bad it looks', () => {
    const verdict = judge(criteria, track(latencies(100, 10, 17)), track(latencies(30, 40, 18), { errors: 10 }));
    expect(outcomes(verdict)).toEqual({ latency: 'inconclusive', errors: 'inconclusive', 'error-slo': 'inconclusive' });
    expect(checkOf(verdict, 'latency').detail).toMatch(/baseline 100, candidate 30; 50 needed/);
    expect(verdict.outcome).toBe('inconclusive');
    expect(verdict.summary).toMatch(/^inconclusive: .* — Too few latency samples/);
  });

  it('holds the error SLO by an exact test: over the bound but not significantly is inconclusive', () => {
    const at = (errors: number): string => checkOf(judge(criteria, undefined, track(latencies(50 - errors, 10, 19), { errors })), 'error-slo').outcome;
    // 3/50 = 6% > 5%, P(X ≥ 3 | 50, 5%) = 0.46; 6/50 gives 0.038.
    expect([at(0), at(2), at(3), at(5), at(6)]).toEqual(['pass', 'pass', 'inconclusive', 'inconclusive', 'fail']);
  });

  it('holds the p99 SLO by an exact test on the share of slow requests', () => {
    const slo: AnalysisCriteria = { ...criteria, maxP99Ms: 50 };
    const withSlow = (slow: number, n: number): VerdictCheck => checkOf(judge(slo, undefined, track([...latencies(n - slow, 10, 20, 0.1), ...Array<number>(slow).fill(80)])), 'p99-slo');
    // One slow request in 50 makes the nearest-rank p99 the maximum, 80 ms, yet proves nothing.
    expect(withSlow(1, 50)).toMatchObject({ outcome: 'inconclusive', figures: { p99Ms: 80 } });
    expect(withSlow(0, 50)).toMatchObject({ outcome: 'pass' });
    expect(withSlow(10, 200)).toMatchObject({ outcome: 'fail', figures: { slowShare: 0.05 } });
  });

  describe('shadow agreement', () => {
    const shadow = (compared: number, disagreed: number): VerdictCheck => checkOf(judge(criteria, undefined, track(latencies(compared, 10, 21), { compared, disagreed })), 'agreement');

    it('fails when significantly more answers disagree than allowed', () => {
      const agreement = shadow(1000, 50);
      expect(agreement.outcome).toBe('fail');
      expect(agreement.detail).toMatch(/^Disagreement 5% \(50 of 1000 mirrored answers differ beyond 0.001\) is significantly over the 1% allowed/);
    });

    it('passes when disagreement is within the share allowed', () => {
      expect(shadow(1000, 10).outcome).toBe('pass');
    });

    it('does not fail on 1 or 2 disagreements in 60 against a 1% bound, but does on 3', () => {
      expect([shadow(60, 1).outcome, shadow(60, 2).outcome, shadow(60, 3).outcome]).toEqual(['inconclusive', 'inconclusive', 'fail']);
    });

    it('runs only for a shadowed candidate', () => {
      expect(judge(criteria, undefined, track(latencies(100, 10, 22))).checks.map((c) => c.name)).toEqual(['error-slo']);
    });
  });
});
