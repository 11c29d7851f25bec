/** The built-in workload profiles: reproducible from a seed, with the shape and rate each promises. */
import { describe, expect, it } from 'vitest';
import { ContinuumError } from '../errors.js';
import { compileWorkloadProfile, compressTime, generateArrivals, WORKLOAD_PROFILE_NAMES, type ArrivalTimes } from './workload.js';

const between = (a: ArrivalTimes, fromMs: number, toMs: number): number => a.filter((t) => t >= fromMs && t < toMs).length;

/** Expects `count` within four standard deviations of a Poisson count with mean `mean`. */
function expectPoisson(count: number, mean: number): void {
  expect(Math.abs(count - mean)).toBeLessThan(4 * Math.sqrt(mean));
}

describe('generateArrivals', () => {
  it.each(WORKLOAD_PROFILE_NAMES)('%s: ascending, within the duration, the same for a seed and different for another', (name) => {
    const spec = { profile: name, durationMs: 600_000 } as const;
    const a = generateArrivals(spec, 1);
    expect(a.length).toBeGreaterThan(100);
    for (let i = 1; i < a.length; i++) expect(a[i] as number).toBeGreaterThanOrEqual(a[i - 1] as number);
    expect(a[0] as number).toBeGreaterThanOrEqual(0);
    expect(a[a.length - 1] as number).toBeLessThan(600_000);
    expect(generateArrivals(spec, 1)).toEqual(a);
    expect(generateArrivals(spec, 2)).not.toEqual(a);
  });

  it('steady: a Poisson process at the rate', () => {
    expectPoisson(generateArrivals({ profile: 'steady', durationMs: 1_000_000, ratePerS: 50 }, 3).length, 50_000);
  });

  it('diurnal: base rate at the start and end, peak in the middle', () => {
    const a = generateArrivals({ profile: 'diurnal', durationMs: 3_600_000, baseRatePerS: 2, peakRatePerS: 40, periodMs: 3_600_000 }, 5);
    // Mean of base + (peak − base)(1 − cos)/2 over [0, T]: (2 + 40) / 2 = 21/s.
    expectPoisson(a.length, 21 * 3600);
    // Around the middle (±60 s) the rate is close to 40/s, around the start 2/s.
    expect(between(a, 1_740_000, 1_860_000) / 120).toBeGreaterThan(35);
    expect(between(a, 0, 60_000) / 60).toBeLessThan(4);
  });

  it('spiky: the peak rate inside spikes and the base rate outside', () => {
    const a = generateArrivals({ profile: 'spiky', durationMs: 600_000, baseRatePerS: 10, peakRatePerS: 200, spikeEveryMs: 120_000, spikeDurationMs: 10_000 }, 9);
    // Spikes at 60–70 s, 180–190 s, 300–310 s, 420–430 s, 540–550 s.
    expectPoisson(between(a, 60_000, 70_000), 2000);
    expectPoisson(between(a, 70_000, 180_000), 1100);
    expectPoisson(a.length, 5 * 2000 + 550 * 10);
  });

  it('sporadic: bursts at the on rate separated by silences', () => {
    const a = generateArrivals({ profile: 'sporadic', durationMs: 3_600_000, onRatePerS: 20, meanOnMs: 10_000, meanOffMs: 120_000 }, 4);
    const gaps = Array.from(a.subarray(1), (t, i) => t - (a[i] as number));
    const silences = gaps.filter((g) => g > 30_000);
    // About 3600 / 130 ≈ 28 on/off cycles; most off periods exceed 30 s (e^(−30/120) ≈ 78%).
    expect(silences.length).toBeGreaterThan(10);
    expect(silences.length).toBeLessThan(50);
    // Within bursts, gaps are those of a 20/s process (mean 50 ms).
    const inBurst = gaps.filter((g) => g < 1000);
    expect(inBurst.reduce((s, g) => s + g, 0) / inBurst.length).toBeGreaterThan(40);
    expect(inBurst.reduce((s, g) => s + g, 0) / inBurst.length).toBeLessThan(60);
  });

  it('ramp: the rate climbs linearly from one rate to the other', () => {
    const a = generateArrivals({ profile: 'ramp', durationMs: 1_000_000, fromRatePerS: 0, toRatePerS: 100 }, 6);
    // First half: mean 25/s over 500 s; second half: 75/s.
    expectPoisson(between(a, 0, 500_000), 12_500);
    expectPoisson(between(a, 500_000, 1_000_000), 37_500);
  });

  it('fills defaults and refuses invalid or oversized profiles', () => {
    expect(compileWorkloadProfile({ profile: 'spiky', peakRatePerS: 300 })).toEqual({
      profile: 'spiky',
      durationMs: 3_600_000,
      baseRatePerS: 10,
      peakRatePerS: 300,
      spikeEveryMs: 300_000,
      spikeDurationMs: 30_000,
    });
    const bad = (fn: () => unknown): ContinuumError => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(ContinuumError);
        return err as ContinuumError;
      }
      throw new Error('expected an error');
    };
    expect(bad(() => generateArrivals({ profile: 'steady', ratePerS: -1 }, 1)).message).toContain('ratePerS');
    expect(bad(() => generateArrivals({ profile: 'steady', ratePerS: 10, meanOnMs: 5 } as never, 1)).code).toBe('CONTINUUM_ERR_BAD_REQUEST');
    expect(bad(() => generateArrivals({ profile: 'steady', ratePerS: 100_000, durationMs: 3_600_000 }, 1)).message).toContain('limit');
    expect(generateArrivals({ profile: 'steady', ratePerS: 0 }, 1).length).toBe(0);
  });
});

describe('compressTime', () => {
  it('divides every offset by the speedup and refuses one that is not positive', () => {
    expect(compressTime(Float64Array.from([0, 10, 35]), 5)).toEqual(Float64Array.from([0, 2, 7]));
    expect(() => compressTime(Float64Array.from([1]), 0)).toThrow(/speedup/);
    expect(() => compressTime(Float64Array.from([1]), Number.NaN)).toThrow(/speedup/);
  });
});
