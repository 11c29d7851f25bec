import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorBody, toContinuumError } from '../errors.js';
import { buildMlp, buildModel } from '../onnx/build.js';
import { Registry } from '../registry/index.js';
import { modelsApiPlugin } from './models.js';
import type { ModelsApiOptions } from './models.js';

const MAX_BYTES = 64 * 1024;
/** About 2 KiB: over the app's JSON body limit below, so pushes prove they stream past it. */
const model = buildMlp({ inputSize: 4, hiddenSizes: [64], outputSize: 3 });
const APP_BODY_LIMIT = 1024;

let dataDir: string;
let registry: Registry;
let app: FastifyInstance;
let base: string;

/** A Fastify app with the plugin under /api/v1 and the minimal ContinuumError → `{error, code}` handler the server installs. */
async function startApi(extra: Partial<ModelsApiOptions> = {}): Promise<void> {
  app = Fastify({ bodyLimit: APP_BODY_LIMIT });
  app.setErrorHandler((err, _request, reply) => {
    const e = toContinuumError(err);
    void reply.code(e.httpStatus).send(errorBody(e));
  });
  await app.register(modelsApiPlugin, { prefix: '/api/v1', registry, maxArtifactBytes: MAX_BYTES, ...extra });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/api/v1`;
}

async function call(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await request(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  // Response bodies are JSON of many shapes; tests assert on them field by field.
  return { status: res.statusCode, body: text === '' ? undefined : (JSON.parse(text) as any) };
}

async function pushRaw(name: string, bytes: Uint8Array | Readable, query = ''): Promise<{ status: number; body: any }> {
  const res = await request(`${base}/models/${name}/versions${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  // As in call(): JSON of many shapes, asserted field by field.
  return { status: res.statusCode, body: await res.body.json() };
}

function leftovers(): { temps: string[]; blobs: string[] } {
  const root = join(dataDir, 'blobs', 'sha256');
  return { temps: readdirSync(join(dataDir, 'tmp')), blobs: readdirSync(root).flatMap((d) => readdirSync(join(root, d))) };
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'continuum-api-'));
  registry = Registry.open(dataDir);
});

afterEach(async () => {
  await app.close();
  registry.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('POST /api/v1/models/:name/versions', () => {
  beforeEach(() => startApi());

  it('stores a raw octet-stream push with version and labels from the query', async () => {
    const res = await pushRaw('iris', model, '?version=1.0.0&labels=dataset=iris,owner=ml-team');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'iris',
      version: '1.0.0',
      size_bytes: model.length,
      labels: { dataset: 'iris', owner: 'ml-team' },
      aliases: [],
      signature: { inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }], outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 3] }] },
    });
    expect(res.body.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(typeof res.body.created_at).toBe('string');
    expect(model.length).toBeGreaterThan(APP_BODY_LIMIT);
  });

  it('stores a chunked raw push and numbers versions', async () => {
    await pushRaw('m', model);
    const res = await pushRaw('m', Readable.from([model.subarray(0, 50), model.subarray(50)]));
    expect(res.status).toBe(201);
    expect(res.body.version).toBe('2');
  });

  it('stores a multipart push with fields before and after the file', async () => {
    const form = new FormData();
    form.append('labels', JSON.stringify({ source: 'form' }));
    form.append('file', new Blob([model]), 'model.onnx');
    form.append('version', '7');
    const res = await fetch(`${base}/models/formed/versions`, { method: 'POST', body: form });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ name: 'formed', version: '7', labels: { source: 'form' }, size_bytes: model.length });
  });

  it('refuses a multipart form without a file, with an unknown field or bad labels', async () => {
    const noFile = new FormData();
    noFile.append('version', '1');
    const r1 = await fetch(`${base}/models/m/versions`, { method: 'POST', body: noFile });
    expect([r1.status, await r1.json()]).toEqual([400, { error: "the form has no 'file' field with the ONNX model", code: 'CONTINUUM_ERR_BAD_REQUEST' }]);
    const badLabels = new FormData();
    badLabels.append('labels', 'dataset=iris');
    badLabels.append('file', new Blob([model]), 'model.onnx');
    const r2 = await fetch(`${base}/models/m/versions`, { method: 'POST', body: badLabels });
    expect(r2.status).toBe(400);
    expect(((await r2.json()) as { error: string }).error).toContain("form field 'labels' must be a JSON object");
    expect(leftovers()).toEqual({ temps: [], blobs: [] });
  });

  it('refuses an oversized push with a declared length: 413, no blob, no temp file', async () => {
    const res = await pushRaw('big', new Uint8Array(MAX_BYTES + 1));
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: `model artifact is larger than the limit of ${MAX_BYTES} bytes`, code: 'CONTINUUM_ERR_MODEL_TOO_LARGE' });
    expect(leftovers()).toEqual({ temps: [], blobs: [] });
  });

  it('refuses an oversized chunked push while streaming: 413, no blob, no temp file', async () => {
    const chunks = Readable.from((function* () {
      for (let i = 0; i < 256; i++) yield new Uint8Array(64 * 1024);
    })());
    const res = await pushRaw('big', chunks);
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('CONTINUUM_ERR_MODEL_TOO_LARGE');
    expect(leftovers()).toEqual({ temps: [], blobs: [] });
    expect((await call('GET', '/models')).body).toEqual({ models: [] });
  });

  it('refuses an oversized multipart file: 413, no blob, no temp file', async () => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(MAX_BYTES + 10)]), 'model.onnx');
    // No declared length: the limit must hold while streaming.
    const res = await fetch(`${base}/models/big/versions`, { method: 'POST', body: form });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe('CONTINUUM_ERR_MODEL_TOO_LARGE');
    expect(leftovers()).toEqual({ temps: [], blobs: [] });
  });

  it('refuses a hostile model with 422 and says why', async () => {
    const hostile = buildModel({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [1] }],
      nodes: [{ op: 'Exec', domain: 'com.example.native', inputs: ['x'], outputs: ['y'] }],
    });
    const res = await pushRaw('evil', hostile);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('CONTINUUM_ERR_INVALID_MODEL');
    expect(res.body.error).toContain("uses operator domain 'com.example.native'");
    const junk = await pushRaw('junk', new TextEncoder().encode('not a model at all'));
    expect(junk.status).toBe(422);
    expect(leftovers()).toEqual({ temps: [], blobs: [] });
  });

  it('refuses a duplicate version with 409, a bad name with 400 and a JSON body with 415', async () => {
    await pushRaw('m', model, '?version=1');
    expect((await pushRaw('m', model, '?version=1')).body.code).toBe('CONTINUUM_ERR_VERSION_EXISTS');
    const badName = await pushRaw('Bad..Name', model);
    expect([badName.status, badName.body.code]).toEqual([400, 'CONTINUUM_ERR_BAD_REQUEST']);
    const form = new FormData();
    form.append('file', new Blob([model]), 'model.onnx');
    const badFormName = await fetch(`${base}/models/..%2Fetc/versions`, { method: 'POST', body: form });
    expect([badFormName.status, ((await badFormName.json()) as { code: string }).code]).toEqual([400, 'CONTINUUM_ERR_BAD_REQUEST']);
    const json = await call('POST', '/models/m/versions', { path: '/etc/passwd' });
    expect([json.status, json.body.code]).toEqual([415, 'CONTINUUM_ERR_UNSUPPORTED_MEDIA_TYPE']);
  });
});

describe('pushed-version hook', () => {
  it('takes the version back out when the hook fails', async () => {
    await startApi({
      onVersionPushed: (_name, version) => {
        if (version === '2') throw new Error('the runtime could not load it');
      },
    });
    expect((await pushRaw('m', model)).status).toBe(201);
    const failed = await pushRaw('m', model);
    expect(failed.status).toBe(500);
    expect(failed.body.error).toContain('the runtime could not load it');
    expect((await call('GET', '/models/m')).body.versions.map((v: { version: string }) => v.version)).toEqual(['1']);
  });
});

describe('model, version and alias routes', () => {
  beforeEach(async () => {
    await startApi();
    await pushRaw('iris', model, '?labels=stage=dev');
    await pushRaw('iris', buildMlp({ inputSize: 4, hiddenSizes: [], outputSize: 3, seed: 9 }));
  });

  it('lists models and shows one with its versions and aliases', async () => {
    const list = await call('GET', '/models');
    expect(list.body.models).toEqual([
      expect.objectContaining({ name: 'iris', version_count: 2, latest_version: '2', default_version: '2', aliases: {}, labels: {} }),
    ]);
    const detail = await call('GET', '/models/iris');
    expect(detail.body.versions.map((v: { version: string }) => v.version)).toEqual(['1', '2']);
    expect((await call('GET', '/models/nope')).status).toBe(404);
  });

  it('sets, moves, resolves and deletes aliases', async () => {
    const set = await call('PUT', '/models/iris/aliases/production', { version: '1' });
    expect([set.status, set.body.version, set.body.aliases]).toEqual([200, '1', ['production']]);
    expect((await call('GET', '/models/iris')).body.default_version).toBe('1');
    await call('PUT', '/models/iris/aliases/production', { version: '2' });
    expect((await call('GET', '/models/iris/versions/@production')).body.version).toBe('2');
    expect((await call('PUT', '/models/iris/aliases/production', { version: '9' })).status).toBe(404);
    expect((await call('PUT', '/models/iris/aliases/production', { version: 2 })).status).toBe(400);
    expect((await call('DELETE', '/models/iris/aliases/production')).status).toBe(204);
    expect((await call('DELETE', '/models/iris/aliases/production')).body.code).toBe('CONTINUUM_ERR_ALIAS_NOT_FOUND');
  });

  it('shows a version and patches version and model labels', async () => {
    const v1 = await call('GET', '/models/iris/versions/1');
    expect(v1.body.labels).toEqual({ stage: 'dev' });
    const patched = await call('PATCH', '/models/iris/versions/1', { labels: { stage: null, accuracy: '0.97' } });
    expect(patched.body.labels).toEqual({ accuracy: '0.97' });
    const model = await call('PATCH', '/models/iris', { labels: { team: 'vision' } });
    expect(model.body.labels).toEqual({ team: 'vision' });
    expect((await call('PATCH', '/models/iris', { labels: { team: 'vision' }, extra: 1 })).status).toBe(400);
    expect((await call('GET', '/models/iris/versions/3')).body.code).toBe('CONTINUUM_ERR_VERSION_NOT_FOUND');
  });

  it('deletes versions and models, refusing while in use', async () => {
    const release = registry.addUseCheck((_name, version) => (version === '2' ? 'it is loaded in the runtime' : undefined));
    const refused = await call('DELETE', '/models/iris/versions/2');
    expect(refused).toEqual({
      status: 409,
      body: { error: "version '2' of model 'iris' is in use: it is loaded in the runtime", code: 'CONTINUUM_ERR_VERSION_IN_USE' },
    });
    expect((await call('DELETE', '/models/iris')).status).toBe(409);
    expect((await call('DELETE', '/models/iris/versions/1')).status).toBe(204);
    release();
    expect((await call('DELETE', '/models/iris')).status).toBe(204);
    expect((await call('GET', '/models')).body).toEqual({ models: [] });
    expect(leftovers()).toEqual({ temps: [], blobs: [] });
  });
});
