/**
 * What each policy function answers before {@link decideScale} applies the bounds every policy
 * shares; kept apart so the policies and the dispatcher import it without importing each other.
 */
import type { ServingMode } from './types.js';

/** The values a decision explains itself with. */
export type DecisionInputs = Record<string, number | string | boolean>;

/** One policy's answer for one tick, with its next state. */
export interface PolicyStep<S> {
  /** Replicas the policy wants, before the min/max clamp. */
  readonly replicas: number;
  readonly reason: string;
  readonly inputs: DecisionInputs;
  readonly state: S;
  readonly mode?: ServingMode;
}

/** Request rate of a tick, per second (0 for an empty tick). */
export function tickRps(arrivals: number, intervalMs: number): number {
  return intervalMs > 0 ? (arrivals * 1000) / intervalMs : 0;
}

/** Rounds a figure for an explanation to 4 significant digits, so events read well and stay finite JSON. */
export function shown(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(4)) : 0;
}
