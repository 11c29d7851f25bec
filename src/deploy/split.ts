/**
 * Traffic splitting between a deployment's revisions as pure decisions: a deterministic weighted
 * choice that honours weights exactly (not a coin flip per request), and a sticky bucket for a
 * request key so one user stays on one side of an A/B split.
 */

/** Weights are in basis points: 10000 is the whole traffic. */
export const WHOLE_BPS = 10_000;

/** The running state of {@link chooseWeighted}: one credit per choice, in the choices' order. */
export type WeightedState = readonly number[];

/**
 * Smooth weighted round robin (nginx's upstream algorithm): every choice adds each weight to its
 * credit, picks the largest credit and takes the total off it. Over any run of `total` choices
 * each option is picked exactly `weight` times, and over any prefix within one of its share, so a
 * 5% canary gets 5% of requests, not 5% on average.
 */
export function chooseWeighted(weights: readonly number[], state: WeightedState): { readonly index: number; readonly state: WeightedState } {
  const total = weights.reduce((a, b) => a + b, 0);
  if (weights.length === 0 || total <= 0) return { index: 0, state };
  const credits = weights.map((w, i) => (state[i] ?? 0) + w);
  let index = 0;
  for (let i = 1; i < credits.length; i++) if ((credits[i] as number) > (credits[index] as number)) index = i;
  credits[index] = (credits[index] as number) - total;
  return { index, state: credits };
}

/** FNV-1a, 32 bits (Fowler–Noll–Vo): a fast, well-spread hash of a request key. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The bucket (0 .. WHOLE_BPS-1) a request key falls in; a key falls in the same bucket every time. */
export function stickyBucket(key: string): number {
  return fnv1a32(key) % WHOLE_BPS;
}
