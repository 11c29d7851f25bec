/**
 * Draws the virtual assets make from one seeded uniform stream (`seededRandom`, mulberry32), so a
 * seed reproduces a whole run of data.
 */

/** A uniform draw in [0, 1). */
export type Uniform = () => number;

/** A draw from N(mean, sd²) by the Box–Muller transform (Box & Muller 1958), one value per two uniforms. */
export function normal(rand: Uniform, mean = 0, sd = 1): number {
  // 1 − u keeps the logarithm finite: u is in [0, 1).
  const u = 1 - rand();
  const v = rand();
  return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A draw from U(low, high). */
export function uniform(rand: Uniform, low: number, high: number): number {
  return low + (high - low) * rand();
}

/** One of `items`, each equally likely. */
export function pick<T>(rand: Uniform, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}

/** An index drawn with the given weights (which need not sum to 1). */
export function weightedIndex(rand: Uniform, weights: readonly number[]): number {
  const total = weights.reduce((s, w) => s + w, 0);
  let r = rand() * total;
  for (const [i, w] of weights.entries()) {
    r -= w;
    if (r < 0) return i;
  }
  return weights.length - 1;
}
