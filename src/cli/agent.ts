/**
 * `continuum agent` (run a node of the continuum: docs/agents.md) and `continuum link` (the
 * emulated network link: a relay with a one-way delay and a bandwidth cap, src/emulate/link.ts).
 */
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { Agent, TIERS } from '../agent/index.js';
import type { Tier } from '../agent/index.js';
import { startLink } from '../emulate/index.js';
import { positiveNumber, wholeNumber } from './args.js';

/** Exit code of an agent whose node was revoked. */
export const REVOKED_EXIT_CODE = 3;

function tier(value: string): Tier {
  if (!(TIERS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${TIERS.join(', ')}`);
  return value as Tier;
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0');
  return n;
}

/** `HOST:PORT` (an IPv6 host in brackets). */
function hostPort(value: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value);
  const port = Number(m?.[2]);
  if (m?.[1] === undefined || !(port >= 0 && port <= 65535)) throw new InvalidArgumentError('expected HOST:PORT');
  return { host: m[1], port };
}

interface AgentFlags {
  readonly join?: string;
  readonly token?: string;
  readonly fingerprint?: string;
  readonly name?: string;
  readonly tier: Tier;
  readonly site: string;
  readonly pricePerHour: number;
  readonly powerWatts: number;
  readonly speedFactor: number;
  readonly stateDir: string;
  readonly listen: { host: string; port: number };
  readonly advertise?: string;
  readonly syncIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  readonly metricsIntervalMs: number;
  readonly spoolMaxRecords: number;
  readonly warmPool: number;
}

interface LinkFlags {
  readonly listen: { host: string; port: number };
  readonly to: { host: string; port: number };
  readonly delayMs: number;
  readonly bandwidthMbit?: number;
}

/** Adds `agent` and `link` to the program. */
export function registerAgentCommands(program: Command): void {
  program
    .command('agent')
    .description('run a node of the continuum: join a control plane once, then serve its desired replicas, online or not (docs/agents.md)')
    .option('--join <url>', 'the control plane to join (needed the first time; replaces the stored URL later)')
    .option('--token <token>', 'join token from `continuum nodes join-token` (needed the first time only)')
    .option('--fingerprint <sha256>', "the control plane's certificate fingerprint to pin (https; printed by `continuum nodes join-token`)")
    .option('--name <name>', 'node name (default: the host name)')
    .option('--tier <tier>', `${TIERS.join('|')}`, tier, 'edge')
    .option('--site <name>', 'the site the node is at', 'default')
    .option('--price-per-hour <usd>', 'what an hour of this node costs', nonNegative, 0)
    .option('--power-watts <w>', "the node's power draw", nonNegative, 0)
    .option('--speed-factor <f>', 'declared compute relative to this machine, multiplied into the measured speed score', positiveNumber, 1)
    .option('--state-dir <dir>', 'where the agent keeps its identity, desired state, artifacts and telemetry spool', './.continuum-agent')
    .option('--listen <host:port>', 'where the OIP endpoint listens', hostPort, { host: '127.0.0.1', port: 8090 })
    .option('--advertise <url>', 'the URL the control plane reaches the OIP endpoint at (default: http://LISTEN)')
    .option('--sync-interval-ms <ms>', 'period of the desired-state pull and telemetry upload', wholeNumber(10), 5000)
    .option('--heartbeat-interval-ms <ms>', 'period of heartbeats', wholeNumber(10), 10_000)
    .option('--metrics-interval-ms <ms>', 'period of metrics summaries', wholeNumber(10), 60_000)
    .option('--spool-max-records <n>', 'telemetry records kept while offline; beyond, the oldest are dropped and counted', wholeNumber(1), 100_000)
    .option('--warm-pool <n>', 'spare replica processes kept booted', wholeNumber(0), 1)
    .action(async (flags: AgentFlags) => {
      const agent = await Agent.start({
        stateDir: resolve(flags.stateDir),
        ...(flags.join === undefined ? {} : { server: flags.join }),
        ...(flags.token === undefined ? {} : { joinToken: flags.token }),
        ...(flags.fingerprint === undefined ? {} : { fingerprint: flags.fingerprint }),
        ...(flags.name === undefined ? {} : { name: flags.name }),
        tier: flags.tier,
        site: flags.site,
        pricePerHour: flags.pricePerHour,
        powerWatts: flags.powerWatts,
        speedFactor: flags.speedFactor,
        host: flags.listen.host,
        port: flags.listen.port,
        ...(flags.advertise === undefined ? {} : { advertiseUrl: flags.advertise }),
        syncIntervalMs: flags.syncIntervalMs,
        heartbeatIntervalMs: flags.heartbeatIntervalMs,
        metricsIntervalMs: flags.metricsIntervalMs,
        spoolMaxRecords: flags.spoolMaxRecords,
        warmPoolSize: flags.warmPool,
        log: (line) => void process.stdout.write(`${new Date().toISOString()} ${line}\n`),
      });
      const status = agent.status();
      process.stdout.write(`agent of node '${status.node}' serving OIP at ${agent.url}; control plane ${status.server}\n`);
      void agent.revoked.then(() => process.exit(REVOKED_EXIT_CODE));
      const stop = (signal: string): void => {
        process.stdout.write(`${signal}: stopping the agent\n`);
        agent.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`continuum: agent shutdown failed: ${String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });

  program
    .command('link')
    .description('relay TCP from --listen to --to with a one-way delay and a bandwidth cap each way (an emulated network link; docs/agents.md)')
    .requiredOption('--listen <host:port>', 'where the link accepts connections', hostPort)
    .requiredOption('--to <host:port>', 'where it carries them', hostPort)
    .option('--delay-ms <ms>', 'one-way delay (a round trip is twice this)', nonNegative, 0)
    .option('--bandwidth-mbit <n>', 'bandwidth cap per direction and connection, in Mbit/s (default: none)', positiveNumber)
    .action(async (flags: LinkFlags) => {
      const link = await startLink({
        listenHost: flags.listen.host,
        listenPort: flags.listen.port,
        targetHost: flags.to.host,
        targetPort: flags.to.port,
        oneWayDelayMs: flags.delayMs,
        bandwidthBitsPerSecond: flags.bandwidthMbit === undefined ? Infinity : flags.bandwidthMbit * 1e6,
      });
      process.stdout.write(`link ${flags.listen.host}:${link.port} -> ${flags.to.host}:${flags.to.port}, ${flags.delayMs} ms one way, ${flags.bandwidthMbit === undefined ? 'no cap' : `${flags.bandwidthMbit} Mbit/s`}\n`);
      const stop = (): void => void link.close().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
}
