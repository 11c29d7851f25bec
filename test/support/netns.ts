/**
 * An emulated continuum for the end-to-end suites: node namespaces joined to the control plane
 * (in the root namespace) through `continuum link` processes with each tier's delay and cap, one
 * each way: the node's uplink to the control plane and the control plane's path to the node's OIP
 * endpoint.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Tier } from '../../src/agent/index.js';
import { createNodeNetwork, inNamespace, namespaceSupport, removeNodeNetwork, TIER_PROFILES } from '../../src/emulate/index.js';
import type { LinkShape, NodeNetwork } from '../../src/emulate/index.js';
import { ROOT, runCli } from './cli-process.js';
import type { CliProcess } from './cli-process.js';

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

/** A `continuum link` process from `listen` (port 0: a free one) to `to`; resolves with it and the port it took. */
async function linkProcess(shape: LinkShape, listenHost: string, to: string): Promise<{ readonly process: CliProcess; readonly port: number }> {
  const link = runCli(['link', '--listen', `${listenHost}:0`, '--to', to, '--delay-ms', String(shape.oneWayDelayMs), '--bandwidth-mbit', String(shape.bandwidthBitsPerSecond / 1e6)]);
  const [, port] = await link.waitFor(/^link [^\s]+:(\d+) ->/m);
  return { process: link, port: Number(port) };
}

/** Creates node `index`'s namespace and links to a control plane's node API listening on 127.0.0.1:`controlPlanePort`. */
export async function emulateNode(name: string, tier: Tier, index: number, controlPlanePort: number): Promise<EmulatedNode> {
  const network = createNodeNetwork('ctme2e', index);
  const shape = TIER_PROFILES[tier].link;
  const links = await Promise.allSettled([linkProcess(shape, network.hostAddress, `127.0.0.1:${controlPlanePort}`), linkProcess(shape, '127.0.0.1', `${network.nodeAddress}:${AGENT_PORT}`)]);
  const close = async (): Promise<void> => {
    for (const l of links) if (l.status === 'fulfilled') l.value.process.child.kill('SIGTERM');
    await Promise.all(links.map((l) => (l.status === 'fulfilled' ? l.value.process.exited : undefined)));
    removeNodeNetwork(network);
  };
  const [up, down] = links;
  if (up?.status !== 'fulfilled' || down?.status !== 'fulfilled') {
    await close();
    throw new Error(`a link of node ${name} did not start: ${links.map((l) => (l.status === 'rejected' ? String(l.reason) : 'ok')).join('; ')}`);
  }
  return { name, tier, network, uplink: `${network.hostAddress}:${up.value.port}`, endpoint: `http://127.0.0.1:${down.value.port}`, close };
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
