/**
 * `continuum assets run pcb|imu`: a virtual asset publishing over MQTT; and `continuum bench
 * asset --workflow DIR`: the asset testing framework (src/assets, docs/workflows-reference.md)
 * against a server given by `--server`, or one started in this process for the run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { ASSET_FORMATS, ASSET_KINDS, assetFor, formatAssetBench, metricsProbe, processTreeProbe, readWorkflowManifest, runAssetBench, VirtualAsset } from '../assets/index.js';
import type { AssetBenchOptions, AssetBenchResult, AssetFormat, AssetKind } from '../assets/index.js';
import { startServer } from '../server/index.js';
import { nonNegativeInt, positiveNumber, wholeNumber } from './args.js';
import { DEFAULT_SERVER_URL, TOKEN_ENV } from './client.js';
import { printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';

/** The broker `assets run` publishes to without `--broker`: the embedded one of a local `continuum serve`. */
const DEFAULT_BROKER_URL = 'mqtt://127.0.0.1:1883';

function oneOf<T extends string>(values: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(values as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    return value as T;
  };
}

interface RunFlags {
  readonly broker: string;
  readonly token?: string;
  readonly rate?: number;
  readonly count?: number;
  readonly format: AssetFormat;
  readonly topic?: string;
  readonly seed: number;
  readonly label: boolean;
  readonly json?: boolean;
}

interface BenchFlags {
  readonly workflow: string;
  readonly cycles: number;
  readonly rate?: number;
  readonly server?: string;
  readonly broker?: string;
  readonly serverPid?: number;
  readonly token?: string;
  readonly format: AssetFormat;
  readonly trainSamples?: number;
  readonly seed: number;
  readonly keep?: boolean;
  readonly json?: boolean;
}

function tokenOf(flag: string | undefined): string | undefined {
  const token = flag ?? process.env[TOKEN_ENV];
  return token === '' ? undefined : token;
}

/** Runs the bench against `--server`, or against a server this process starts on free ports and stops afterwards. */
async function benchAsset(flags: BenchFlags, log: (line: string) => void): Promise<AssetBenchResult> {
  // A package no asset can feed is refused before any server starts.
  assetFor(readWorkflowManifest(flags.workflow));
  const token = tokenOf(flags.token);
  const common: Omit<AssetBenchOptions, 'server' | 'brokerUrl'> = {
    workflowDir: flags.workflow,
    cycles: flags.cycles,
    format: flags.format,
    seed: flags.seed,
    log,
    ...(flags.rate === undefined ? {} : { rateHz: flags.rate }),
    ...(flags.trainSamples === undefined ? {} : { trainSamples: flags.trainSamples }),
    ...(flags.keep === true ? { keep: true } : {}),
    ...(token === undefined ? {} : { token }),
  };
  if (flags.server !== undefined) {
    return runAssetBench({
      ...common,
      server: flags.server,
      brokerUrl: flags.broker ?? `mqtt://${new URL(flags.server).hostname}:1883`,
      probe: flags.serverPid === undefined ? metricsProbe(flags.server) : processTreeProbe(flags.serverPid),
    });
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'continuum-bench-asset-'));
  // The meter closes an interval every second, so the cycles' energy is read soon after they end.
  const server = await startServer({ port: 0, grpcPort: 0, mqttPort: 0, dataDir, demo: false, console: false, logLevel: 'warn', energyIntervalMs: 1000 });
  log(`started a server at ${server.url} (MQTT on port ${server.mqttPort ?? '-'}); this process's tree is measured, the bench included`);
  try {
    return await runAssetBench({ ...common, server: server.url, brokerUrl: `mqtt://127.0.0.1:${server.mqttPort ?? 1883}`, probe: processTreeProbe(process.pid), energyWaitMs: 1500 });
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Adds `assets run` and `bench asset` to the program (after `bench` exists, it joins that command). */
export function registerAssetCommands(program: Command, out: Output = stdoutOutput): void {
  const assets = program.command('assets').description('virtual industrial assets publishing over MQTT (docs/workflows-reference.md)');
  assets
    .command('run')
    .description('publish a virtual asset’s data over MQTT (QoS 1) until --count messages or Ctrl-C')
    .argument('<kind>', `the asset: ${ASSET_KINDS.join(' or ')}`, oneOf(ASSET_KINDS))
    .option('--broker <url>', 'MQTT broker', DEFAULT_BROKER_URL)
    .option('--token <token>', `management token, sent as the MQTT password (default: $${TOKEN_ENV})`)
    .option('--rate <n>', 'messages per second (default: the asset’s own, PCB 10, IMU 50)', positiveNumber)
    .option('--count <n>', 'stop after this many messages (default: run until interrupted)', wholeNumber(1))
    .option('--format <format>', `payload: ${ASSET_FORMATS.join(' or ')}`, oneOf(ASSET_FORMATS), 'json')
    .option('--topic <topic>', 'data topic (default: continuum/assets/<kind>, or the databus data topic)')
    .option('--seed <n>', 'seed of the generator', nonNegativeInt, 1)
    .option('--no-label', 'leave the label out of each message, as a live asset does')
    .option('--json', 'print the counters as JSON')
    .action(async (kind: AssetKind, flags: RunFlags) => {
      const token = tokenOf(flags.token);
      const asset = new VirtualAsset({
        kind,
        brokerUrl: flags.broker,
        format: flags.format,
        seed: flags.seed,
        ...(flags.label ? {} : { labelField: false }),
        ...(flags.rate === undefined ? {} : { rateHz: flags.rate }),
        ...(flags.topic === undefined ? {} : { topic: flags.topic }),
        ...(token === undefined ? {} : { token }),
      });
      await asset.connect();
      process.stderr.write(`${kind} asset publishing to ${asset.topic} (${asset.format}) at ${asset.rateHz}/s on ${flags.broker}\n`);
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const counters = await asset.run({ signal: stop.signal, ...(flags.count === undefined ? {} : { count: flags.count }) });
        printResult(out, flags.json === true, { kind, topic: asset.topic, format: asset.format, ...counters }, (c) => `${c.kind} asset: ${c.sent} sent to ${c.topic}, ${c.acked} acknowledged, ${c.failed} failed\n`);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await asset.close();
      }
    });

  const bench = program.commands.find((c) => c.name() === 'bench') ?? program.command('bench').description('measure the platform');
  bench
    .command('asset')
    .description('the asset testing framework: upload a workflow, train it on a virtual asset’s data, deploy, run prediction cycles, report times, CPU, memory, energy')
    .requiredOption('--workflow <dir>', 'workflow package directory (e.g. workflows/pcb-inspection)')
    .option('--cycles <n>', 'prediction cycles', wholeNumber(1), 20)
    .option('--rate <n>', 'messages per second during the prediction cycles (default: the asset’s own)', positiveNumber)
    .option('--server <url>', `a running server (default: start one in this process; e.g. ${DEFAULT_SERVER_URL})`)
    .option('--broker <url>', 'the server’s MQTT broker (default: port 1883 on the --server host)')
    .option('--server-pid <pid>', 'process id of a --server on this machine: CPU and memory from /proc (default: from its /metrics)', wholeNumber(1))
    .option('--token <token>', `management token (default: $${TOKEN_ENV})`)
    .option('--format <format>', `payload: ${ASSET_FORMATS.join(' or ')}`, oneOf(ASSET_FORMATS), 'json')
    .option('--train-samples <n>', 'messages in the training window (default: 2000 pads, 3 minutes of IMU frames)', wholeNumber(10))
    .option('--seed <n>', 'seed of the asset', nonNegativeInt, 1)
    .option('--keep', 'leave the data source and the deployment in place')
    .option('--json', 'print the result as JSON')
    .action(async (flags: BenchFlags) => {
      const result = await benchAsset(flags, (line) => void process.stderr.write(`${line}\n`));
      printResult(out, flags.json === true, result, formatAssetBench);
    });
}
