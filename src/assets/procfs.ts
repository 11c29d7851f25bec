/**
 * CPU time and resident memory of a process and all its descendants, from /proc (proc(5)): what
 * the platform uses while it trains and predicts, its replicas and training runs included, read
 * the way the paper's "maximum CPU usage" and "maximum memory utilization" are meant.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** One reading of a process tree. */
export interface ProcessTreeReading {
  readonly atMs: number;
  /** user + system CPU time of every live process in the tree, seconds. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
}

/** Reads a process tree: `read(nowMs)` takes one reading, here from /proc or over the network from the server's metrics. */
export interface ProcessTreeProbe {
  /** How often the tree is worth reading. */
  readonly intervalMs: number;
  /** Whether the tree runs on this machine, so this machine's CPU model and TDP are its own. */
  readonly onThisMachine: boolean;
  read(nowMs: number): ProcessTreeReading | Promise<ProcessTreeReading>;
}

function getconf(name: string, fallback: number): number {
  try {
    return Number(execFileSync('getconf', [name]).toString('utf8').trim()) || fallback;
  } catch {
    return fallback;
  }
}

/** One process's line of /proc/PID/stat, the fields the probe needs. */
export interface StatFields {
  readonly ppid: number;
  readonly ticks: number;
  readonly rssPages: number;
}

/** Parses /proc/PID/stat; `comm` may hold spaces and parentheses, so fields are counted after the last ')'. */
export function parseStat(text: string): StatFields | undefined {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After ')': state(3) ppid(4) … utime(14) stime(15) … rss(24); index = field − 3.
  const ppid = Number(fields[1]);
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssPages = Number(fields[21]);
  return Number.isFinite(ppid) && Number.isFinite(ticks) && Number.isFinite(rssPages) ? { ppid, ticks, rssPages } : undefined;
}

/** The kernel's clock ticks per second, the unit of /proc's CPU times. */
export const CLOCK_TICKS_PER_S = getconf('CLK_TCK', 100);
const PAGE_BYTES = getconf('PAGESIZE', 4096);

/** The /proc/PID/stat fields of one process; undefined once it is gone. */
export function processStat(pid: number): StatFields | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** One reading of `rootPid`'s tree from this machine's /proc. */
export function readProcessTree(rootPid: number, nowMs: number): ProcessTreeReading {
  const stats = new Map<number, StatFields>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    // Undefined when the process ended between the listing and the read.
    const fields = processStat(pid);
    if (fields !== undefined) stats.set(pid, fields);
  }
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  let ticks = 0;
  let pages = 0;
  const stack = [rootPid];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    const s = stats.get(pid);
    if (s === undefined) continue;
    ticks += s.ticks;
    pages += s.rssPages;
    stack.push(...(children.get(pid) ?? []));
  }
  return { atMs: nowMs, cpuSeconds: ticks / CLOCK_TICKS_PER_S, rssBytes: pages * PAGE_BYTES };
}

/** A probe of `rootPid`'s tree on this machine's /proc. */
export function processTreeProbe(rootPid: number): ProcessTreeProbe {
  return { intervalMs: 200, onThisMachine: true, read: (nowMs) => readProcessTree(rootPid, nowMs) };
}

/**
 * Reads a probe every `probe.intervalMs` until stopped; `stop()` resolves with the readings,
 * oldest first (a reading that failed, e.g. a scrape that timed out, is left out).
 */
export function sampleProcessTree(probe: ProcessTreeProbe): { stop(): Promise<ProcessTreeReading[]> } {
  const readings: ProcessTreeReading[] = [];
  const inFlight = new Set<Promise<void>>();
  const take = (): void => {
    const done = Promise.resolve()
      .then(() => probe.read(Date.now()))
      .then(
        (reading) => void readings.push(reading),
        () => undefined,
      );
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  };
  take();
  const timer = setInterval(take, probe.intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      take();
      await Promise.all(inFlight);
      return readings.sort((a, b) => a.atMs - b.atMs);
    },
  };
}
