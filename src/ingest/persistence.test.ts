import assert from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { DurablePersistence } from './persistence.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'continuum-broker-persistence-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The slice of node:test's TestContext that aedes-persistence's abstract suite uses. */
interface AbstractTestContext {
  plan(count: number): void;
  assert: typeof assert;
  diagnostic(message: string): void;
}

/**
 * aedes-persistence's own conformance suite (abstract.js), written for node:test, run under vitest:
 * each test gets a context whose assertions are counted against its `t.plan(n)`.
 */
describe("aedes-persistence's abstract suite", () => {
  const require = createRequire(import.meta.url);
  const abstract = require('aedes-persistence/abstract.js') as (opts: { test: (name: string, fn: (t: AbstractTestContext) => Promise<void>) => void; persistence: () => unknown; testAsync: boolean }) => void;
  abstract({
    testAsync: true,
    persistence: () => new DurablePersistence({ dataDir: tempDir() }),
    test: (name, fn) => {
      it(name, async () => {
        let planned: number | undefined;
        let made = 0;
        const counted = new Proxy(assert, {
          get: (target, key) => {
            const value = Reflect.get(target, key) as unknown;
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              made++;
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        });
        await fn({ plan: (n) => (planned = n), assert: counted, diagnostic: () => {} });
        if (planned !== undefined) expect(made).toBe(planned);
      });
    },
  });
});

describe('the broker journal', () => {
  it('has committed a queued message by the time the enqueue resolves, in one transaction for a burst', async () => {
    const dir = tempDir();
    const persistence = new DurablePersistence({ dataDir: dir, commitDelayMs: 50 });
    await persistence.setup({ id: 'broker-1' });
    const reader = new Database(join(dir, 'broker.db'), { readonly: true });
    const count = (): number => (reader.prepare('SELECT count(*) AS n FROM broker_outgoing').get() as { n: number }).n;
    const packet = { cmd: 'publish', topic: 'plant/line1/temp', payload: Buffer.from('21.5'), qos: 1, retain: false, brokerId: 'broker-1' };
    const burst = Array.from({ length: 100 }, (_, i) => persistence.outgoingEnqueue({ clientId: 'historian' }, { ...packet, brokerCounter: i + 1 }));
    expect(count()).toBe(0);
    await Promise.all(burst);
    expect(count()).toBe(100);
    reader.close();
    await persistence.destroy();
  });
});
