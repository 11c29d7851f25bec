import { describe, expect, it } from 'vitest';
import { chooseForecastMethod, forecast, scoreForecastMethods } from './forecast.js';
import type { ForecastOptions } from './forecast.js';

const o: ForecastOptions = { horizon: 3, season: 4, holtAlpha: 0.5, holtBeta: 0.2 };

describe('forecasting methods', () => {
  it('recent-max holds the peak of the last horizon of history', () => {
    expect(forecast('recent-max', [9, 1, 3, 2, 1], o)).toEqual([3, 3, 3]);
  });

  it("Holt's method continues a linear trend exactly", () => {
    // Level and trend start at y0 and y1 − y0, so a straight line stays on the line.
    expect(forecast('holt', [0, 2, 4, 6, 8], o)).toEqual([10, 12, 14]);
    expect(forecast('holt', [9, 6, 3], o)).toEqual([0, 0, 0]); // never negative
  });

  it('seasonal-naive repeats the last season, and needs a whole one', () => {
    expect(forecast('seasonal-naive', [1, 5, 9, 5, 1, 5, 9, 5], o)).toEqual([1, 5, 9]);
    expect(forecast('seasonal-naive', [1, 5, 9], o)).toEqual([]);
    expect(forecast('seasonal-naive', [1, 5, 9, 5, 1, 5, 9, 5], { ...o, horizon: 6 })).toEqual([1, 5, 9, 5, 1, 5]);
  });
});

describe('choosing a method by its error on the history', () => {
  it('picks Holt on a ramp, where holding the recent peak lags', () => {
    const ramp = Array.from({ length: 40 }, (_, i) => 10 + 5 * i);
    const scores = scoreForecastMethods(ramp, { ...o, season: 0 }, 20);
    expect(scores['seasonal-naive']).toBeNull();
    // recent-max forecasts the last value; the horizon peak is 3 steps × 5 higher.
    expect(scores['recent-max']).toBe(15);
    expect(scores.holt).toBeCloseTo(0, 9);
    expect(chooseForecastMethod(scores)).toBe('holt');
  });

  it('picks seasonal-naive on a repeating day once a season of history is there', () => {
    const day = [2, 2, 3, 8, 20, 30, 25, 10];
    const series = [...day, ...day, ...day, ...day];
    const scores = scoreForecastMethods(series, { ...o, season: day.length }, 10);
    expect(scores['seasonal-naive']).toBe(0);
    expect(scores['recent-max']).toBeGreaterThan(0);
    expect(scores.holt).toBeGreaterThan(0);
    expect(chooseForecastMethod(scores)).toBe('seasonal-naive');
  });

  it('breaks ties towards the simpler method, and defaults to recent-max without history', () => {
    expect(chooseForecastMethod(scoreForecastMethods(Array(30).fill(7), { ...o, season: 0 }, 10))).toBe('recent-max');
    const none = scoreForecastMethods([1, 2], o, 10);
    expect(none).toEqual({ 'recent-max': null, holt: null, 'seasonal-naive': null });
    expect(chooseForecastMethod(none)).toBe('recent-max');
  });
});
