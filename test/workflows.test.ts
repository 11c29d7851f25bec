/**
 * Workflows end to end against a real `continuum serve` process: the iris fixture package pushed
 * as a .tar.gz over the API and as a directory by the CLI, trained on iris in the sandbox, its
 * model a new registry version with its lineage that serves over OIP, released through the gates;
 * a zip-slip package refused at upload; a hostile workflow's run failing with the sandbox's word.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packWorkflowDirectory } from '../src/training/index.js';
import type { WorkflowRun } from '../src/training/index.js';
import { cliAgainst, runCli } from './support/cli-process.js';
import type { CliProcess } from './support/cli-process.js';
import { api, inferJson, until } from './support/http.js';

const FIXTURE = new URL('./fixtures/workflows/iris-mlp/', import.meta.url).pathname;

let dir: string;
let server: CliProcess;
let url: string;
let cli: (...args: string[]) => Promise<string>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'continuum-workflows-'));
  server = runCli(['serve', '--port', '0', '--grpc-port', '0', '--no-mqtt', '--no-demo', '--data-dir', join(dir, 'data')]);
  [, url = ''] = await server.waitFor(/serving at (http:\/\/\S+) /);
  cli = cliAgainst(url);
});

afterAll(async () => {
  server.child.kill('SIGTERM');
  await server.exited;
  rmSync(dir, { recursive: true, force: true });
});

async function upload(bytes: Uint8Array, contentType: string): Promise<{ status: number; body: { name?: string; version?: string; digest?: string; error?: string; code?: string } }> {
  const res = await request(`${url}/api/v1/workflows`, { method: 'POST', headers: { 'content-type': contentType }, body: bytes });
  return { status: res.statusCode, body: (await res.body.json()) as { name?: string; error?: string; code?: string } };
}

async function finished(name: string, id: number): Promise<WorkflowRun> {
  return (await until('the run to end', () => api<WorkflowRun>(url, 'GET', `/workflows/${name}/runs/${id}`), (r) => r.body.status !== 'running', 60_000)).body;
}

describe('workflows on a running server', () => {
  it('pushes a .tar.gz, trains it on iris in the sandbox, and the new version serves over OIP', async () => {
    const pushed = await upload(await packWorkflowDirectory(FIXTURE), 'application/gzip');
    expect(pushed.status).toBe(201);
    expect(pushed.body).toMatchObject({ name: 'iris-mlp', version: '1.0.0', digest: expect.stringMatching(/^[0-9a-f]{64}$/) });

    const started = await api<{ id: number; status: string }>(url, 'POST', '/workflows/iris-mlp/runs', { dataset: 'iris', parameters: { epochs: 150 } });
    expect(started).toMatchObject({ status: 202, body: { status: 'running' } });
    const run = await finished('iris-mlp', started.body.id);
    expect(run).toMatchObject({ workflow: 'iris-mlp', status: 'succeeded', modelVersion: '1', network: 'namespace' });
    expect(run.metrics?.['testAccuracy']).toBeGreaterThanOrEqual(0.9);
    expect(run.resources?.peakRssBytes).toBeGreaterThan(0);
    expect(run.log.some((l) => l.includes('held-out accuracy'))).toBe(true);

    const version = await api<{ labels: Record<string, string> }>(url, 'GET', '/models/iris-mlp/versions/1');
    expect(version.body.labels).toMatchObject({ workflow: 'iris-mlp', 'workflow-version': '1.0.0', 'workflow-run': String(run.id), dataset: 'iris' });
    expect(Number(version.body.labels['metric.testaccuracy'])).toBeGreaterThanOrEqual(0.9);

    // A setosa and a virginica from the iris set.
    const answer = await until(
      'the trained model to serve',
      () => inferJson(url, 'iris-mlp', { inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }] }),
      (a) => a.status === 200,
    );
    expect(answer.body.outputs?.find((o) => o.name === 'label')?.data).toEqual([0, 2]);
  });

  it('pushes a directory with the CLI, trains with --param and --release --wait, and the release passes its gates', async () => {
    const work = mkdtempSync(join(dir, 'pkg-'));
    writeFileSync(join(work, 'manifest.json'), readFileSync(join(FIXTURE, 'manifest.json'), 'utf8').replace('"1.0.0"', '"1.1.0"'));
    writeFileSync(join(work, 'train.js'), readFileSync(join(FIXTURE, 'train.js'), 'utf8'));
    expect(await cli('workflows', 'push', work)).toMatch(/pushed workflow iris-mlp 1\.1\.0/);
    expect(await cli('workflows', 'list')).toMatch(/iris-mlp\s+1\.1\.0[\s\S]*training network: isolated/);

    const printed = await cli('workflows', 'train', 'iris-mlp', '--dataset', 'iris', '--param', 'trainer=forest', '--release', '--wait', '--json');
    const run = JSON.parse(printed) as WorkflowRun;
    expect(run).toMatchObject({ status: 'succeeded', workflowVersion: '1.1.0', modelVersion: '2', input: { parameters: { trainer: 'forest', epochs: 200 } } });
    expect(run.releaseId).toBeGreaterThan(0);
    const release = await until('the release to end', () => api<{ status: string }>(url, 'GET', `/releases/${String(run.releaseId)}`), (r) => !['running', 'passed', 'rolling-out'].includes(r.body.status), 60_000);
    expect(release.body.status).toBe('released');
    expect(await cli('workflows', 'runs', 'iris-mlp')).toMatch(/succeeded\s+api\s+iris\s+iris-mlp:2/);
  });

  it('refuses a zip-slip package at upload and writes nothing outside', async () => {
    const tar = pack();
    tar.entry({ name: 'manifest.json' }, readFileSync(join(FIXTURE, 'manifest.json')));
    tar.entry({ name: '../../escaped.js' }, 'export const pwned = true;');
    tar.finalize();
    const bytes = await buffer(Readable.from(tar).pipe(createGzip()));
    const refused = await upload(bytes, 'application/gzip');
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'CONTINUUM_ERR_BAD_REQUEST', error: expect.stringMatching(/entry '\.\.\/\.\.\/escaped\.js' leaves or walks around its directory/) });
    expect(existsSync(join(dir, 'data', 'workflows', 'escaped.js'))).toBe(false);
    expect(existsSync(join(dir, 'data', 'escaped.js'))).toBe(false);
  });

  it("fails a hostile workflow's run with the sandbox's refusal", async () => {
    const work = mkdtempSync(join(dir, 'pkg-'));
    writeFileSync(join(work, 'manifest.json'), readFileSync(join(FIXTURE, 'manifest.json'), 'utf8').replace('"iris-mlp"', '"thief"'));
    writeFileSync(join(work, 'train.js'), `import { readFileSync } from 'node:fs';\nexport function train() { return { model: readFileSync(process.cwd() + '/../../../continuum.db'), metrics: {} }; }\n`);
    await cli('workflows', 'push', work);
    const started = await api<{ id: number }>(url, 'POST', '/workflows/thief/runs', { dataset: 'iris' });
    const run = await finished('thief', started.body.id);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/denied by the sandbox: FileSystemRead .*continuum\.db/);
    expect((await api(url, 'GET', '/models/thief')).status).toBe(404);
  });

  it('answers bad packages and requests with the catalogued codes, and deletes a workflow', async () => {
    const manifest = readFileSync(join(FIXTURE, 'manifest.json'), 'utf8');
    const packageOf = async (files: Record<string, string>): Promise<Buffer> => {
      const work = mkdtempSync(join(dir, 'pkg-'));
      for (const [name, text] of Object.entries(files)) writeFileSync(join(work, name), text);
      return packWorkflowDirectory(work);
    };
    expect((await upload(Buffer.from('{}'), 'application/json')).body.code).toBe('CONTINUUM_ERR_UNSUPPORTED_MEDIA_TYPE');
    const noEntry = await upload(await packageOf({ 'manifest.json': manifest.replace('"iris-mlp"', '"no-entry"') }), 'application/gzip');
    expect(noEntry).toMatchObject({ status: 422, body: { code: 'CONTINUUM_ERR_INVALID_WORKFLOW', error: expect.stringMatching(/entry train\.js is not a file of the package/) } });
    const changed = await upload(await packageOf({ 'manifest.json': manifest, 'train.js': 'export function train() {}' }), 'application/gzip');
    expect(changed).toMatchObject({ status: 409, body: { code: 'CONTINUUM_ERR_WORKFLOW_EXISTS' } });

    expect((await api<{ code: string }>(url, 'GET', '/workflows/nothing')).body.code).toBe('CONTINUUM_ERR_WORKFLOW_NOT_FOUND');
    const both = await api<{ error: string }>(url, 'POST', '/workflows/iris-mlp/runs', { dataset: 'iris', datasource: 'line-1' });
    expect(both).toMatchObject({ status: 400, body: { error: expect.stringMatching(/one of them/) } });
    const badParameter = await api<{ error: string }>(url, 'POST', '/workflows/iris-mlp/runs', { dataset: 'iris', parameters: { epochs: 0 } });
    expect(badParameter).toMatchObject({ status: 400, body: { error: "parameter 'epochs' is 0, below its minimum 1" } });
    expect((await api<{ code: string }>(url, 'GET', '/workflows/iris-mlp/runs/999')).body.code).toBe('CONTINUUM_ERR_RUN_NOT_FOUND');

    expect(await cli('workflows', 'show', 'iris-mlp')).toMatch(/Workflow:\s+iris-mlp 1\.1\.0[\s\S]*Parameters:\s+epochs=200 \(number\), trainer=mlp \(string\)[\s\S]*Versions:\s+1\.0\.0, 1\.1\.0/);
    // Retraining on a data source's samples: bound, shown with the workflow, and turned off again.
    expect(await cli('workflows', 'retrain', 'iris-mlp', '--datasource', 'line-1', '--every', '1h')).toMatch(/retraining iris-mlp: line-1 → iris-mlp, every 60 min, window 60 min; no run yet/);
    expect(await cli('workflows', 'show', 'iris-mlp')).toMatch(/Retraining:\s+line-1 → iris-mlp, every 60 min/);
    expect(await cli('workflows', 'retrain', 'iris-mlp', '--off')).toMatch(/retraining of iris-mlp is off/);
    expect(await cli('workflows', 'show', 'iris-mlp')).toMatch(/Retraining:\s+-/);

    expect(await cli('workflows', 'delete', 'thief')).toMatch(/deleted workflow thief/);
    expect((await api(url, 'GET', '/workflows/thief')).status).toBe(404);
  });
});
