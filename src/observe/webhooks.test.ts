import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelayMs, checkWebhookUrl, retryable, WebhookNotifier } from './webhooks.js';
import type { AlertmanagerPayload, DeliveryOutcome, WebhookDelivery } from './webhooks.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

/** A local receiver answering each POST with the next status of `statuses` (the last one repeats); records the bodies. */
async function receiver(statuses: readonly number[]): Promise<{ url: string; bodies: unknown[] }> {
  const bodies: unknown[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      bodies.push(JSON.parse(text));
      res.statusCode = statuses[Math.min(bodies.length, statuses.length) - 1] ?? 200;
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

const payload = { version: '4', status: 'firing', alerts: [] } as unknown as AlertmanagerPayload;

/** A notifier whose waits are recorded and skipped, with the jitter's random fixed. */
function notifier(random: number, options: { maxAttempts?: number; maxQueued?: number; concurrency?: number } = {}) {
  const sleeps: number[] = [];
  const outcomes: { id: number; outcome: DeliveryOutcome }[] = [];
  const warnings: string[] = [];
  const n = new WebhookNotifier({
    ...options,
    baseDelayMs: 500,
    maxDelayMs: 4000,
    sleep: async (ms) => void sleeps.push(ms),
    random: () => random,
    onOutcome: (d: WebhookDelivery, outcome) => outcomes.push({ id: d.id, outcome }),
    logWarning: (message) => warnings.push(message),
  });
  return { n, sleeps, outcomes, warnings };
}

describe('backoffDelayMs', () => {
  it('doubles from the base up to the maximum, keeping at least half of each delay (equal jitter)', () => {
    const options = { baseDelayMs: 500, maxDelayMs: 4000 };
    expect([1, 2, 3, 4, 5].map((r) => backoffDelayMs(r, options, 0))).toEqual([250, 500, 1000, 2000, 2000]);
    expect([1, 2, 3].map((r) => backoffDelayMs(r, options, 0.5))).toEqual([375, 750, 1500]);
    expect(backoffDelayMs(3, options, 0.999)).toBeLessThan(2000);
    expect(backoffDelayMs(10, options, 0.5)).toBe(3000);
  });

  it('retries server failures, timeouts of the request and rate limits, not other client errors', () => {
    expect([500, 502, 503, 408, 429].every(retryable)).toBe(true);
    expect([400, 401, 404, 410].some(retryable)).toBe(false);
  });
});

describe('WebhookNotifier', () => {
  it('retries a failing receiver with growing waits until it answers 2xx, recording every attempt', async () => {
    const hook = await receiver([503, 503, 200]);
    const { n, sleeps, outcomes } = notifier(0.5);
    n.enqueue({ id: 7, url: hook.url, payload });
    await n.settled();
    expect(hook.bodies).toEqual([payload, payload, payload]);
    expect(sleeps).toEqual([375, 750]);
    expect(outcomes.map((o) => o.outcome)).toEqual([
      { state: 'pending', attempts: 1, lastStatus: 503, lastError: 'HTTP 503' },
      { state: 'pending', attempts: 2, lastStatus: 503, lastError: 'HTTP 503' },
      { state: 'delivered', attempts: 3, lastStatus: 200, lastError: null },
    ]);
  });

  it('gives up after the last attempt, and at once on a 4xx that a retry cannot fix', async () => {
    const down = await receiver([500]);
    const gone = await receiver([404]);
    const { n, sleeps, outcomes } = notifier(0, { maxAttempts: 3 });
    n.enqueue({ id: 1, url: down.url, payload });
    await n.settled();
    n.enqueue({ id: 2, url: gone.url, payload });
    await n.settled();
    expect(down.bodies).toHaveLength(3);
    expect(sleeps).toEqual([250, 500]);
    expect(outcomes.filter((o) => o.id === 1).at(-1)?.outcome).toMatchObject({ state: 'failed', attempts: 3, lastStatus: 500 });
    expect(gone.bodies).toHaveLength(1);
    expect(outcomes.filter((o) => o.id === 2).map((o) => o.outcome)).toEqual([{ state: 'failed', attempts: 1, lastStatus: 404, lastError: 'HTTP 404' }]);
  });

  it('counts a refused connection as a failed attempt worth a retry', async () => {
    const hook = await receiver([200]);
    const closedUrl = hook.url;
    await new Promise((resolve) => servers.pop()?.close(resolve));
    const { n, outcomes } = notifier(0, { maxAttempts: 2 });
    n.enqueue({ id: 3, url: closedUrl, payload });
    await n.settled();
    expect(outcomes.map((o) => [o.outcome.state, o.outcome.attempts, o.outcome.lastStatus])).toEqual([
      ['pending', 1, null],
      ['failed', 2, null],
    ]);
    expect(outcomes[0]?.outcome.lastError).toMatch(/ECONNREFUSED|connect/i);
  });

  it('drops deliveries beyond the queue bound, counted and reported, instead of holding them', async () => {
    const hook = await receiver([200]);
    const { n, outcomes, warnings } = notifier(0, { maxQueued: 2, concurrency: 1 });
    for (let id = 1; id <= 5; id++) n.enqueue({ id, url: hook.url, payload });
    // One in progress, two queued, two dropped.
    expect(n.dropped).toBe(2);
    expect(warnings).toHaveLength(2);
    await n.settled();
    expect(hook.bodies).toHaveLength(3);
    expect(outcomes.filter((o) => o.outcome.state === 'dropped').map((o) => o.id)).toEqual([4, 5]);
  });

  it('on close, cuts the attempt in progress short and records it and the queued ones as failed', async () => {
    const silent = createServer(() => undefined);
    servers.push(silent);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
    const { n, outcomes } = notifier(0, { concurrency: 1 });
    n.enqueue({ id: 1, url, payload });
    n.enqueue({ id: 2, url, payload });
    await new Promise((r) => setTimeout(r, 100));
    await n.close();
    expect(outcomes.map((o) => [o.id, o.outcome.state, o.outcome.attempts])).toEqual([
      [2, 'failed', 0],
      [1, 'failed', 1],
    ]);
    n.enqueue({ id: 3, url, payload });
    expect(outcomes.at(-1)).toMatchObject({ id: 3, outcome: { state: 'dropped' } });
  });
});

describe('checkWebhookUrl', () => {
  it('takes http and https URLs only, without credentials', () => {
    expect(checkWebhookUrl('https://hooks.example.com/alerts?token=x')).toBe('https://hooks.example.com/alerts?token=x');
    expect(checkWebhookUrl('http://127.0.0.1:9093/hook')).toBe('http://127.0.0.1:9093/hook');
    for (const bad of ['file:///etc/passwd', 'javascript:alert(1)', 'https://user:pw@example.com/', '/relative']) expect(() => checkWebhookUrl(bad)).toThrow();
  });
});
