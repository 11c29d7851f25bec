import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { buildMlp } from '../onnx/build.js';
import { registerPlacementCommands } from './placement.js';

const dir = mkdtempSync(join(tmpdir(), 'continuum-place-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs one command of the placement CLI in process and returns what it printed. */
async function run(args: readonly string[]): Promise<string> {
  let printed = '';
  const program = new Command('continuum').exitOverride();
  registerPlacementCommands(program, { write: (text) => void (printed += text) });
  await program.parseAsync(['node', 'continuum', ...args]);
  return printed;
}

function file(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, value instanceof Uint8Array ? value : JSON.stringify(value));
  return path;
}

// Paper 003's tiers (Table 1): the edge 8.5 ms from the asset, fog 173.8 ms, cloud 241.9 ms.
const nodes = file('nodes.json', [
  { name: 'edge-1', tier: 'edge', site: 'shop-floor', cores: 4, memoryBytes: 4e9, speedScore: 0.25, pricePerHour: 0.01, powerWatts: { idle: 3, busy: 8 } },
  { name: 'fog-1', tier: 'fog', site: 'datacentre', cores: 8, memoryBytes: 16e9, speedScore: 1, pricePerHour: 0.2, powerWatts: { idle: 60, busy: 160 } },
  { name: 'cloud-1', tier: 'cloud', site: 'frankfurt', cores: 8, memoryBytes: 32e9, speedScore: 2, pricePerHour: 0.34, powerWatts: { idle: 90, busy: 250 } },
]);
const links = file('links.json', [
  { fromSite: 'shop-floor', toSite: 'shop-floor', rttMs: 8.5, bandwidthBytesPerS: 100e6, egressPricePerGB: 0 },
  { fromSite: 'shop-floor', toSite: 'datacentre', rttMs: 173.8, bandwidthBytesPerS: 50e6, egressPricePerGB: 0 },
  { fromSite: 'shop-floor', toSite: 'frankfurt', rttMs: 241.9, bandwidthBytesPerS: 20e6, egressPricePerGB: 0.09 },
]);
const profile = file('profile.json', { computeMsAtSpeed1: 400, inputBytes: 20000, outputBytes: 100, memoryBytes: 5e8 });

describe('continuum place', () => {
  it('prints the Pareto front, the choice and why', async () => {
    const text = await run(['place', '--model', profile, '--site', 'shop-floor', '--nodes', nodes, '--links', links, '--weights', 'latency=1']);
    expect(text).toMatch(/^Pareto front \(\d+ of \d+ feasible placements; \* = chosen\):/);
    expect(text).toMatch(/\n\*\s+cloud-1\s+cloud\s+\d+/);
    expect(text).toContain('chosen for the lowest weighted score 0.000 (weights latency=1, cost=0, energy=0, privacy=0;');
  });

  it('keeps raw data on site when asked, and exits 1 with the reasons when nothing fits', async () => {
    const json = JSON.parse(await run(['place', '--model', profile, '--site', 'shop-floor', '--nodes', nodes, '--links', links, '--data-stays-on-site', '--json'])) as { choice: { node: string }; excluded: { node: string }[] };
    expect(json.choice.node).toBe('edge-1');
    expect(json.excluded.map((x) => x.node)).toEqual(['fog-1', 'cloud-1']);
    const none = await run(['place', '--model', profile, '--site', 'shop-floor', '--nodes', nodes, '--links', links, '--data-stays-on-site', '--slo-ms', '100']);
    expect(none).toContain('no node meets the constraints');
    expect(process.exitCode).toBe(1);
    process.exitCode = 0;
  });

  it('refuses a malformed nodes file, naming the field', async () => {
    const bad = file('bad-nodes.json', [{ name: 'x', tier: 'orbit', site: 's', cores: 1, memoryBytes: 1, speedScore: 1, pricePerHour: 0, powerWatts: { idle: 0, busy: 0 } }]);
    await expect(run(['place', '--model', profile, '--site', 's', '--nodes', bad, '--links', links])).rejects.toThrow(/invalid nodes at 0\.tier/);
  });
});

describe('continuum partition', () => {
  it('prints every cut with all-cloud and all-edge, and writes the chosen head and tail', async () => {
    // The first layer squeezes 2 kB of input to 64 bytes; two 1024-wide layers follow.
    const model = file('mlp.onnx', buildMlp({ inputSize: 512, hiddenSizes: [16, 1024, 1024], outputSize: 4, seed: 2 }));
    const out = join(dir, 'split');
    // A narrow link (20 ms for the input) and an edge 100 times slower than this machine: the first layer belongs on the edge, the rest in the cloud.
    const text = await run(['partition', model, '--bandwidth', '100000', '--rtt-ms', '0', '--edge-speed', '0.01', '--runs', '5', '--out-dir', out]);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\s+CUT\s+BYTES\s+EDGE MS\s+TRANSFER MS\s+CLOUD MS\s+TOTAL MS$/);
    expect(lines[1]).toMatch(/^\s+all-cloud\s+2048\s/);
    expect(lines.at(-2)).toMatch(/all-edge\s+0\s/);
    expect(lines.filter((l) => l.startsWith('*'))).toHaveLength(1);
    expect(lines.find((l) => l.startsWith('*'))).toMatch(/^\*\s+after Gemm Gemm_0 \(h0\)|^\*\s+after Relu Relu_1 \(a0\)/);
    expect(text).toMatch(/chosen: after \S+ \S+ \((h0|a0)\) \(head\.onnx and tail\.onnx in /);
    expect(existsSync(join(out, 'head.onnx')) && existsSync(join(out, 'tail.onnx'))).toBe(true);
  });
});
