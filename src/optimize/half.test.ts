import { describe, expect, it } from 'vitest';
import { fromHalfBits, HALF_MAX, toHalfBits } from './half.js';

describe('binary16 encoding', () => {
  it('encodes the IEEE 754 reference values', () => {
    // Values from IEEE 754-2008 Table 3.5's binary16 parameters and the usual worked examples.
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(0.1)).toBe(0x2e66);
    expect(toHalfBits(HALF_MAX)).toBe(0x7bff);
    expect(toHalfBits(2 ** -24)).toBe(0x0001);
    expect(toHalfBits(2 ** -14)).toBe(0x0400);
    expect(toHalfBits(-0)).toBe(0x8000);
  });

  it('rounds to nearest, ties to even, and overflows to infinity', () => {
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toHalfBits(65520)).toBe(0x7c00);
    expect(toHalfBits(Infinity)).toBe(0x7c00);
    expect(Number.isNaN(fromHalfBits(toHalfBits(Number.NaN)))).toBe(true);
  });

  it('round-trips within half a unit in the last place', () => {
    for (const v of [3.14159, -0.000123, 1234.5, 6e-6]) {
      const back = fromHalfBits(toHalfBits(v));
      expect(Math.abs(back - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    }
  });
});
