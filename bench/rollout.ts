/**
 * `npm run bench:rollout [-- --quick]`: rollouts under load, against issue 4's targets. One
 * `continuum serve` (bench/continuum.ts) serves a deployment of an MLP on two fixed replicas while
 * 32 closed-loop clients call it over OIP REST JSON the whole time; in turn:
 *
 * 1. steady state (no rollout): the p99 every later phase is compared with;
 * 2. a canary of a harmless new version, 5% → 25% → 50% → 100%;
 * 3. a blue-green switch back to the first version;
 * 4. a canary aborted at its second step (a manual rollback);
 * 5. bad candidates, each by a canary whose first step is 5%: one that fails on 20% of requests
 *    (those whose first feature is flagged, drawn at random), one about 3x slower end to end,
 *    and a shadow rollout of one whose outputs disagree.
 *
 * For 1-4 it reports failed requests (target 0) and the p99 during the rollout against the
 * steady p99 (target <= 1.5x). For 5 it reports how long the analysis took, the verdicts up to
 * the failing one (the one before shows the evidence was not yet significant, so the rollback came
 * within one analysis interval of it), and the share of all requests during the rollout that the
 * bad version answered or failed (target <= 2%). How much slower the slow version is end to end
 * is measured first, at concurrency 1, on one replica of each.
 *
 * Writes bench/results/rollout-<timestamp>.json and the section of docs/benchmarks.md between
 * `<!-- rollout:begin -->` and `<!-- rollout:end -->` (a --quick run prints only).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { seededRandom } from '../src/onnx/build.js';
import { buildCandidateFamily, FLAGGED_INPUT_THRESHOLD } from '../src/onnx/candidates.js';
import type { RolloutDetail } from '../src/rollout/index.js';
import { prepareContinuum, readyReplicaPids, ROOT, startContinuum } from './continuum.js';
import type { ContinuumServer } from './continuum.js';
import { median, percentile } from './method.js';
import { ProcessSet } from './processes.js';
import { machineLine, withMarkedSection } from './report.js';
import type { MachineInfo } from './report.js';
import { gitCommit, machineInfo, resultStamp } from './run-info.js';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const QUICK = args.quick;
const CONCURRENCY = 32;
const DEPLOYMENT = 'scorer';
const INPUT_SIZE = 32;
/** Big enough that compute, not the loopback hop, decides the slow version's latency. */
const FAMILY = buildCandidateFamily({ inputSize: INPUT_SIZE, hiddenSizes: [1024, 1024], outputSize: 10, seed: 5, slowdown: 12 });
const STEADY_MS = QUICK ? 4000 : 15_000;
const BAKE_MS = QUICK ? 3000 : 10_000;
const INTERVAL_MS = 250;
const BAD_BAKE_MS = 30_000;
const BEGIN = '<!-- rollout:begin -->';
const END = '<!-- rollout:end -->';

/** One request as the clients saw it. */
interface Sample {
  readonly atMs: number;
  readonly latencyMs: number;
  readonly status: number;
  readonly version: string | undefined;
}

function requestBody(flagged: boolean, draw: () => number): string {
  const row = Array.from({ length: INPUT_SIZE }, (_, i) => (i === 0 && flagged ? FLAGGED_INPUT_THRESHOLD + 1 : draw() - 0.5));
  return JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, INPUT_SIZE], data: row }] });
}

/** 32 closed-loop clients until stopped; `flaggedShare` of requests carry a flagged row, drawn at random. */
function startLoad(pool: Pool, path: string, flaggedShare: number): { stop: () => Promise<Sample[]> } {
  const samples: Sample[] = [];
  const draw = seededRandom(17);
  let stopped = false;
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const body = requestBody(draw() < flaggedShare, draw);
      const start = performance.now();
      try {
        const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body });
        const text = await res.body.text();
        const version = res.statusCode === 200 ? (JSON.parse(text) as { model_version?: string }).model_version : undefined;
        samples.push({ atMs: start, latencyMs: performance.now() - start, status: res.statusCode, version });
      } catch {
        samples.push({ atMs: start, latencyMs: performance.now() - start, status: 0, version: undefined });
      }
    }
  };
  const workers = Array.from({ length: CONCURRENCY }, worker);
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
      return samples;
    },
  };
}

async function call<T>(server: ContinuumServer, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.origin}/api/v1${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 500)}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

async function push(server: ContinuumServer, name: string, bytes: Uint8Array): Promise<string> {
  const res = await fetch(`${server.origin}/api/v1/models/${name}/versions`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  const body = (await res.json()) as { version?: string };
  if (res.status !== 201 || body.version === undefined) throw new Error(`push failed: ${res.status} ${JSON.stringify(body)}`);
  return body.version;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What one phase measured. */
interface PhaseResult {
  readonly name: string;
  readonly durationMs: number;
  readonly requests: number;
  readonly failed: number;
  readonly p99Ms: number;
  readonly p50Ms: number;
  /** Answers from the rollout's candidate version plus failed requests, as a share of all. */
  readonly touchedShare: number | undefined;
  readonly outcome: string | undefined;
  /** p99 of each second of the phase, ms: where a tail came from. */
  readonly p99BySecondMs: readonly number[];
  /** From the rollout's start to its end. */
  readonly rolloutMs: number | undefined;
  /** The verdicts of a rolled-back rollout, oldest first: at (ms from start), outcome, deciding figures. */
  readonly verdicts: readonly { readonly atMs: number; readonly outcome: string; readonly check: string; readonly p: number | undefined; readonly detail: string }[];
}

function summarise(name: string, samples: readonly Sample[], fromMs: number, toMs: number, candidateVersion: string | undefined, rollout: RolloutDetail | undefined): PhaseResult {
  const within = samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
  const lat = within.map((s) => s.latencyMs).sort((a, b) => a - b);
  const failed = within.filter((s) => s.status !== 200).length;
  const touched = candidateVersion === undefined ? undefined : within.filter((s) => s.status !== 200 || s.version === candidateVersion).length / Math.max(1, within.length);
  const startedAt = rollout === undefined ? undefined : Date.parse(rollout.createdAt);
  const verdicts =
    rollout === undefined || rollout.state.status === 'succeeded'
      ? []
      : rollout.verdicts.map((v) => {
          const deciding = v.verdict.checks.find((c) => c.outcome === 'fail') ?? v.verdict.checks[0];
          return { atMs: Date.parse(v.at) - (startedAt ?? 0), outcome: v.verdict.outcome, check: deciding?.name ?? '-', p: deciding?.figures['p'], detail: deciding?.detail ?? '' };
        });
  return {
    name,
    durationMs: toMs - fromMs,
    requests: within.length,
    failed,
    p99Ms: percentile(lat, 0.99),
    p50Ms: percentile(lat, 0.5),
    touchedShare: touched,
    outcome: rollout?.state.status,
    p99BySecondMs: Array.from({ length: Math.ceil((toMs - fromMs) / 1000) }, (_, i) =>
      percentile(
        within.filter((x) => x.atMs >= fromMs + i * 1000 && x.atMs < fromMs + (i + 1) * 1000).map((x) => x.latencyMs).sort((a, b) => a - b),
        0.99,
      ),
    ),
    rolloutMs: rollout === undefined ? undefined : Date.parse(rollout.updatedAt) - Date.parse(rollout.createdAt),
    verdicts,
  };
}

/** Runs one rollout under load until it ends (or `act` ends it); waits until the candidate has drained. */
async function rolloutPhase(
  server: ContinuumServer,
  pool: Pool,
  name: string,
  input: Record<string, unknown>,
  options: { readonly flaggedShare?: number; readonly act?: (id: number) => Promise<void> } = {},
): Promise<PhaseResult> {
  const load = startLoad(pool, `/v2/models/${DEPLOYMENT}/infer`, options.flaggedShare ?? 0);
  await sleep(1000);
  const from = performance.now();
  const started = await call<RolloutDetail>(server, 'POST', '/rollouts', { deployment: DEPLOYMENT, ...input });
  if (options.act !== undefined) await options.act(started.id);
  let detail: RolloutDetail;
  for (;;) {
    detail = await call<RolloutDetail>(server, 'GET', `/rollouts/${started.id}`);
    if (['succeeded', 'rolled-back', 'aborted'].includes(detail.state.status)) break;
    await sleep(100);
  }
  for (;;) {
    const d = await call<{ candidate?: unknown }>(server, 'GET', `/deployments/${DEPLOYMENT}`);
    if (d.candidate === undefined) break;
    await sleep(100);
  }
  const to = performance.now();
  await sleep(500);
  const samples = await load.stop();
  const result = summarise(name, samples, from, to, detail.candidateVersion, detail);
  console.log(`    p99 by second: ${result.p99BySecondMs.map((v) => v.toFixed(0)).join(' ')}`);
  for (const v of result.verdicts) console.log(`    verdict at ${(v.atMs / 1000).toFixed(1)} s: ${v.outcome} — ${v.detail}`);
  console.log(`  ${name}: ${result.outcome} in ${((result.rolloutMs ?? 0) / 1000).toFixed(1)} s; ${result.requests} requests, ${result.failed} failed, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms`);
  return result;
}

/** The slow version's end-to-end slowdown: alternating sequential requests on one replica of each. */
async function measureSlowdown(server: ContinuumServer, pool: Pool, goodVersion: string, slowVersion: string): Promise<number> {
  await call(server, 'POST', '/deployments', { name: 'cal-good', model: DEPLOYMENT, ref: goodVersion, policy: { policy: 'fixed', replicas: 1 } });
  await call(server, 'POST', '/deployments', { name: 'cal-slow', model: DEPLOYMENT, ref: slowVersion, policy: { policy: 'fixed', replicas: 1 } });
  const draw = seededRandom(5);
  const times: Record<string, number[]> = { 'cal-good': [], 'cal-slow': [] };
  for (let i = 0; i < (QUICK ? 100 : 400); i++) {
    for (const name of ['cal-good', 'cal-slow']) {
      const start = performance.now();
      const res = await pool.request({ method: 'POST', path: `/v2/models/${name}/infer`, headers: { 'content-type': 'application/json' }, body: requestBody(false, draw) });
      await res.body.text();
      if (i >= 20) times[name]?.push(performance.now() - start);
    }
  }
  await call(server, 'DELETE', '/deployments/cal-good');
  await call(server, 'DELETE', '/deployments/cal-slow');
  return median(times['cal-slow'] ?? []) / median(times['cal-good'] ?? []);
}

/** A run's figures. */
interface RolloutBenchResult {
  readonly at: string;
  readonly commit: string;
  readonly machine: MachineInfo;
  readonly command: string;
  readonly slowdownE2e: number;
  readonly steady: PhaseResult;
  readonly good: readonly PhaseResult[];
  readonly bad: readonly PhaseResult[];
}

function fmtMs(ms: number): string {
  return `${ms.toFixed(2)} ms`;
}

/** The rollout section of docs/benchmarks.md (pure: the result in, markdown out). */
export function renderRolloutSection(r: RolloutBenchResult): string {
  const ratio = (p: PhaseResult): string => `${(p.p99Ms / r.steady.p99Ms).toFixed(2)}x`;
  const goodRows = r.good.map((p) => `| ${p.name} | ${p.outcome ?? '-'} | ${((p.rolloutMs ?? 0) / 1000).toFixed(1)} s | ${p.requests} | ${p.failed} | ${fmtMs(p.p99Ms)} | ${ratio(p)} |`);
  const badRows = r.bad.map((p) => {
    const fail = p.verdicts.find((v) => v.outcome === 'fail');
    const before = p.verdicts.filter((v) => v.atMs < (fail?.atMs ?? 0)).at(-1);
    const touched = p.touchedShare === undefined ? '-' : `${(p.touchedShare * 100).toFixed(2)}%`;
    const evidence = fail === undefined ? '-' : `${fail.check} at ${(fail.atMs / 1000).toFixed(1)} s (p ${fail.p?.toExponential(1) ?? '-'}); previous verdict ${before === undefined ? 'none' : `${before.outcome} at ${(before.atMs / 1000).toFixed(1)} s`}`;
    return `| ${p.name} | ${p.outcome ?? '-'} | ${((p.rolloutMs ?? 0) / 1000).toFixed(1)} s | ${evidence} | ${touched} |`;
  });
  const worst = Math.max(...r.good.map((p) => p.p99Ms / r.steady.p99Ms));
  const failedGood = r.good.reduce((a, p) => a + p.failed, 0);
  const worstTouched = Math.max(...r.bad.map((p) => p.touchedShare ?? 0));
  const allRolledBack = r.bad.every((p) => p.outcome === 'rolled-back');
  return [
    '## Rollouts under load (issue 4)',
    '',
    `Run ${r.at} (commit ${r.commit}) on ${machineLine(r.machine)} Command: \`${r.command}\`.`,
    '',
    `A deployment of an MLP (32 → 1024 → 1024 → 10) on 2 fixed replicas, ${CONCURRENCY} closed-loop clients over OIP REST JSON for the whole run; analysis every ${INTERVAL_MS / 1000} s. Steady state (no rollout, ${(r.steady.durationMs / 1000).toFixed(0)} s): ${r.steady.requests} requests, p50 ${fmtMs(r.steady.p50Ms)}, p99 ${fmtMs(r.steady.p99Ms)}.`,
    '',
    '| rollout | outcome | took | requests | failed | p99 during | p99 / steady |',
    '|---|---|---|---|---|---|---|',
    ...goodRows,
    '',
    `Bad candidates (canary first step 5%, bake ${BAD_BAKE_MS / 1000} s; the slow version is ${r.slowdownE2e.toFixed(1)}x the good one end to end at concurrency 1):`,
    '',
    '| candidate | outcome | rollback after | deciding verdict | requests touched by the bad version |',
    '|---|---|---|---|---|',
    ...badRows,
    '',
    '| target | measured | verdict |',
    '|---|---|---|',
    `| 0 failed requests through canary, blue-green and rollback | ${failedGood} | ${failedGood === 0 ? 'holds' : 'missed'} |`,
    `| p99 during a rollout <= 1.5x steady | worst ${worst.toFixed(2)}x | ${worst <= 1.5 ? 'holds' : 'missed'} |`,
    `| every bad candidate rolled back | ${r.bad.map((p) => `${p.name}: ${p.outcome ?? '-'}`).join('; ')} | ${allRolledBack ? 'holds' : 'missed'} |`,
    `| <= 2% of requests touched by a bad version | worst ${(worstTouched * 100).toFixed(2)}% | ${worstTouched <= 0.02 ? 'holds' : 'missed'} |`,
    '',
    'The shadow candidate never answers a client (its answers are compared, then discarded), so none is touched; the rollback comes at the first analysis whose evidence is significant, and the verdict before it (one interval earlier) was not yet a failure.',
  ].join('\n');
}

async function main(): Promise<void> {
  const problem = prepareContinuum();
  if (problem !== undefined) throw new Error(problem);
  const processes = new ProcessSet();
  const dataDir = mkdtempSync(join(tmpdir(), 'continuum-bench-rollout-'));
  const onSigint = (): void => void processes.endAll().then(() => process.exit(130));
  process.once('SIGINT', onSigint);
  const at = new Date();
  try {
    const machine = machineInfo(undefined);
    console.log(`machine: ${machineLine(machine)}`);
    const server = await startContinuum(processes, dataDir);
    const pool = new Pool(server.origin, { connections: CONCURRENCY + 4, pipelining: 1 });
    const good = await push(server, DEPLOYMENT, FAMILY.good);
    const retrained = await push(server, DEPLOYMENT, FAMILY.goodRetrained);
    const faulty = await push(server, DEPLOYMENT, FAMILY.faulty);
    const slow = await push(server, DEPLOYMENT, FAMILY.slow);
    const disagreeing = await push(server, DEPLOYMENT, FAMILY.disagreeing);
    const slowdownE2e = await measureSlowdown(server, pool, good, slow);
    console.log(`slow version: ${slowdownE2e.toFixed(2)}x the good one end to end at c1`);
    await call(server, 'POST', '/deployments', { name: DEPLOYMENT, model: DEPLOYMENT, ref: good, policy: { policy: 'fixed', replicas: 2 } });
    while ((await readyReplicaPids(server, DEPLOYMENT)).length < 2) await sleep(100);

    const steadyLoad = startLoad(pool, `/v2/models/${DEPLOYMENT}/infer`, 0);
    await sleep(2000);
    const from = performance.now();
    await sleep(STEADY_MS);
    const to = performance.now();
    const steady = summarise('steady state', await steadyLoad.stop(), from, to, undefined, undefined);
    console.log(`  steady: ${steady.requests} requests, p50 ${steady.p50Ms.toFixed(2)} ms, p99 ${steady.p99Ms.toFixed(2)} ms`);

    const analysis = { bakeMs: BAKE_MS, analysisIntervalMs: INTERVAL_MS };
    const goodPhases = [
      await rolloutPhase(server, pool, 'canary 5→25→50→100%', { ref: retrained, steps: [5, 25, 50, 100], ...analysis }),
      await rolloutPhase(server, pool, 'blue-green switch', { ref: good, strategy: 'blue-green', retentionMs: BAKE_MS, analysisIntervalMs: INTERVAL_MS }),
      await rolloutPhase(server, pool, 'canary aborted at 25% (rollback)', { ref: retrained, steps: [5, 25, 50, 100], ...analysis }, {
        act: async (id) => {
          for (;;) {
            const d = await call<RolloutDetail>(server, 'GET', `/rollouts/${id}`);
            if (d.state.stepIndex >= 1 && d.state.phase === 'analysing') break;
            await sleep(100);
          }
          await sleep(BAKE_MS / 2);
          await call(server, 'POST', `/rollouts/${id}/abort`);
        },
      }),
    ];
    const badAnalysis = { steps: [5, 25, 50, 100], bakeMs: BAD_BAKE_MS, analysisIntervalMs: INTERVAL_MS };
    const badPhases = [
      await rolloutPhase(server, pool, 'fails on 20% of requests', { ref: faulty, ...badAnalysis }, { flaggedShare: 0.2 }),
      await rolloutPhase(server, pool, `${slowdownE2e.toFixed(1)}x slower`, { ref: slow, ...badAnalysis }),
      await rolloutPhase(server, pool, 'disagreeing outputs (shadow, 5% mirrored)', { ref: disagreeing, strategy: 'shadow', mirrorPercent: 5, bakeMs: BAD_BAKE_MS, analysisIntervalMs: INTERVAL_MS }),
    ];
    await pool.close();
    const command = `npm run bench:rollout${QUICK ? ' -- --quick' : ''}`;
    const result: RolloutBenchResult = { at: at.toISOString(), commit: gitCommit(), machine, command, slowdownE2e, steady, good: goodPhases, bad: badPhases };
    const section = renderRolloutSection(result);
    console.log(`\n${section}`);
    if (!QUICK) {
      const dir = join(ROOT, 'bench', 'results');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `rollout-${resultStamp(at)}.json`), `${JSON.stringify(result, null, 2)}\n`);
      const docPath = join(ROOT, 'docs', 'benchmarks.md');
      writeFileSync(docPath, withMarkedSection(existsSync(docPath) ? readFileSync(docPath, 'utf8') : '', BEGIN, END, section));
    }
  } finally {
    process.off('SIGINT', onSigint);
    await processes.endAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
