/**
 * `node --import tsx bench/asset.ts [--workflow DIR]... [--cycles N] [--rate R] [--format json|databus]
 * [--server URL --broker URL [--server-pid PID]] [--quick]`: the asset testing framework of Keusch
 * et al. (§4.3) for each reference workflow (default: workflows/pcb-inspection and
 * workflows/imu-activity). One `continuum serve` (bench/continuum.ts) is started as a user starts
 * it, unless `--server` names a running one; for each workflow, `runAssetBench` (src/assets)
 * uploads the package, sends a virtual asset's training window, trains, deploys, runs the
 * prediction cycles, and reports training time, prediction time split into ingest and compute,
 * communication latency, peak CPU and memory of the server's process tree, and energy, with the
 * paper's Table 1 beside them.
 *
 * Writes bench/results/asset-<timestamp>.json and the section of docs/benchmarks.md between
 * `<!-- asset:begin -->` and `<!-- asset:end -->` (a --quick run prints only).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatAssetBench, metricsProbe, processTreeProbe, runAssetBench } from '../src/assets/index.js';
import type { AssetBenchResult, AssetFormat, ProcessTreeProbe } from '../src/assets/index.js';
import { prepareContinuum, ROOT, startContinuum } from './continuum.js';
import { freePort, processSetForRun } from './processes.js';
import { machineLine } from './report.js';
import { gitCommit, machineInfo, runBenchMain, saveRun } from './run-info.js';

const { values: args } = parseArgs({
  options: {
    workflow: { type: 'string', multiple: true },
    cycles: { type: 'string', default: '20' },
    rate: { type: 'string' },
    format: { type: 'string', default: 'json' },
    server: { type: 'string' },
    broker: { type: 'string' },
    'server-pid': { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});

const WORKFLOWS = args.workflow ?? [join(ROOT, 'workflows', 'pcb-inspection'), join(ROOT, 'workflows', 'imu-activity')];
const CYCLES = Number(args.cycles);
const FORMAT = args.format as AssetFormat;
/** A quick run trains on a smaller window: numbers are rough. */
const QUICK_TRAIN_SAMPLES = { pcb: 600, imu: 3000 } as const;

/** Where the bench points: a server it started (with its process tree measured) or the one given. */
interface Target {
  readonly server: string;
  readonly brokerUrl: string;
  readonly probe: ProcessTreeProbe;
}

async function main(): Promise<void> {
  if (!(CYCLES >= 1 && Number.isInteger(CYCLES))) throw new Error(`--cycles ${args.cycles} is not a whole number >= 1`);
  if (FORMAT !== 'json' && FORMAT !== 'databus') throw new Error(`--format ${FORMAT} is neither json nor databus`);
  const started = new Date();
  const processes = processSetForRun();
  const dataDir = mkdtempSync(join(tmpdir(), 'continuum-bench-asset-'));
  try {
    let target: Target;
    if (args.server === undefined) {
      const unready = prepareContinuum();
      if (unready !== undefined) throw new Error(`cannot run continuum serve: ${unready}`);
      const mqttPort = await freePort();
      const server = await startContinuum(processes, dataDir, ['--mqtt-port', String(mqttPort)]);
      target = { server: server.origin, brokerUrl: `mqtt://127.0.0.1:${mqttPort}`, probe: processTreeProbe(server.process.pid) };
    } else {
      const pid = args['server-pid'];
      target = { server: args.server, brokerUrl: args.broker ?? `mqtt://${new URL(args.server).hostname}:1883`, probe: pid === undefined ? metricsProbe(args.server) : processTreeProbe(Number(pid)) };
    }
    const results: AssetBenchResult[] = [];
    for (const workflowDir of WORKFLOWS) {
      const quickSamples = workflowDir.includes('imu') ? QUICK_TRAIN_SAMPLES.imu : QUICK_TRAIN_SAMPLES.pcb;
      const result = await runAssetBench({
        server: target.server,
        brokerUrl: target.brokerUrl,
        workflowDir,
        cycles: CYCLES,
        format: FORMAT,
        log: (line) => void process.stderr.write(`${line}\n`),
        ...(args.rate === undefined ? {} : { rateHz: Number(args.rate) }),
        ...(args.quick ? { trainSamples: quickSamples } : {}),
        probe: target.probe,
        ...(process.env['CONTINUUM_TOKEN'] === undefined ? {} : { token: process.env['CONTINUUM_TOKEN'] }),
      });
      process.stdout.write(`${formatAssetBench(result)}\n`);
      results.push(result);
    }
    const machine = machineInfo(undefined);
    const command = `node --import tsx bench/asset.ts ${process.argv.slice(2).join(' ')}`.trim();
    const markdown = [
      '## Asset testing framework',
      '',
      `Run: \`${command}\` on ${started.toISOString().slice(0, 10)} (commit ${gitCommit()}).`,
      machineLine(machine),
      '',
      '```',
      ...results.map(formatAssetBench),
      '```',
    ].join('\n');
    const saved = saveRun('asset', started, args.quick, { command, machine, results }, { begin: '<!-- asset:begin -->', end: '<!-- asset:end -->', markdown });
    process.stderr.write(`results: ${saved.resultPath}${saved.docPath === undefined ? '' : `, ${saved.docPath}`}\n`);
  } finally {
    await processes.endAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

runBenchMain('bench asset', main);
