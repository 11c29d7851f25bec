/**
 * The global event log end to end on a real server: listed across deployments with filters,
 * streamed as server-sent events while deployments change, a reconnection with Last-Event-ID
 * receiving what it missed, and `continuum events` (list and --follow) as a user runs it.
 */
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeploymentEvent, DeploymentStatus } from '../src/deploy/index.js';
import { SseParser } from '../src/observe/index.js';
import type { RunningServer } from '../src/server/index.js';
import { runCli } from './support/cli-process.js';
import { api, until } from './support/http.js';
import { TestServers } from './support/servers.js';

const servers = new TestServers('continuum-events-e2e-');

afterEach(() => servers.closeAll());

/** An open event stream: the events parsed so far, and a way to close it. */
interface OpenStream {
  readonly events: DeploymentEvent[];
  readonly contentType: string | undefined;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

async function openStream(server: RunningServer, query = '', lastEventId?: number): Promise<OpenStream> {
  const abort = new AbortController();
  const response = await request(`${server.url}/api/v1/events/stream${query}`, {
    headers: lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) },
    signal: abort.signal,
  });
  const parser = new SseParser();
  const events: DeploymentEvent[] = [];
  response.body.on('data', (chunk: Buffer) => events.push(...parser.push(chunk.toString('utf8')).map((m) => JSON.parse(m.data) as DeploymentEvent)));
  // A stream the client aborts ends in an abort error; that is how it is closed here.
  response.body.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => response.body.on('end', resolve));
  const contentType = response.headers['content-type'];
  return { events, contentType: typeof contentType === 'string' ? contentType : undefined, ended, close: () => abort.abort() };
}

const scale = (server: RunningServer, replicas: number): Promise<unknown> => api(server.url, 'POST', '/deployments/iris/scale', { replicas });

/** Waits until the demo deployment runs as many ready replicas as it wants (so none is starting when the server stops). */
async function settled(server: RunningServer): Promise<void> {
  await until(
    'replicas settled',
    async () => (await api<DeploymentStatus>(server.url, 'GET', '/deployments/iris')).body,
    (d) => d.replicas.length === d.desiredReplicas && d.replicas.every((r) => r.phase === 'ready'),
  );
}

describe('the event log', () => {
  it('lists every deployment’s events, newest last, by deployment, type, limit and cursor', async () => {
    const server = await servers.start();
    expect((await api(server.url, 'POST', '/deployments', { name: 'flowers', model: 'iris', policy: { policy: 'fixed', minReplicas: 0, maxReplicas: 0 } })).status).toBe(201);
    await scale(server, 0);
    const all = (await api<{ events: DeploymentEvent[] }>(server.url, 'GET', '/events')).body.events;
    expect(new Set(all.map((e) => e.deployment))).toEqual(new Set(['iris', 'flowers']));
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => a - b));
    const created = (await api<{ events: DeploymentEvent[] }>(server.url, 'GET', '/events?type=created')).body.events;
    expect(created.map((e) => e.deployment)).toEqual(['iris', 'flowers']);
    const flowers = (await api<{ events: DeploymentEvent[] }>(server.url, 'GET', '/events?deployment=flowers')).body.events;
    expect(flowers.every((e) => e.deployment === 'flowers')).toBe(true);
    const newest = (await api<{ events: DeploymentEvent[] }>(server.url, 'GET', '/events?limit=1')).body.events;
    expect(newest).toHaveLength(1);
    expect(newest[0]?.id).toBe(all.at(-1)?.id);
    const after = (await api<{ events: DeploymentEvent[] }>(server.url, 'GET', `/events?after=${all[0]?.id ?? 0}&limit=1`)).body.events;
    expect(after[0]?.id).toBe(all[1]?.id);
    const bad = await api<{ code: string }>(server.url, 'GET', '/events?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('CONTINUUM_ERR_BAD_REQUEST');
    await settled(server);
  });

  it('streams each new event; a reconnection with Last-Event-ID receives the ones it missed', async () => {
    const server = await servers.start();
    const first = await openStream(server, '?deployment=iris&type=updated');
    expect(first.contentType).toBe('text/event-stream; charset=utf-8');
    await scale(server, 1);
    const seen = await until('the update on the stream', async () => first.events, (events) => events.length === 1);
    expect(seen[0]).toMatchObject({ deployment: 'iris', type: 'updated' });
    expect(seen[0]?.message).toMatch(/scaled to min 1, max 1/);
    first.close();

    await scale(server, 2);
    await scale(server, 1);
    const second = await openStream(server, '?deployment=iris&type=updated', seen[0]?.id);
    const missed = await until('the missed updates replayed', async () => second.events, (events) => events.length === 2);
    expect(missed.map((e) => e.message.replace(/^revision \d+: /, ''))).toEqual(['scaled to min 2, max 2', 'scaled to min 1, max 1']);
    expect(missed.every((e) => e.id > (seen[0]?.id ?? 0))).toBe(true);
    second.close();
    await settled(server);
    // A stream still open when the server stops is ended by it, so the shutdown is not held up.
    const open = await openStream(server);
    await server.close();
    await open.ended;
  });

  it('continuum events lists and --follow prints new events until interrupted', async () => {
    const server = await servers.start();
    const listed = runCli(['events', '--deployment', 'iris', '--type', 'created', '--json', '--server', server.url]);
    expect(await listed.exited).toBe(0);
    const { events } = JSON.parse(listed.output()) as { events: DeploymentEvent[] };
    expect(events.map((e) => e.type)).toEqual(['created']);

    const follow = runCli(['events', '--follow', '--deployment', 'iris', '--type', 'updated', '--server', server.url]);
    // Whether the change lands before the CLI lists, between its list and its stream (replayed
    // from the listed cursor) or after, it is printed exactly as one line.
    await scale(server, 3);
    await follow.waitFor(/iris {2}updated {2}revision \d+: scaled to min 3, max 3/, 20_000);
    follow.child.kill('SIGINT');
    expect(await follow.exited).toBe('SIGINT');
    expect(follow.output().match(/scaled to min 3, max 3/g)).toHaveLength(1);
    await settled(server);
  });
});
