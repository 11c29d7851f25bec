/**
 * One measurement of one system at one concurrency, driven from the bench's process: the load
 * generator (bench/loadgen.ts) runs in a process of its own, so it never shares an event loop with
 * the bench or the server; its lines are collected into windows, and a caller's snapshot (server
 * statistics, CPU counters...) is taken at the warm-up's end and at every window's end, so the
 * kept windows can be bracketed exactly.
 */
import { join } from 'node:path';
import { ROOT } from './continuum.js';
import type { LoadgenConfig, LoadgenLine } from './loadgen.js';
import { PERF_ANALYZER_STABILITY } from './method.js';
import type { Probe, Window } from './method.js';
import type { BenchProcess, ProcessSet } from './processes.js';

const LOADGEN = join(ROOT, 'bench', 'loadgen.ts');
const TSX = import.meta.resolve('tsx');

/** Time a load generator is given beyond its measurement's own limit (start-up, connecting, probe). */
const SETUP_ALLOWANCE_MS = 90_000;
/** The load generator's own default limit of warm-up and windows (LoadgenConfigSchema). */
const DEFAULT_MAX_MEASURE_MS = 60_000;

/** What one load-generator run gave. */
export interface LoadgenRun<S> {
  readonly windows: Window[];
  readonly probe: Probe | undefined;
  readonly sessionCreateMs: readonly number[] | undefined;
  /** One line per window that had errors: how many, and the first one's message. */
  readonly errors: string[];
  /** Snapshots at the start and at the end of the kept windows (the last `PERF_ANALYZER_STABILITY.windows`). */
  readonly kept: { readonly before: S; readonly after: S } | undefined;
}

/**
 * Runs the load generator once with `config` and waits for it to end. `snapshot` is called with
 * the load generator's process at the warm-up's end and at each window's end (awaited before the
 * next line is read); a load generator that overruns its limit is ended.
 */
export async function driveLoadgen<S = never>(
  processes: ProcessSet,
  config: LoadgenConfig,
  snapshot?: (loadgen: BenchProcess) => S | Promise<S>,
): Promise<LoadgenRun<S>> {
  const proc = processes.start('load generator', process.execPath, ['--import', TSX, LOADGEN, JSON.stringify(config)]);
  const windows: Window[] = [];
  const snapshots: S[] = [];
  const errors: string[] = [];
  let probe: Probe | undefined;
  let sessionCreateMs: readonly number[] | undefined;
  const watchdog = setTimeout(() => void processes.end(proc), SETUP_ALLOWANCE_MS + (config.maxMeasureMs ?? DEFAULT_MAX_MEASURE_MS));
  try {
    await proc.onLines(async (text) => {
      const line = JSON.parse(text) as LoadgenLine;
      if (line.type === 'ready') {
        probe = line.probe;
        sessionCreateMs = line.sessionCreateMs;
      } else if (line.type === 'warm' || line.type === 'window') {
        if (line.type === 'window') {
          windows.push({ durationMs: line.durationMs, completed: line.completed, errors: line.errors, latenciesUs: line.latenciesUs });
          if (line.firstError !== undefined) errors.push(`${line.errors} errors, first: ${line.firstError}`);
        }
        if (snapshot !== undefined) snapshots.push(await snapshot(proc));
      }
    });
    const code = await proc.exited;
    if (code !== 0) throw new Error(`load generator exited with ${code}: ${proc.stderrTail()}`);
  } finally {
    clearTimeout(watchdog);
    await processes.end(proc);
  }
  const keptCount = Math.min(windows.length, PERF_ANALYZER_STABILITY.windows);
  const before = snapshots[windows.length - keptCount];
  const after = snapshots[windows.length];
  return { windows, probe, sessionCreateMs, errors, kept: before !== undefined && after !== undefined ? { before, after } : undefined };
}
