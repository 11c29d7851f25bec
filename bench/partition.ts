/**
 * `node --import tsx bench/partition.ts [--quick]`: Neurosurgeon-style partitioning (src/onnx/
 * partition.ts) measured end to end. A deep MLP built in code (4096 inputs squeezed to 128, then
 * three 2048-wide layers, 10 outputs) is profiled per cut on onnxruntime-node; `chooseCut` picks a
 * cut for each emulated link; then every cut's real latency is measured: the head runs on ONNX
 * Runtime and is stretched to the edge's speed (its measured time × (1/edgeSpeed − 1) more), the
 * link is a sleep of bytes / bandwidth + rtt/2, the tail runs on ONNX Runtime (the cloud, speed 1:
 * this machine). Cuts are measured in rotating order so machine load falls on all alike.
 * Target (issue 7): the chosen cut's measured latency is no worse than all-edge's and all-cloud's.
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildMlp } from '../src/onnx/build.js';
import { chooseCut } from '../src/onnx/partition.js';
import type { CutEstimate, CutLink } from '../src/onnx/partition.js';
import { loadCuts, profileLoaded } from '../src/onnx/partition-profile.js';
import { checkTarget, median } from './method.js';
import type { TargetCheck } from './method.js';
import { machineLine, targetsTable } from './report.js';
import type { MachineInfo } from './report.js';
import { gitCommit, machineInfo, runBenchMain, saveRun } from './run-info.js';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const ROUNDS = args.quick ? 7 : 31;
const EDGE_SPEED = 0.2;
const CLOUD_SPEED = 1;
const MODEL = { inputSize: 4096, hiddenSizes: [128, 2048, 2048, 2048], outputSize: 10, seed: 3 };
const BEGIN = '<!-- partition:begin -->';
const END = '<!-- partition:end -->';

/** The emulated links: one where a middle cut should win, one for all-cloud, one for all-edge. */
const LINKS: readonly (CutLink & { readonly name: string })[] = [
  { name: 'narrow uplink (1 MB/s, 4 ms)', bandwidthBytesPerS: 1e6, rttMs: 4 },
  { name: 'fast LAN to fog (1 GB/s, 1 ms)', bandwidthBytesPerS: 1e9, rttMs: 1 },
  { name: 'far cloud (1 MB/s, 241.9 ms as paper 003)', bandwidthBytesPerS: 1e6, rttMs: 241.9 },
];

/** One runnable way of serving the model: a head on the edge (or none), the bytes it sends, a tail in the cloud (or none). */
interface Runnable {
  readonly label: string;
  readonly head: ort.InferenceSession | undefined;
  readonly tail: ort.InferenceSession | undefined;
  readonly bytes: number;
}

interface LinkResult {
  readonly link: string;
  readonly chosen: string;
  readonly rows: readonly (CutEstimate & { readonly measuredMs: number; readonly fastestMs: number })[];
  readonly chosenMs: number;
  readonly allEdgeMs: number;
  readonly allCloudMs: number;
  readonly bestMeasured: string;
}

interface PartitionBenchResult {
  readonly date: string;
  readonly command: string;
  readonly commit: string;
  readonly machine: MachineInfo;
  readonly model: string;
  readonly edgeSpeed: number;
  readonly rounds: number;
  readonly links: readonly LinkResult[];
  readonly targets: readonly TargetCheck[];
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Blocks this thread for `ms` (fractions included): the emulated link and the slower edge. */
function sleepMs(ms: number): void {
  if (ms > 0) Atomics.wait(pause, 0, 0, ms);
}

/** One request end to end through a runnable over a link. */
async function serveOnce(r: Runnable, feeds: Record<string, ort.Tensor>, link: CutLink): Promise<number> {
  const start = performance.now();
  let tensors = feeds;
  if (r.head !== undefined) {
    // The edge is slower: its compute (this run's CPU time) takes 1/EDGE_SPEED as long.
    const cpu = process.cpuUsage();
    tensors = await r.head.run(tensors);
    const used = process.cpuUsage(cpu);
    sleepMs(((used.user + used.system) / 1000) * (1 / EDGE_SPEED - 1));
  }
  if (r.tail !== undefined) {
    sleepMs((r.bytes / link.bandwidthBytesPerS) * 1000 + link.rttMs / 2);
    await r.tail.run(tensors);
  }
  return performance.now() - start;
}

async function main(): Promise<void> {
  const started = new Date();
  const command = `node --import tsx bench/partition.ts${args.quick ? ' --quick' : ''}`;
  const machine = machineInfo(undefined);
  const bytes = buildMlp(MODEL);
  const loaded = await loadCuts(bytes);
  const { whole, feeds } = loaded;
  const profile = await profileLoaded(loaded, args.quick ? 10 : 50);
  const runnables: Runnable[] = [
    { label: 'all-cloud', head: undefined, tail: whole, bytes: profile.inputBytes },
    ...loaded.splits.map((s, i) => ({ label: s.label, head: s.head, tail: s.tail, bytes: profile.cuts[i + 1]?.bytes ?? 0 })),
    { label: 'all-edge', head: whole, tail: undefined, bytes: 0 },
  ];
  const links: LinkResult[] = [];
  for (const link of LINKS) {
    const choice = chooseCut(profile.cuts, profile.cuts.map((c) => c.bytes), link, EDGE_SPEED, CLOUD_SPEED);
    for (const r of runnables) await serveOnce(r, feeds, link);
    const times = runnables.map(() => [] as number[]);
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < runnables.length; k++) {
        const i = (k + round) % runnables.length;
        times[i]?.push(await serveOnce(runnables[i] as Runnable, feeds, link));
      }
    }
    const measured = times.map((t) => median(t));
    const rows = choice.estimates.map((e, i) => ({ ...e, measuredMs: measured[i] as number, fastestMs: Math.min(...(times[i] as number[])) }));
    const best = measured.reduce((b, m, i) => (m < (measured[b] as number) ? i : b), 0);
    links.push({
      link: link.name,
      chosen: choice.estimates[choice.chosen]?.label ?? '',
      rows,
      chosenMs: measured[choice.chosen] as number,
      allEdgeMs: measured[measured.length - 1] as number,
      allCloudMs: measured[0] as number,
      bestMeasured: runnables[best]?.label ?? '',
    });
    process.stdout.write(`${link.name}: chose ${choice.estimates[choice.chosen]?.label}: ${(measured[choice.chosen] as number).toFixed(2)} ms; all-edge ${(measured[measured.length - 1] as number).toFixed(2)} ms, all-cloud ${(measured[0] as number).toFixed(2)} ms\n`);
  }
  const targets = links.map((l) =>
    checkTarget(`${l.link}: chosen cut vs the better of all-edge and all-cloud`, l.chosenMs / Math.min(l.allEdgeMs, l.allCloudMs), '<=', 1, 'x', `median of ${ROUNDS} requests per cut, measured`),
  );
  const result: PartitionBenchResult = {
    date: started.toISOString(),
    command,
    commit: gitCommit(),
    machine,
    model: `MLP ${[MODEL.inputSize, ...MODEL.hiddenSizes, MODEL.outputSize].join('→')}, softmax`,
    edgeSpeed: EDGE_SPEED,
    rounds: ROUNDS,
    links,
    targets,
  };
  await loaded.release();
  const { resultPath, docPath } = saveRun('partition', started, args.quick, result, { begin: BEGIN, end: END, markdown: render(result) });
  process.stdout.write(`\n${render(result)}\nResults: ${resultPath}\n${docPath === undefined ? '' : `Table: ${docPath}\n`}`);
}

function render(r: PartitionBenchResult): string {
  const parts = [
    '## Model partitioning (issue 7)',
    '',
    `Run: \`${r.command}\` on ${r.date.slice(0, 10)} (commit ${r.commit}).`,
    '',
    machineLine(r.machine),
    '',
    `${r.model} (FP32, one request of 16 KiB), profiled per cut on onnxruntime-node; \`chooseCut\` picks the cut from the profile, the crossing bytes and the link. ` +
      `Each cut is then measured end to end, ${r.rounds} requests per cut in rotating order: the head on ONNX Runtime stretched to an edge ${1 / r.edgeSpeed}× slower than this machine, ` +
      'a sleep of bytes / bandwidth + rtt/2 for the link, the tail on ONNX Runtime (the cloud: this machine). The profile counts CPU time (what other processes take is not the model\'s); ' +
      `the measured latency is wall time, so on a loaded machine it also holds the time other processes held the core (load average ${r.machine.loadAverageAtStart.toFixed(1)} on ${r.machine.cpus} cores at the start). Times in ms.`,
    '',
    targetsTable(r.targets),
  ];
  for (const l of r.links) {
    parts.push('', `### ${l.link}`, '', `Chosen: ${l.chosen}; fastest measured: ${l.bestMeasured}.`, '', '| cut | edge | transfer | cloud | estimated | measured median | measured fastest |', '|---|--:|--:|--:|--:|--:|--:|');
    for (const row of l.rows) {
      const mark = row.label === l.chosen ? ' **(chosen)**' : '';
      parts.push(`| ${row.label}${mark} | ${row.edgeMs.toFixed(2)} | ${row.transferMs.toFixed(2)} | ${row.cloudMs.toFixed(2)} | ${row.totalMs.toFixed(2)} | ${row.measuredMs.toFixed(2)} | ${row.fastestMs.toFixed(2)} |`);
    }
  }
  parts.push('');
  return parts.join('\n');
}

runBenchMain('bench/partition.ts', main);
