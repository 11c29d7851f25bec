/**
 * An emulated continuum for the end-to-end suites: node namespaces joined to the control plane
 * (in the root namespace) through link relays with each tier's delay and cap, one relay each way:
 * the node's uplink to the control plane and the control plane's path to the node's OIP endpoint.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Tier } from '../../src/agent/index.js';
import { createNodeNetwork, inNamespace, namespaceSupport, removeNodeNetwork, startLink, TIER_PROFILES } from '../../src/emulate/index.js';
import type { NodeNetwork, RunningLink } from '../../src/emulate/index.js';
import { ROOT } from './cli-process.js';

/**
 * Why the namespace suites cannot run here, or undefined when they can. With CI=true they always
 * run (and fail loudly when namespaces cannot be made), so CI never passes by skipping.
 */
export function namespaceSkipReason(): string | undefined {
  if (process.env['CI'] === 'true') return undefined;
  const support = namespaceSupport();
  return support.ok ? undefined : `network namespaces cannot be created here (${support.reason}); run as root with iproute2, or set CI=true to make this a failure`;
}

/** The port the agent listens on inside its namespace (namespaces do not share ports). */
export const AGENT_PORT = 18090;

/** One emulated node's network: its namespace and the two link relays. */
export interface EmulatedNode {
  readonly name: string;
  readonly tier: Tier;
  readonly network: NodeNetwork;
  /** Where the agent reaches the control plane's node API (`host:port`, through the uplink). */
  readonly uplink: string;
  /** The URL the control plane (and a test, as a client at the edge) reaches the agent at (through the downlink). */
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Creates node `index`'s namespace and links to a control plane's node API listening on 127.0.0.1:`controlPlanePort`. */
export async function emulateNode(name: string, tier: Tier, index: number, controlPlanePort: number): Promise<EmulatedNode> {
  const network = createNodeNetwork('ctme2e', index);
  const shape = TIER_PROFILES[tier].link;
  const links: RunningLink[] = [];
  try {
    links.push(await startLink({ ...shape, listenHost: network.hostAddress, listenPort: 0, targetHost: '127.0.0.1', targetPort: controlPlanePort }));
    links.push(await startLink({ ...shape, listenHost: '127.0.0.1', listenPort: 0, targetHost: network.nodeAddress, targetPort: AGENT_PORT }));
  } catch (err) {
    await Promise.all(links.map((l) => l.close()));
    removeNodeNetwork(network);
    throw err;
  }
  const [up, down] = links as [RunningLink, RunningLink];
  return {
    name,
    tier,
    network,
    uplink: `${network.hostAddress}:${up.port}`,
    endpoint: `http://127.0.0.1:${down.port}`,
    close: async () => {
      await Promise.all(links.map((l) => l.close()));
      removeNodeNetwork(network);
    },
  };
}

/** A `continuum agent` process in a node's namespace. */
export interface AgentProcess {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | string>;
}

/** Starts `continuum agent ARGS...` inside the node's namespace, listening on its address and advertising its downlink. */
export function startAgent(node: EmulatedNode, stateDir: string, args: readonly string[]): AgentProcess {
  const [command, ...rest] = inNamespace(node.network, [
    process.execPath,
    `${ROOT}bin/continuum.js`,
    'agent',
    '--state-dir',
    stateDir,
    '--listen',
    `${node.network.nodeAddress}:${AGENT_PORT}`,
    '--advertise',
    node.endpoint,
    '--speed-factor',
    String(TIER_PROFILES[node.tier].speedFactor),
    ...args,
  ]) as [string, ...string[]];
  const child = spawn(command, rest, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, output: () => text, exited };
}
