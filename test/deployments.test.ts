/**
 * Deployments end to end with real replica processes, real ONNX Runtime and real HTTP: scale to
 * zero and back with every buffered request answered, `kill -9` of a replica under load (every
 * request succeeds or gets 503 + Retry-After, and a replacement serves within a bound), a
 * scale-down drain that loses nothing, a full activator answering 503, and the CLI's view.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_REQUEST } from '../src/server/index.js';
import type { RunningServer } from '../src/server/index.js';
import type { DeploymentStatus, HistoryPoint } from '../src/deploy/index.js';
import { cliAgainst } from './support/cli-process.js';
import { api as apiAt, inferJson, until } from './support/http.js';
import { TestServers } from './support/servers.js';
import type { Answer } from './support/http.js';

// The demo model is registered; its deployment is what these tests change.
const servers = new TestServers('continuum-deploy-e2e-');

afterEach(() => servers.closeAll());

async function infer(server: RunningServer, model = 'iris'): Promise<Answer> {
  return inferJson(server.url, model, DEMO_REQUEST);
}

async function api<T>(server: RunningServer, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: T }> {
  return apiAt<T>(server.url, method, path, body);
}

async function deployment(server: RunningServer, name = 'iris'): Promise<DeploymentStatus> {
  return (await api<DeploymentStatus>(server, 'GET', `/deployments/${name}`)).body;
}

const ready = (d: DeploymentStatus): number => d.replicas.filter((r) => r.phase === 'ready').length;

/** The demo answer: a setosa (0) and a virginica (2). */
function expectCorrect(answer: Answer): void {
  expect(answer.status).toBe(200);
  expect(answer.body.outputs?.find((o) => o.name === 'label')?.data).toEqual([0, 2]);
}

describe('deployments with real replica processes', () => {
  it('the demo deployment uses auto and serves through a replica process', async () => {
    const server = await servers.start();
    const d = await deployment(server);
    expect(d.policy['policy']).toBe('auto');
    expectCorrect(await infer(server));
    const after = await deployment(server);
    expect(after.replicas.length).toBeGreaterThanOrEqual(1);
    expect(after.replicas.every((r) => r.pid !== process.pid)).toBe(true);
    // Each autoscaler tick leaves a point of history; the answered request shows as throughput.
    const history = await until(
      'a tick with the request in it',
      async () => (await api<{ baseline: HistoryPoint[] }>(server, 'GET', '/deployments/iris/history')).body.baseline,
      (points) => points.some((p) => p.throughputRps > 0),
    );
    expect(history.at(-1)?.readyReplicas).toBeGreaterThanOrEqual(1);
    // The demo model comes with the iris dataset: drift compares against it; energy is metered per deployment.
    const shown = await deployment(server);
    expect(shown.drift.referenceSource).toBe('given');
    const drift = await api<{ referenceRows: number }>(server, 'GET', '/deployments/iris/drift');
    expect(drift.body.referenceRows).toBeGreaterThan(100);
  });

  it('scales to zero when idle and back, answering every buffered request', async () => {
    const server = await servers.start();
    await api(server, 'PATCH', '/deployments/iris', { policy: { policy: 'serverless', scaleToZeroGraceMs: 500, maxReplicas: 2 } });
    expectCorrect(await infer(server));
    await until('scale to zero', () => deployment(server), (d) => d.replicas.length === 0 && d.desiredReplicas === 0);
    // A burst while at zero: all wait in the activator and all are answered after the cold start.
    const answers = await Promise.all(Array.from({ length: 20 }, () => infer(server)));
    for (const a of answers) expectCorrect(a);
    const d = await deployment(server);
    expect(d.coldStarts.count).toBeGreaterThanOrEqual(1);
    expect(d.replicas.length).toBeGreaterThanOrEqual(1);
  });

  it('kill -9 of a replica under load: every request succeeds or gets 503 with Retry-After, and a replacement serves', async () => {
    const server = await servers.start();
    await api(server, 'POST', '/deployments/iris/scale', { replicas: 2 });
    await until('two ready replicas', () => deployment(server), (d) => ready(d) === 2);
    const victim = (await deployment(server)).replicas[0];
    if (victim === undefined) throw new Error('no replica');
    let stop = false;
    const outcomes: Answer[] = [];
    const workers = Array.from({ length: 8 }, async () => {
      while (!stop) outcomes.push(await infer(server));
    });
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    const replaced = await until(
      'a replacement replica',
      () => deployment(server),
      (d) => ready(d) === 2 && !d.replicas.some((r) => r.pid === victim.pid),
    );
    const replacementMs = Date.now() - killedAt;
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(workers);
    expect(outcomes.length).toBeGreaterThan(50);
    for (const o of outcomes) {
      if (o.status === 200) expectCorrect(o);
      else {
        expect(o.status).toBe(503);
        expect(o.retryAfter).toBeDefined();
      }
    }
    expect(replaced.replicas.some((r) => r.pid === victim.pid)).toBe(false);
    // The bound: a replacement is serving within 10 s of the kill (typically well under a second).
    expect(replacementMs).toBeLessThan(10_000);
    const events = (await api<{ events: { type: string }[] }>(server, 'GET', '/deployments/iris/events')).body.events;
    expect(events.some((e) => e.type === 'replica-lost')).toBe(true);
  });

  it('scale-down drains: requests in flight on the stopped replica all complete', async () => {
    const server = await servers.start();
    await api(server, 'POST', '/deployments/iris/scale', { replicas: 3 });
    await until('three ready replicas', () => deployment(server), (d) => ready(d) === 3);
    let stop = false;
    const outcomes: Answer[] = [];
    const workers = Array.from({ length: 16 }, async () => {
      while (!stop) outcomes.push(await infer(server));
    });
    await new Promise((r) => setTimeout(r, 300));
    await api(server, 'POST', '/deployments/iris/scale', { replicas: 1 });
    await until('one replica left', () => deployment(server), (d) => d.replicas.length === 1);
    stop = true;
    await Promise.all(workers);
    expect(outcomes.length).toBeGreaterThan(50);
    for (const o of outcomes) expectCorrect(o);
  });

  it('a full activator answers 503 with Retry-After; the buffered requests are still served', async () => {
    const server = await servers.start({ activatorMaxBuffered: 4 });
    await api(server, 'PATCH', '/deployments/iris', { policy: { policy: 'serverless', scaleToZeroGraceMs: 300 } });
    expectCorrect(await infer(server));
    await until('scale to zero', () => deployment(server), (d) => d.replicas.length === 0 && d.desiredReplicas === 0);
    const answers = await Promise.all(Array.from({ length: 12 }, () => infer(server)));
    const refused = answers.filter((a) => a.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused) {
      expect(a.body.code).toBe('CONTINUUM_ERR_ACTIVATOR_FULL');
      expect(a.retryAfter).toBeDefined();
    }
    for (const a of answers.filter((x) => x.status !== 503)) expectCorrect(a);
    expect(answers.length - refused.length).toBeGreaterThanOrEqual(4);
  });

  it('deploy, show and delete from the CLI; a version in use cannot be deleted', async () => {
    const server = await servers.start();
    const cli = cliAgainst(server.url);
    expect(await cli('deploy', 'iris:1', '--name', 'flowers', '--policy', 'hpa', '--min', '1', '--max', '3', '--param', 'targetConcurrency=4')).toMatch(/deployment flowers created at revision 1/);
    expectCorrect(await infer(server, 'flowers'));
    const show = await cli('deployments', 'show', 'flowers');
    expect(show).toMatch(/Policy:\s+hpa/);
    expect(show).toMatch(/Current choice:\s+always-on/);
    expect(show).toMatch(/Cost so far:\s+\$/);
    expect(show).toMatch(/REPLICA\s+PID/);
    const list = JSON.parse(await cli('deployments', 'list', '--json')) as { deployments: DeploymentStatus[] };
    expect(list.deployments.map((d) => d.name).sort()).toEqual(['flowers', 'iris']);
    const refused = await api<{ code: string }>(server, 'DELETE', '/models/iris/versions/1');
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('CONTINUUM_ERR_VERSION_IN_USE');
    expect(await cli('deployments', 'delete', 'flowers')).toMatch(/deleted/);
    expect((await infer(server, 'flowers')).status).toBe(404);
    const bad = await api<{ code: string }>(server, 'POST', '/deployments', { model: 'iris', name: 'x', policy: { policy: 'warp-drive' } });
    expect(bad.status).toBe(400);
  });
});
