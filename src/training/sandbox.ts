/**
 * Sandboxed training runs (docs/workflows.md#the-sandbox). A workflow is code from an uploader, so
 * it trains in its own process, confined by:
 * - Node's permission model (`--experimental-permission`, Node 20): the filesystem may be read only
 *   in the run's work directory and in the compiled runner and trainers it imports, written only in
 *   the work directory; no child processes and no worker threads (neither flag is granted);
 * - resource limits of the kernel where `prlimit` is there: no file written past the model size
 *   limit (EFBIG), no core dump (a V8 abort would otherwise write one into the work directory);
 * - a network namespace of its own with no interface (`unshare -n`), since Node 20's permission
 *   model does not cover the network; where that is not available a run is refused unless the
 *   operator allowed unisolated network, and the run record says which it was;
 * - `--max-old-space-size` for the V8 heap and a resident-memory watchdog (buffers live outside the
 *   heap), a wall-clock timeout, and a cap on what it prints — each ends the process with SIGKILL;
 * - an empty environment (no token or credential of the server's is inherited).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContinuumError } from '../errors.js';
import { unpackArchive } from './archive.js';
import { RUNNER_FILES } from './runner-protocol.js';
import type { RunnerInput, RunnerResult } from './runner-protocol.js';
import type { ParameterValue, TrainingDataset } from './workflow.js';

/** Friendly sandbox limits (each optional). */
export interface SandboxLimitsInput {
  /** Wall-clock time a run may take. @default 600000 (10 min) */
  readonly timeoutMs?: number;
  /** V8 old-space heap, MiB (`--max-old-space-size`). @default 1024 */
  readonly maxHeapMb?: number;
  /** Resident memory of the process, checked every `pollMs`. @default 2 GiB */
  readonly maxRssBytes?: number;
  /** Bytes the run may print (stdout and stderr together). @default 1 MiB */
  readonly maxOutputBytes?: number;
  /** Largest ONNX model train may return. @default 64 MiB */
  readonly maxModelBytes?: number;
  /** Period of the memory and CPU readings. @default 100 */
  readonly pollMs?: number;
}

/** Sandbox limits with units in their names. */
export type SandboxLimits = Required<SandboxLimitsInput>;

/** Compiles sandbox limits, filling defaults; a non-positive value is refused. */
export function compileSandboxLimits(input: SandboxLimitsInput = {}): SandboxLimits {
  const limits: SandboxLimits = {
    timeoutMs: input.timeoutMs ?? 600_000,
    maxHeapMb: input.maxHeapMb ?? 1024,
    maxRssBytes: input.maxRssBytes ?? 2 * 1024 ** 3,
    maxOutputBytes: input.maxOutputBytes ?? 1024 * 1024,
    maxModelBytes: input.maxModelBytes ?? 64 * 1024 * 1024,
    pollMs: input.pollMs ?? 100,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!(Number.isFinite(value) && value > 0)) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `sandbox limit ${name} must be a number > 0; got ${value}`);
  }
  return limits;
}

/** How a run's network was confined: its own empty namespace, or not at all (the operator allowed it). */
export type NetworkIsolation = 'namespace' | 'none';

/** What a run measured of its process. */
export interface RunResources {
  readonly peakRssBytes: number;
  readonly cpuMs: number;
}

/** How a sandboxed run ended. */
export type SandboxOutcome =
  | { readonly ok: true; readonly model: Buffer; readonly metrics: Readonly<Record<string, number>>; readonly resources: RunResources; readonly network: NetworkIsolation }
  | { readonly ok: false; readonly error: string; readonly resources: RunResources; readonly network: NetworkIsolation };

/** One sandboxed training run's input. */
export interface SandboxRun {
  /** The workflow package (.tar.gz or .zip). */
  readonly archivePath: string;
  readonly entry: string;
  readonly dataset: TrainingDataset;
  readonly params: Readonly<Record<string, ParameterValue>>;
  readonly seed: number;
  /** Where the run's work directory is made (and removed after). */
  readonly workRoot: string;
  readonly limits: SandboxLimits;
  /** Run even where no network namespace can be made (the run is then not network-isolated). */
  readonly allowUnisolatedNetwork: boolean;
  /** Told each line the run prints (its `context.log` and console output). */
  readonly onLog: (line: string) => void;
  /** Stops the run (its process is killed) when aborted. */
  readonly signal?: AbortSignal;
}

/** The refusal of a run where training cannot be confined (CONTINUUM_ERR_SANDBOX_UNAVAILABLE). */
export function sandboxUnavailable(): ContinuumError {
  return new ContinuumError(
    'CONTINUUM_ERR_SANDBOX_UNAVAILABLE',
    'training runs need a network namespace (`unshare -n`: root or user namespaces) and none can be made here; enable user namespaces, or allow unisolated training network (docs/workflows.md#the-sandbox)',
  );
}

let namespaceProbe: boolean | undefined;

/** Whether `unshare -n` makes a network namespace here (needs root or user namespaces); probed once. */
export function networkNamespaceAvailable(): boolean {
  namespaceProbe ??= spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0;
  return namespaceProbe;
}

let prlimitProbe: boolean | undefined;

/** Whether `prlimit` (util-linux) can set a command's resource limits here; probed once. */
function prlimitAvailable(): boolean {
  prlimitProbe ??= spawnSync('prlimit', ['--core=0', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0;
  return prlimitProbe;
}

/** The compiled runner: dist/training/runner-main.js (from src/ in tests, the same relative path). */
const RUNNER_PATH = fileURLToPath(new URL('../../dist/training/runner-main.js', import.meta.url));

/**
 * Paths the training process must read besides its work directory: Continuum's compiled trainers
 * and ONNX builder, the package.json that makes dist/ ES modules, and the installed packages
 * (node_modules: onnx-proto and protobufjs are imported; Node's resolver must stat the folder
 * itself, and the permission model grants a folder with everything below it, so the whole of it
 * is readable — code, no data). Both a path and its real path are listed, since the resolver
 * checks the path it finds a module at before resolving links. Node 20.20 takes one path per
 * flag (a comma-separated list is read as one path).
 */
function codePaths(): string[] {
  const dist = dirname(dirname(RUNNER_PATH));
  const root = dirname(dist);
  const paths = [join(dist, 'training'), join(dist, 'onnx'), join(root, 'package.json'), join(root, 'node_modules')];
  return [...new Set(paths.filter((p) => existsSync(p)).flatMap((p) => [p, realpathSync(p)]))];
}

/** Reads the kernel's view of a process: resident memory now, its peak, and CPU time (Linux /proc). */
function procUsage(pid: number): { rssBytes: number; peakRssBytes: number; cpuMs: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    // Fields 14 and 15 of /proc/PID/stat (utime, stime) in clock ticks (USER_HZ, 100 on Linux), after the parenthesised command.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM'), cpuMs: ticks * 10 };
  } catch {
    return undefined;
  }
}

/** Reads a file the run wrote, refusing it past `maxBytes`; undefined when absent. */
function readBounded(path: string, maxBytes: number): Buffer | undefined {
  let size: number;
  try {
    const s = statSync(path);
    if (!s.isFile()) return undefined;
    size = s.size;
  } catch {
    return undefined;
  }
  if (size > maxBytes) throw new Error(`${path.split('/').pop() ?? path} is ${size} bytes, over the limit of ${maxBytes}`);
  return readFileSync(path);
}

/**
 * Runs a workflow's train in the sandbox: unpacks the package into a fresh work directory, writes
 * the dataset and parameters there, runs the training process and reads its answer. Resolves
 * with the outcome (a failed run is an outcome, not a rejection); rejects only when the run
 * cannot start (CONTINUUM_ERR_SANDBOX_UNAVAILABLE, or a package that will not unpack).
 */
export async function runInSandbox(run: SandboxRun): Promise<SandboxOutcome> {
  const isolated = networkNamespaceAvailable();
  if (!isolated && !run.allowUnisolatedNetwork) throw sandboxUnavailable();
  const network: NetworkIsolation = isolated ? 'namespace' : 'none';
  mkdirSync(run.workRoot, { recursive: true, mode: 0o700 });
  const workdir = realpathSync(await mkdtemp(join(run.workRoot, 'run-')));
  try {
    await unpackArchive(run.archivePath, join(workdir, RUNNER_FILES.packageDir));
    const input: RunnerInput = { entry: run.entry, params: run.params, seed: run.seed, maxModelBytes: run.limits.maxModelBytes };
    await writeFile(join(workdir, RUNNER_FILES.input), JSON.stringify(input));
    await writeFile(join(workdir, RUNNER_FILES.dataset), JSON.stringify(run.dataset));
    return await supervise(run, workdir, network);
  } finally {
    await rm(workdir, { recursive: true, force: true });
  }
}

/** Starts the training process in `workdir` and watches it to its end. */
function supervise(run: SandboxRun, workdir: string, network: NetworkIsolation): Promise<SandboxOutcome> {
  const { limits } = run;
  const nodeArgs = [
    '--experimental-permission',
    ...[workdir, ...codePaths()].map((path) => `--allow-fs-read=${path}`),
    `--allow-fs-write=${workdir}`,
    `--max-old-space-size=${limits.maxHeapMb}`,
    '--disable-warning=ExperimentalWarning',
    RUNNER_PATH,
    workdir,
  ];
  // unshare and prlimit each exec the next program in place, so the pid watched below is the training process itself.
  const chain = [
    ...(network === 'namespace' ? ['unshare', '-n'] : []),
    ...(prlimitAvailable() ? ['prlimit', `--fsize=${limits.maxModelBytes}`, '--core=0'] : []),
    process.execPath,
    ...nodeArgs,
  ];
  const [command = process.execPath, ...args] = chain;
  const child = spawn(command, args, { cwd: workdir, env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
  let peak: RunResources = { peakRssBytes: 0, cpuMs: 0 };
  let killedFor: string | undefined;
  const kill = (reason: string): void => {
    killedFor ??= reason;
    child.kill('SIGKILL');
  };
  let printed = 0;
  let tail = '';
  const onOutput = (chunk: Buffer): void => {
    printed += chunk.length;
    if (printed > limits.maxOutputBytes) return kill(`it printed more than ${limits.maxOutputBytes} bytes (the output limit)`);
    const text = tail + chunk.toString('utf8');
    const lines = text.split('\n');
    tail = lines.pop() ?? '';
    for (const line of lines) run.onLog(line);
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  const poll = setInterval(() => {
    const usage = child.pid === undefined ? undefined : procUsage(child.pid);
    if (usage === undefined) return;
    peak = { peakRssBytes: Math.max(peak.peakRssBytes, usage.peakRssBytes), cpuMs: Math.max(peak.cpuMs, usage.cpuMs) };
    if (usage.rssBytes > limits.maxRssBytes) kill(`it used ${Math.round(usage.rssBytes / 1024 ** 2)} MiB of memory, over the limit of ${Math.round(limits.maxRssBytes / 1024 ** 2)} MiB`);
  }, limits.pollMs);
  const timer = setTimeout(() => kill(`it ran longer than ${limits.timeoutMs} ms (the time limit)`), limits.timeoutMs);
  const onAbort = (): void => kill('the server is shutting down');
  run.signal?.addEventListener('abort', onAbort, { once: true });
  if (run.signal?.aborted === true) onAbort();
  return new Promise((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void => {
      clearInterval(poll);
      clearTimeout(timer);
      run.signal?.removeEventListener('abort', onAbort);
      if (tail !== '') run.onLog(tail);
      resolve(outcome(run, workdir, network, peak, { code, signal, killedFor, spawnError }));
    };
    child.once('error', (err) => finish(null, null, err));
    child.once('close', (code, signal) => finish(code, signal));
  });
}

/** Reads the runner's answer and turns the way the process ended into an outcome. */
function outcome(
  run: SandboxRun,
  workdir: string,
  network: NetworkIsolation,
  polled: RunResources,
  end: { code: number | null; signal: NodeJS.Signals | null; killedFor: string | undefined; spawnError?: Error },
): SandboxOutcome {
  let resources = polled;
  const failed = (error: string): SandboxOutcome => ({ ok: false, error, resources, network });
  if (end.spawnError !== undefined) return failed(`the training process did not start: ${end.spawnError.message}`);
  if (end.killedFor !== undefined) return failed(`the run was stopped: ${end.killedFor}`);
  let result: RunnerResult | undefined;
  try {
    const bytes = readBounded(join(workdir, RUNNER_FILES.result), 64 * 1024);
    result = bytes === undefined ? undefined : (JSON.parse(bytes.toString('utf8')) as RunnerResult);
  } catch (err) {
    return failed(`the run's result could not be read: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (result?.ok === true && typeof result.cpuMs === 'number' && typeof result.maxRssBytes === 'number') {
    resources = { peakRssBytes: Math.max(resources.peakRssBytes, result.maxRssBytes), cpuMs: Math.max(resources.cpuMs, result.cpuMs) };
  }
  if (end.code !== 0 || result === undefined || !result.ok) {
    if (result !== undefined && !result.ok && typeof result.error === 'string') return failed(result.error.slice(0, 4000));
    // V8 aborts (SIGABRT, exit 134) when the heap passes --max-old-space-size.
    if (end.signal === 'SIGABRT' || end.code === 134) return failed(`the run ran out of memory: its heap passed ${run.limits.maxHeapMb} MiB (the heap limit)`);
    return failed(`the training process exited with ${end.signal ?? `code ${end.code}`} without a result; its log has the cause`);
  }
  let model: Buffer | undefined;
  try {
    model = readBounded(join(workdir, RUNNER_FILES.model), run.limits.maxModelBytes);
  } catch (err) {
    return failed(err instanceof Error ? err.message : String(err));
  }
  if (model === undefined) return failed('the run wrote no model');
  return { ok: true, model, metrics: result.metrics, resources, network };
}
