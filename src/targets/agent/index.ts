/**
 * The agent target: replicas on nodes run by their agents, reached through each agent's OIP
 * endpoint; the fleet turns the replicas the control plane wants into each node's desired state.
 */
export { AgentTarget, NodeFleet } from './agent-target.js';
export type { NodeFleetOptions } from './agent-target.js';
export { AgentOipClient, decodeInferResponseJson, encodeInferRequestJson } from './oip-client.js';
