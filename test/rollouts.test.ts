/**
 * Rollouts end to end with real replica processes, real ONNX Runtime and real HTTP: a canary
 * promoted step by step, exact traffic weights, blue-green with its warm old revision, shadow
 * comparison, A/B by key and by header, bad candidates (failing inputs, slower, disagreeing)
 * rolled back by the analysis, manual control, and a restart in the middle of a rollout. Clients
 * send requests all the while; none may fail because of a rollout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DeploymentEvent, DeploymentStatus } from '../src/deploy/index.js';
import { seededRandom } from '../src/onnx/build.js';
import { buildCandidateFamily, FLAGGED_INPUT_THRESHOLD } from '../src/onnx/candidates.js';
import type { RolloutDetail } from '../src/rollout/index.js';
import type { RunningServer } from '../src/server/index.js';
import { grpcClient } from './oip-fixture.js';
import { runCli } from './support/cli-process.js';
import { api, inferJson, pushModel, until } from './support/http.js';
import { TestServers } from './support/servers.js';
import type { Answer } from './support/http.js';

const servers = new TestServers('continuum-rollout-e2e-', { demo: false });

afterEach(() => servers.closeAll());

const INPUT_SIZE = 8;
const family = buildCandidateFamily({ inputSize: INPUT_SIZE, hiddenSizes: [64], outputSize: 3, seed: 11, slowdown: 40 });
const MODEL = 'scorer';

function body(flagged = false): unknown {
  const row = Array.from({ length: INPUT_SIZE }, (_, i) => (i === 0 && flagged ? FLAGGED_INPUT_THRESHOLD + 1 : (i % 3) * 0.5));
  return { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, INPUT_SIZE], data: row }] };
}

function serve(dataDir?: string): Promise<RunningServer> {
  return servers.start(dataDir === undefined ? {} : { dataDir });
}

/** A server with the baseline deployed on two fixed replicas and the given candidates pushed; returns their versions. */
async function withDeployment(candidates: readonly Uint8Array[], dataDir?: string): Promise<{ server: RunningServer; versions: string[] }> {
  const server = await serve(dataDir);
  const versions = [await pushModel(server.url, MODEL, family.good)];
  for (const c of candidates) versions.push(await pushModel(server.url, MODEL, c));
  await api(server.url, 'POST', '/deployments', { model: MODEL, ref: versions[0], policy: { policy: 'fixed', replicas: 2 } });
  await until('two ready replicas', () => deployment(server), (d) => d.replicas.filter((r) => r.phase === 'ready').length === 2);
  return { server, versions };
}

async function deployment(server: RunningServer): Promise<DeploymentStatus & { events: DeploymentEvent[] }> {
  return (await api<DeploymentStatus & { events: DeploymentEvent[] }>(server.url, 'GET', `/deployments/${MODEL}`)).body;
}

async function rollout(server: RunningServer, id: number): Promise<RolloutDetail> {
  return (await api<RolloutDetail>(server.url, 'GET', `/rollouts/${id}`)).body;
}

async function startRollout(server: RunningServer, input: Record<string, unknown>): Promise<RolloutDetail> {
  const res = await api<RolloutDetail & { error?: string }>(server.url, 'POST', '/rollouts', { deployment: MODEL, ...input });
  if (res.status !== 201) throw new Error(`rollout refused: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const finished = (r: RolloutDetail): boolean => ['succeeded', 'rolled-back', 'aborted'].includes(r.state.status);

/**
 * Quick analysis settings for tests: short bakes and intervals, a small sample suffices. The
 * latency bound is wider than the default: these suites share two cores with others, and one
 * replica process can run a millisecond behind another for a while without any fault of its model.
 */
const quick = { bakeMs: 1500, analysisIntervalMs: 300, criteria: { minRequests: 20, maxLatencyRatio: 1.5, minLatencyIncreaseMs: 2 } };

/** The rollout's status, with its reason and last verdict when it is not the expected one. */
function expectStatus(r: RolloutDetail, status: string): void {
  expect(r.state.status, `${r.state.reason}; last verdict: ${r.verdicts.at(-1)?.verdict.summary ?? 'none'}`).toBe(status);
}

/**
 * Clients sending requests until stopped; each answer kept. `flaggedShare` of the requests, drawn
 * at random (seeded), carry a flagged row: drawn, not every n-th, since a periodic pattern would
 * beat in time with the router's exact weighted rotation and never reach the candidate.
 */
function load(server: RunningServer, clients: number, options: { flaggedShare?: number } = {}): { stop: () => Promise<Answer[]> } {
  let stopped = false;
  const answers: Answer[] = [];
  const draw = seededRandom(3);
  const workers = Array.from({ length: clients }, async () => {
    while (!stopped) answers.push(await inferJson(server.url, MODEL, body(draw() < (options.flaggedShare ?? 0))));
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
      return answers;
    },
  };
}

function failures(answers: readonly Answer[]): Answer[] {
  return answers.filter((a) => a.status !== 200);
}

describe('rollouts with real replicas', () => {
  it('canary: steps through its shares with analysis at each and promotes, no request failing', async () => {
    const { server, versions } = await withDeployment([family.goodRetrained]);
    const traffic = load(server, 4);
    const started = await startRollout(server, { ref: versions[1], steps: [20, 50, 100], ...quick });
    const done = await until('the canary to finish', () => rollout(server, started.id), finished, 60_000);
    const answers = await traffic.stop();
    expectStatus(done, 'succeeded');
    expect(failures(answers)).toEqual([]);
    const d = await deployment(server);
    expect(d.revision.spec.version).toBe(versions[1]);
    expect(d.candidate).toBeUndefined();
    expect(d.replicas.every((r) => r.revision === done.candidateRevision)).toBe(true);
    expect(done.verdicts.some((v) => v.verdict.outcome === 'pass')).toBe(true);
    const types = d.events.map((e) => e.type);
    expect(types).toContain('verdict');
    expect(types).toContain('promoted');
  }, 90_000);

  it('honours the canary weight exactly while a step holds (paused)', async () => {
    const { server, versions } = await withDeployment([family.goodRetrained]);
    const started = await startRollout(server, { ref: versions[1], steps: [10, 100], bakeMs: 600_000 });
    await until('the first step to route', () => deployment(server), (d) => d.candidate?.traffic.kind === 'weighted');
    await api(server.url, 'POST', `/rollouts/${started.id}/pause`);
    const answers: Answer[] = [];
    for (let i = 0; i < 500; i++) answers.push(await inferJson(server.url, MODEL, body()));
    const toCandidate = answers.filter((a) => a.body.model_version === versions[1]).length;
    // Smooth weighted round robin: within one request of 10% over any run.
    expect(Math.abs(toCandidate - 50)).toBeLessThanOrEqual(1);
    expect(failures(answers)).toEqual([]);
    const aborted = await api<RolloutDetail>(server.url, 'POST', `/rollouts/${started.id}/abort`);
    expect(aborted.body.state.status).toBe('aborted');
    const again = await api<{ code: string }>(server.url, 'POST', `/rollouts/${started.id}/resume`);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('CONTINUUM_ERR_ROLLOUT_FINISHED');
    const d = await until('the candidate to drain', () => deployment(server), (x) => x.candidate === undefined);
    expect(d.revision.spec.version).toBe(versions[0]);
  }, 60_000);

  it('blue-green: the candidate at full size, one switch, the old revision warm until retention ends', async () => {
    const { server, versions } = await withDeployment([family.goodRetrained]);
    const traffic = load(server, 4);
    const started = await startRollout(server, { ref: versions[1], strategy: 'blue-green', retentionMs: 2000, analysisIntervalMs: 300 });
    const switched = await until('the switch', () => deployment(server), (d) => d.candidate?.traffic.kind === 'weighted');
    expect(switched.candidate?.replicas.filter((r) => r.phase === 'ready').length).toBeGreaterThanOrEqual(2);
    // Retained: the old revision keeps its replicas while the new one takes all traffic.
    expect(switched.replicas.filter((r) => r.phase === 'ready').length).toBeGreaterThanOrEqual(2);
    const done = await until('retention to end', () => rollout(server, started.id), finished, 30_000);
    const answers = await traffic.stop();
    expect(done.state.status).toBe('succeeded');
    expect(failures(answers)).toEqual([]);
    const after = answers.slice(-20);
    expect(after.every((a) => a.body.model_version === versions[1])).toBe(true);
  }, 60_000);

  it('shadow: clients get the baseline answers; a disagreeing candidate is rolled back, an agreeing one promoted', async () => {
    const { server, versions } = await withDeployment([family.disagreeing, family.goodRetrained]);
    const traffic = load(server, 3);
    const bad = await startRollout(server, { ref: versions[1], strategy: 'shadow', ...quick });
    const badDone = await until('the disagreeing shadow to end', () => rollout(server, bad.id), finished, 30_000);
    expectStatus(badDone, 'rolled-back');
    const agreement = badDone.verdicts.at(-1)?.verdict.checks.find((c) => c.name === 'agreement');
    expect(agreement?.outcome).toBe('fail');
    await until('the candidate to drain', () => deployment(server), (d) => d.candidate === undefined);
    const good = await startRollout(server, { ref: versions[2], strategy: 'shadow', ...quick });
    const goodDone = await until('the agreeing shadow to end', () => rollout(server, good.id), finished, 30_000);
    const answers = await traffic.stop();
    expectStatus(goodDone, 'succeeded');
    expect(failures(answers)).toEqual([]);
    // Mirrored answers are discarded: no client ever saw the disagreeing version.
    expect(answers.some((a) => a.body.model_version === versions[1])).toBe(false);
  }, 90_000);

  it('A/B: a request key stays on its side; a header selects the candidate', async () => {
    const { server, versions } = await withDeployment([family.goodRetrained]);
    const sticky = await startRollout(server, { ref: versions[1], strategy: 'ab', abPercent: 50, bakeMs: 600_000 });
    await until('the split', () => deployment(server), (d) => d.candidate?.traffic.kind === 'sticky');
    const sides = new Map<string, Set<string>>();
    for (let i = 0; i < 200; i++) {
      const user = `user-${i % 20}`;
      const a = await inferJson(server.url, MODEL, body(), { 'x-user-id': user });
      expect(a.status).toBe(200);
      sides.set(user, (sides.get(user) ?? new Set()).add(a.body.model_version ?? ''));
    }
    expect([...sides.values()].every((s) => s.size === 1)).toBe(true);
    const onCandidate = [...sides.values()].filter((s) => s.has(versions[1] as string)).length;
    expect(onCandidate).toBeGreaterThan(2);
    expect(onCandidate).toBeLessThan(18);
    await api(server.url, 'POST', `/rollouts/${sticky.id}/abort`);
    await until('the candidate to drain', () => deployment(server), (d) => d.candidate === undefined);

    const byHeader = await startRollout(server, { ref: versions[1], strategy: 'ab', abHeader: 'x-variant', abHeaderValue: 'b', bakeMs: 600_000 });
    await until('the header split', () => deployment(server), (d) => d.candidate?.traffic.kind === 'header');
    expect((await inferJson(server.url, MODEL, body(), { 'x-variant': 'b' })).body.model_version).toBe(versions[1]);
    expect((await inferJson(server.url, MODEL, body(), { 'x-variant': 'a' })).body.model_version).toBe(versions[0]);
    expect((await inferJson(server.url, MODEL, body())).body.model_version).toBe(versions[0]);
    // Over gRPC the header is request metadata.
    const grpc = grpcClient(server.grpcPort);
    try {
      const input = { name: 'input', datatype: 'FP32', shape: [1, INPUT_SIZE], contents: { fp32_contents: Array.from({ length: INPUT_SIZE }, () => 0.5) } };
      const viaB = await grpc.call('ModelInfer', { model_name: MODEL, inputs: [input] }, {}, { 'x-variant': 'b' });
      const viaA = await grpc.call('ModelInfer', { model_name: MODEL, inputs: [input] });
      expect(viaB['model_version']).toBe(versions[1]);
      expect(viaA['model_version']).toBe(versions[0]);
    } finally {
      grpc.close();
    }
    // A version can also be asked for by name while both serve.
    const pinned = await inferJson(server.url, `${MODEL}/versions/${versions[1]}`, body());
    expect(pinned.body.model_version).toBe(versions[1]);
    await api(server.url, 'POST', `/rollouts/${byHeader.id}/promote`);
    const done = await until('the promotion', () => rollout(server, byHeader.id), finished);
    expect(done.state.status).toBe('succeeded');
  }, 60_000);

  it('a candidate failing on 20% of requests is rolled back by the analysis; the baseline answers them all', async () => {
    const { server, versions } = await withDeployment([family.faulty]);
    const traffic = load(server, 4, { flaggedShare: 0.2 });
    const started = await startRollout(server, { ref: versions[1], steps: [10, 50, 100], ...quick, bakeMs: 20_000 });
    const done = await until('the rollback', () => rollout(server, started.id), finished, 30_000);
    const answers = await traffic.stop();
    expect(done.state.status).toBe('rolled-back');
    expect(done.state.reason).toMatch(/analysis failed/);
    // Rolled back at the first step, long before its bake time.
    expect(done.verdicts.every((v) => v.step === 1)).toBe(true);
    const failed = failures(answers);
    expect(failed.length).toBeGreaterThan(0);
    // Only requests the candidate served failed: about 10% of the flagged fifth of them.
    expect(failed.length / answers.length).toBeLessThan(0.1);
    const d = await until('the candidate to drain', () => deployment(server), (x) => x.candidate === undefined);
    expect(d.revision.spec.version).toBe(versions[0]);
    expect(d.events.map((e) => e.type)).toContain('rolled-back');
  }, 60_000);

  it('a slower candidate is rolled back on latency', async () => {
    const { server, versions } = await withDeployment([family.slow]);
    const traffic = load(server, 2);
    const started = await startRollout(server, { ref: versions[1], steps: [30, 100], ...quick, bakeMs: 20_000, criteria: { minRequests: 40, maxErrorRate: null } });
    const done = await until('the rollback', () => rollout(server, started.id), finished, 40_000);
    const answers = await traffic.stop();
    expect(done.state.status).toBe('rolled-back');
    const latency = done.verdicts.at(-1)?.verdict.checks.find((c) => c.name === 'latency');
    expect(latency?.outcome).toBe('fail');
    expect(failures(answers)).toEqual([]);
  }, 60_000);

  it('a restart in the middle of a rollout resumes it: traffic on the baseline until the candidate is back, then the same step', async () => {
    const dataDir = servers.tempDir('continuum-rollout-restart-');
    const first = await withDeployment([family.goodRetrained], dataDir);
    const started = await startRollout(first.server, { ref: first.versions[1], steps: [25, 100], bakeMs: 600_000, analysisIntervalMs: 300 });
    await until('the first step to route', () => deployment(first.server), (d) => d.candidate?.traffic.kind === 'weighted');
    await servers.stop(first.server);

    const server = await serve(dataDir);
    const resumed = await rollout(server, started.id);
    expect(resumed.state.status).toBe('progressing');
    expect(resumed.state.reason).toMatch(/restart/);
    const d = await until('the candidate to route again', () => deployment(server), (x) => x.candidate?.traffic.kind === 'weighted');
    expect(d.revision.revision).toBe(started.baselineRevision);
    expect(d.candidate?.revision.revision).toBe(started.candidateRevision);
    expect((await inferJson(server.url, MODEL, body())).status).toBe(200);
    // The CLI promotes it; the deployment ends on the candidate, nothing half-done.
    const cli = runCli(['rollouts', 'promote', String(started.id), '--server', server.url]);
    expect(await cli.exited).toBe(0);
    const done = await until('the promotion', () => rollout(server, started.id), finished);
    expect(done.state.status).toBe('succeeded');
    expect((await deployment(server)).revision.revision).toBe(started.candidateRevision);
    const shown = runCli(['rollouts', 'show', String(started.id), '--server', server.url]);
    expect(await shown.exited).toBe(0);
    expect(shown.output()).toMatch(/succeeded/);
  }, 90_000);

  it('refuses bad rollouts with clear errors', async () => {
    const { server, versions } = await withDeployment([family.goodRetrained]);
    const bad = await api<{ code: string; error: string }>(server.url, 'POST', '/rollouts', { deployment: MODEL, ref: versions[1], steps: [50, 10] });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('CONTINUUM_ERR_INVALID_ROLLOUT');
    const unknownField = await api<{ code: string }>(server.url, 'POST', '/rollouts', { deployment: MODEL, ref: versions[1], stratgey: 'canary' });
    expect(unknownField.status).toBe(400);
    const noDeployment = await api<{ code: string }>(server.url, 'POST', '/rollouts', { deployment: 'nope', ref: '1' });
    expect(noDeployment.status).toBe(404);
    const noVersion = await api<{ code: string }>(server.url, 'POST', '/rollouts', { deployment: MODEL, ref: '99' });
    expect(noVersion.status).toBe(404);
    const same = await api<{ code: string; error: string }>(server.url, 'POST', '/rollouts', { deployment: MODEL, ref: versions[0] });
    expect(same.status).toBe(400);
    expect(same.body.error).toMatch(/already serves version/);
    const started = await startRollout(server, { ref: versions[1], bakeMs: 600_000 });
    const second = await api<{ code: string }>(server.url, 'POST', '/rollouts', { deployment: MODEL, ref: versions[1] });
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('CONTINUUM_ERR_ROLLOUT_IN_PROGRESS');
    const change = await api<{ code: string }>(server.url, 'PATCH', `/deployments/${MODEL}`, { policy: { policy: 'fixed', replicas: 3 } });
    expect(change.status).toBe(409);
    const missing = await api<{ code: string }>(server.url, 'GET', '/rollouts/12345');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('CONTINUUM_ERR_ROLLOUT_NOT_FOUND');
    const badCommand = await api<{ code: string }>(server.url, 'POST', `/rollouts/${started.id}/explode`);
    expect(badCommand.status).toBe(400);
  }, 60_000);
});
