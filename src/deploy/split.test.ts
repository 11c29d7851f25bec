import { describe, expect, it } from 'vitest';
import { chooseWeighted, stickyBucket, WHOLE_BPS } from './split.js';
import type { WeightedState } from './split.js';

function counts(weights: readonly number[], n: number): number[] {
  const seen = weights.map(() => 0);
  let state: WeightedState = [];
  for (let i = 0; i < n; i++) {
    const choice = chooseWeighted(weights, state);
    state = choice.state;
    seen[choice.index] = (seen[choice.index] ?? 0) + 1;
  }
  return seen;
}

describe('chooseWeighted', () => {
  it('honours weights exactly over a whole cycle', () => {
    expect(counts([9500, 500], WHOLE_BPS)).toEqual([9500, 500]);
    expect(counts([7500, 2500], 2 * WHOLE_BPS)).toEqual([15000, 5000]);
  });

  it('stays within one request of the share over every prefix', () => {
    const weights = [9500, 500];
    let state: WeightedState = [];
    let candidate = 0;
    for (let i = 1; i <= 3000; i++) {
      const choice = chooseWeighted(weights, state);
      state = choice.state;
      if (choice.index === 1) candidate += 1;
      expect(Math.abs(candidate - i * 0.05)).toBeLessThanOrEqual(1);
    }
  });

  it('never picks a zero weight and sends everything to a whole weight', () => {
    expect(counts([WHOLE_BPS, 0], 100)).toEqual([100, 0]);
    expect(counts([0, WHOLE_BPS], 100)).toEqual([0, 100]);
  });
});

describe('stickyBucket', () => {
  it('puts a key in the same bucket every time and spreads keys evenly', () => {
    expect(stickyBucket('user-42')).toBe(stickyBucket('user-42'));
    let below = 0;
    for (let i = 0; i < 20_000; i++) if (stickyBucket(`user-${i}`) < 2000) below += 1;
    // 20% of keys expected; the bound is ~6 standard deviations wide.
    expect(below / 20_000).toBeGreaterThan(0.18);
    expect(below / 20_000).toBeLessThan(0.22);
  });
});
