/**
 * The processes of a benchmark run: servers and load generators, each started in its own process
 * group so that it and everything it starts can be ended together, and all ended when the run
 * ends, also when it fails or is interrupted.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

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

/** The kernel's clock ticks per second, the unit of /proc's CPU times. */
export const CLOCK_TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK']).toString('utf8').trim()) || 100;

/** utime + stime of a process, clock ticks (0 when it is gone). */
export function processTicks(pid: number): number {
  try {
    // /proc/PID/stat: "pid (comm) state ..."; fields after the last ')' start at field 3 (state),
    // so utime (14) and stime (15) are the 12th and 13th (proc(5)).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
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

function parentPid(pid: number): number | undefined {
  try {
    // /proc/PID/stat: "pid (comm) state ppid ..."; comm may contain spaces, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function vmRssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

/** Resident memory of `pid` and all its descendants, in MB (VmRSS from /proc/PID/status). */
export function treeRssMb(pid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const p = Number(entry);
    if (!Number.isInteger(p)) continue;
    const parent = parentPid(p);
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), p]);
  }
  let kb = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop() as number;
    kb += vmRssKb(p);
    stack.push(...(children.get(p) ?? []));
  }
  return kb / 1024;
}
