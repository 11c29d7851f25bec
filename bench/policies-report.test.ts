import { describe, expect, it } from 'vitest';
import { POLICY_NAMES } from '../src/autoscale/index.js';
import { policySpecs, verdicts } from './policies-plan.js';
import { findings, renderPoliciesSection, withPoliciesSection } from './policies-report.js';
import type { PoliciesResult, PolicyRow, WorkloadResult } from './policies-report.js';
import { withServingSection } from './report.js';

/** A workload where fixed costs $1 at 100% and `floorRatio` utilization, the other policies $1 at 97%, auto `autoRatio` at `autoAttainment`. */
function workload(name: string, floorRatio: number, autoRatio: number, autoAttainment: number): WorkloadResult {
  const rows: PolicyRow[] = POLICY_NAMES.map((policy) => ({
    policy,
    costUsd: policy === 'auto' ? autoRatio : 1,
    costRatio: policy === 'auto' ? autoRatio : 1,
    sloAttainment: policy === 'auto' ? autoAttainment : policy === 'fixed' ? 1 : 0.97,
    latencyP50Ms: 35,
    latencyP99Ms: 200,
    replicaSeconds: 3600,
    meanUtilization: policy === 'fixed' ? floorRatio : 0.7,
    coldStarts: 3,
    failed: 0,
    ...(policy === 'auto' ? { serverlessShare: 0.1, serverlessCostUsd: 0.2 } : {}),
    svg: `${name}-${policy}.svg`,
  }));
  const outcomes = Object.fromEntries(rows.map((r) => [r.policy, { costUsd: r.costUsd, sloAttainment: r.sloAttainment }])) as Parameters<typeof verdicts>[0];
  return {
    name,
    source: `a test workload ${name}`,
    durationS: 3600,
    requests: 1000,
    meanRps: 0.28,
    peak10sRps: 2,
    peakReplicas: 2,
    floorRatio,
    specs: policySpecs({ peakReplicas: 2, capacityRps: 28, sloMs: 2000, coldStartMs: 822 }),
    rows,
    verdicts: verdicts(outcomes),
  };
}

const result: PoliciesResult = {
  date: '2026-11-23T12:00:00.000Z',
  command: 'npm run bench:policies',
  machine: '2 × test CPU',
  seed: 1,
  tickMs: 1000,
  sloMs: 2000,
  sloBasis: { tickMs: 1000, coldStartMs: 822, serviceTimeMs: 35.6 },
  prices: 'test prices',
  serverlessPremium: 2.43,
  service: {
    model: 'recognizer',
    batchLatencyMs: [{ batchSize: 1, fastestMs: 35.6, medianMs: 37 }],
    rounds: 5,
    maxBatchSize: 1,
    serviceTimeMs: 35.6,
    capacityRps: 28.1,
    coldStartMs: [680, 822],
    coldStartSource: 'documented',
    vcpu: 1,
    memoryGb: 2,
    measureSeconds: 17,
  },
  // steady: the floor alone is above 0.5x; ramp: reachable only at 90% utilization; bursty: every target holds.
  workloads: [workload('steady', 0.88, 1.05, 0.999), workload('ramp', 0.45, 0.63, 1), workload('bursty', 0.05, 0.2, 0.995)],
  simulateSeconds: 9,
};

describe('the policies section of docs/benchmarks.md', () => {
  it('replaces only its own section and leaves the serving section alone', () => {
    const withServing = withServingSection('# Benchmarks\n', '## Serving\n\nserving table');
    const first = withPoliciesSection(withServing, 'policies run 1');
    expect(first.endsWith('<!-- policies:begin -->\npolicies run 1\n<!-- policies:end -->\n')).toBe(true);
    const second = withPoliciesSection(first, 'policies run 2');
    expect(second).toContain('serving table');
    expect(second).toContain('policies run 2');
    expect(second).not.toContain('policies run 1');
  });

  it('states which targets hold where, links every timeline and shows auto\'s', () => {
    const md = renderPoliciesSection(result);
    expect(md).toContain('| auto costs <= 0.5x fixed at peak | no | no | yes |');
    expect(md).toContain('"auto reaches >= 99.00% SLO attainment" holds on every workload.');
    expect(md).toContain('"auto costs <= 0.5x fixed at peak" holds on bursty; not on steady (1.050x); ramp (0.630x).');
    for (const policy of POLICY_NAMES) expect(md).toContain(`](benchmarks/policies/ramp-${policy}.svg)`);
    expect(md).toContain('![auto on bursty](benchmarks/policies/bursty-auto.svg)');
    expect(md).toContain('**SLO: 2000 ms**');
  });
});

describe('findings', () => {
  it('says how far each cost miss is from what any policy could reach', () => {
    const notes = findings(result);
    expect(notes.find((n) => n.startsWith('steady:'))).toMatch(/floor is 0.880x — no policy can reach 0.5x/);
    expect(notes.find((n) => n.startsWith('ramp:'))).toMatch(/0.5x would take 90.00% mean utilization all run long; auto 0.630x at 70.00%/);
    expect(notes.some((n) => n.startsWith('bursty:'))).toBe(false);
  });

  it('says what auto\'s serverless time cost where it lost to hpa or kpa', () => {
    // steady: auto $1.05 against hpa's and kpa's $1.
    expect(findings(result)).toContain(
      'steady: auto ran serverless 10.00% of the time, at $0.2000 of its $1.0500; a new deployment starts serverless and may switch only after a minute of traffic, which weighs more in a run of 3,600 s than in a longer one.',
    );
    expect(findings(result).some((n) => n.startsWith('ramp: auto ran serverless'))).toBe(false);
  });

  it('names the workloads where only fixed provisioning meets the objective', () => {
    const onlyFixed = { ...result, workloads: [workload('spiky', 0.15, 0.45, 0.988)] };
    expect(findings(onlyFixed)).toContain('spiky: only fixed reaches 99.00%; the best that scales: auto, 98.80% at 0.450x.');
  });

  it('flags an attainment close enough to the objective to tip between runs', () => {
    const tight = { ...result, workloads: [workload('above', 0.15, 0.45, 0.992), workload('below', 0.15, 0.45, 0.988), workload('calm', 0.15, 0.45, 0.999)] };
    expect(findings(tight).find((n) => n.includes('can tip'))).toMatch(/objective on above \(99.20%\), below \(98.80%\):/);
    const clear = { ...result, workloads: [workload('calm', 0.15, 0.45, 1)] };
    expect(findings(clear).some((n) => n.includes('can tip'))).toBe(false);
  });
});
