/**
 * `continuum place` and `continuum partition`, offline (no server): where a model should run
 * among nodes described in files, and where to cut a model between edge and cloud for a link
 * (docs/placement.md).
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { ContinuumError } from '../errors.js';
import { chooseCut } from '../onnx/partition.js';
import { optimize, parseLinks, parseModelProfile, parseNodes, parseWeights } from '../placement/index.js';
import type { ModelProfile, PlacementRequest, PlacementResult, ScoredCandidate } from '../placement/index.js';
import { positiveNumber, wholeNumber } from './args.js';
import { formatTable, printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';

/** Largest nodes, links or profile file read. */
const MAX_JSON_FILE_BYTES = 16 * 1024 * 1024;

/** Largest model file measured. */
const MAX_MODEL_FILE_BYTES = 512 * 1024 * 1024;

/** A finite number >= 0 (a round-trip time may be 0 on one site). */
function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0');
  return n;
}

/** The measuring code, loaded when a command measures: it loads ONNX Runtime, which every other command can do without. */
function measurement(): Promise<typeof import('../onnx/partition-profile.js')> {
  return import('../onnx/partition-profile.js');
}

/** Reads a file of at most `maxBytes`, refusing a larger one before reading it. */
function readBounded(file: string, maxBytes: number): Buffer {
  const size = statSync(file).size;
  if (size > maxBytes) throw new ContinuumError('CONTINUUM_ERR_INVALID_PLACEMENT', `${file} is ${size} bytes; at most ${maxBytes} are read`);
  return readFileSync(file);
}

/** JSON from a file, refusing what does not parse. */
function readJson(file: string): unknown {
  const text = readBounded(file, MAX_JSON_FILE_BYTES).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ContinuumError('CONTINUUM_ERR_INVALID_PLACEMENT', `${file} is not JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** The model's profile: a profile JSON file as is, or an ONNX file measured now (this machine at `localSpeed`). */
async function modelProfileOf(file: string, localSpeed: number): Promise<ModelProfile> {
  if (file.endsWith('.json')) return parseModelProfile(readJson(file));
  const { measureModelProfile } = await measurement();
  const measured = await measureModelProfile(readBounded(file, MAX_MODEL_FILE_BYTES));
  return { ...measured, computeMsAtSpeed1: measured.computeMsAtSpeed1 * localSpeed };
}

/** Flags of `continuum place`. */
interface PlaceFlags {
  readonly model: string;
  readonly site: string;
  readonly nodes: string;
  readonly links: string;
  readonly rate: number;
  readonly sloMs?: number;
  readonly dataStaysOnSite?: boolean;
  readonly budgetPerHour?: number;
  readonly maxWatts?: number;
  readonly weights?: string;
  readonly localSpeed: number;
  readonly json?: boolean;
}

const fixed = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : String(v));

/** The Pareto front as a table, the choice marked, then the explanation. */
export function formatPlacement(result: PlacementResult): string {
  const table = formatTable<ScoredCandidate>(result.front, [
    { header: '', value: (c) => (c === result.choice ? '*' : '') },
    { header: 'NODE', value: (c) => c.node },
    { header: 'TIER', value: (c) => c.tier },
    { header: 'REPLICAS', value: (c) => String(c.replicas) },
    { header: 'MEAN MS', value: (c) => fixed(c.latencyMs, 1) },
    { header: 'P99 MS', value: (c) => fixed(c.p99LatencyMs, 1) },
    { header: '$/H', value: (c) => fixed(c.costPerHour, 4) },
    { header: 'WATTS', value: (c) => fixed(c.watts, 1) },
    { header: 'RAW DATA', value: (c) => (c.dataLeavesSite ? 'leaves site' : 'stays') },
    { header: 'SCORE', value: (c) => fixed(c.score, 3) },
  ]);
  const heading = result.choice === undefined ? '' : `Pareto front (${result.front.length} of ${result.feasibleCount} feasible placements; * = chosen):\n`;
  return `${heading}${result.front.length === 0 ? '' : table}\n${result.explanation.map((line) => `${line}\n`).join('')}`;
}

/** Flags of `continuum partition`. */
interface PartitionFlags {
  readonly bandwidth: number;
  readonly rttMs: number;
  readonly edgeSpeed: number;
  readonly cloudSpeed: number;
  readonly resultBack?: boolean;
  readonly maxTensors: number;
  readonly runs: number;
  readonly outDir?: string;
  readonly json?: boolean;
}

/** Adds `place` and `partition` to the program. */
export function registerPlacementCommands(program: Command, out: Output = stdoutOutput): void {
  program
    .command('place')
    .description('choose where a model runs among edge, fog and cloud nodes (offline, from files): the Pareto front of latency, cost, power and privacy, and the weighted choice')
    .requiredOption('--model <file>', 'the model: a profile JSON {computeMsAtSpeed1, inputBytes, outputBytes, memoryBytes}, or an ONNX file measured now')
    .requiredOption('--site <site>', 'the site the data comes from')
    .requiredOption('--nodes <file>', 'JSON array of nodes (docs/placement.md)')
    .requiredOption('--links <file>', 'JSON array of links between sites (docs/placement.md)')
    .option('--rate <perS>', 'requests per second to serve', positiveNumber, 1)
    .option('--slo-ms <ms>', 'the estimated p99 latency must stay within this', positiveNumber)
    .option('--data-stays-on-site', 'raw data must not leave the data site')
    .option('--budget-per-hour <usd>', 'most US dollars per hour', positiveNumber)
    .option('--max-watts <w>', 'most power the deployment may draw', positiveNumber)
    .option('--weights <list>', 'weights of the objectives, e.g. latency=1,cost=0.5,energy=0,privacy=2 (default: all 1)')
    .option('--local-speed <score>', "this machine's speed score, when --model is an ONNX file measured here", positiveNumber, 1)
    .option('--json', 'print the result as JSON')
    .action(async (flags: PlaceFlags) => {
      const nodes = parseNodes(readJson(flags.nodes));
      const links = parseLinks(readJson(flags.links));
      const request: PlacementRequest = {
        dataSite: flags.site,
        ratePerS: flags.rate,
        model: await modelProfileOf(flags.model, flags.localSpeed),
        constraints: {
          ...(flags.sloMs === undefined ? {} : { latencySloMs: flags.sloMs }),
          ...(flags.dataStaysOnSite === true ? { dataStaysOnSite: true } : {}),
          ...(flags.budgetPerHour === undefined ? {} : { budgetPerHour: flags.budgetPerHour }),
          ...(flags.maxWatts === undefined ? {} : { maxWatts: flags.maxWatts }),
        },
        weights: parseWeights(flags.weights),
      };
      const result = optimize(request, nodes, links);
      printResult(out, flags.json === true, { request, ...result }, () => formatPlacement(result));
      if (result.choice === undefined) process.exitCode = 1;
    });

  program
    .command('partition <model>')
    .description('profile an ONNX model at every cut on ONNX Runtime and choose where to split it between edge and cloud for a link (Neurosurgeon-style)')
    .requiredOption('--bandwidth <bytesPerS>', 'link bandwidth, bytes per second', positiveNumber)
    .requiredOption('--rtt-ms <ms>', 'link round-trip time', nonNegativeNumber)
    .option('--edge-speed <score>', "the edge's speed relative to this machine", positiveNumber, 1)
    .option('--cloud-speed <score>', "the cloud's speed relative to this machine", positiveNumber, 1)
    .option('--result-back', 'the prediction returns to the edge (counts its bytes and rtt/2 for every cut that uses the cloud)')
    .option('--max-tensors <n>', 'most tensors a cut may send', wholeNumber(1), 1)
    .option('--runs <n>', 'runs each timing is the median of', wholeNumber(1), 30)
    .option('--out-dir <dir>', 'write head.onnx and tail.onnx of the chosen cut here')
    .option('--json', 'print the cut table as JSON')
    .action(async (file: string, flags: PartitionFlags) => {
      const bytes = readBounded(file, MAX_MODEL_FILE_BYTES);
      const { profileCuts, splitsOf } = await measurement();
      const profile = await profileCuts(bytes, { runs: flags.runs, maxTensors: flags.maxTensors });
      const link = { bandwidthBytesPerS: flags.bandwidth, rttMs: flags.rttMs };
      const choice = chooseCut(profile.cuts, profile.cuts.map((c) => c.bytes), link, flags.edgeSpeed, flags.cloudSpeed, flags.resultBack === true ? profile.outputBytes : undefined);
      const chosen = profile.cuts[choice.chosen];
      if (flags.outDir !== undefined && chosen?.cut !== undefined) {
        const split = (await splitsOf(bytes, flags.maxTensors)).find((s) => s.cut.after === chosen.cut?.after);
        mkdirSync(flags.outDir, { recursive: true });
        writeFileSync(join(flags.outDir, 'head.onnx'), split?.head ?? new Uint8Array());
        writeFileSync(join(flags.outDir, 'tail.onnx'), split?.tail ?? new Uint8Array());
      }
      const rows = choice.estimates.map((e, i) => ({ ...e, bytes: profile.cuts[i]?.bytes ?? 0, chosen: i === choice.chosen }));
      printResult(out, flags.json === true, { link, edgeSpeed: flags.edgeSpeed, cloudSpeed: flags.cloudSpeed, cuts: rows }, () =>
        formatTable(rows, [
          { header: '', value: (r) => (r.chosen ? '*' : '') },
          { header: 'CUT', value: (r) => r.label },
          { header: 'BYTES', value: (r) => String(r.bytes) },
          { header: 'EDGE MS', value: (r) => fixed(r.edgeMs, 3) },
          { header: 'TRANSFER MS', value: (r) => fixed(r.transferMs, 3) },
          { header: 'CLOUD MS', value: (r) => fixed(r.cloudMs, 3) },
          { header: 'TOTAL MS', value: (r) => fixed(r.totalMs, 3) },
        ]) + `chosen: ${chosen?.label ?? ''}${flags.outDir !== undefined && chosen?.cut !== undefined ? ` (head.onnx and tail.onnx in ${flags.outDir})` : ''}\n`,
      );
    });
}
