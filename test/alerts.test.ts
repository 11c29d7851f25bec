/**
 * Alerts end to end on a real server with real replica processes: a crash-loop rule fires after a
 * `kill -9` of a replica and its webhook reaches a local receiver that fails twice (503) before it
 * accepts, with every attempt recorded; the alert resolves once the loss leaves the window and the
 * resolution is delivered too. A p99 rule driven from the CLI fires on real traffic and resolves
 * when its rule is deleted. Rules are validated at the API.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeploymentEvent, DeploymentStatus } from '../src/deploy/index.js';
import type { AlertList, AlertmanagerPayload, AlertRule } from '../src/observe/index.js';
import { DEMO_REQUEST } from '../src/server/index.js';
import type { RunningServer } from '../src/server/index.js';
import { cliAgainst } from './support/cli-process.js';
import { api, inferJson, until } from './support/http.js';
import { TestServers } from './support/servers.js';

const servers = new TestServers('continuum-alerts-e2e-');
const receivers: Server[] = [];

afterEach(async () => {
  await servers.closeAll();
  for (const r of receivers.splice(0)) await new Promise((resolve) => r.close(resolve));
});

/** A webhook receiver that answers 503 to its first `failures` requests, then 200; keeps each body and when it came. */
async function receiver(failures: number): Promise<{ url: string; received: { atMs: number; status: number; body: AlertmanagerPayload }[] }> {
  const received: { atMs: number; status: number; body: AlertmanagerPayload }[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const status = received.length < failures ? 503 : 200;
      received.push({ atMs: Date.now(), status, body: JSON.parse(text) as AlertmanagerPayload });
      res.statusCode = status;
      res.end();
    });
  });
  receivers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alertmanager`, received };
}

async function deployment(server: RunningServer): Promise<DeploymentStatus> {
  return (await api<DeploymentStatus>(server.url, 'GET', '/deployments/iris')).body;
}

async function alerts(server: RunningServer): Promise<AlertList> {
  return (await api<AlertList>(server.url, 'GET', '/alerts')).body;
}

const ready = (d: DeploymentStatus): boolean => d.replicas.length === d.desiredReplicas && d.replicas.every((r) => r.phase === 'ready');

describe('alerts on a real deployment', () => {
  it('crash-loop: a killed replica fires the alert; its webhook is retried past two 503s and delivered; it resolves later', async () => {
    const server = await servers.start();
    const hook = await receiver(2);
    await api(server.url, 'POST', '/deployments/iris/scale', { replicas: 1 });
    const before = await until('one ready replica', () => deployment(server), (d) => ready(d) && d.replicas.length === 1);
    const rule = await api<AlertRule>(server.url, 'POST', '/alerts/rules', {
      name: 'iris-crashing',
      kind: 'crash-loop',
      deployment: 'iris',
      severity: 'critical',
      threshold: 1,
      windowMs: 3000,
      webhooks: [hook.url],
    });
    expect(rule.status).toBe(201);
    expect(rule.body).toMatchObject({ name: 'iris-crashing', kind: 'crash-loop', threshold: 1, windowMs: 3000, forMs: 0 });

    const victim = before.replicas[0];
    if (victim === undefined) throw new Error('no replica');
    process.kill(victim.pid, 'SIGKILL');

    const firing = await until('the alert firing', () => alerts(server), (a) => a.active.length === 1);
    expect(firing.active[0]).toMatchObject({ rule: 'iris-crashing', deployment: 'iris', severity: 'critical', status: 'firing', value: 1, threshold: 1 });
    // Delivered on the third attempt, after two 503s, with growing waits between.
    const delivered = await until(
      'the firing notification delivered',
      () => alerts(server),
      (a) => [...a.active, ...a.recent].some((x) => x.deliveries.some((d) => d.notification === 'firing' && d.state === 'delivered')),
    );
    const delivery = [...delivered.active, ...delivered.recent][0]?.deliveries.find((d) => d.notification === 'firing');
    expect(delivery).toMatchObject({ url: hook.url, state: 'delivered', attempts: 3, lastStatus: 200, lastError: null });
    expect(hook.received.slice(0, 3).map((r) => r.status)).toEqual([503, 503, 200]);
    const [a1, a2, a3] = hook.received.map((r) => r.atMs);
    expect((a2 ?? 0) - (a1 ?? 0)).toBeGreaterThanOrEqual(200);
    expect((a3 ?? 0) - (a2 ?? 0)).toBeGreaterThanOrEqual(450);
    const payload = hook.received[2]?.body;
    expect(payload).toMatchObject({ version: '4', status: 'firing', receiver: 'continuum', commonLabels: { alertname: 'iris-crashing', deployment: 'iris', severity: 'critical', kind: 'crash-loop' } });
    expect(payload?.alerts[0]).toMatchObject({ status: 'firing', endsAt: '0001-01-01T00:00:00Z', value: 1, threshold: 1 });
    expect(payload?.alerts[0]?.annotations['summary']).toMatch(/iris-crashing on iris: 1 replica loss/);

    // The loss leaves the 3 s window: the alert resolves, and the resolution is delivered at once.
    const resolved = await until('the alert resolved', () => alerts(server), (a) => a.active.length === 0 && a.recent.length === 1, 30_000);
    expect(resolved.recent[0]).toMatchObject({ status: 'resolved', resolvedValue: 0 });
    await until('the resolution delivered', async () => hook.received.length, (n) => n === 4);
    expect(hook.received[3]?.body).toMatchObject({ status: 'resolved', alerts: [{ status: 'resolved' }] });
    const events = (await api<{ events: DeploymentEvent[] }>(server.url, 'GET', '/events?deployment=iris')).body.events.filter((e) => e.type.startsWith('alert-'));
    expect(events.map((e) => e.type)).toEqual(['alert-firing', 'alert-resolved']);
    expect(events[0]?.data).toMatchObject({ rule: 'iris-crashing', value: 1, threshold: 1 });
    await until('the replacement ready', () => deployment(server), ready);
  });

  it('a p99 rule from the CLI fires on real traffic, is listed, and resolves when the rule is deleted', async () => {
    const server = await servers.start();
    const cli = cliAgainst(server.url);
    expect(await cli('alerts', 'rules', 'add', 'slow-iris', '--kind', 'p99', '--threshold', '0', '--deployment', 'iris', '--for', '200ms')).toMatch(
      /alert rule slow-iris added: deployment iris, latency p99 above 0 ms for 0.2 s \(warning\)/,
    );
    expect(await cli('alerts', 'rules', 'list')).toMatch(/slow-iris\s+iris\s+warning\s+latency p99 above 0 ms/);
    // Requests keep completing for a while, so the p99 stays above 0 ms over several ticks.
    let stop = false;
    const traffic = (async () => {
      while (!stop) expect((await inferJson(server.url, 'iris', DEMO_REQUEST)).status).toBe(200);
    })();
    await until('the alert firing', () => alerts(server), (a) => a.active.some((x) => x.rule === 'slow-iris'));
    expect(await cli('alerts', 'list')).toMatch(/Firing:\n.*\n\d+\s+slow-iris\s+iris\s+warning\s+\d+ ms/);
    // Deleted while traffic still breaks it: the deletion resolves the alert (once traffic stops, a tick without requests would).
    expect(await cli('alerts', 'rules', 'delete', 'slow-iris')).toMatch(/alert rule slow-iris deleted/);
    stop = true;
    await traffic;
    const after = JSON.parse(await cli('alerts', 'list', '--json')) as AlertList;
    expect(after.active).toEqual([]);
    expect(after.recent[0]).toMatchObject({ rule: 'slow-iris', status: 'resolved', resolvedValue: null });
    expect(await cli('alerts', 'rules', 'list')).toBe('(none)\n');
    await until('replicas settled', () => deployment(server), ready);
  });

  it('refuses invalid rules, a taken name, and an unknown rule', async () => {
    const server = await servers.start();
    const bad = await api<{ code: string; error: string }>(server.url, 'POST', '/alerts/rules', { name: 'x', kind: 'p99', threshold: 100, webhooks: ['file:///etc/passwd'] });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('CONTINUUM_ERR_INVALID_ALERT_RULE');
    expect(bad.body.error).toMatch(/only http:\/\/ and https:\/\//);
    const unknownKind = await api<{ code: string }>(server.url, 'POST', '/alerts/rules', { name: 'x', kind: 'vibes', threshold: 1 });
    expect(unknownKind.status).toBe(400);
    expect((await api(server.url, 'POST', '/alerts/rules', { name: 'x', kind: 'cost', threshold: 5 })).status).toBe(201);
    const taken = await api<{ code: string }>(server.url, 'POST', '/alerts/rules', { name: 'x', kind: 'cost', threshold: 5 });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('CONTINUUM_ERR_ALERT_RULE_EXISTS');
    const missing = await api<{ code: string }>(server.url, 'DELETE', '/alerts/rules/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('CONTINUUM_ERR_ALERT_RULE_NOT_FOUND');
    await until('replicas settled', () => deployment(server), ready);
  });
});
