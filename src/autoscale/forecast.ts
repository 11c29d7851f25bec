/**
 * Forecasting methods for `predictive`, and the measurement that picks one per deployment.
 *
 * - `recent-max`: the peak of the last horizon-length of history, held (a moving-window max; a
 *   persistence forecast that never under-shoots a repeat of what just happened).
 * - `holt`: Holt's linear (double exponential) smoothing, level ℓ and trend b:
 *     ℓ_t = α·y_t + (1 − α)(ℓ_{t−1} + b_{t−1}),  b_t = β(ℓ_t − ℓ_{t−1}) + (1 − β)·b_{t−1},
 *     ŷ_{t+h} = ℓ_t + h·b_t  (Hyndman & Athanasopoulos, "Forecasting: Principles and Practice",
 *     3rd ed., §8.2); it follows ramps that a persistence forecast lags behind.
 * - `seasonal-naive`: ŷ_{t+h} = y_{t+h−m} for season length m (FPP3 §5.2); it knows the daily
 *   peak before it comes, once a whole season is in the history.
 *
 * {@link scoreForecastMethods} measures each method on the deployment's own history by
 * rolling-origin evaluation (FPP3 §5.10, "time series cross-validation"): at each of the last N
 * origins, forecast the horizon from the history before it and compare the forecast peak with the
 * peak that followed. The method with the lowest mean absolute error is used.
 */

/** The forecasting methods `predictive` chooses among. */
export const FORECAST_METHODS = ['recent-max', 'holt', 'seasonal-naive'] as const;

/** A forecasting method's name. */
export type ForecastMethod = (typeof FORECAST_METHODS)[number];

/** How to forecast: horizon and season in buckets of the series, Holt's factors. */
export interface ForecastOptions {
  readonly horizon: number;
  /** Season length in buckets; 0 disables `seasonal-naive`. */
  readonly season: number;
  readonly holtAlpha: number;
  readonly holtBeta: number;
}

/** History a method needs before the origin to forecast at all. */
function minHistory(method: ForecastMethod, o: ForecastOptions): number {
  if (method === 'seasonal-naive') return o.season > 0 ? o.season : Number.POSITIVE_INFINITY;
  return method === 'holt' ? 2 : 1;
}

/** Holt's level and trend after each value of the series (one pass; index i = after series[i]). */
function holtPass(series: readonly number[], alpha: number, beta: number): { level: number; trend: number }[] {
  const out: { level: number; trend: number }[] = [];
  let level = series[0] ?? 0;
  let trend = series.length > 1 ? (series[1] ?? 0) - level : 0;
  out.push({ level, trend });
  for (let i = 1; i < series.length; i++) {
    const y = series[i] ?? 0;
    const previous = level;
    level = alpha * y + (1 - alpha) * (level + trend);
    trend = beta * (level - previous) + (1 - beta) * trend;
    out.push({ level, trend });
  }
  return out;
}

/**
 * Forecast of the `horizon` values that follow `series[0 .. origin)`, never negative. `holt`
 * reads the pass it is given so scoring many origins costs one pass.
 */
function forecastAt(
  method: ForecastMethod,
  series: readonly number[],
  origin: number,
  o: ForecastOptions,
  holt: readonly { level: number; trend: number }[],
): number[] {
  const out: number[] = [];
  if (method === 'recent-max') {
    const peak = Math.max(0, ...series.slice(Math.max(0, origin - o.horizon), origin));
    for (let h = 1; h <= o.horizon; h++) out.push(peak);
  } else if (method === 'holt') {
    const at = holt[origin - 1] ?? { level: 0, trend: 0 };
    for (let h = 1; h <= o.horizon; h++) out.push(Math.max(0, at.level + h * at.trend));
  } else {
    for (let h = 1; h <= o.horizon; h++) out.push(series[origin + h - 1 - o.season * Math.ceil(h / o.season)] ?? 0);
  }
  return out;
}

/** Forecast of the `horizon` values after the end of `series` with `method` (empty when the history is too short). */
export function forecast(method: ForecastMethod, series: readonly number[], o: ForecastOptions): number[] {
  if (series.length < minHistory(method, o)) return [];
  return forecastAt(method, series, series.length, o, method === 'holt' ? holtPass(series, o.holtAlpha, o.holtBeta) : []);
}

/** Mean absolute error of each method's forecast peak over the last `origins` origins; null when it cannot be scored. */
export type ForecastScores = Record<ForecastMethod, number | null>;

/**
 * Scores every method on `series` by rolling-origin evaluation: for each of the last `origins`
 * origins whose horizon has happened, |max(forecast) − max(actual)|, averaged. A method is scored
 * only when it can forecast at every one of those origins, so the scores compare like with like.
 */
export function scoreForecastMethods(series: readonly number[], o: ForecastOptions, origins: number): ForecastScores {
  const last = series.length - o.horizon; // the latest origin whose whole horizon is known
  const first = Math.max(1, last - origins + 1);
  const holt = holtPass(series, o.holtAlpha, o.holtBeta);
  const scores = {} as ForecastScores;
  for (const method of FORECAST_METHODS) {
    if (last < first || first < minHistory(method, o)) {
      scores[method] = null;
      continue;
    }
    let error = 0;
    for (let origin = first; origin <= last; origin++) {
      const predicted = Math.max(...forecastAt(method, series, origin, o, holt));
      const actual = Math.max(...series.slice(origin, origin + o.horizon));
      error += Math.abs(predicted - actual);
    }
    scores[method] = error / (last - first + 1);
  }
  return scores;
}

/**
 * The method with the lowest score; ties go to the earlier (simpler) method in
 * {@link FORECAST_METHODS}. `recent-max` when nothing could be scored yet.
 */
export function chooseForecastMethod(scores: ForecastScores): ForecastMethod {
  let best: ForecastMethod = 'recent-max';
  let bestScore = Number.POSITIVE_INFINITY;
  for (const method of FORECAST_METHODS) {
    const score = scores[method];
    if (score !== null && score < bestScore) {
      best = method;
      bestScore = score;
    }
  }
  return best;
}
