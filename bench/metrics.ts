/**
 * `npm run bench:metrics [-- --quick] [-- --rounds N]`: what Prometheus metrics cost on the
 * request path. `continuum serve` serves the benchmark MLP (bench/models.ts) in process over OIP
 * REST JSON, started afresh for each measurement, either with metrics on (the default) and scraped
 * every second the way Prometheus would, or with `--no-metrics`; tracing is off in both. Each is measured at
 * concurrency 64 with the serving benchmark's method (bench/drive.ts, bench/loadgen.ts:
 * perf_analyzer's windows, the load generator in its own process), in rounds whose order
 * alternates, so drift on a shared machine falls on both alike. The throughput ratio (on / off,
 * paired within a round, median over rounds) is checked against issue 5's bound: metrics may
 * cost at most 3%. The server's CPU time per request (from /proc around the kept windows) is
 * checked against the same bound: at c64 the server's event loop is the bottleneck, so
 * throughput goes as its inverse, and it is far less sensitive to other work on a shared machine.
 * A measurement during which other processes kept the cores busy is repeated (the least disturbed
 * one is kept). Last, the router's per-request accounting is timed alone in this process (no
 * network, no other process), the figure least moved by a busy machine.
 *
 * Writes bench/results/metrics-<timestamp>.json and the section of docs/benchmarks.md between
 * `<!-- metrics:begin -->` and `<!-- metrics:end -->` (a --quick run writes its JSON to the temp
 * directory only). Every process it starts is ended when it finishes, fails or is interrupted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import type { InferResponse } from '../src/oip/types.js';
import type { InferOptions } from '../src/runtime/index.js';
import { prepareContinuum, pushModel, ROOT, startContinuum } from './continuum.js';
import type { ContinuumServer } from './continuum.js';
import { driveLoadgen } from './drive.js';
import type { LoadgenConfig } from './loadgen.js';
import { checkTarget, median, PERF_ANALYZER_STABILITY, summarize } from './method.js';
import type { Measurement, TargetCheck } from './method.js';
import { writeMlp } from './models.js';
import type { BenchModel } from './models.js';
import { CLOCK_TICKS_PER_S, machineBusyTicks, processSetForRun, processTicks } from './processes.js';
import type { ProcessSet } from './processes.js';
import { machineLine, targetsTable } from './report.js';
import type { MachineInfo } from './report.js';
import { gitCommit, machineInfo, runBenchMain, saveRun } from './run-info.js';

/** The two servers compared. */
type Variant = 'metrics' | 'no-metrics';

/** Timing of one measurement (see bench/serving.ts for why these values). */
interface Timing {
  readonly rounds: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly maxWindows: number;
  readonly maxMeasureMs: number;
}

/** The full run: six rounds (three in each order), 1 s windows, at most 5 per measurement. */
const FULL: Timing = { rounds: 6, warmupMs: 1000, windowMs: 1000, maxWindows: 5, maxMeasureMs: 20_000 };
/** The smoke run: two rounds, short windows. */
const QUICK: Timing = { rounds: 2, warmupMs: 300, windowMs: 300, maxWindows: 3, maxMeasureMs: 5_000 };

/** The serving benchmark's MLP REST JSON case at its top concurrency. */
const CONCURRENCY = 64;
/** Every server is fresh, so every measurement warms up this many times longer than a window's default (JIT, connections). */
const WARMUP_FACTOR = 3;
/** Issue 5: metrics on may lose at most 3% of throughput. */
const RATIO_BOUND = 0.97;
/** The same bound on CPU per request (1 / 0.97, rounded): throughput goes as its inverse. */
const CPU_RATIO_BOUND = 1.03;
/** How often the metrics-on server is scraped during its measurement (a Prometheus scrape_interval). */
const SCRAPE_INTERVAL_MS = 1000;
/** Other processes busier than this many cores during a measurement make it be repeated (bench/gateway.ts's rule). */
const QUIET_OTHER_CORES = 0.25;
const MAX_ATTEMPTS = 3;

const BEGIN = '<!-- metrics:begin -->';
const END = '<!-- metrics:end -->';

/** One measurement of one server in one round. */
interface MetricsRow {
  readonly round: number;
  readonly variant: Variant;
  readonly measurement: Measurement;
  /** Scrapes of /metrics during the measurement (0 for the server without metrics). */
  readonly scrapes: number;
  /** Size of the last scrape's text, bytes. */
  readonly scrapeBytes: number;
  /** The server's CPU time (user + system) per request answered in the kept windows, µs. */
  readonly serverUsPerRequest: number;
  /** Cores other processes (not the server, not the load generator) kept busy meanwhile. */
  readonly otherCores: number;
  /** Measurements made to get this one. */
  readonly attempts: number;
}

/** CPU counters at a window's end. */
interface CpuSnapshot {
  readonly atMs: number;
  readonly server: number;
  readonly loadgen: number;
  readonly machine: number;
}

/** A whole run. */
interface MetricsResult {
  readonly date: string;
  readonly command: string;
  readonly commit: string;
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly loadAverageAtEnd: number;
  readonly method: Timing & { readonly concurrency: number; readonly stability: string };
  readonly rows: readonly MetricsRow[];
  /** Throughput with metrics over without, per round (paired). */
  readonly ratioByRound: readonly number[];
  /** Server CPU per request with metrics over without, per round (paired). */
  readonly cpuRatioByRound: readonly number[];
  readonly targets: readonly TargetCheck[];
  /** The router's accounting of one request, timed alone: with it and without, ns (median of runs). */
  readonly accounting: { readonly observedNs: number; readonly directNs: number };
  readonly failures: readonly string[];
}

/** Calls per run and runs of the accounting timing. */
const ACCOUNTING_CALLS = 200_000;
const ACCOUNTING_RUNS = 7;

/**
 * Times what the router adds per request with metrics on, alone: `RequestObserver.observe` around
 * an answer that reports its batcher timing, against the same answer awaited directly. The
 * compiled dist/ is timed, as `continuum serve` runs it (this program's own TypeScript is
 * transformed on the fly, and its classes run about three times slower).
 */
async function timeAccounting(): Promise<{ readonly observedNs: number; readonly directNs: number }> {
  const compiled = pathToFileURL(join(ROOT, 'dist', 'observe', 'index.js')).href;
  const { RequestMetrics, RequestObserver } = (await import(compiled)) as typeof import('../src/observe/index.js');
  const observer = new RequestObserver(new RequestMetrics(), undefined);
  const response: InferResponse = { model_name: 'mlp', model_version: '1', outputs: [] };
  const answer = (options: InferOptions): Promise<InferResponse> => {
    options.onTiming?.({ queueUs: 40, computeUs: 60, batchSize: 1 });
    return Promise.resolve(response);
  };
  const header = (): undefined => undefined;
  const perCallNs = async (call: () => Promise<InferResponse>): Promise<number> => {
    const startMs = performance.now();
    for (let i = 0; i < ACCOUNTING_CALLS; i++) await call();
    return ((performance.now() - startMs) * 1e6) / ACCOUNTING_CALLS;
  };
  const observed: number[] = [];
  const direct: number[] = [];
  for (let run = 0; run < ACCOUNTING_RUNS; run++) {
    observed.push(await perCallNs(() => observer.observe('mlp', undefined, '', { header }, answer)));
    direct.push(await perCallNs(() => answer({ header })));
  }
  return { observedNs: median(observed), directNs: median(direct) };
}

/** Fetches `url`; its status and body text. */
async function fetchText(url: string): Promise<{ readonly status: number; readonly text: string }> {
  const res = await request(url);
  return { status: res.statusCode, text: await res.body.text() };
}

/** Measures one server once, scraping its /metrics meanwhile when it has them; CPU from /proc around the kept windows. */
async function measureOnce(processes: ProcessSet, server: ContinuumServer, variant: Variant, config: LoadgenConfig): Promise<Omit<MetricsRow, 'round' | 'attempts'>> {
  let scrapes = 0;
  let scrapeBytes = 0;
  const scraper =
    variant === 'metrics'
      ? setInterval(() => {
          fetchText(`${server.origin}/metrics`).then(
            ({ text }) => {
              scrapes += 1;
              scrapeBytes = Buffer.byteLength(text);
            },
            () => undefined,
          );
        }, SCRAPE_INTERVAL_MS)
      : undefined;
  try {
    const run = await driveLoadgen(processes, config, (loadgen): CpuSnapshot => ({
      atMs: performance.now(),
      server: processTicks(server.process.pid),
      loadgen: processTicks(loadgen.pid),
      machine: machineBusyTicks(),
    }));
    if (run.errors.length > 0) throw new Error(`${variant}: ${run.errors.join('; ')}`);
    const m = summarize(run.windows);
    const kept = run.kept;
    let serverUsPerRequest = Number.NaN;
    let otherCores = Number.NaN;
    if (kept !== undefined) {
      const server = kept.after.server - kept.before.server;
      const loadgen = kept.after.loadgen - kept.before.loadgen;
      serverUsPerRequest = (server / CLOCK_TICKS_PER_S / m.completed) * 1e6;
      otherCores = Math.max(0, (kept.after.machine - kept.before.machine - server - loadgen) / CLOCK_TICKS_PER_S / ((kept.after.atMs - kept.before.atMs) / 1000));
    }
    return { variant, measurement: m, scrapes, scrapeBytes, serverUsPerRequest, otherCores };
  } finally {
    if (scraper !== undefined) clearInterval(scraper);
  }
}

/** Measures one server in one round, again when other work disturbed the machine; keeps the least disturbed measurement. */
async function measure(processes: ProcessSet, server: ContinuumServer, variant: Variant, model: BenchModel, timing: Timing, round: number): Promise<MetricsRow> {
  const config: LoadgenConfig = {
    target: { protocol: 'rest-json', origin: server.origin, model: model.name, input: { name: model.inputName, shape: [...model.requestShape], seed: 11 }, outputName: model.outputName },
    concurrency: CONCURRENCY,
    warmupMs: timing.warmupMs * WARMUP_FACTOR,
    windowMs: timing.windowMs,
    maxWindows: timing.maxWindows,
    maxMeasureMs: timing.maxMeasureMs,
    stability: PERF_ANALYZER_STABILITY,
    probe: false,
  };
  let kept: MetricsRow | undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const row: MetricsRow = { round, attempts: attempt, ...(await measureOnce(processes, server, variant, config)) };
    const m = row.measurement;
    process.stdout.write(
      `  round ${round + 1} ${variant.padEnd(11)} ${Math.round(m.throughput).toString().padStart(6)} req/s  p50 ${m.p50Ms.toFixed(3)}  p99 ${m.p99Ms.toFixed(3)} ms  server ${row.serverUsPerRequest.toFixed(1)} µs/request  other ${row.otherCores.toFixed(2)} cores${m.stable ? '' : ' (unstable)'}${variant === 'metrics' ? `  ${row.scrapes} scrapes` : ''}  load ${loadavg()[0]?.toFixed(2)}\n`,
    );
    if (kept === undefined || row.otherCores < kept.otherCores) kept = row;
    if (row.otherCores <= QUIET_OTHER_CORES) break;
  }
  return kept as MetricsRow;
}

/** `pick(on) / pick(off)` in each round that measured both. */
function pairedRatios(rows: readonly MetricsRow[], rounds: number, pick: (row: MetricsRow) => number): number[] {
  const out: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const on = rows.find((r) => r.round === round && r.variant === 'metrics');
    const off = rows.find((r) => r.round === round && r.variant === 'no-metrics');
    if (on !== undefined && off !== undefined) out.push(pick(on) / pick(off));
  }
  return out;
}

const f = (v: number | undefined, digits: number): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));
const thousands = (v: number): string => (Number.isNaN(v) ? '–' : Math.round(v).toLocaleString('en-US'));

/** The metrics section of docs/benchmarks.md for a run (pure: the result in, markdown out). */
function renderMetricsSection(r: MetricsResult): string {
  const byVariant = (v: Variant): MetricsRow[] => r.rows.filter((row) => row.variant === v);
  const lines = [
    '## Metrics overhead',
    '',
    `Run: \`${r.command}\` on ${r.date.slice(0, 10)} (commit ${r.commit}${r.quick ? ', quick smoke run: short windows, numbers are rough' : ''}).`,
    '',
    `${machineLine(r.machine)} Load average ${f(r.loadAverageAtEnd, 2)} at the end.`,
    '',
    `\`continuum serve\` serves the MLP 16→64→64→4 in process over OIP REST JSON at concurrency ${r.method.concurrency}, started afresh for every measurement, either with metrics on (the default), ` +
      `its \`/metrics\` scraped every ${SCRAPE_INTERVAL_MS / 1000} s during the measurement as Prometheus would, or with \`--no-metrics\`; tracing off in both; each measurement warms up ${WARMUP_FACTOR}× a window. ` +
      `Method as \`npm run bench:serving\`'s (load generator in its own process, windows repeated until ${r.method.stability}), ` +
      `in ${r.method.rounds} rounds whose order alternates; ratios are paired within a round, the median over rounds is checked. ` +
      "The server's CPU time per request is read from /proc around the kept windows: at this concurrency the server's event loop is the bottleneck, so throughput goes as its inverse, " +
      `and unlike throughput it hardly moves when other work shares the cores. A measurement during which other processes kept more than ${QUIET_OTHER_CORES} cores busy is repeated (at most ${MAX_ATTEMPTS} times) and the least disturbed one kept.`,
    '',
    '### Target (issue 5)',
    '',
    targetsTable(r.targets),
    '',
    `Each round's throughput ratio: ${r.ratioByRound.map((v) => f(v, 3)).join(', ')}; CPU per request ratio: ${r.cpuRatioByRound.map((v) => f(v, 3)).join(', ')}.`,
    '',
    `The router's accounting of one request, timed alone in the benchmark's process: ${f(r.accounting.observedNs - r.accounting.directNs, 0)} ns ` +
      `(${f(r.accounting.observedNs, 0)} ns with it, ${f(r.accounting.directNs, 0)} ns without), ` +
      `${f(((r.accounting.observedNs - r.accounting.directNs) / 1000 / median(byVariant('no-metrics').map((x) => x.serverUsPerRequest))) * 100, 2)}% of the server's CPU per request without metrics.`,
    '',
    '| server | requests/s (median) | p50 ms | p99 ms | server µs/request | other cores | requests/s per round |',
    '|---|--:|--:|--:|--:|--:|---|',
  ];
  for (const v of ['metrics', 'no-metrics'] as const) {
    const rows = byVariant(v);
    lines.push(
      `| ${v === 'metrics' ? 'metrics on' : '--no-metrics'} | ${thousands(median(rows.map((x) => x.measurement.throughput)))} | ${f(median(rows.map((x) => x.measurement.p50Ms)), 3)} | ${f(median(rows.map((x) => x.measurement.p99Ms)), 3)} | ${f(median(rows.map((x) => x.serverUsPerRequest)), 1)} | ${f(median(rows.map((x) => x.otherCores)), 2)} | ${rows.map((x) => thousands(x.measurement.throughput)).join(', ')} |`,
    );
  }
  const spread = (v: Variant): string => {
    const us = byVariant(v).map((x) => x.serverUsPerRequest);
    return `${f(Math.min(...us), 0)}–${f(Math.max(...us), 0)} µs`;
  };
  lines.push(
    '',
    `Fresh processes of the same server differ: CPU per request ranged ${spread('metrics')} with metrics and ${spread('no-metrics')} without, ` +
      "so the per-round ratios scatter by more than the bound; the accounting timed alone is the steadier estimate of what metrics cost.",
  );
  const last = byVariant('metrics').at(-1);
  lines.push('', `A scrape of this server's \`/metrics\` was ${thousands(last?.scrapeBytes ?? Number.NaN)} bytes.`);
  if (r.failures.length > 0) lines.push('', ...r.failures.map((x) => `- failure: ${x}`));
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string' } } });
  const quick = values.quick;
  const base = quick ? QUICK : FULL;
  const rounds = values.rounds === undefined ? base.rounds : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number >= 1, got ${values.rounds}`);
  const timing: Timing = { ...base, rounds };
  const options = [quick ? ' --quick' : '', values.rounds === undefined ? '' : ` --rounds ${rounds}`].join('');
  const command = `npm run bench:metrics${options === '' ? '' : ` --${options}`}`;
  const started = new Date();
  const processes = processSetForRun();
  const dir = mkdtempSync(join(tmpdir(), 'continuum-metrics-bench-'));
  try {
    const machine = machineInfo(undefined);
    process.stdout.write(`${command}: ${machine.cpus} cores (${machine.cpuModel}), Node ${machine.node}, load average ${machine.loadAverageAtStart.toFixed(2)}\n`);
    const why = prepareContinuum();
    if (why !== undefined) throw new Error(`Continuum cannot run: ${why}`);
    const model = writeMlp(dir);
    // Each measurement gets a fresh server over its variant's data directory (the model pushed
    // once): a long-lived process drifts (heap, JIT state) by more than what is measured here.
    const start = (variant: Variant): Promise<ContinuumServer> =>
      startContinuum(processes, join(dir, variant), variant === 'no-metrics' ? ['--no-metrics'] : []);
    for (const variant of ['metrics', 'no-metrics'] as const) {
      const server = await start(variant);
      await pushModel(server, model);
      // The comparison means something only if one server has metrics and the other has none.
      const { status, text } = await fetchText(`${server.origin}/metrics`);
      const expected = variant === 'metrics' ? status === 200 && text.includes('continuum_inference_requests_total') : status === 404;
      if (!expected) throw new Error(`${variant}: /metrics answered ${status}`);
      await processes.end(server.process);
    }

    const rows: MetricsRow[] = [];
    const failures: string[] = [];
    for (let round = 0; round < timing.rounds; round++) {
      const order: Variant[] = round % 2 === 0 ? ['metrics', 'no-metrics'] : ['no-metrics', 'metrics'];
      for (const variant of order) {
        const server = await start(variant);
        try {
          rows.push(await measure(processes, server, variant, model, timing, round));
        } catch (err) {
          failures.push(`round ${round + 1} ${variant}: ${err instanceof Error ? err.message : String(err)}`);
        } finally {
          await processes.end(server.process);
        }
      }
    }
    const accounting = await timeAccounting();
    process.stdout.write(`  accounting alone: ${f(accounting.observedNs - accounting.directNs, 0)} ns per request\n`);
    const ratioByRound = pairedRatios(rows, timing.rounds, (r) => r.measurement.throughput);
    const cpuRatioByRound = pairedRatios(rows, timing.rounds, (r) => r.serverUsPerRequest);
    const targets = [
      checkTarget('throughput with metrics vs without', median(ratioByRound), '>=', RATIO_BOUND, 'x', `MLP REST JSON c${CONCURRENCY}, requests/s, paired by round, median over rounds`),
      checkTarget('server CPU per request with metrics vs without', median(cpuRatioByRound), '<=', CPU_RATIO_BOUND, 'x', 'µs of the server process per request answered, paired by round, median over rounds'),
    ];
    const result: MetricsResult = {
      date: started.toISOString(),
      command,
      commit: gitCommit(),
      quick,
      machine,
      loadAverageAtEnd: loadavg()[0] ?? Number.NaN,
      method: { ...timing, concurrency: CONCURRENCY, stability: `the last ${PERF_ANALYZER_STABILITY.windows} windows agree within ${PERF_ANALYZER_STABILITY.tolerance * 100}% (at most ${timing.maxWindows} windows of ${timing.windowMs} ms)` },
      rows,
      ratioByRound,
      cpuRatioByRound,
      targets,
      accounting,
      failures,
    };
    const { resultPath, docPath } = saveRun('metrics', started, quick, result, { begin: BEGIN, end: END, markdown: renderMetricsSection(result) });
    process.stdout.write('\n');
    for (const [i, t] of targets.entries()) {
      process.stdout.write(`  ${t.verdict.padEnd(7)} ${t.name}: ${f(t.value, 3)} ${t.unit} (${t.direction} ${f(t.bound, 3)}; rounds ${[ratioByRound, cpuRatioByRound][i]?.map((v) => f(v, 3)).join(', ')})\n`);
    }
    for (const failure of failures) process.stdout.write(`  failure: ${failure}\n`);
    process.stdout.write(`\nResults: ${resultPath}\n`);
    if (docPath !== undefined) process.stdout.write(`Table: ${docPath} (between ${BEGIN} and ${END})\n`);
  } finally {
    await processes.endAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBenchMain('bench:metrics', main);
