/**
 * What identifies a benchmark run besides its numbers: the machine and software it measured on,
 * the commit it measured, and the timestamp its result file is named by.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './continuum.js';
import type { MachineInfo } from './report.js';

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
