/**
 * `continuum simulate` as a user runs it: the same seed gives the same result, the timeline is
 * written as SVG, the Azure trace (../shared/traces beside the repository) is read, and a malformed
 * trace is refused with its line number.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli-process.js';

const dir = mkdtempSync(join(tmpdir(), 'continuum-simulate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One replica serves a request in 4 ms, a batch of 8 in 10 ms; replicas start in 300-400 ms. */
const service = join(dir, 'service.json');
writeFileSync(service, JSON.stringify({ model: 'm', instances: 1, maxBatchSize: 8, batchLatencyMs: { 1: 4, 8: 10 }, coldStartMs: [300, 400], memoryGb: 2, vcpu: 1 }));

async function simulate(...args: string[]): Promise<{ code: number | string; output: string }> {
  const p = runCli(['simulate', '--service', service, ...args]);
  return { code: await p.exited, output: p.output() };
}

describe('continuum simulate', () => {
  it('is deterministic for a seed, differs across seeds, and writes the timeline', async () => {
    const args = ['--profile', 'sporadic', '--workload-param', 'durationMs=600000', '--policy', 'serverless', '--slo-ms', '100', '--json'];
    const svg = join(dir, 'timeline.svg');
    const [a, b, c] = await Promise.all([simulate(...args, '--seed', '7', '--svg', svg), simulate(...args, '--seed', '7'), simulate(...args, '--seed', '8')]);
    expect(a.code).toBe(0);
    const first = JSON.parse(a.output) as { requests: number; coldStarts: number; costUsd: number; sloAttainment: number; policy: string };
    expect(JSON.parse(b.output)).toEqual(first);
    expect(JSON.parse(c.output)).not.toEqual(first);
    expect(first.policy).toBe('serverless');
    expect(first.requests).toBeGreaterThan(100);
    // Sporadic bursts separated by silences longer than the grace: every burst starts cold.
    expect(first.coldStarts).toBeGreaterThan(1);
    expect(first.sloAttainment).toBeGreaterThan(0.5);
    expect(first.sloAttainment).toBeLessThan(1);
    const text = readFileSync(svg, 'utf8');
    expect(text.startsWith('<svg')).toBe(true);
    expect(text).toContain('serverless on sporadic');
  });

  it('reads the Azure trace and prints the report', async () => {
    const run = await simulate('--trace', fileURLToPath(new URL('../../shared/traces/AzureLLMInferenceTrace_code.csv', import.meta.url)), '--policy', 'kpa', '--slo-ms', '200');
    expect(run.code).toBe(0);
    expect(run.output).toMatch(/requests:\s+8,819 \(8,819 answered, 0 failed/);
    expect(run.output).toMatch(/SLO attainment:\s+\d+\.\d+% within 200 ms/);
  });

  it('refuses a malformed trace with its line number', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'TIMESTAMP\n2023-11-16 18:17:03.98\nnot a time\n');
    const run = await simulate('--trace', bad, '--policy', 'kpa', '--slo-ms', '200');
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/line 3/);
  });
});
