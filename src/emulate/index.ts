/**
 * An emulated continuum on one machine, for end-to-end tests and benchmarks: nodes in network
 * namespaces, joined through link relays that add each tier's delay and bandwidth cap.
 */
export { linkDeparture, startLink } from './link.js';
export type { LinkDeparture, LinkOptions, LinkShape, RunningLink } from './link.js';
export { createNodeNetwork, inNamespace, namespaceSupport, removeNodeNetwork } from './netns.js';
export type { NodeNetwork } from './netns.js';
export { TIER_PROFILES } from './tiers.js';
export type { TierProfile } from './tiers.js';
