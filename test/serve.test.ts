/**
 * `continuum serve` end to end, as `npm start` runs it: a real process, the demo model, the
 * printed curl line run by a real shell, persistence across restart, the token on non-loopback
 * binds, and SIGTERM draining.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli-process.js';
import type { CliProcess } from './support/cli-process.js';

const running: CliProcess[] = [];
const dirs: string[] = [];

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'continuum-serve-'));
  dirs.push(d);
  return d;
}

function serve(args: readonly string[]): CliProcess {
  const p = runCli(['serve', '--port', '0', '--grpc-port', '0', ...args]);
  running.push(p);
  return p;
}

async function stop(p: CliProcess): Promise<number | string> {
  p.child.kill('SIGTERM');
  return p.exited;
}

afterEach(async () => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) await stop(p);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('continuum serve', () => {
  it('serves the demo model and its printed curl line returns a correct OIP response', async () => {
    const server = serve(['--data-dir', dataDir()]);
    const [, url] = await server.waitFor(/serving at (http:\/\/\S+) /);
    const [, curl] = await server.waitFor(/^\s+(curl .+)$/m);
    expect(curl).toContain(`${url}/v2/models/iris/infer`);
    const answer = JSON.parse(execFileSync('sh', ['-c', curl as string], { encoding: 'utf8' })) as {
      model_name: string;
      model_version: string;
      outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
    };
    expect(answer.model_name).toBe('iris');
    expect(answer.model_version).toBe('1');
    const label = answer.outputs.find((o) => o.name === 'label');
    const probabilities = answer.outputs.find((o) => o.name === 'probabilities');
    // The demo request holds a setosa (class 0) and a virginica (class 2).
    expect(label).toMatchObject({ datatype: 'INT64', shape: [2], data: [0, 2] });
    expect(probabilities?.shape).toEqual([2, 3]);
    expect(probabilities?.data.slice(0, 3).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(await stop(server)).toBe(0);
  });

  it('keeps the registry across restarts and registers the demo only once', async () => {
    const dir = dataDir();
    const first = serve(['--data-dir', dir]);
    const [, url1] = await first.waitFor(/serving at (http:\/\/\S+) /);
    await first.waitFor(/curl /);
    const models1 = (await (await fetch(`${url1}/api/v1/models`)).json()) as unknown;
    await stop(first);
    const second = serve(['--data-dir', dir]);
    const [, url2] = await second.waitFor(/serving at (http:\/\/\S+) /);
    await second.waitFor(/curl /);
    const models2 = (await (await fetch(`${url2}/api/v1/models`)).json()) as unknown;
    expect(models2).toEqual(models1);
    const ready = await fetch(`${url2}/v2/models/iris/ready`);
    expect(ready.status).toBe(200);
  });

  it('demands the token printed at first start when bound beyond loopback', async () => {
    const server = serve(['--data-dir', dataDir(), '--host', '0.0.0.0', '--no-demo']);
    const [, port] = await server.waitFor(/serving at http:\/\/0\.0\.0\.0:(\d+) /);
    const [, token] = await server.waitFor(/^\s+(ctm_\S+)$/m);
    const base = `http://127.0.0.1:${port}`;
    const anonymous = await fetch(`${base}/api/v1/models`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toMatch(/token/);
    // A percent-encoded spelling of the same route is guarded too.
    expect((await fetch(`${base}/%61pi/v1/models`)).status).toBe(401);
    const forged = await fetch(`${base}/api/v1/models`, { headers: { authorization: 'Bearer ctm_00000000_forged' } });
    expect(forged.status).toBe(401);
    const allowed = await fetch(`${base}/api/v1/models`, { headers: { authorization: `Bearer ${token}` } });
    expect(allowed.status).toBe(200);
  });

  it('answers in-flight requests before exiting on SIGTERM', async () => {
    const server = serve(['--data-dir', dataDir()]);
    const [, url] = await server.waitFor(/serving at (http:\/\/\S+) /);
    await server.waitFor(/curl /);
    const body = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] });
    let answered = 0;
    let signalled = 0;
    // A stream of requests; SIGTERM lands while many are queued or running.
    const inflight = Array.from({ length: 400 }, () =>
      fetch(`${url}/v2/models/iris/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(
        (r) => {
          answered += 1;
          if (answered === 50) {
            signalled = Date.now();
            server.child.kill('SIGTERM');
          }
          return r.status;
        },
        () => 'connection closed',
      ),
    );
    const statuses = await Promise.all(inflight);
    // Every request is answered (200, or 503 once draining began) or was never taken; none hangs.
    for (const s of statuses) expect([200, 503, 'connection closed']).toContain(s);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(50);
    expect(await server.exited).toBe(0);
    // Draining takes as long as the in-flight work, not the 30 s drain timeout.
    expect(Date.now() - signalled).toBeLessThan(10_000);
  });
});
