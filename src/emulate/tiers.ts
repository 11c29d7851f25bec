/**
 * The tiers of the emulated continuum: the link each tier's nodes reach the control plane over
 * and the compute they are declared to have.
 *
 * Round trips are those of the reference edge–fog–cloud measurement Continuum is checked against:
 * edge 8.5 ms, fog 173.8 ms, cloud 241.9 ms; each link direction carries half. Bandwidth caps are
 * Continuum's own choice (a plant network, a metro uplink, a data-centre path). Compute
 * differences are a declared speed factor multiplied into the node's measured score, not CPU
 * quotas: the machine these runs on has no cgroup CPU controller to enforce one.
 */
import type { Tier } from '../agent/index.js';
import type { LinkShape } from './link.js';

/** What a tier's nodes are in the emulation. */
export interface TierProfile {
  readonly roundTripMs: number;
  readonly link: LinkShape;
  /** Declared compute relative to the machine (the agent's `--speed-factor`). */
  readonly speedFactor: number;
}

function profile(roundTripMs: number, bandwidthMbit: number, speedFactor: number): TierProfile {
  return { roundTripMs, link: { oneWayDelayMs: roundTripMs / 2, bandwidthBitsPerSecond: bandwidthMbit * 1e6 }, speedFactor };
}

/** The three tiers; see the module comment. */
export const TIER_PROFILES: Readonly<Record<Tier, TierProfile>> = {
  edge: profile(8.5, 100, 0.25),
  fog: profile(173.8, 50, 0.5),
  cloud: profile(241.9, 1000, 1),
};
