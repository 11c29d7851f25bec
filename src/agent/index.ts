/**
 * Nodes of the continuum and their agents (docs/agents.md): the agent that runs a node (join,
 * desired-state sync, artifact cache, replicas, OIP endpoint, telemetry spool, offline autonomy),
 * the node protocol both sides validate, and the control plane's record of nodes.
 */
export { Agent } from './agent.js';
export type { AgentOptions, AgentStatus, CompiledAgentOptions } from './agent.js';
export { NodeStore, JOIN_TOKEN_PREFIX, NODE_CREDENTIAL_PREFIX } from './nodes.js';
export type { NodeView, TelemetryCounts } from './nodes.js';
export { TIERS } from './protocol.js';
export type { DesiredReplica, DesiredState, NodeFacts, TelemetryRecord, Tier } from './protocol.js';
export { measureSpeedScore } from './benchmark.js';
export { TelemetrySpool } from './spool.js';
export { planReconcile } from './reconcile.js';
export { nodeApiCertificate, normalizeFingerprint, pinnedDispatcher } from './tls.js';
export type { NodeApiCertificate } from './tls.js';
