/**
 * The web console in a real browser — Debian's chromium driven by playwright-core — against a real
 * server with real replica processes: upload a model, deploy it, infer from the try-it panel and
 * watch the throughput chart move, push a second version, start a canary from the form and roll it
 * back with the abort button; the token prompt on a server that demands one; both viewport sizes
 * without horizontal overflow; the first load's JavaScript within its budget; the events page on
 * the global event log's contract (list, stream, resume by Last-Event-ID); and the static
 * serving itself (client routes, cache headers, no path traversal, `console: false`).
 * Screenshots go to test-artifacts/console/. A missing chromium fails the suite: it never skips.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import mqtt from 'mqtt';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsoleBuilt } from '../console/build.js';
import type { DeploymentStatus } from '../src/deploy/index.js';
import { buildCandidateFamily } from '../src/onnx/candidates.js';
import type { RolloutDetail } from '../src/rollout/index.js';
import { packWorkflowDirectory } from '../src/training/index.js';
import type { RunningServer, ServeOptions } from '../src/server/index.js';
import { api } from './support/http.js';
import { TestServers } from './support/servers.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ARTIFACTS = join(ROOT, 'test-artifacts', 'console');
const IRIS_WORKFLOW = join(ROOT, 'test', 'fixtures', 'workflows', 'iris-mlp');
/** First-load JavaScript budget, gzipped. */
const FIRST_LOAD_JS_BUDGET_BYTES = 300 * 1024;
/** How long the page may take to show what the server already did (polls run every 1–3 s). */
const WAIT = { timeout: 15_000 };
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

const INPUT_SIZE = 8;
const family = buildCandidateFamily({ inputSize: INPUT_SIZE, hiddenSizes: [16], outputSize: 3, seed: 5 });
const MODEL = 'scorer';

let browser: Browser;
const servers = new TestServers('continuum-console-', { demo: false });

function serve(options: ServeOptions = {}): Promise<RunningServer> {
  return servers.start(options);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`the console's browser tests need Debian's chromium at ${CHROMIUM}: apt-get install chromium`);
  ensureConsoleBuilt(ROOT);
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});

afterAll(async () => {
  await browser?.close();
  await servers.closeAll();
});

/** A page that fails the test on any uncaught script error. */
async function openPage(viewport: { width: number; height: number }): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  return { page, errors };
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Whether the page is wider than the viewport (a horizontal scroll bar). */
async function overflowsHorizontally(page: Page): Promise<boolean> {
  // A string: the test's TypeScript has no DOM types, the page has.
  return (await page.evaluate('document.documentElement.scrollWidth > window.innerWidth')) === true;
}

async function rolloutsOf(server: RunningServer): Promise<RolloutDetail[]> {
  return (await api<{ rollouts: RolloutDetail[] }>(server.url, 'GET', '/rollouts')).body.rollouts;
}

describe('web console in chromium', () => {
  it('uploads, deploys, infers, charts, starts a canary and rolls it back, all from the UI', async () => {
    const server = await serve();
    const files = servers.tempDir('continuum-console-models-');
    writeFileSync(join(files, 'scorer-v1.onnx'), family.good);
    writeFileSync(join(files, 'scorer-v2.onnx'), family.goodRetrained);
    const { page, errors } = await openPage(VIEWPORTS.desktop);

    // First load: every script the page runs, gzipped, within the budget.
    const scripts: Promise<number>[] = [];
    page.on('response', (res) => {
      if (res.request().resourceType() === 'script') scripts.push(res.body().then((b) => gzipSync(b).length));
    });
    const first = await page.goto(`${server.url}/models`);
    expect(first?.status()).toBe(200);
    await page.getByRole('heading', { name: 'Models' }).waitFor();
    const firstLoadJs = (await Promise.all(scripts)).reduce((a, b) => a + b, 0);
    process.stdout.write(`console: first load ${(firstLoadJs / 1024).toFixed(1)} KB of gzipped JavaScript (budget ${FIRST_LOAD_JS_BUDGET_BYTES / 1024} KB)\n`);
    expect(firstLoadJs).toBeGreaterThan(0);
    expect(firstLoadJs).toBeLessThanOrEqual(FIRST_LOAD_JS_BUDGET_BYTES);

    // Upload version 1 as a new model.
    const upload = page.getByRole('form', { name: 'Upload a version' });
    await upload.getByLabel('model name').fill(MODEL);
    await upload.getByLabel('ONNX file').setInputFiles(join(files, 'scorer-v1.onnx'));
    await upload.getByRole('button', { name: 'Upload' }).click();
    await page.waitForURL(`**/models/${MODEL}`);
    await expect.poll(() => page.getByTestId('versions').locator('tbody tr').count()).toBe(1);
    await page.getByText(`input: FP32 [-1, ${INPUT_SIZE}]`).waitFor();
    await screenshot(page, 'model-desktop');

    // Deploy it on one fixed replica.
    const deploy = page.getByRole('form', { name: 'Deploy' });
    await deploy.getByLabel('policy').selectOption('fixed');
    await deploy.getByLabel('replicas').fill('1');
    await deploy.getByRole('button', { name: 'Deploy' }).click();
    await page.waitForURL(`**/deployments/${MODEL}`);
    await expect.poll(() => page.getByTestId('replicas').textContent(), { timeout: 20_000 }).toBe('1 / 1');

    // Inferences from the try-it panel: the form starts from the signature (a batch of one).
    const tryIt = page.getByRole('region', { name: 'Try it' });
    await tryIt.getByLabel('shape').waitFor();
    expect(await tryIt.getByLabel('shape').inputValue()).toBe(`1, ${INPUT_SIZE}`);
    await tryIt.getByLabel('values').fill(Array.from({ length: INPUT_SIZE }, (_, i) => i / 10).join(', '));
    for (let i = 0; i < 30; i++) {
      await tryIt.getByRole('button', { name: 'Send inference' }).click();
      await expect.poll(() => tryIt.getByRole('button', { name: 'Send inference' }).isEnabled(), WAIT).toBe(true);
    }
    const outputs = tryIt.getByTestId('infer-outputs');
    const answer = await outputs.textContent();
    expect(answer).toContain('output');
    expect(answer).toContain('[1, 3]');
    expect(answer).toContain('answered by version 1');

    // The charts move: the throughput series gets non-zero points.
    await expect.poll(async () => Number(await page.locator('[data-chart="throughput"]').getAttribute('data-max')), WAIT).toBeGreaterThan(0);
    expect(Number(await page.locator('[data-chart="replicas"]').getAttribute('data-max'))).toBeGreaterThan(0);
    // A refused inference shows the server's message.
    await tryIt.getByLabel('shape').fill('1, 3');
    await tryIt.getByLabel('values').fill('1, 2, 3');
    await tryIt.getByRole('button', { name: 'Send inference' }).click();
    await expect.poll(() => tryIt.getByTestId('infer-error').textContent(), WAIT).toContain('shape');
    await screenshot(page, 'deployment-desktop');

    // Version 2 from the model page, then a canary from the rollouts form.
    await page.getByRole('link', { name: `${MODEL}:1` }).click();
    await page.waitForURL(`**/models/${MODEL}`);
    await page.getByRole('form', { name: 'Upload a version' }).getByLabel('ONNX file').setInputFiles(join(files, 'scorer-v2.onnx'));
    await page.getByRole('form', { name: 'Upload a version' }).getByRole('button', { name: 'Upload' }).click();
    await expect.poll(() => page.getByTestId('versions').locator('tbody tr').count()).toBe(2);

    await page.getByRole('link', { name: 'Rollouts' }).click();
    const start = page.getByRole('form', { name: 'Start a rollout' });
    await start.getByLabel('deployment').selectOption(MODEL);
    await start.getByLabel('candidate version').selectOption('2');
    await start.getByLabel('strategy').selectOption('canary');
    await start.getByLabel('steps').fill('20, 100');
    await start.getByLabel('bake (s)').fill('600');
    await start.getByLabel('analysis interval (s)').fill('1');
    await start.getByRole('button', { name: 'Start rollout' }).click();
    await page.waitForURL('**/rollouts/1');
    await expect.poll(() => page.getByTestId('rollout-status').textContent(), WAIT).toBe('progressing');
    await page.getByText('20% to the candidate').waitFor({ timeout: 20_000 });
    const started = await rolloutsOf(server);
    expect(started.map((r) => [r.strategy, r.candidateVersion, r.spec.analysisIntervalMs])).toEqual([['canary', '2', 1000]]);
    await screenshot(page, 'rollout-desktop');

    // Roll it back with the abort button.
    await page.getByRole('button', { name: 'Abort (roll back)' }).click();
    await expect.poll(() => page.getByTestId('rollout-status').textContent(), WAIT).toBe('aborted');
    expect(await page.getByRole('button', { name: 'Promote' }).isDisabled()).toBe(true);
    expect((await rolloutsOf(server))[0]?.state.status).toBe('aborted');
    const d = await api<DeploymentStatus>(server.url, 'GET', `/deployments/${MODEL}`);
    expect(d.body.revision.spec.version).toBe('1');

    // The event log shows the rollout's end.
    await page.getByRole('link', { name: 'Events' }).click();
    await expect.poll(() => page.getByTestId('events').textContent(), WAIT).toContain('rollout-aborted');
    await screenshot(page, 'events-desktop');

    // The overview lists the deployment with its replicas and policy.
    await page.getByRole('link', { name: 'Overview' }).click();
    const row = page.getByRole('row').filter({ hasText: `${MODEL}:1` });
    await expect.poll(() => row.textContent(), WAIT).toContain('1 / 1');
    expect(await row.textContent()).toContain('fixed');
    await screenshot(page, 'overview-desktop');

    // Every page fits both viewports without a horizontal scroll bar.
    for (const [size, viewport] of Object.entries(VIEWPORTS)) {
      await page.setViewportSize(viewport);
      for (const [name, path] of [
        ['overview', '/'],
        ['model', `/models/${MODEL}`],
        ['deployment', `/deployments/${MODEL}`],
        ['rollouts', '/rollouts'],
        ['rollout', '/rollouts/1'],
        ['events', '/events'],
      ] as const) {
        await page.goto(`${server.url}${path}`);
        await page.locator('main h1').waitFor();
        await page.waitForLoadState('networkidle').catch(() => undefined);
        expect(await overflowsHorizontally(page), `${name} at ${size} overflows horizontally`).toBe(false);
        if (size === 'phone') await screenshot(page, `${name}-phone`);
      }
    }
    expect(errors).toEqual([]);
  }, 180_000);

  it('uploads a workflow and trains it on iris, adds a data source that counts MQTT messages and exports its samples, all from the UI', async () => {
    const server = await serve({ mqttPort: 0 });
    const files = servers.tempDir('continuum-console-workflow-');
    const archive = join(files, 'iris-mlp.tar.gz');
    writeFileSync(archive, await packWorkflowDirectory(IRIS_WORKFLOW));
    const { page, errors } = await openPage(VIEWPORTS.desktop);

    // Upload the package: the page of the workflow opens with its manifest.
    await page.goto(`${server.url}/workflows`);
    const upload = page.getByRole('form', { name: 'Upload a workflow' });
    await upload.getByLabel('package').setInputFiles(archive);
    await upload.getByRole('button', { name: 'Upload' }).click();
    await page.waitForURL('**/workflows/iris-mlp');
    await page.getByText('setosa, versicolor, virginica').waitFor();

    // Train on the built-in iris set with the forest trainer: a run that succeeds with its accuracy.
    const train = page.getByRole('form', { name: 'Train' });
    await train.getByLabel('data').selectOption('dataset:iris');
    await train.getByLabel('trainer').selectOption('forest');
    await train.getByRole('button', { name: 'Start training' }).click();
    const run = page.getByTestId('runs').locator('tbody tr').first();
    await expect.poll(() => run.textContent(), { timeout: 60_000 }).toContain('succeeded');
    expect(Number(/(\d+(?:\.\d)?)%/.exec((await run.textContent()) ?? '')?.[1])).toBeGreaterThanOrEqual(85);
    await run.click();
    await page.getByRole('region', { name: 'Run log' }).waitFor();
    await screenshot(page, 'workflow-desktop');

    // A data source from the form; messages published over MQTT show in its counters.
    await page.getByRole('link', { name: 'Data sources' }).click();
    const add = page.getByRole('form', { name: 'Add a data source' });
    await add.getByLabel('name', { exact: true }).fill('line1');
    await add.getByLabel(/topic filter/).fill('plant/+/flowers');
    await add.getByLabel(/^fields/).fill('sepal_length, sepal_width, petal_length, petal_width');
    await add.getByLabel('deployment').fill('iris-mlp');
    await add.getByLabel(/label field/).fill('species');
    await add.getByRole('button', { name: 'Add' }).click();
    const row = page.getByTestId('datasources').locator('tbody tr', { hasText: 'line1' });
    await row.waitFor();
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${server.mqttPort ?? 0}`);
    for (let i = 0; i < 12; i++) {
      await client.publishAsync('plant/a/flowers', JSON.stringify({ sepal_length: 5 + i / 10, sepal_width: 3.4, petal_length: 1.5, petal_width: 0.2, species: 'setosa' }), { qos: 1 });
    }
    await client.endAsync();
    await expect.poll(() => row.locator('td').nth(4).textContent(), WAIT).toBe('12');
    await screenshot(page, 'datasources-desktop');

    // Export CSV downloads the stored samples, a header and one line each.
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(download.suggestedFilename()).toBe('line1.csv');
    const csv = readFileSync(await download.path(), 'utf8').trim().split(/\r?\n/);
    expect(csv[0]).toBe('ts,sepal_length,sepal_width,petal_length,petal_width,label');
    expect(csv).toHaveLength(13);
    expect(csv[1]).toMatch(/,5,3\.4,1\.5,0\.2,setosa$/);

    // Delete: the row goes.
    await row.getByRole('button', { name: 'Delete line1' }).click();
    await expect.poll(() => page.getByTestId('datasources').locator('tbody tr').count(), WAIT).toBe(0);
    expect(errors).toEqual([]);
  });

  it('asks for the management token when the API answers 401, then works with it', async () => {
    const server = await serve({ host: '0.0.0.0' });
    expect(server.newToken).toBeDefined();
    const port = new URL(server.url).port;
    const { page, errors } = await openPage(VIEWPORTS.desktop);
    await page.goto(`http://127.0.0.1:${port}/`);
    const dialog = page.getByRole('dialog', { name: 'Management token' });
    await dialog.waitFor();
    await screenshot(page, 'token-desktop');
    await dialog.locator('input[name=token]').fill(server.newToken ?? '');
    await dialog.getByRole('button', { name: 'Use token' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByText('No deployments yet').waitFor({ timeout: 10_000 });
    expect(await page.evaluate("localStorage.getItem('continuum.token')")).toBe(server.newToken);
    expect(errors).toEqual([]);
  });
});

describe('events page against the global event log contract', () => {
  // The contract of `GET /api/v1/events` and `GET /api/v1/events/stream` (server-sent events with
  // `Last-Event-ID`), answered by the browser's request interception so the page's use of it is
  // checked whichever server build it runs against.
  it('lists the log, follows the stream, and resumes it from the last event id', async () => {
    const server = await serve();
    const { page, errors } = await openPage(VIEWPORTS.desktop);
    const event = (id: number, message: string): string =>
      JSON.stringify({ id, deployment: 'demo', at: new Date(Date.UTC(2026, 0, 1, 0, 0, id)).toISOString(), type: 'decision', message, data: {} });
    const lastEventIds: (string | undefined)[] = [];
    await page.route('**/api/v1/events?*', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: `{"events":[${event(1, 'from the log')}]}` }));
    await page.route('**/api/v1/events/stream', (route) => {
      const last = route.request().headers()['last-event-id'];
      lastEventIds.push(last);
      const next = Number(last ?? 0) + 1;
      // Each connection delivers one event (after a comment line), then ends; the page reconnects with the id it saw last.
      return route.fulfill({ status: 200, contentType: 'text/event-stream', body: `: comment\nid: ${next}\nevent: decision\ndata: ${event(next, `streamed ${next}`)}\n\n` });
    });
    await page.goto(`${server.url}/events`);
    await expect.poll(() => page.getByTestId('events').textContent(), WAIT).toContain('streamed 3');
    const text = (await page.getByTestId('events').textContent()) ?? '';
    expect(text).toContain('from the log');
    expect(text).toContain('streamed 2');
    expect(lastEventIds.slice(0, 2)).toEqual(['1', '2']);
    expect(errors).toEqual([]);
  });
});

describe('console static serving', () => {
  async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
    const res = await request(url, { headers });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  }

  it('serves index.html for client routes, hashed assets immutable, 304 on a matching ETag, and refuses traversal', async () => {
    const server = await serve();
    const index = await get(`${server.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(String(index.headers['content-security-policy'])).toContain("frame-ancestors 'none'");
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(index.text)?.[1];
    expect(asset).toBeDefined();
    const js = await get(`${server.url}${asset ?? ''}`, { 'accept-encoding': 'gzip' });
    expect(js.status).toBe(200);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['content-encoding']).toBe('gzip');
    expect((await get(`${server.url}/`, { 'if-none-match': String(index.headers['etag']) })).status).toBe(304);

    const route = await get(`${server.url}/deployments/anything`);
    expect(route.status).toBe(200);
    expect(route.text).toBe(index.text);

    for (const path of ['/assets/missing.js', '/assets/..%2f..%2fpackage.json', '/%2e%2e/package.json', '/assets/%5c..%5cindex.html']) {
      const res = await get(`${server.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.text).not.toContain('"dependencies"');
    }
    // The API, OIP and metrics prefixes keep their JSON 404.
    for (const path of ['/api/v1/nothing', '/v2/nothing', '/metrics/nothing']) {
      const res = await get(`${server.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(JSON.parse(res.text)).toMatchObject({ code: 'CONTINUUM_ERR_ROUTE_NOT_FOUND' });
    }
  });

  it('serves no console when turned off', async () => {
    const server = await serve({ console: false });
    const res = await get(`${server.url}/`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'CONTINUUM_ERR_ROUTE_NOT_FOUND' });
    expect((await get(`${server.url}/v2/health/live`)).status).toBe(200);
  });
});
