/**
 * What identifies a benchmark run besides its numbers: the machine and software it measured on,
 * the commit it measured, and the timestamp its result file is named by; and where a run's
 * results are kept.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, tmpdir, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './continuum.js';
import type { MachineInfo } from './report.js';
import { withMarkedSection } from './report.js';

/** The machine this run measures on; `torch` is the Python peer's torch version when it runs. */
export function machineInfo(torch: string | undefined): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const ort = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string };
  return {
    cpus: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memoryGiB: totalmem() / 1024 ** 3,
    node: process.versions.node,
    onnxruntimeNode: ort.version,
    torch,
    os: `${type()} ${release()}`,
    loadAverageAtStart: loadavg()[0] ?? Number.NaN,
  };
}

/** The short commit measured, marked when src/ or bench/ differ from it. */
export function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, stdio: 'pipe' }).toString('utf8').trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench'], { cwd: ROOT, stdio: 'pipe' }).toString('utf8').trim() !== '';
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

/** A run's start as it names result files: ISO 8601 to the second, safe in file names. */
export function resultStamp(d: Date): string {
  return d.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
}

/** A run's docs/benchmarks.md section: its markers and its markdown. */
export interface MarkedSection {
  readonly begin: string;
  readonly end: string;
  readonly markdown: string;
}

/**
 * Keeps a run: its JSON as `<kind>-<timestamp>.json` in bench/results (a smoke run's in the temp
 * directory: its numbers are rough and stay out of the repository), and for a full run its section
 * of docs/benchmarks.md. Returns the paths written (the doc's undefined for a smoke run).
 */
export function saveRun(kind: string, started: Date, quick: boolean, result: unknown, section: MarkedSection): { readonly resultPath: string; readonly docPath: string | undefined } {
  const resultsDir = quick ? tmpdir() : join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const resultPath = join(resultsDir, `${kind}-${resultStamp(started)}${quick ? '-quick' : ''}.json`);
  writeFileSync(resultPath, `${JSON.stringify(result, null, 2)}\n`);
  if (quick) return { resultPath, docPath: undefined };
  const docPath = join(ROOT, 'docs', 'benchmarks.md');
  writeFileSync(docPath, withMarkedSection(existsSync(docPath) ? readFileSync(docPath, 'utf8') : '', section.begin, section.end, section.markdown));
  return { resultPath, docPath };
}

/** Runs a benchmark's main function and exits: 0 when it finished, 1 with its error otherwise. */
export function runBenchMain(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
