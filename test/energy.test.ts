/**
 * The energy meter on this machine: it picks the mode the machine allows (RAPL when its package
 * counters can be read, else the load estimate from /proc/stat) and sees a CPU-busy loop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { EnergyMeter, HOST_FILES, raplDomains } from '../src/observe/index.js';

/** Spins a worker thread for `ms` (this process's CPU time grows; the event loop stays free to sample). */
async function busyFor(ms: number): Promise<void> {
  const worker = new Worker(`const end = Date.now() + ${ms}; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); require('node:worker_threads').parentPort.postMessage(x);`, { eval: true });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
}

describe('EnergyMeter on this machine', () => {
  it('picks RAPL when readable, else the load estimate, and reports more watts while a busy loop runs than idle', async () => {
    const expectedMode = raplDomains(HOST_FILES).length > 0 ? 'rapl' : 'cpu_load';
    // Process scope: only this process's tree counts, so other work on the machine does not blur the comparison.
    const meter = new EnergyMeter({ scope: 'process' });
    expect(meter.mode).toBe(expectedMode);

    meter.sample([]);
    await sleep(1500);
    const idle = meter.sample([]);
    await busyFor(1500);
    const busy = meter.sample([]);

    expect(busy.mode).toBe(expectedMode);
    expect(busy.cpuWatts).toBeGreaterThan(idle.cpuWatts);
    // Never more than the TDP of the CPUs this process may use.
    expect(busy.cpuWatts).toBeLessThanOrEqual(busy.tdpW + 1e-9);
    expect(busy.joules).toBeGreaterThan(idle.joules);

    // The machine as a whole: between 10% of the TDP (idle floor of the load curve) and all of it.
    const machine = new EnergyMeter();
    machine.sample([]);
    await sleep(500);
    const whole = machine.sample([]);
    expect(whole.scope).toBe('machine');
    if (whole.mode === 'cpu_load') {
      expect(whole.cpuWatts).toBeGreaterThanOrEqual(0.1 * whole.tdpW - 1e-9);
      expect(whole.cpuWatts).toBeLessThanOrEqual(whole.tdpW + 1e-9);
    } else {
      expect(whole.cpuWatts).toBeGreaterThan(0);
    }
    expect(whole.ramWatts).toBeGreaterThanOrEqual(10);
  });
});
