/**
 * Nodes of an emulated continuum as Linux network namespaces on one machine (`ip netns`, a veth
 * pair each): a process run in a node's namespace sees only the node's own address and reaches
 * the rest of the world only through the host end of its veth pair, where the link relays
 * (src/emulate/link.ts) listen. Needs root (CAP_NET_ADMIN) and iproute2.
 */
import { execFileSync } from 'node:child_process';

/** The addresses of one emulated node. */
export interface NodeNetwork {
  /** The namespace's name. */
  readonly namespace: string;
  /** The host (root namespace) end of the veth pair. */
  readonly hostAddress: string;
  /** The node's end, inside its namespace. */
  readonly nodeAddress: string;
  readonly hostInterface: string;
}

function ip(args: readonly string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Whether namespaces can be created here; the reason when they cannot (not root, no iproute2, a
 * container without CAP_NET_ADMIN). Tries for real: creates and deletes a probe namespace.
 */
export function namespaceSupport(): { readonly ok: true } | { readonly ok: false; readonly reason: string } {
  const probe = `ctm-probe-${process.pid}`;
  try {
    ip(['netns', 'add', probe]);
    ip(['netns', 'del', probe]);
    return { ok: true };
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return { ok: false, reason: stderr !== undefined && stderr !== '' ? stderr : err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Creates node `index`'s namespace (`<prefix>-<index>`) with a veth pair on 10.213.<index>.0/30:
 * the host end .1, the node end .2, loopback up. A leftover of an earlier run is removed first.
 */
export function createNodeNetwork(prefix: string, index: number): NodeNetwork {
  if (!Number.isInteger(index) || index < 0 || index > 255) throw new RangeError(`node index ${index} is outside 0..255`);
  const namespace = `${prefix}-${index}`;
  const hostInterface = `${prefix.slice(0, 8)}${index}h`;
  const nodeInterface = `${prefix.slice(0, 8)}${index}n`;
  const net = `10.213.${index}`;
  removeNodeNetwork({ namespace, hostInterface, hostAddress: `${net}.1`, nodeAddress: `${net}.2` });
  ip(['netns', 'add', namespace]);
  ip(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', nodeInterface]);
  ip(['link', 'set', nodeInterface, 'netns', namespace]);
  ip(['addr', 'add', `${net}.1/30`, 'dev', hostInterface]);
  ip(['link', 'set', hostInterface, 'up']);
  ip(['-n', namespace, 'addr', 'add', `${net}.2/30`, 'dev', nodeInterface]);
  ip(['-n', namespace, 'link', 'set', nodeInterface, 'up']);
  ip(['-n', namespace, 'link', 'set', 'lo', 'up']);
  return { namespace, hostAddress: `${net}.1`, nodeAddress: `${net}.2`, hostInterface };
}

/** Removes a node's namespace and veth pair; nothing when they do not exist. */
export function removeNodeNetwork(network: NodeNetwork): void {
  for (const args of [
    ['link', 'del', network.hostInterface],
    ['netns', 'del', network.namespace],
  ]) {
    try {
      ip(args);
    } catch {
      // Already gone.
    }
  }
}

/** The command line that runs `argv` inside the node's namespace. */
export function inNamespace(network: NodeNetwork, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', network.namespace, ...argv];
}
