/**
 * `npm run bench:gateway [-- --quick] [-- --rounds N] [-- --baseline FILE]`: what the gateway→replica hop costs through
 * the real HTTP front end. One `continuum serve` serves the benchmark MLP (bench/models.ts) three
 * ways side by side in one run, over OIP REST JSON:
 *
 * - (a) the single-process server: the model pushed with no deployment, run by the in-process runtime;
 * - (b) a deployment of the same model, policy `fixed`, 1 replica process;
 * - (c) the same with 2 replica processes (least outstanding requests).
 *
 * Each is measured at concurrency 1 and 64 with the serving benchmark's method (bench/drive.ts,
 * bench/loadgen.ts: perf_analyzer's windows, the load generator in its own process), in rounds
 * whose order rotates, so drift on a shared machine falls on every system alike. Reports p50 at
 * c1 and the hop's added latency ((b) − (a)), throughput at c64 and the ratios (c)/(a) and
 * (b)/(a) against issue 3's targets (hop <= 0.15 ms p50 at c1; 2 replicas >= 0.9x at c64), and
 * where the CPU went at c64 (gateway, replicas, load generator, everything else on the machine),
 * read from /proc around the kept windows. `--baseline` names an earlier results file whose
 * targets are shown next to this run's.
 *
 * Writes bench/results/gateway-<timestamp>.json and the section of docs/benchmarks.md between
 * `<!-- gateway:begin -->` and `<!-- gateway:end -->` (a --quick run writes its JSON to the temp
 * directory only). Every process it starts is ended when it finishes, fails or is interrupted.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { deployModel, prepareContinuum, pushModel, readyReplicaPids, ROOT, startContinuum } from './continuum.js';
import type { ContinuumServer } from './continuum.js';
import { driveLoadgen } from './drive.js';
import type { LoadgenConfig } from './loadgen.js';
import { checkTarget, median, PERF_ANALYZER_STABILITY, probeDistance, summarize } from './method.js';
import type { Measurement, Probe, TargetCheck } from './method.js';
import { writeMlp } from './models.js';
import type { BenchModel } from './models.js';
import { CLOCK_TICKS_PER_S, machineBusyTicks, processSetForRun, processTicks } from './processes.js';
import type { BenchProcess, ProcessSet } from './processes.js';
import { machineLine, targetsTable, withMarkedSection } from './report.js';
import type { MachineInfo } from './report.js';
import { gitCommit, machineInfo, resultStamp } from './run-info.js';

/** The systems compared; (a), (b), (c) of the module comment. */
type SystemId = 'single' | 'fixed-1' | 'fixed-2';

/** One way the server serves the MLP. */
interface System {
  readonly id: SystemId;
  readonly label: string;
  /** The OIP model name clients call. */
  readonly modelName: string;
  /** Replica processes (0: the in-process runtime). */
  readonly replicas: number;
}

/** Timing of one measurement (see bench/serving.ts for why these values). */
interface Timing {
  readonly rounds: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly maxWindows: number;
  readonly maxMeasureMs: number;
}

/** The full run: three rounds, 1 s windows (thousands of requests each), at most 5 per measurement. */
const FULL: Timing = { rounds: 3, warmupMs: 1000, windowMs: 1000, maxWindows: 5, maxMeasureMs: 20_000 };
/** The smoke run: one round, short windows. */
const QUICK: Timing = { rounds: 1, warmupMs: 300, windowMs: 300, maxWindows: 3, maxMeasureMs: 5_000 };

/** The concurrencies the issue's targets name. */
const CONCURRENCIES = [1, 64] as const;
/** The first measurement of each system warms it up this many times longer (JIT, connections, allocator). */
const FIRST_WARMUP_FACTOR = 3;
/** Answers agree when no value differs by more than this from the single-process server's. */
const ANSWER_TOLERANCE = 1e-6;
/**
 * A measurement during which other processes kept more than this many cores busy is repeated, up
 * to {@link MAX_ATTEMPTS} times, and the least disturbed one is kept: the machine is shared, and a
 * foreign load during one system's measurement and not another's would skew their ratio.
 */
const QUIET_OTHER_CORES = 0.25;
const MAX_ATTEMPTS = 3;
/** Issue 3's targets. */
const HOP_BOUND_MS = 0.15;
const TWO_REPLICA_BOUND = 0.9;

const BEGIN = '<!-- gateway:begin -->';
const END = '<!-- gateway:end -->';

/** CPU time, in clock ticks (/proc's unit), of the processes involved and of the whole machine. */
interface CpuSnapshot {
  readonly atMs: number;
  readonly gateway: number;
  readonly replicas: number;
  readonly loadgen: number;
  /** Busy ticks of all CPUs (everything but idle and iowait), /proc/stat. */
  readonly machineBusy: number;
}

/** Where the CPU went during a measurement's kept windows, in cores (1 = one core busy all along). */
interface CpuShare {
  readonly gatewayCores: number;
  readonly replicaCores: number;
  readonly loadgenCores: number;
  /** Every other process on the machine (busy CPU not accounted to the three above). */
  readonly otherCores: number;
  /** The gateway's CPU time per request answered, µs. */
  readonly gatewayUsPerRequest: number;
  /** The replicas' CPU time per request answered, µs. */
  readonly replicaUsPerRequest: number;
  /** The load generator's CPU time per request answered, µs. */
  readonly loadgenUsPerRequest: number;
}

/** One measurement of one system at one concurrency in one round. */
interface GatewayRow {
  readonly round: number;
  readonly systemId: SystemId;
  readonly system: string;
  readonly concurrency: number;
  readonly measurement: Measurement;
  readonly cpu: CpuShare | undefined;
  readonly answerDistance: number | undefined;
  /** Measurements made to get this one (more than one when other work disturbed the machine). */
  readonly attempts: number;
}

/** A system at a concurrency over every round: medians, and each round's value for the spread. */
interface GatewaySummary {
  readonly systemId: SystemId;
  readonly system: string;
  readonly concurrency: number;
  readonly requestsPerS: number;
  /** Throughput over the single-process server's, paired by round, median over rounds. */
  readonly vsSingle: number | undefined;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requestsPerSByRound: readonly number[];
  readonly p50MsByRound: readonly number[];
  readonly cpu: CpuShare | undefined;
}

/** A whole run. */
interface GatewayResult {
  readonly date: string;
  readonly command: string;
  readonly commit: string;
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly method: Timing & { readonly concurrencies: readonly number[]; readonly stability: string };
  readonly rows: readonly GatewayRow[];
  readonly summary: readonly GatewaySummary[];
  readonly targets: readonly TargetCheck[];
  /** Each target's value in each round, in the order of {@link targets}. */
  readonly targetsByRound: readonly (readonly number[])[];
  readonly notes: readonly string[];
  readonly failures: readonly string[];
  /** An earlier run compared with this one (`--baseline FILE`): where it came from and what it measured. */
  readonly baseline?: {
    readonly file: string;
    readonly date: string;
    readonly commit: string;
    readonly targets: readonly TargetCheck[];
    readonly targetsByRound: readonly (readonly number[])[];
  };
}

function cpuSnapshot(gatewayPid: number, replicaPids: readonly number[], loadgen: BenchProcess): CpuSnapshot {
  return {
    atMs: performance.now(),
    gateway: processTicks(gatewayPid),
    replicas: replicaPids.reduce((sum, pid) => sum + processTicks(pid), 0),
    loadgen: processTicks(loadgen.pid),
    machineBusy: machineBusyTicks(),
  };
}

/** The CPU shares between two snapshots over `completed` requests. */
function cpuShare(before: CpuSnapshot, after: CpuSnapshot, completed: number): CpuShare {
  const seconds = (after.atMs - before.atMs) / 1000;
  const cores = (ticks: number): number => ticks / CLOCK_TICKS_PER_S / seconds;
  const gateway = after.gateway - before.gateway;
  const replicas = after.replicas - before.replicas;
  const loadgen = after.loadgen - before.loadgen;
  const usPerRequest = (ticks: number): number => (completed > 0 ? (ticks / CLOCK_TICKS_PER_S / completed) * 1e6 : Number.NaN);
  return {
    gatewayCores: cores(gateway),
    replicaCores: cores(replicas),
    loadgenCores: cores(loadgen),
    otherCores: Math.max(0, cores(after.machineBusy - before.machineBusy - gateway - replicas - loadgen)),
    gatewayUsPerRequest: usPerRequest(gateway),
    replicaUsPerRequest: usPerRequest(replicas),
    loadgenUsPerRequest: usPerRequest(loadgen),
  };
}

interface Context {
  readonly processes: ProcessSet;
  readonly server: ContinuumServer;
  readonly model: BenchModel;
  readonly timing: Timing;
  readonly rows: GatewayRow[];
  readonly failures: string[];
  reference: Probe | undefined;
}

/** Measures one system at one concurrency and records the row. */
async function measure(ctx: Context, system: System, concurrency: number, round: number, first: boolean): Promise<void> {
  const { model, timing, server } = ctx;
  const label = `${system.label} c${concurrency}`;
  const config: LoadgenConfig = {
    target: { protocol: 'rest-json', origin: server.origin, model: system.modelName, input: { name: model.inputName, shape: [...model.requestShape], seed: 11 }, outputName: model.outputName },
    concurrency,
    warmupMs: timing.warmupMs * (first ? FIRST_WARMUP_FACTOR : 1),
    windowMs: timing.windowMs,
    maxWindows: timing.maxWindows,
    maxMeasureMs: timing.maxMeasureMs,
    stability: PERF_ANALYZER_STABILITY,
    probe: true,
  };
  try {
    let kept: { readonly row: GatewayRow; readonly errors: readonly string[] } | undefined;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      // Re-read each time: a replica replaced since the last measurement has a new process.
      const replicaPids = system.replicas === 0 ? [] : await readyReplicaPids(server, system.modelName);
      const run = await driveLoadgen(ctx.processes, config, (loadgen) => cpuSnapshot(server.process.pid, replicaPids, loadgen));
      const m = summarize(run.windows);
      let answerDistance: number | undefined;
      if (run.probe !== undefined) {
        if (ctx.reference === undefined) ctx.reference = run.probe;
        else answerDistance = probeDistance(ctx.reference, run.probe);
        if (answerDistance !== undefined && !(answerDistance <= ANSWER_TOLERANCE)) ctx.failures.push(`${label}: the answer differs from the single-process server's by ${answerDistance}`);
      }
      const cpu = run.kept === undefined ? undefined : cpuShare(run.kept.before, run.kept.after, m.completed);
      const row: GatewayRow = { round, systemId: system.id, system: system.label, concurrency, measurement: m, cpu, answerDistance, attempts: attempt };
      const other = cpu?.otherCores ?? 0;
      if (kept === undefined || other < (kept.row.cpu?.otherCores ?? 0)) kept = { row, errors: run.errors };
      process.stdout.write(
        `  round ${round + 1} ${label.padEnd(24)} ${Math.round(m.throughput).toString().padStart(6)} req/s  p50 ${m.p50Ms.toFixed(3)}  p99 ${m.p99Ms.toFixed(3)} ms  ${m.windowsMeasured} windows${m.stable ? '' : ' (unstable)'}${cpuText(cpu)}${other > QUIET_OTHER_CORES ? ' (disturbed)' : ''}\n`,
      );
      if (other <= QUIET_OTHER_CORES) break;
    }
    if (kept !== undefined) {
      ctx.rows.push(kept.row);
      for (const e of kept.errors) ctx.failures.push(`${label}: ${e}`);
    }
  } catch (err) {
    ctx.failures.push(`${label} (round ${round + 1}): ${err instanceof Error ? err.message : String(err)}`);
    process.stdout.write(`  round ${round + 1} ${label}: FAILED\n`);
  }
}

function cpuText(cpu: CpuShare | undefined): string {
  if (cpu === undefined) return '';
  const { gatewayCores: g, replicaCores: r, loadgenCores: l, otherCores: o } = cpu;
  return ` | cores: gateway ${g.toFixed(2)} replicas ${r.toFixed(2)} loadgen ${l.toFixed(2)} other ${o.toFixed(2)}; µs/request ${cpu.gatewayUsPerRequest.toFixed(0)} + ${cpu.replicaUsPerRequest.toFixed(0)} + ${cpu.loadgenUsPerRequest.toFixed(0)}`;
}

/** Each figure's median over the rounds (like throughput and latency). */
function medianCpu(shares: readonly (CpuShare | undefined)[]): CpuShare | undefined {
  const known = shares.filter((s): s is CpuShare => s !== undefined);
  if (known.length === 0) return undefined;
  const mid = (pick: (s: CpuShare) => number): number => median(known.map(pick));
  return {
    gatewayCores: mid((s) => s.gatewayCores),
    replicaCores: mid((s) => s.replicaCores),
    loadgenCores: mid((s) => s.loadgenCores),
    otherCores: mid((s) => s.otherCores),
    gatewayUsPerRequest: mid((s) => s.gatewayUsPerRequest),
    replicaUsPerRequest: mid((s) => s.replicaUsPerRequest),
    loadgenUsPerRequest: mid((s) => s.loadgenUsPerRequest),
  };
}

/** Medians over rounds per system and concurrency. */
function summarizeRows(rows: readonly GatewayRow[], systems: readonly System[]): GatewaySummary[] {
  const out: GatewaySummary[] = [];
  for (const c of CONCURRENCIES) {
    for (const s of systems) {
      const mine = rows.filter((r) => r.systemId === s.id && r.concurrency === c).sort((a, b) => a.round - b.round);
      if (mine.length === 0) continue;
      const rps = mine.map((r) => r.measurement.throughput);
      const p50 = mine.map((r) => r.measurement.p50Ms);
      out.push({
        systemId: s.id,
        system: s.label,
        concurrency: c,
        requestsPerS: median(rps),
        vsSingle: pairedMedian(rows, s.id, 'single', c, throughputRatio),
        p50Ms: median(p50),
        p99Ms: median(mine.map((r) => r.measurement.p99Ms)),
        requestsPerSByRound: rps,
        p50MsByRound: p50,
        cpu: medianCpu(mine.map((r) => r.cpu)),
      });
    }
  }
  return out;
}

/**
 * The value of `pick(x, y)` for system `x` against `y` at concurrency `c` in each round, paired by
 * round (both measured within minutes of each other): drift between rounds cancels.
 */
function pairedByRound(rows: readonly GatewayRow[], x: SystemId, y: SystemId, c: number, pick: (x: Measurement, y: Measurement) => number): number[] {
  const values: number[] = [];
  for (const rx of rows) {
    if (rx.systemId !== x || rx.concurrency !== c) continue;
    const ry = rows.find((r) => r.systemId === y && r.concurrency === c && r.round === rx.round);
    if (ry !== undefined) values.push(pick(rx.measurement, ry.measurement));
  }
  return values;
}

/** The median of {@link pairedByRound}; undefined when no round measured both. */
function pairedMedian(rows: readonly GatewayRow[], x: SystemId, y: SystemId, c: number, pick: (x: Measurement, y: Measurement) => number): number | undefined {
  const values = pairedByRound(rows, x, y, c, pick);
  return values.length === 0 ? undefined : median(values);
}

/** Throughput of `x` over `y`'s. */
function throughputRatio(x: Measurement, y: Measurement): number {
  return x.throughput / y.throughput;
}

/** Each of issue 3's targets: its name, bound, what it is computed from, and its value in each round. */
function targetRounds(rows: readonly GatewayRow[]): { readonly check: (value: number | undefined) => TargetCheck; readonly byRound: number[] }[] {
  const top = CONCURRENCIES[CONCURRENCIES.length - 1] as number;
  return [
    {
      check: (v) => checkTarget('hop latency at concurrency 1 (p50)', v, '<=', HOP_BOUND_MS, 'ms', '(b) p50 − (a) p50, REST JSON, median over rounds'),
      byRound: pairedByRound(rows, 'fixed-1', 'single', 1, (x, y) => x.p50Ms - y.p50Ms),
    },
    {
      check: (v) => checkTarget('2 replicas vs single process, throughput', v, '>=', TWO_REPLICA_BOUND, 'x', `(c) / (a) at c${top}, requests/s, median over rounds`),
      byRound: pairedByRound(rows, 'fixed-2', 'single', top, throughputRatio),
    },
  ];
}

/** Issue 3's targets, from the rows, paired by round, with each round's value for the spread. */
function evaluateTargets(rows: readonly GatewayRow[]): { readonly targets: TargetCheck[]; readonly byRound: number[][] } {
  const all = targetRounds(rows);
  return { targets: all.map((t) => t.check(t.byRound.length === 0 ? undefined : median(t.byRound))), byRound: all.map((t) => t.byRound) };
}

/** A value with the range of its rounds: `0.73 (rounds 0.64–0.81)`. */
function withRange(value: number | undefined, byRound: readonly number[] | undefined, digits: number): string {
  if (byRound === undefined || byRound.length < 2) return f(value, digits);
  return `${f(value, digits)} (rounds ${f(Math.min(...byRound), digits)}–${f(Math.max(...byRound), digits)})`;
}

const f = (v: number | undefined, digits: number): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));
const thousands = (v: number): string => (Number.isNaN(v) ? '–' : Math.round(v).toLocaleString('en-US'));

/**
 * The two ceilings of each system at the top concurrency, from its CPU per request: the gateway's
 * one event loop (1 core / its µs per request) and the machine's cores shared by gateway, replicas
 * and load generator (cores / their sum). The lower one is what the machine can reach at best.
 */
function ceilings(r: GatewayResult): string[] {
  const top = Math.max(...r.method.concurrencies);
  const lines: string[] = [];
  for (const s of r.summary) {
    const cpu = s.cpu;
    if (s.concurrency !== top || cpu === undefined) continue;
    const total = cpu.gatewayUsPerRequest + cpu.replicaUsPerRequest + cpu.loadgenUsPerRequest;
    const gatewayCeiling = 1e6 / cpu.gatewayUsPerRequest;
    const machineCeiling = (r.machine.cpus * 1e6) / total;
    lines.push(
      `${s.system}, c${top}: ${f(total, 0)} µs of CPU per request in all (gateway ${f(cpu.gatewayUsPerRequest, 0)}, replicas ${f(cpu.replicaUsPerRequest, 0)}, load generator ${f(cpu.loadgenUsPerRequest, 0)}); ` +
        `the gateway's event loop alone allows ${thousands(gatewayCeiling)} requests/s, ${r.machine.cpus} cores shared by all three ${thousands(machineCeiling)}; measured ${thousands(s.requestsPerS)} (${f((s.requestsPerS / Math.min(gatewayCeiling, machineCeiling)) * 100, 0)}% of the lower).`,
    );
  }
  return lines;
}

/** How this run's targets compare with the baseline run's. */
function baselineLine(r: GatewayResult): string {
  const b = r.baseline;
  if (b === undefined) return '';
  const pairs = r.targets.map((t, i) => {
    const k = b.targets.findIndex((x) => x.name === t.name);
    return `${t.name}: ${withRange(b.targets[k]?.value, b.targetsByRound[k], 3)} → ${withRange(t.value, r.targetsByRound[i], 3)} ${t.unit}`;
  });
  return `Compared with \`${b.file}\` (${b.date.slice(0, 10)}, commit ${b.commit}): ${pairs.join('; ')}.`;
}

/** The gateway section of docs/benchmarks.md for a run (pure: the result in, markdown out). */
function renderGatewaySection(r: GatewayResult): string {
  const parts = [
    '## Gateway → replica hop',
    '',
    `Run: \`${r.command}\` on ${r.date.slice(0, 10)} (commit ${r.commit}${r.quick ? ', quick smoke run: short windows, numbers are rough' : ''}).`,
    '',
    machineLine(r.machine),
    '',
    'One `continuum serve` serves the MLP 16→64→64→4 (batch 1 per request) over OIP REST JSON three ways: ' +
      '(a) the single-process server (model pushed, no deployment: the in-process runtime), ' +
      '(b) a deployment of it with policy `fixed` and 1 replica process, (c) the same with 2 replicas (least outstanding requests). ' +
      `Method as \`npm run bench:serving\`'s (load generator in its own process, windows repeated until ${r.method.stability}), ` +
      `in ${r.method.rounds} round(s) whose system order rotates; figures are medians over rounds, differences and ratios are paired within a round. ` +
      'CPU is read from /proc around the kept windows; "other" is the rest of the machine (other work running on the same cores); ' +
      `a measurement during which other work kept more than ${QUIET_OTHER_CORES} cores busy is repeated (at most ${MAX_ATTEMPTS} times) and the least disturbed one kept.`,
    '',
    '### Targets (issue 3)',
    '',
    targetsTable(r.targets),
    '',
    `Each round's value: ${r.targets.map((t, i) => `${t.name}: ${(r.targetsByRound[i] ?? []).map((v) => f(v, 3)).join(', ')} ${t.unit}`).join('; ')}.`,
    '',
    ...(r.baseline === undefined ? [] : [baselineLine(r), '']),
    '### Results',
    '',
    '| system | c | requests/s | vs (a) | p50 ms | p99 ms | p50 per round | requests/s per round |',
    '|---|--:|--:|--:|--:|--:|---|---|',
  ];
  for (const s of r.summary) {
    parts.push(
      `| ${s.system} | ${s.concurrency} | ${thousands(s.requestsPerS)} | ${f(s.vsSingle, 2)}x | ${f(s.p50Ms, 3)} | ${f(s.p99Ms, 3)} | ${s.p50MsByRound.map((v) => f(v, 3)).join(', ')} | ${s.requestsPerSByRound.map(thousands).join(', ')} |`,
    );
  }
  parts.push(
    '',
    `### Where the CPU goes (cores, median over rounds; the machine has ${r.machine.cpus})`,
    '',
    '| system | c | gateway | replicas | load generator | other | gateway µs/request | replicas µs/request | load generator µs/request |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const s of r.summary) {
    const cpu = s.cpu;
    parts.push(
      `| ${s.system} | ${s.concurrency} | ${f(cpu?.gatewayCores, 2)} | ${f(cpu?.replicaCores, 2)} | ${f(cpu?.loadgenCores, 2)} | ${f(cpu?.otherCores, 2)} | ${f(cpu?.gatewayUsPerRequest, 0)} | ${f(cpu?.replicaUsPerRequest, 0)} | ${f(cpu?.loadgenUsPerRequest, 0)} |`,
    );
  }
  parts.push('', '### What limits throughput', '', ...ceilings(r).map((line) => `- ${line}`), '');
  if (r.notes.length > 0) parts.push('### Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  if (r.failures.length > 0) parts.push('### Failures', '', ...r.failures.map((n) => `- ${n}`), '');
  parts.push(`Raw results: \`bench/results/gateway-*.json\` (every round and window). Reproduce: \`${r.command}\`.`);
  return parts.join('\n');
}

/** The run in a results file written earlier by this benchmark, to compare with. */
function readBaseline(file: string): NonNullable<GatewayResult['baseline']> {
  const earlier = JSON.parse(readFileSync(file, 'utf8')) as GatewayResult;
  if (!Array.isArray(earlier.rows)) throw new Error(`${file} is not a result of bench:gateway`);
  // Recomputed from the rows, so that a file written before a field existed compares all the same.
  const { targets, byRound } = evaluateTargets(earlier.rows);
  return { file, date: earlier.date, commit: earlier.commit, targets, targetsByRound: byRound };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string' }, baseline: { type: 'string' } } });
  const quick = values.quick === true;
  const rounds = values.rounds === undefined ? (quick ? QUICK : FULL).rounds : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('--rounds takes an integer from 1 to 20');
  const timing: Timing = { ...(quick ? QUICK : FULL), rounds };
  const baseline = values.baseline === undefined ? undefined : readBaseline(values.baseline);
  const options = [quick ? ' --quick' : '', values.rounds === undefined ? '' : ` --rounds ${rounds}`, values.baseline === undefined ? '' : ` --baseline ${values.baseline}`].join('');
  const command = `npm run bench:gateway${options === '' ? '' : ` --${options}`}`;
  const started = new Date();
  const processes = processSetForRun();
  const dir = mkdtempSync(join(tmpdir(), 'continuum-gateway-bench-'));
  try {
    const machine = machineInfo(undefined);
    process.stdout.write(`${command}: ${machine.cpus} cores (${machine.cpuModel}), Node ${machine.node}, load average ${machine.loadAverageAtStart.toFixed(2)}\n`);
    const why = prepareContinuum();
    if (why !== undefined) throw new Error(`Continuum cannot run: ${why}`);
    const server = await startContinuum(processes, join(dir, 'continuum-data'));
    const model = writeMlp(dir);
    await pushModel(server, model);
    const systems: System[] = [
      { id: 'single', label: '(a) single process', modelName: model.name, replicas: 0 },
      { id: 'fixed-1', label: '(b) fixed, 1 replica', modelName: `${model.name}-r1`, replicas: 1 },
      { id: 'fixed-2', label: '(c) fixed, 2 replicas', modelName: `${model.name}-r2`, replicas: 2 },
    ];
    for (const s of systems) if (s.replicas > 0) await deployModel(server, s.modelName, model.name, { policy: 'fixed', replicas: s.replicas }, s.replicas);
    const ctx: Context = { processes, server, model, timing, rows: [], failures: [], reference: undefined };
    const warmed = new Set<SystemId>();
    for (let round = 0; round < timing.rounds; round++) {
      // The order rotates each round, so no system is always measured first or last.
      const order = systems.map((_, i) => systems[(i + round) % systems.length] as System);
      for (const c of CONCURRENCIES) {
        for (const s of order) {
          await measure(ctx, s, c, round, !warmed.has(s.id));
          warmed.add(s.id);
        }
      }
    }
    const summary = summarizeRows(ctx.rows, systems);
    const { targets, byRound } = evaluateTargets(ctx.rows);
    const notes = [
      `The machine has ${machine.cpus} cores: the gateway, the replica processes, the load generator and anything else running share them. The CPU table says how much each took.`,
      'Every answer is checked against the single-process server\'s (same input, first 64 output values).',
      'Replicas of (b) and (c) stay up, idle, while the others are measured (health checks once a second); the warm pool keeps one spare process, idle.',
    ];
    const result: GatewayResult = {
      date: started.toISOString(),
      command,
      commit: gitCommit(),
      quick,
      machine,
      method: {
        ...timing,
        concurrencies: [...CONCURRENCIES],
        stability: `the last ${PERF_ANALYZER_STABILITY.windows} windows agree within ${PERF_ANALYZER_STABILITY.tolerance * 100}% (at most ${timing.maxWindows} windows of ${timing.windowMs} ms)`,
      },
      rows: ctx.rows,
      summary,
      targets,
      targetsByRound: byRound,
      notes,
      failures: ctx.failures,
      ...(baseline === undefined ? {} : { baseline }),
    };
    const resultsDir = quick ? tmpdir() : join(ROOT, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const resultPath = join(resultsDir, `gateway-${resultStamp(started)}${quick ? '-quick' : ''}.json`);
    writeFileSync(resultPath, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write('\n                                   requests/s  vs (a)   p50 ms   p99 ms\n');
    for (const s of summary) {
      process.stdout.write(
        `  ${`${s.system} c${s.concurrency}`.padEnd(32)} ${Math.round(s.requestsPerS).toString().padStart(10)}  ${f(s.vsSingle, 2)}x  ${s.p50Ms.toFixed(3).padStart(7)}  ${s.p99Ms.toFixed(3).padStart(7)}\n`,
      );
    }
    process.stdout.write('\nTargets:\n');
    for (const t of targets) process.stdout.write(`  ${t.verdict.padEnd(7)} ${t.name}: ${Number.isNaN(t.value) ? '–' : t.value.toFixed(3)} ${t.unit} (${t.direction} ${t.bound}; ${t.basis})\n`);
    if (baseline !== undefined) process.stdout.write(`  ${baselineLine(result)}\n`);
    for (const failure of ctx.failures) process.stdout.write(`  failure: ${failure}\n`);
    process.stdout.write(`\nResults: ${resultPath}\n`);
    if (!quick) {
      const docPath = join(ROOT, 'docs', 'benchmarks.md');
      writeFileSync(docPath, withMarkedSection(existsSync(docPath) ? readFileSync(docPath, 'utf8') : '', BEGIN, END, renderGatewaySection(result)));
      process.stdout.write(`Table: ${docPath} (between ${BEGIN} and ${END})\n`);
    }
  } finally {
    await processes.endAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:gateway failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
