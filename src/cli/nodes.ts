/**
 * `continuum nodes join-token|list|show|rotate|revoke`: the nodes of the continuum over the
 * management API (docs/agents.md).
 */
import type { Command } from 'commander';
import type { NodeView, TelemetryRecord } from '../agent/index.js';
import { durationMs } from './args.js';
import { clientOf, withCommonOptions } from './client.js';
import type { CommonOptions } from './client.js';
import { formatBytes, formatFields, formatTable, printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';

const segment = encodeURIComponent;

function nodesText(nodes: readonly NodeView[]): string {
  return formatTable(nodes, [
    { header: 'NAME', value: (n) => n.name },
    { header: 'TIER', value: (n) => n.facts.tier },
    { header: 'SITE', value: (n) => n.facts.site },
    { header: 'STATUS', value: (n) => n.status },
    { header: 'CORES', value: (n) => String(n.facts.cores) },
    { header: 'MEMORY', value: (n) => formatBytes(n.facts.memoryBytes) },
    { header: 'SPEED', value: (n) => n.facts.speedScore.toFixed(0) },
    { header: 'REPLICAS', value: (n) => String(n.desired.reduce((sum, r) => sum + r.count, 0)) },
    { header: 'LAST SEEN', value: (n) => n.lastSeenAt ?? '-' },
  ]);
}

function nodeText(n: NodeView & { readonly events: readonly TelemetryRecord[] }): string {
  const fields = formatFields([
    ['Name', n.name],
    ['Tier / site', `${n.facts.tier} / ${n.facts.site}`],
    ['Status', n.status],
    ['Endpoint', n.facts.endpoint],
    ['Cores / memory', `${n.facts.cores} / ${formatBytes(n.facts.memoryBytes)}`],
    ['Speed score', n.facts.speedScore.toFixed(0)],
    ['Price / power', `${n.facts.pricePerHour}/h / ${n.facts.powerWatts} W`],
    ['Joined', n.joinedAt],
    ['Last seen', n.lastSeenAt ?? '-'],
    ['Credential issued', `${n.credentialIssuedAt}${n.rotationPending ? ' (rotation pending)' : ''}`],
    ['Desired', `generation ${n.generation}: ${n.desired.map((r) => `${r.deployment}@${r.revision}×${r.count}`).join(', ') || 'nothing'}`],
    ['Telemetry', `last seq ${n.telemetry.lastSeq}, ${n.telemetry.received} received, ${n.telemetry.missing} missing, ${n.telemetry.droppedByAgent} dropped by the agent`],
  ]);
  const events = n.events.map((e) => `  ${new Date(e.atMs).toISOString()}  ${String(e.body['type'])}  ${String(e.body['message'])}\n`).join('');
  return `${fields}${events === '' ? '' : `Recent events:\n${events}`}`;
}

/** Adds `nodes ...` to the program. */
export function registerNodeCommands(program: Command, out: Output = stdoutOutput): void {
  const nodes = program.command('nodes').description('nodes of the continuum run by `continuum agent`: join tokens, list, show, rotate, revoke');

  withCommonOptions(nodes.command('join-token').description('create a single-use token an agent joins with (`continuum agent --join URL --token TOKEN`)').option('--ttl <duration>', 'how long the token is valid', durationMs)).action(
    async (flags: CommonOptions & { readonly ttl?: number }) => {
      const client = clientOf(flags);
      const created = await client.sendJson<{ token: string; expiresAt: string; agentPort?: number; fingerprint?: string }>('POST', '/nodes/join-tokens', flags.ttl === undefined ? {} : { ttlMs: flags.ttl });
      // Over TLS the node API has its own port on the same host, and the agent pins its certificate.
      const joinUrl = (t: typeof created): string => {
        if (t.agentPort === undefined) return client.server;
        const url = new URL(client.server);
        return `https://${url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname}:${t.agentPort}`;
      };
      printResult(
        out,
        flags.json === true,
        created,
        (t) => `${t.token}\nvalid until ${t.expiresAt}; join with:\n  continuum agent --join ${joinUrl(t)} --token ${t.token}${t.fingerprint === undefined ? '' : ` --fingerprint ${t.fingerprint}`} --tier edge --site SITE\n`,
      );
    },
  );

  withCommonOptions(nodes.command('list').description('every node with its tier, status and capacity')).action(async (flags: CommonOptions) => {
    const { nodes: list } = await clientOf(flags).getJson<{ nodes: NodeView[] }>('/nodes');
    printResult(out, flags.json === true, list, nodesText);
  });

  withCommonOptions(nodes.command('show').description("a node's facts, desired state, telemetry counts and recent events").argument('<name>')).action(async (name: string, flags: CommonOptions) => {
    const node = await clientOf(flags).getJson<NodeView & { events: TelemetryRecord[] }>(`/nodes/${segment(name)}`);
    printResult(out, flags.json === true, node, nodeText);
  });

  withCommonOptions(nodes.command('rotate').description("give the node a new credential at its next sync; the old one stops working once the new one is used").argument('<name>')).action(
    async (name: string, flags: CommonOptions) => {
      const node = await clientOf(flags).sendJson<NodeView>('POST', `/nodes/${segment(name)}/rotate`);
      printResult(out, flags.json === true, node, (n) => `node ${n.name}: credential rotation requested; the agent takes its new credential at its next sync\n`);
    },
  );

  withCommonOptions(nodes.command('revoke').description('refuse the node from now on (its agent stops); a revoked node joins again only with a new token').argument('<name>')).action(
    async (name: string, flags: CommonOptions) => {
      const node = await clientOf(flags).sendJson<NodeView>('POST', `/nodes/${segment(name)}/revoke`);
      printResult(out, flags.json === true, node, (n) => `node ${n.name} revoked at ${n.revokedAt ?? '?'}\n`);
    },
  );
}
