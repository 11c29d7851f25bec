/**
 * The processes of a benchmark run: servers and load generators, each started in its own process
 * group so that it and everything it starts can be ended together, and all ended when the run
 * ends, also when it fails or is interrupted.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { CLOCK_TICKS_PER_S, processStat, readProcessTree } from '../src/assets/procfs.js';

/** How much of a process's stderr is kept for error messages. */
const STDERR_TAIL_CHARS = 4000;

/** A started process. */
export interface BenchProcess {
  readonly name: string;
  readonly child: ChildProcessWithoutNullStreams;
  readonly pid: number;
  /** Calls `onLine` for each stdout line (in order; a returned promise is awaited before the next). */
  onLines(onLine: (line: string) => void | Promise<void>): Promise<void>;
  /** The last part of what it wrote on stderr. */
  stderrTail(): string;
  /** Resolves with the exit code (or signal name) when it ends. */
  readonly exited: Promise<number | string>;
}

/** Every process a run started; {@link ProcessSet.endAll} ends the ones still running. */
export class ProcessSet {
  private readonly running = new Map<number, BenchProcess>();

  /** Starts `command args...` in its own process group, stdout and stderr piped. */
  start(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): BenchProcess {
    const child = spawn(command, [...args], { detached: true, env: { ...process.env, ...env }, stdio: 'pipe' });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${name} (${command})`);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
    });
    const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    const proc: BenchProcess = {
      name,
      child,
      pid,
      exited,
      stderrTail: () => stderr,
      async onLines(onLine) {
        for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) await onLine(line);
      },
    };
    this.running.set(pid, proc);
    void exited.then(() => this.running.delete(pid));
    return proc;
  }

  /** Ends one process group: SIGTERM, then SIGKILL after `graceMs`. */
  async end(proc: BenchProcess, graceMs = 3000): Promise<void> {
    if (!this.running.has(proc.pid)) return;
    signalGroup(proc.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(proc.pid, 'SIGKILL'), graceMs);
    await proc.exited;
    clearTimeout(timer);
    // The leader may have gone while something it started lingers.
    signalGroup(proc.pid, 'SIGKILL');
  }

  /** Ends every process still running. */
  async endAll(): Promise<void> {
    await Promise.all([...this.running.values()].map((p) => this.end(p)));
  }

  /** Sends SIGKILL to every group at once, synchronously (for `process.on('exit')`). */
  killAllNow(): void {
    for (const pid of this.running.keys()) signalGroup(pid, 'SIGKILL');
  }
}

/**
 * A process set for a whole benchmark run: every process it started is ended when the run is
 * interrupted (SIGINT, SIGTERM: exit status 130) and killed when the run's process exits.
 */
export function processSetForRun(): ProcessSet {
  const processes = new ProcessSet();
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`${signal}: ending every process the benchmark started\n`);
    void processes.endAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => processes.killAllNow());
  return processes;
}

export { CLOCK_TICKS_PER_S };

/** utime + stime of a process, clock ticks (0 when it is gone). */
export function processTicks(pid: number): number {
  return processStat(pid)?.ticks ?? 0;
}

/** Busy ticks of the machine: the `cpu` line of /proc/stat minus idle and iowait (proc(5)). */
export function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal ...
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** A TCP port free on 127.0.0.1 now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200; fails after `timeoutMs` or when `proc` exits first. */
export async function waitForHttp(url: string, proc: BenchProcess, timeoutMs = 60_000): Promise<void> {
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${proc.name} exited before it was ready:\n${proc.stderrTail()}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${proc.name} was not ready at ${url} after ${timeoutMs} ms:\n${proc.stderrTail()}`);
}

/** Resident memory of `pid` and all its descendants, in MB (the rss of /proc/PID/stat). */
export function treeRssMb(pid: number): number {
  return readProcessTree(pid, 0).rssBytes / (1024 * 1024);
}
