import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ReplicaUsage } from '../targets/index.js';
import type { DeploymentUsage, SystemFiles } from './energy.js';
import { attribute, cpuLoad, cpuPowerW, cpuTdp, EnergyMeter, estimateDimms, parseCpuModel, parseProcStat, processCpuPowerW, ramPowerW, raplDeltaUj, raplDomains } from './energy.js';

/** A file system of fixed contents; `files[path]` may change between samples. */
function fakeFiles(files: Record<string, string>): SystemFiles {
  return {
    readFile: (path) => files[path],
    listDir: (path) => {
      const prefix = `${path}/`;
      const names = Object.keys(files)
        .filter((p) => p.startsWith(prefix))
        .map((p) => p.slice(prefix.length).split('/')[0] ?? '');
      return names.length === 0 ? undefined : [...new Set(names)];
    },
  };
}

/** /proc/stat of two CPUs with `busy` and `idle` ticks in all. */
const procStat = (busy: number, idle: number): string => `cpu  ${busy} 0 0 ${idle} 0 0 0 0 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\ncpu1 1 0 0 1 0 0 0 0 0 0\nintr 0\n`;

const GiB = 1024 ** 3;

function usage(cpuMs: number, rssBytes: number): ReplicaUsage {
  return { atMs: 0, cpuUserUs: cpuMs * 1000, cpuSystemUs: 0, rssBytes, queued: 0 };
}

describe('raplDeltaUj', () => {
  it('subtracts two readings, and adds the range once when the counter wrapped', () => {
    expect(raplDeltaUj(1_000, 5_000, 262_143_328_850)).toBe(4_000);
    expect(raplDeltaUj(262_143_327_850, 500, 262_143_328_850)).toBe(1_500);
  });
});

describe('CPU power', () => {
  it('follows the cubic load curve: 10% of TDP idle, 21.25% at half load, all of it at full load', () => {
    expect(cpuPowerW(100, 0)).toBeCloseTo(10, 12);
    expect(cpuPowerW(100, 0.5)).toBeCloseTo(21.25, 12);
    expect(cpuPowerW(100, 1)).toBeCloseTo(100, 12);
    expect(cpuPowerW(100, 1.7)).toBeCloseTo(100, 12);
  });

  it('charges a process tree its share of the CPU capacity', () => {
    // 3 CPU seconds over 2 s on 4 CPUs: 37.5% of the capacity.
    expect(processCpuPowerW(80, 3, 2, 4)).toBeCloseTo(30, 12);
    expect(processCpuPowerW(80, 3, 0, 4)).toBe(0);
  });

  it('takes the TDP of a known model per hardware thread, else a default per CPU', () => {
    expect(cpuTdp('AMD EPYC 7763 64-Core Processor', 2)).toEqual({ tdpW: 4.375, source: '\\bEPYC 7763\\b' });
    expect(cpuTdp('Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz', 12).tdpW).toBeCloseTo(65, 12);
    // i7-8700K is another model (95 W): the i7-8700 row does not match it.
    expect(cpuTdp('Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz', 12)).toEqual({ tdpW: 144, source: 'default' });
    expect(cpuTdp(undefined, 2)).toEqual({ tdpW: 24, source: 'default' });
    expect(parseCpuModel('processor\t: 0\nmodel name\t: AMD EPYC 7B12\nflags\t: fpu\n')).toBe('AMD EPYC 7B12');
    expect(parseCpuModel('processor\t: 0\nBogoMIPS\t: 50.00\n')).toBeUndefined();
  });

  it('reads the machine load between two /proc/stat readings', () => {
    const before = parseProcStat(procStat(1000, 3000));
    const after = parseProcStat(procStat(1150, 3050));
    expect(before).toEqual({ busyTicks: 1000, totalTicks: 4000, cpus: 2 });
    expect(before !== undefined && after !== undefined && cpuLoad(before, after)).toBeCloseTo(0.75, 12);
    expect(parseProcStat('intr 0\n')).toBeUndefined();
  });
});

describe('RAM power', () => {
  it('estimates DIMMs from the total memory and charges 5 W each, less beyond four', () => {
    const figures = [8, 16, 24, 64, 256].map((gib) => [gib, estimateDimms(gib), ramPowerW(gib)]);
    expect(figures).toEqual([
      [8, 2, 10],
      [16, 2, 10],
      [24, 4, 20],
      [64, 4, 20],
      // 8 × 32 GiB: 4 × 5 W + 4 × 4.5 W
      [256, 8, 38],
    ]);
    // At least two DIMMs' worth; a 4 TiB server: 32 × 128 GiB, 4 × 5 + 4 × 4.5 + 8 × 4 + 16 × 3.5 W.
    expect([estimateDimms(2), ramPowerW(2)]).toEqual([1, 10]);
    expect([estimateDimms(4096), ramPowerW(4096)]).toEqual([32, 126]);
  });
});

describe('attribute', () => {
  it('gives each deployment its CPU and memory shares, and the rest stays unattributed, so the parts sum to the whole', () => {
    const split = attribute({
      cpuJoules: 100,
      ramJoules: 20,
      cpuSeconds: 10,
      rssBytes: 1000,
      deployments: [
        { name: 'a', cpuSeconds: 4, rssBytes: 300, inferences: 10 },
        { name: 'b', cpuSeconds: 1, rssBytes: 100, inferences: 0 },
      ],
    });
    expect(split.deployments).toEqual([
      { name: 'a', cpuJoules: 40, ramJoules: 6, joules: 46, joulesPerInference: 4.6 },
      { name: 'b', cpuJoules: 10, ramJoules: 2, joules: 12, joulesPerInference: null },
    ]);
    expect(split.unattributedJoules).toBeCloseTo(62, 12);
    expect(split.deployments.reduce((s, d) => s + d.joules, split.unattributedJoules)).toBeCloseTo(120, 12);
  });

  it('never gives away more than the whole when the parts were read larger than it', () => {
    const split = attribute({ cpuJoules: 50, ramJoules: 0, cpuSeconds: 1, rssBytes: 0, deployments: [{ name: 'a', cpuSeconds: 3, rssBytes: 0, inferences: 1 }, { name: 'b', cpuSeconds: 1, rssBytes: 0, inferences: 1 }] });
    expect(split.deployments.map((d) => d.joules)).toEqual([37.5, 12.5]);
    expect(split.unattributedJoules).toBe(0);
  });
});

describe('EnergyMeter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const base = { logicalCpus: 2, memory: () => ({ totalBytes: 16 * GiB, usedBytes: 8 * GiB }), processUsage: () => ({ cpuUs: 0, rssBytes: 0 }) };

  it('reads RAPL package domains only (not sub-domains, not psys) and handles a wrap between samples', () => {
    const files: Record<string, string> = {
      '/sys/class/powercap/intel-rapl:0/name': 'package-0\n',
      '/sys/class/powercap/intel-rapl:0/energy_uj': '262143000000\n',
      '/sys/class/powercap/intel-rapl:0/max_energy_range_uj': '262143328850\n',
      '/sys/class/powercap/intel-rapl:0:0/name': 'core\n',
      '/sys/class/powercap/intel-rapl:0:0/energy_uj': '5\n',
      '/sys/class/powercap/intel-rapl:0:0/max_energy_range_uj': '262143328850\n',
      '/sys/class/powercap/intel-rapl:1/name': 'psys\n',
      '/sys/class/powercap/intel-rapl:1/energy_uj': '7\n',
      '/sys/class/powercap/intel-rapl:1/max_energy_range_uj': '262143328850\n',
      '/proc/stat': procStat(0, 100),
    };
    const fs = fakeFiles(files);
    expect(raplDomains(fs)).toEqual([{ energyPath: '/sys/class/powercap/intel-rapl:0/energy_uj', maxEnergyRangeUj: 262_143_328_850 }]);
    let now = 0;
    const meter = new EnergyMeter({ ...base, files: fs, nowMs: () => now });
    expect(meter.mode).toBe('rapl');
    meter.sample([]);
    // 2 s later the counter wrapped: 328 850 µJ to the top, 19 671 150 µJ after it: 20 J, 10 W.
    now = 2000;
    files['/sys/class/powercap/intel-rapl:0/energy_uj'] = '19671150\n';
    const snap = meter.sample([]);
    expect(snap.mode).toBe('rapl');
    expect(snap.cpuWatts).toBeCloseTo(10, 9);
    expect(snap.ramWatts).toBe(10);
    expect(snap.machineWatts).toBeCloseTo(20, 9);
    expect(snap.joules).toBeCloseTo(40, 9);
  });

  it('falls back to the load estimate when energy_uj cannot be read, and to the constant share with no /proc/stat either', () => {
    const unreadable = fakeFiles({ '/sys/class/powercap/intel-rapl:0/name': 'package-0\n', '/proc/stat': procStat(0, 100) });
    expect(new EnergyMeter({ ...base, files: unreadable }).mode).toBe('cpu_load');
    let now = 0;
    const constant = new EnergyMeter({ ...base, files: fakeFiles({}), nowMs: () => now });
    expect(constant.mode).toBe('constant');
    constant.sample([]);
    now = 1000;
    // Unknown CPU: 12 W × 2 CPUs, half of it.
    expect(constant.sample([])).toMatchObject({ mode: 'constant', tdpW: 24, tdpSource: 'default', cpuWatts: 12, cpuModel: null });
  });

  it('splits the machine estimate among deployments by their replicas’ CPU seconds and memory, per inference too', () => {
    const files: Record<string, string> = { '/proc/stat': procStat(0, 100), '/proc/cpuinfo': 'model name\t: AMD EPYC 7763 64-Core Processor\n' };
    let now = 0;
    const meter = new EnergyMeter({ ...base, files: fakeFiles(files), nowMs: () => now, tdpW: 100, ramW: 20 });
    expect(meter.mode).toBe('cpu_load');
    const fleet = (aCpuMs: number, bCpuMs: number, aInferences: number): DeploymentUsage[] => [
      { name: 'a', replicas: [{ id: 'a-1', usage: usage(aCpuMs, 2 * GiB) }, { id: 'a-2', usage: undefined }], inferences: aInferences },
      { name: 'b', replicas: [{ id: 'b-1', usage: usage(bCpuMs, 2 * GiB) }], inferences: 0 },
    ];
    // The first sample takes the starting readings: the replicas' earlier CPU time is not charged.
    meter.sample(fleet(5000, 5000, 100));
    // 1 s later: the machine was fully busy (2 CPU s); a used 1.5 CPU s, b 0.5.
    now = 1000;
    files['/proc/stat'] = procStat(200, 100);
    const snap = meter.sample(fleet(6500, 5500, 130));
    expect(snap).toMatchObject({ mode: 'cpu_load', tdpW: 100, tdpSource: 'given', cpuModel: 'AMD EPYC 7763 64-Core Processor', cpuWatts: 100, ramWatts: 20, machineWatts: 120, sampledAtMs: 1000 });
    // a: 75 J of CPU + 20 J × 2/8 GiB of memory = 80 J over 30 inferences.
    expect(snap.deployments['a']?.joules).toBeCloseTo(80, 9);
    expect(snap.deployments['a']?.watts).toBeCloseTo(80, 9);
    expect(snap.deployments['a']?.joulesPerInference).toBeCloseTo(80 / 30, 9);
    expect(snap.deployments['b']).toMatchObject({ joulesPerInference: null });
    expect(snap.deployments['b']?.joules).toBeCloseTo(30, 9);
    // Next second: half load; a's replica was replaced (a-3 started in the interval), b is gone; a's counter restarted.
    now = 2000;
    files['/proc/stat'] = procStat(300, 200);
    const next = meter.sample([{ name: 'a', replicas: [{ id: 'a-3', usage: usage(400, 2 * GiB) }], inferences: 4 }]);
    expect(next.cpuWatts).toBeCloseTo(21.25, 9);
    // The machine used 1 CPU s, a 0.4 of it: 0.4 × 21.25 J + 20 J × 2/8.
    expect(next.deployments['a']?.watts).toBeCloseTo(0.4 * 21.25 + 5, 9);
    expect(next.deployments['a']?.joules).toBeCloseTo(80 + 0.4 * 21.25 + 5, 9);
    expect(next.deployments['a']?.joulesPerInference).toBeCloseTo((0.4 * 21.25 + 5) / 4, 9);
    expect(next.deployments['b']).toMatchObject({ watts: 0, joulesPerInference: null });
    expect(next.deployments['b']?.joules).toBeCloseTo(30, 9);
    expect(next.joules).toBeCloseTo(120 + 41.25, 9);
  });

  it('in process scope charges the server’s tree only, shared among its deployments', () => {
    const files: Record<string, string> = { '/proc/stat': procStat(0, 100) };
    let now = 0;
    let serverCpuUs = 0;
    const meter = new EnergyMeter({ ...base, scope: 'process', files: fakeFiles(files), nowMs: () => now, tdpW: 100, processUsage: () => ({ cpuUs: serverCpuUs, rssBytes: 1 * GiB }) });
    const fleet = (cpuMs: number): DeploymentUsage[] => [{ name: 'a', replicas: [{ id: 'a-1', usage: usage(cpuMs, 1 * GiB) }], inferences: 0 }];
    meter.sample(fleet(0));
    now = 2000;
    serverCpuUs = 500_000;
    files['/proc/stat'] = procStat(400, 100);
    const snap = meter.sample(fleet(1500));
    // The tree used 2 of the 4 CPU seconds on offer: 50 W; RAM 10 W × 2/16 GiB.
    expect(snap).toMatchObject({ scope: 'process', cpuWatts: 50 });
    expect(snap.ramWatts).toBeCloseTo(1.25, 9);
    // a: 1.5 of the tree's 2 CPU s and 1 of its 2 GiB.
    expect(snap.deployments['a']?.watts).toBeCloseTo(37.5 + 0.625, 9);
  });

  it('samples on its interval once started, until stopped', () => {
    vi.useFakeTimers({ now: 0 });
    const meter = new EnergyMeter({ ...base, files: fakeFiles({ '/proc/stat': procStat(0, 100) }), intervalMs: 1000 });
    const source = vi.fn((): DeploymentUsage[] => []);
    meter.start(source);
    vi.advanceTimersByTime(3000);
    meter.stop();
    vi.advanceTimersByTime(3000);
    expect(source).toHaveBeenCalledTimes(4);
    expect(meter.snapshot().sampledAtMs).toBe(3000);
    expect(() => new EnergyMeter({ intervalMs: 0 })).toThrow(/interval/);
  });
});
