import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeploymentStore } from '../deploy/index.js';
import type { DeploymentEvent, RevisionSpec } from '../deploy/index.js';
import { EventStream, formatSseComment, formatSseEvent, SseParser } from './events.js';
import type { EventFilter } from './events.js';

const spec: RevisionSpec = { model: 'iris', modelRef: '', version: '1', sha256: 'a'.repeat(64), policy: { policy: 'fixed' }, resources: { vcpu: 1, memoryGb: 0.5 }, runtime: {} };

describe('SSE framing', () => {
  const event: DeploymentEvent = { id: 42, deployment: 'iris', at: '2025-01-01T00:00:00.000Z', type: 'replica-lost', message: 'line one\nline two', data: { reason: 'SIGKILL' } };

  it('frames an event as id, event and one data line of JSON, ended by a blank line', () => {
    expect(formatSseEvent(event)).toBe(`id: 42\nevent: replica-lost\ndata: ${JSON.stringify(event)}\n\n`);
    expect(formatSseEvent(event).split('\n')).toHaveLength(5);
    expect(formatSseComment('keep\nalive')).toBe(': keep alive\n\n');
  });

  it('parses what it frames back, whatever the chunking and line endings', () => {
    const wire = formatSseComment('hello') + formatSseEvent(event) + formatSseEvent({ ...event, id: 43, type: 'cold-start' });
    for (const text of [wire, wire.replace(/\n/g, '\r\n'), wire.replace(/\n/g, '\r')]) {
      const parser = new SseParser();
      const messages = [...text].flatMap((c) => parser.push(c));
      expect(messages.map((m) => [m.id, m.event, JSON.parse(m.data) as DeploymentEvent])).toEqual([
        ['42', 'replica-lost', event],
        ['43', 'cold-start', { ...event, id: 43, type: 'cold-start' }],
      ]);
      expect(parser.lastEventId).toBe('43');
    }
  });

  it('joins data lines, defaults the event name to message, keeps the last id', () => {
    const parser = new SseParser();
    expect(parser.push('retry: 1000\n\ndata: a\ndata:b\n\nid: 7\nevent: x\ndata\n\n')).toEqual([
      { id: undefined, event: 'message', data: 'a\nb' },
      { id: '7', event: 'x', data: '' },
    ]);
  });
});

describe('the event log: store query and subscription, the stream', () => {
  let dir: string;
  let store: DeploymentStore;
  let stream: EventStream | undefined;
  let server: Server | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'continuum-events-'));
    store = DeploymentStore.open(dir);
  });
  afterEach(async () => {
    stream?.close();
    if (server !== undefined) await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists events across deployments by deployment, type and cursor, newest last', () => {
    store.create('a', spec);
    store.create('b', spec);
    store.recordEvent('a', 'replica-lost', 'lost');
    store.recordEvent('b', 'replica-lost', 'lost');
    store.recordEvent('a', 'decision', 'scaled');
    const all = store.queryEvents({ limit: 100 });
    expect(all.map((e) => `${e.deployment}:${e.type}`)).toEqual(['a:created', 'b:created', 'a:replica-lost', 'b:replica-lost', 'a:decision']);
    expect(store.queryEvents({ limit: 2 }).map((e) => e.type)).toEqual(['replica-lost', 'decision']);
    expect(store.queryEvents({ limit: 100, type: 'replica-lost' }).map((e) => e.deployment)).toEqual(['a', 'b']);
    expect(store.queryEvents({ limit: 100, deployment: 'b' }).map((e) => e.type)).toEqual(['created', 'replica-lost']);
    const cursor = all[1]?.id ?? 0;
    // After a cursor: the oldest first from there, so a client pages forward.
    expect(store.queryEvents({ limit: 2, afterId: cursor }).map((e) => e.id)).toEqual([all[2]?.id, all[3]?.id]);
  });

  it('tells listeners each stored event once its transaction commits, none of a refused change', () => {
    const seen: string[] = [];
    const unsubscribe = store.onEvent((e) => seen.push(`${e.deployment}:${e.type}:${store.find(e.deployment) === undefined ? 'absent' : 'present'}`));
    store.create('a', spec);
    expect(() => store.create('a', spec)).toThrow();
    store.update('a', (s) => s, 'updated', 'changed');
    store.recordEvent('a', 'cold-start', 'cold');
    unsubscribe();
    store.recordEvent('a', 'cold-start', 'not seen');
    expect(seen).toEqual(['a:created:present', 'a:updated:present', 'a:cold-start:present']);
  });

  /** Serves the stream on a local HTTP server; `after` becomes the replay cursor. */
  async function serveStream(maxBufferedBytes?: number): Promise<string> {
    const s = new EventStream(store, maxBufferedBytes === undefined ? {} : { maxBufferedBytes });
    stream = s;
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const after = url.searchParams.get('after');
      const filter: EventFilter = url.searchParams.has('type') ? { type: url.searchParams.get('type') ?? '' } : {};
      s.attach(res, filter, after === null ? undefined : Number(after));
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Opens the stream; collects its parsed events. */
  async function open(url: string): Promise<{ response: IncomingMessage; events: DeploymentEvent[]; ended: Promise<void> }> {
    const response = await new Promise<IncomingMessage>((resolve, reject) => request(url, resolve).on('error', reject).end());
    const parser = new SseParser();
    const events: DeploymentEvent[] = [];
    response.on('data', (chunk: Buffer) => events.push(...parser.push(chunk.toString('utf8')).map((m) => JSON.parse(m.data) as DeploymentEvent)));
    const ended = new Promise<void>((resolve) => response.on('close', resolve));
    return { response, events, ended };
  }

  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(check()).toBe(true);
  }

  it('replays what came after the cursor, then streams new events through the filter; closing ends the stream', async () => {
    store.create('a', spec);
    store.recordEvent('a', 'replica-lost', 'first');
    const cursor = store.queryEvents({ limit: 1 })[0]?.id ?? 0;
    store.recordEvent('a', 'replica-lost', 'missed');
    const base = await serveStream();
    const client = await open(`${base}/?after=${cursor}&type=replica-lost`);
    expect(client.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    store.recordEvent('a', 'decision', 'filtered out');
    store.recordEvent('a', 'replica-lost', 'live');
    await until(() => client.events.length === 2);
    expect(client.events.map((e) => e.message)).toEqual(['missed', 'live']);
    stream?.close();
    await client.ended;
    expect(stream?.size).toBe(0);
  });

  it('disconnects a client that does not read once its unsent bytes pass the bound', async () => {
    store.create('a', spec);
    const base = await serveStream(64 * 1024);
    const client = await open(base);
    client.response.pause();
    const big = 'x'.repeat(4000);
    for (let i = 0; i < 20_000 && stream?.slowDisconnects === 0; i++) store.recordEvent('a', 'decision', big);
    expect(stream?.slowDisconnects).toBe(1);
    expect(stream?.size).toBe(0);
    client.response.resume();
    await client.ended;
  });
});
