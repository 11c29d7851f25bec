/**
 * Energy: what serving costs in joules, per deployment and per inference, by CodeCarbon's method
 * (mlco2/codecarbon, docs "Methodology"):
 *
 * - CPU, measured: Intel RAPL package counters under /sys/class/powercap (AMD too since Linux 5.8),
 *   the energy between two readings with the counter's wrap-around handled (mode `rapl`);
 * - CPU, estimated when RAPL cannot be read: the CPU's TDP scaled by load, CodeCarbon's `cpu_load`
 *   mode: for the machine TDP × (0.1 + 0.9 × load³) with load from /proc/stat, for a process tree
 *   TDP × its CPU seconds / (wall seconds × CPUs) (mode `cpu_load`); with no load either, half the
 *   TDP, CodeCarbon's constant mode (mode `constant`);
 * - RAM: 5 W per DIMM, the DIMM count estimated from the total memory (CodeCarbon v3's x86 rule).
 *
 * A deployment's share is its replicas' CPU seconds (from their health checks) over the machine's,
 * and its resident memory over the memory in use; per inference is its energy over the inferences
 * of the same interval. The arithmetic is pure; {@link EnergyMeter} does the reading.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { ContinuumError } from '../errors.js';
import type { ReplicaUsage } from '../targets/index.js';

/** How the CPU's power is known: measured by RAPL, estimated from TDP and load, or a constant share of TDP. */
export type EnergyMode = 'rapl' | 'cpu_load' | 'constant';

/** What the meter accounts for: the whole machine, or the server's own process tree (CodeCarbon's `tracking_mode`). */
export type EnergyScope = 'machine' | 'process';

/** One CPU model of the TDP table. */
export interface CpuTdpEntry {
  /** Matched against /proc/cpuinfo's `model name`. */
  readonly pattern: RegExp;
  /** Thermal design power of one package, W (from CodeCarbon's cpu_power.csv). */
  readonly tdpW: number;
  /** Hardware threads of one package (vendor specification), to scale the TDP to the CPUs this machine sees. */
  readonly threads: number;
}

/**
 * A few common server and desktop CPUs. CodeCarbon maps the model to 2000+ TDPs
 * (codecarbon/data/hardware/cpu_power.csv); Continuum keeps a small table of models often met in
 * clouds and on desks, with the TDPs of that file, and falls back to {@link DEFAULT_TDP_W_PER_CPU}.
 * The TDP is per package; a VM sees some of its threads, so the machine's TDP is TDP / threads × CPUs seen.
 */
export const CPU_TDP_TABLE: readonly CpuTdpEntry[] = [
  { pattern: /\bEPYC 7763\b/i, tdpW: 280, threads: 128 },
  { pattern: /\bEPYC 7742\b/i, tdpW: 225, threads: 128 },
  { pattern: /\bEPYC 7B12\b/i, tdpW: 240, threads: 128 },
  { pattern: /\bEPYC 7551\b/i, tdpW: 180, threads: 64 },
  { pattern: /\bGold 6154\b/i, tdpW: 200, threads: 36 },
  { pattern: /\bE5-2680 v4\b/i, tdpW: 120, threads: 28 },
  { pattern: /\bi9-9900K\b/i, tdpW: 95, threads: 16 },
  { pattern: /\bi7-8700\b/i, tdpW: 65, threads: 12 },
  { pattern: /\bi7-1165G7\b/i, tdpW: 28, threads: 8 },
];

/**
 * TDP per CPU of an unknown model, W: the Green Algorithms calculator's "Any" CPU (12 W per core,
 * Lannelongue et al. 2021). CodeCarbon's own fallback is 85 W for the whole CPU; a per-CPU figure
 * keeps a small VM of a large host from being charged a whole package.
 */
export const DEFAULT_TDP_W_PER_CPU = 12;

/** Share of the TDP drawn on average when the load is unknown (CodeCarbon's CONSUMPTION_PERCENTAGE_CONSTANT). */
export const CONSTANT_TDP_SHARE = 0.5;

/** Power of one DIMM on x86, W (CodeCarbon v3, "RAM"). */
export const RAM_W_PER_DIMM = 5;

/** The TDP this machine is estimated at, and where the figure came from. */
export interface CpuTdp {
  readonly tdpW: number;
  /** The table row's pattern, or `default` for an unknown model. */
  readonly source: string;
}

/** The TDP of `logicalCpus` CPUs of the model named `modelName` (see {@link CPU_TDP_TABLE}). */
export function cpuTdp(modelName: string | undefined, logicalCpus: number): CpuTdp {
  const entry = modelName === undefined ? undefined : CPU_TDP_TABLE.find((e) => e.pattern.test(modelName));
  if (entry === undefined) return { tdpW: DEFAULT_TDP_W_PER_CPU * logicalCpus, source: 'default' };
  return { tdpW: (entry.tdpW / entry.threads) * logicalCpus, source: entry.pattern.source };
}

/** The machine's CPU power at `load` (0..1), CodeCarbon's cubic curve: TDP × (0.1 + 0.9 × load³), never below 10% of TDP. */
export function cpuPowerW(tdpW: number, load: number): number {
  const l = Math.min(1, Math.max(0, load));
  return tdpW * (0.1 + 0.9 * l ** 3);
}

/** A process tree's CPU power (CodeCarbon's process mode): TDP × its CPU seconds / (wall seconds × CPUs). */
export function processCpuPowerW(tdpW: number, cpuSeconds: number, wallSeconds: number, logicalCpus: number): number {
  if (wallSeconds <= 0 || logicalCpus <= 0) return 0;
  return tdpW * Math.min(1, Math.max(0, cpuSeconds / (wallSeconds * logicalCpus)));
}

/**
 * DIMMs in a machine with `totalGiB` of memory, CodeCarbon v3's estimate (external/ram.py): the
 * slot count needs root to read, so it follows the common configurations: 1 up to 2 GiB, 2 up to
 * 16, 4 up to 64, 8 up to 128; beyond, the largest common module size that still makes at least 8
 * DIMMs, at most 32 DIMMs.
 */
export function estimateDimms(totalGiB: number): number {
  if (totalGiB <= 2) return 1;
  if (totalGiB <= 16) return 2;
  if (totalGiB <= 64) return 4;
  if (totalGiB <= 128) return 8;
  const moduleGiB = [128, 64, 32, 16, 8, 4].find((size) => size <= totalGiB / 8);
  return moduleGiB === undefined ? 8 : Math.min(32, Math.ceil(totalGiB / moduleGiB));
}

/**
 * RAM power of a machine with `totalGiB` (CodeCarbon v3, x86): {@link RAM_W_PER_DIMM} for each of
 * the first 4 DIMMs, 90% of it for the 5th to 8th, 80% for the 9th to 16th, 70% beyond, and at
 * least 2 DIMMs' worth (10 W).
 */
export function ramPowerW(totalGiB: number): number {
  const dimms = estimateDimms(totalGiB);
  const tiers: readonly (readonly [upTo: number, share: number])[] = [[4, 1], [8, 0.9], [16, 0.8], [Number.POSITIVE_INFINITY, 0.7]];
  let watts = 0;
  let counted = 0;
  for (const [upTo, share] of tiers) {
    const n = Math.max(0, Math.min(dimms, upTo) - counted);
    watts += n * RAM_W_PER_DIMM * share;
    counted += n;
  }
  return Math.max(2 * RAM_W_PER_DIMM, watts);
}

/**
 * Energy between two readings of a RAPL `energy_uj` counter, µJ. The counter wraps to 0 after
 * `max_energy_range_uj` (Linux powercap sysfs ABI), so a smaller second reading means one wrap.
 */
export function raplDeltaUj(beforeUj: number, afterUj: number, maxEnergyRangeUj: number): number {
  return afterUj >= beforeUj ? afterUj - beforeUj : maxEnergyRangeUj - beforeUj + afterUj;
}

/** The all-CPU line of /proc/stat, in clock ticks since boot. */
export interface CpuTimes {
  readonly busyTicks: number;
  readonly totalTicks: number;
  /** The `cpuN` lines: CPUs the kernel counts. */
  readonly cpus: number;
}

/**
 * Parses /proc/stat (proc(5)): busy is user + nice + system + irq + softirq + steal (guest time is
 * already inside user and nice), idle is idle + iowait.
 */
export function parseProcStat(text: string): CpuTimes | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return undefined;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  const busyTicks = user + nice + system + irq + softirq + steal;
  const totalTicks = busyTicks + idle + iowait;
  if (!Number.isFinite(totalTicks) || totalTicks <= 0) return undefined;
  const cpus = text.split('\n').filter((l) => /^cpu\d+\s/.test(l)).length;
  return { busyTicks, totalTicks, cpus: Math.max(1, cpus) };
}

/** The machine's CPU utilisation (0..1) between two /proc/stat readings. */
export function cpuLoad(before: CpuTimes, after: CpuTimes): number {
  const total = after.totalTicks - before.totalTicks;
  return total <= 0 ? 0 : Math.min(1, Math.max(0, (after.busyTicks - before.busyTicks) / total));
}

/** The first `model name` of /proc/cpuinfo (x86; ARM kernels may have none). */
export function parseCpuModel(cpuinfo: string): string | undefined {
  const match = /^model name\s*:\s*(.+)$/m.exec(cpuinfo);
  return match?.[1]?.trim();
}

/** One deployment's use of the machine over an interval. */
export interface DeploymentShareInput {
  readonly name: string;
  /** CPU seconds its replicas used in the interval. */
  readonly cpuSeconds: number;
  /** Resident memory of its replicas, bytes. */
  readonly rssBytes: number;
  /** Inferences it completed in the interval. */
  readonly inferences: number;
}

/** What {@link attribute} divides. */
export interface AttributionInput {
  /** CPU and RAM energy of what is accounted for (the machine or the process tree) over the interval, J. */
  readonly cpuJoules: number;
  readonly ramJoules: number;
  /** CPU seconds and memory in use of the same whole: the shares' denominators. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  readonly deployments: readonly DeploymentShareInput[];
}

/** One deployment's energy over an interval. */
export interface DeploymentEnergyShare {
  readonly name: string;
  readonly cpuJoules: number;
  readonly ramJoules: number;
  readonly joules: number;
  /** Null when it completed no inference in the interval. */
  readonly joulesPerInference: number | null;
}

/** The interval's energy split among deployments; what none of them used (the server, other processes, idle power) is `unattributedJoules`. */
export interface Attribution {
  readonly deployments: readonly DeploymentEnergyShare[];
  readonly unattributedJoules: number;
}

/**
 * Splits an interval's energy: each deployment gets the CPU energy × its share of the CPU seconds
 * and the RAM energy × its share of the memory in use. Readings taken moments apart can make the
 * parts exceed the whole; then the parts' sum is the denominator, so the shares never pass 1.
 */
export function attribute(input: AttributionInput): Attribution {
  const cpuWhole = Math.max(input.cpuSeconds, input.deployments.reduce((s, d) => s + Math.max(0, d.cpuSeconds), 0));
  const rssWhole = Math.max(input.rssBytes, input.deployments.reduce((s, d) => s + Math.max(0, d.rssBytes), 0));
  const deployments = input.deployments.map((d): DeploymentEnergyShare => {
    const cpuJoules = cpuWhole > 0 ? (input.cpuJoules * Math.max(0, d.cpuSeconds)) / cpuWhole : 0;
    const ramJoules = rssWhole > 0 ? (input.ramJoules * Math.max(0, d.rssBytes)) / rssWhole : 0;
    const joules = cpuJoules + ramJoules;
    return { name: d.name, cpuJoules, ramJoules, joules, joulesPerInference: d.inferences > 0 ? joules / d.inferences : null };
  });
  const attributed = deployments.reduce((s, d) => s + d.joules, 0);
  return { deployments, unattributedJoules: input.cpuJoules + input.ramJoules - attributed };
}

/** Reads system files; undefined when a file or folder is missing or unreadable. Tests inject one. */
export interface SystemFiles {
  readFile(path: string): string | undefined;
  listDir(path: string): readonly string[] | undefined;
}

/** The real file system. */
export const HOST_FILES: SystemFiles = {
  readFile(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  listDir(path) {
    try {
      return readdirSync(path);
    } catch {
      return undefined;
    }
  },
};

const POWERCAP = '/sys/class/powercap';

/** One RAPL package domain to read. */
export interface RaplDomain {
  readonly energyPath: string;
  readonly maxEnergyRangeUj: number;
}

/**
 * The RAPL package domains that can be read: `intel-rapl:N` (not the `intel-rapl:N:M` sub-domains
 * inside a package, not `psys`, which covers more than the CPU — CodeCarbon keeps packages only too).
 * Since Linux 5.10 energy_uj is readable by root only (CVE-2020-8694), so often there are none.
 */
export function raplDomains(files: SystemFiles): RaplDomain[] {
  const domains: RaplDomain[] = [];
  for (const entry of files.listDir(POWERCAP) ?? []) {
    if (!/^intel-rapl:\d+$/.test(entry)) continue;
    const dir = `${POWERCAP}/${entry}`;
    const name = files.readFile(`${dir}/name`)?.trim();
    if (name !== undefined && !name.startsWith('package')) continue;
    const energy = Number(files.readFile(`${dir}/energy_uj`)?.trim());
    const range = Number(files.readFile(`${dir}/max_energy_range_uj`)?.trim());
    if (Number.isFinite(energy) && Number.isFinite(range) && range > 0) domains.push({ energyPath: `${dir}/energy_uj`, maxEnergyRangeUj: range });
  }
  return domains;
}

/** Memory of the machine, bytes. */
export interface MemoryReading {
  readonly totalBytes: number;
  readonly usedBytes: number;
}

/** A deployment's replicas and inference counter, as the server hands them to the meter at each sample. */
export interface DeploymentUsage {
  readonly name: string;
  /** Every live replica with its latest health-check reading (undefined before the first). */
  readonly replicas: readonly { readonly id: string; readonly usage: ReplicaUsage | undefined }[];
  /** Inferences the deployment completed so far; a smaller value than last time means the counter restarted. */
  readonly inferences: number;
}

/** Options of an {@link EnergyMeter}; every field has a default. */
export interface EnergyMeterOptions {
  /** @default 'machine' */
  readonly scope?: EnergyScope;
  /**
   * Sampling interval of {@link EnergyMeter.start}, ms (CodeCarbon measures every 15 s).
   * @default 15000
   */
  readonly intervalMs?: number;
  /** @default Date.now */
  readonly nowMs?: () => number;
  /** @default HOST_FILES */
  readonly files?: SystemFiles;
  /** @default os.availableParallelism() */
  readonly logicalCpus?: number;
  /** The serving process's own CPU time and resident memory. @default process.cpuUsage() and process.memoryUsage.rss() */
  readonly processUsage?: () => { readonly cpuUs: number; readonly rssBytes: number };
  /** @default os.totalmem() and os.totalmem() − os.freemem() */
  readonly memory?: () => MemoryReading;
  /** The CPU's TDP for the CPUs seen, W, when it is known better than the table (CodeCarbon's `force_cpu_power`). */
  readonly tdpW?: number;
  /** The RAM's power, W, when it is known better than the DIMM estimate (CodeCarbon's `force_ram_power`). */
  readonly ramW?: number;
}

/** A deployment's energy, as {@link EnergyMeter.snapshot} reports it. */
export interface DeploymentEnergy {
  /** Since the meter started. */
  readonly joules: number;
  /** Over the last interval. */
  readonly watts: number;
  /** Over the last interval; null when it completed no inference then. */
  readonly joulesPerInference: number | null;
}

/** What the meter knows. */
export interface EnergySnapshot {
  readonly mode: EnergyMode;
  readonly scope: EnergyScope;
  readonly cpuModel: string | null;
  /** The TDP used by the `cpu_load` and `constant` modes, W, and where it came from. */
  readonly tdpW: number;
  readonly tdpSource: string;
  /** When the last interval ended (epoch ms); null before the first interval. */
  readonly sampledAtMs: number | null;
  /** Power of what is accounted for (the machine, or the server's process tree), W, over the last interval: CPU + RAM. */
  readonly machineWatts: number;
  readonly cpuWatts: number;
  readonly ramWatts: number;
  /** Energy since the meter started, J. */
  readonly joules: number;
  readonly deployments: Readonly<Record<string, DeploymentEnergy>>;
}

interface Reading {
  readonly atMs: number;
  readonly cpuTimes: CpuTimes | undefined;
  readonly raplUj: readonly number[];
  readonly serverCpuUs: number;
}

/**
 * Samples the machine's power and splits it among deployments. Call {@link sample} with every
 * deployment's replicas (or {@link start} with a function that gives them); the first sample only
 * takes the starting readings. The mode is chosen once, by what can be read: RAPL, else /proc/stat
 * for the load, else the constant share of TDP.
 */
export class EnergyMeter {
  readonly mode: EnergyMode;
  readonly scope: EnergyScope;
  private readonly files: SystemFiles;
  private readonly nowMs: () => number;
  private readonly logicalCpus: number;
  private readonly processUsage: () => { readonly cpuUs: number; readonly rssBytes: number };
  private readonly memory: () => MemoryReading;
  private readonly intervalMs: number;
  private readonly rapl: readonly RaplDomain[];
  private readonly cpuModel: string | undefined;
  private readonly tdp: CpuTdp;
  private readonly ramW: number | undefined;
  private last: Reading | undefined;
  private readonly replicaCpuUs = new Map<string, number>();
  private readonly inferences = new Map<string, number>();
  private readonly perDeployment = new Map<string, DeploymentEnergy>();
  private totalJoules = 0;
  private power = { cpuW: 0, ramW: 0 };
  private sampledAtMs: number | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: EnergyMeterOptions = {}) {
    this.scope = options.scope ?? 'machine';
    this.files = options.files ?? HOST_FILES;
    this.nowMs = options.nowMs ?? Date.now;
    this.logicalCpus = options.logicalCpus ?? os.availableParallelism();
    this.intervalMs = options.intervalMs ?? 15_000;
    this.processUsage =
      options.processUsage ??
      (() => {
        const cpu = process.cpuUsage();
        return { cpuUs: cpu.user + cpu.system, rssBytes: process.memoryUsage.rss() };
      });
    this.memory = options.memory ?? (() => ({ totalBytes: os.totalmem(), usedBytes: os.totalmem() - os.freemem() }));
    if (!(this.intervalMs > 0)) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `the energy sampling interval must be a positive number of ms; got ${this.intervalMs}`);
    this.rapl = raplDomains(this.files);
    const cpuinfo = this.files.readFile('/proc/cpuinfo');
    this.cpuModel = cpuinfo === undefined ? undefined : parseCpuModel(cpuinfo);
    this.tdp = options.tdpW === undefined ? cpuTdp(this.cpuModel, this.logicalCpus) : { tdpW: options.tdpW, source: 'given' };
    this.ramW = options.ramW;
    this.mode = this.rapl.length > 0 ? 'rapl' : this.readCpuTimes() !== undefined ? 'cpu_load' : 'constant';
  }

  /** Takes a reading; from the second on, accounts the interval since the previous one to the deployments given. */
  sample(deployments: readonly DeploymentUsage[]): EnergySnapshot {
    const server = this.processUsage();
    const reading: Reading = {
      atMs: this.nowMs(),
      cpuTimes: this.readCpuTimes(),
      raplUj: this.rapl.map((d) => Number(this.files.readFile(d.energyPath)?.trim())),
      serverCpuUs: server.cpuUs,
    };
    const before = this.last;
    const seen = new Set<string>();
    const usage = deployments.map((d) => ({ name: d.name, ...this.deploymentDeltas(d, before !== undefined, seen) }));
    // Replicas gone since the previous sample are forgotten.
    for (const id of this.replicaCpuUs.keys()) if (!seen.has(id)) this.replicaCpuUs.delete(id);
    this.last = reading;
    if (before === undefined || reading.atMs <= before.atMs) return this.snapshot();
    const wallS = (reading.atMs - before.atMs) / 1000;
    const treeCpuS = (reading.serverCpuUs - before.serverCpuUs) / 1e6 + usage.reduce((s, d) => s + d.cpuSeconds, 0);
    const treeRss = server.rssBytes + usage.reduce((s, d) => s + d.rssBytes, 0);
    const memory = this.memory();
    const cpus = reading.cpuTimes?.cpus ?? this.logicalCpus;
    // The machine's CPU seconds: its utilisation × wall time × CPUs (no /proc/stat: its whole capacity).
    const machineCpuS = reading.cpuTimes !== undefined && before.cpuTimes !== undefined ? cpuLoad(before.cpuTimes, reading.cpuTimes) * wallS * cpus : wallS * cpus;
    const machineCpuW = this.machineCpuW(before, reading, wallS);
    const machineRamW = this.ramW ?? ramPowerW(memory.totalBytes / 1024 ** 3);
    const byProcess = this.scope === 'process';
    const cpuW = !byProcess
      ? machineCpuW
      : this.mode === 'cpu_load'
        ? processCpuPowerW(this.tdp.tdpW, treeCpuS, wallS, cpus)
        : machineCpuW * (machineCpuS > 0 ? Math.min(1, treeCpuS / machineCpuS) : 0);
    const ramW = byProcess ? (machineRamW * Math.min(treeRss, memory.totalBytes)) / Math.max(1, memory.totalBytes) : machineRamW;
    const split = attribute({
      cpuJoules: cpuW * wallS,
      ramJoules: ramW * wallS,
      cpuSeconds: byProcess ? treeCpuS : machineCpuS,
      rssBytes: byProcess ? treeRss : memory.usedBytes,
      deployments: usage,
    });
    this.power = { cpuW, ramW };
    this.totalJoules += (cpuW + ramW) * wallS;
    this.sampledAtMs = reading.atMs;
    for (const [name, previous] of this.perDeployment) this.perDeployment.set(name, { joules: previous.joules, watts: 0, joulesPerInference: null });
    for (const d of split.deployments) {
      const joules = (this.perDeployment.get(d.name)?.joules ?? 0) + d.joules;
      this.perDeployment.set(d.name, { joules, watts: d.joules / wallS, joulesPerInference: d.joulesPerInference });
    }
    return this.snapshot();
  }

  /** Samples every `intervalMs` with the deployments `source` gives (the first call takes the starting readings). */
  start(source: () => readonly DeploymentUsage[]): void {
    this.stop();
    this.sample(source());
    this.timer = setInterval(() => this.sample(source()), this.intervalMs);
    this.timer.unref();
  }

  /** Stops sampling; the figures stay. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The latest figures, every one tagged with the mode it was obtained by. */
  snapshot(): EnergySnapshot {
    return {
      mode: this.mode,
      scope: this.scope,
      cpuModel: this.cpuModel ?? null,
      tdpW: this.tdp.tdpW,
      tdpSource: this.tdp.source,
      sampledAtMs: this.sampledAtMs,
      machineWatts: this.power.cpuW + this.power.ramW,
      cpuWatts: this.power.cpuW,
      ramWatts: this.power.ramW,
      joules: this.totalJoules,
      deployments: Object.fromEntries(this.perDeployment),
    };
  }

  private readCpuTimes(): CpuTimes | undefined {
    const text = this.files.readFile('/proc/stat');
    return text === undefined ? undefined : parseProcStat(text);
  }

  private machineCpuW(before: Reading, after: Reading, wallS: number): number {
    if (this.mode === 'rapl') {
      const uj = this.rapl.reduce((s, d, i) => {
        const a = before.raplUj[i] ?? Number.NaN;
        const b = after.raplUj[i] ?? Number.NaN;
        return Number.isFinite(a) && Number.isFinite(b) ? s + raplDeltaUj(a, b, d.maxEnergyRangeUj) : s;
      }, 0);
      return uj / 1e6 / wallS;
    }
    if (this.mode === 'cpu_load' && before.cpuTimes !== undefined && after.cpuTimes !== undefined) return cpuPowerW(this.tdp.tdpW, cpuLoad(before.cpuTimes, after.cpuTimes));
    return this.tdp.tdpW * CONSTANT_TDP_SHARE;
  }

  /**
   * A deployment's CPU seconds and inferences since the previous sample, and its replicas' memory.
   * A replica first seen counts its CPU time since it started (it started in this interval, or the
   * meter just did, when `counting` is false and nothing is counted). Adds its replicas to `seen`.
   */
  private deploymentDeltas(d: DeploymentUsage, counting: boolean, seen: Set<string>): { cpuSeconds: number; rssBytes: number; inferences: number } {
    let cpuUs = 0;
    let rssBytes = 0;
    for (const { id, usage } of d.replicas) {
      if (usage === undefined) continue;
      const now = usage.cpuUserUs + usage.cpuSystemUs;
      const previous = this.replicaCpuUs.get(id);
      cpuUs += previous === undefined ? now : Math.max(0, now - previous);
      rssBytes += usage.rssBytes;
      this.replicaCpuUs.set(id, now);
      seen.add(id);
    }
    const previousInferences = this.inferences.get(d.name);
    this.inferences.set(d.name, d.inferences);
    const inferences = previousInferences === undefined || d.inferences < previousInferences ? d.inferences : d.inferences - previousInferences;
    return counting ? { cpuSeconds: cpuUs / 1e6, rssBytes, inferences } : { cpuSeconds: 0, rssBytes, inferences: 0 };
  }
}
