import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import * as ort from 'onnxruntime-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isContinuumError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { buildMlp } from '../onnx/build.js';
import { Registry } from './registry.js';

const modelA = buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3, seed: 1 });
const modelB = buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3, seed: 2 });
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function codeOf(action: () => unknown): Promise<ErrorCode> {
  try {
    await action();
  } catch (err) {
    if (isContinuumError(err)) return err.code;
    throw err;
  }
  throw new Error('no error thrown');
}

function blobFiles(dataDir: string): string[] {
  const root = join(dataDir, 'blobs', 'sha256');
  return readdirSync(root).flatMap((d) => readdirSync(join(root, d)));
}

let dataDir: string;
let registry: Registry;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'continuum-registry-'));
  registry = Registry.open(dataDir);
});

afterEach(() => {
  registry.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('Registry pushes', () => {
  it('assigns versions 1, 2, ... and stores the artifact under its sha256', async () => {
    const v1 = await registry.pushVersion('iris', modelA, { labels: { dataset: 'iris' } });
    const v2 = await registry.pushVersion('iris', Readable.from([modelB.subarray(0, 100), modelB.subarray(100)]));
    expect([v1.version, v2.version]).toEqual(['1', '2']);
    expect(v1).toMatchObject({ name: 'iris', sha256: sha(modelA), size_bytes: modelA.length, labels: { dataset: 'iris' }, aliases: [] });
    expect(v1.signature.inputs).toEqual([{ name: 'input', datatype: 'FP32', shape: [-1, 4] }]);
    const path = join(dataDir, 'blobs', 'sha256', sha(modelB).slice(0, 2), sha(modelB));
    expect(readFileSync(path).equals(Buffer.from(modelB))).toBe(true);
    expect(registry.resolve('iris').artifactPath).toBe(path);
  });

  it('resolves to an artifact ONNX Runtime loads with the recorded signature', async () => {
    await registry.pushVersion('m', modelA);
    const resolved = registry.resolve('m');
    const session = await ort.InferenceSession.create(resolved.artifactPath);
    try {
      expect(session.inputNames).toEqual(resolved.signature.inputs.map((i) => i.name));
      expect(session.outputNames).toEqual(resolved.signature.outputs.map((o) => o.name));
      const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(8).fill(1), [2, 4]) });
      expect(out['output']?.dims).toEqual([2, 3]);
    } finally {
      await session.release();
    }
  });

  it('takes explicit versions, continues integers after them and never reuses a deleted number', async () => {
    await registry.pushVersion('m', modelA, { version: '5' });
    await registry.pushVersion('m', modelA, { version: '1.0.0-rc1' });
    expect((await registry.pushVersion('m', modelA)).version).toBe('6');
    registry.deleteVersion('m', '6');
    expect((await registry.pushVersion('m', modelA)).version).toBe('7');
  });

  it('refuses a duplicate version and leaves no temp file behind', async () => {
    await registry.pushVersion('m', modelA, { version: '1' });
    expect(await codeOf(() => registry.pushVersion('m', modelB, { version: '1' }))).toBe('CONTINUUM_ERR_VERSION_EXISTS');
    expect(registry.getVersion('m', '1').sha256).toBe(sha(modelA));
    expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]);
  });

  it('refuses path-like or malformed names, versions, aliases and labels', async () => {
    for (const name of ['../etc', 'a/b', 'UPPER', '', '.hidden', 'x'.repeat(64)]) {
      expect(await codeOf(() => registry.pushVersion(name, modelA))).toBe('CONTINUUM_ERR_BAD_REQUEST');
    }
    expect(await codeOf(() => registry.pushVersion('m', modelA, { version: '../1' }))).toBe('CONTINUUM_ERR_BAD_REQUEST');
    expect(await codeOf(() => registry.pushVersion('m', modelA, { labels: { 'Bad Key': 'x' } }))).toBe('CONTINUUM_ERR_BAD_REQUEST');
    expect(await codeOf(() => registry.pushVersion('m', modelA, { labels: { k: 'a,b' } }))).toBe('CONTINUUM_ERR_BAD_REQUEST');
    await registry.pushVersion('m', modelA);
    expect(await codeOf(() => registry.setAlias('m', '@prod', '1'))).toBe('CONTINUUM_ERR_BAD_REQUEST');
  });

  it('refuses an oversized upload while streaming and an invalid model, leaving nothing stored', async () => {
    const big = Readable.from((function* () {
      for (let i = 0; i < 100; i++) yield new Uint8Array(1024);
    })());
    expect(await codeOf(() => registry.pushVersion('m', big, { maxBytes: 10 * 1024 }))).toBe('CONTINUUM_ERR_MODEL_TOO_LARGE');
    expect(await codeOf(() => registry.pushVersion('m', new TextEncoder().encode('{"not": "onnx"}')))).toBe('CONTINUUM_ERR_INVALID_MODEL');
    expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]);
    expect(blobFiles(dataDir)).toEqual([]);
    expect(registry.listModels()).toEqual([]);
  });

  it('stops reading an endless upload as soon as it passes the limit', async () => {
    let pulled = 0;
    const endless = Readable.from((function* () {
      for (;;) {
        pulled += 1;
        yield new Uint8Array(1024);
      }
    })());
    expect(await codeOf(() => registry.pushVersion('m', endless, { maxBytes: 8 * 1024 }))).toBe('CONTINUUM_ERR_MODEL_TOO_LARGE');
    // Readable.from reads a little ahead of its consumer; far fewer than an unbounded read.
    expect(pulled).toBeLessThan(64);
    expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]);
  });

  it('stores identical content once', async () => {
    await registry.pushVersion('a', modelA);
    await registry.pushVersion('b', modelA);
    await registry.pushVersion('a', modelA);
    expect(blobFiles(dataDir)).toEqual([sha(modelA)]);
    registry.deleteModel('a');
    expect(blobFiles(dataDir)).toEqual([sha(modelA)]);
    registry.deleteModel('b');
    expect(blobFiles(dataDir)).toEqual([]);
  });
});

describe('Registry aliases, defaults and labels', () => {
  it('resolves the production alias by default, else the latest version', async () => {
    await registry.pushVersion('m', modelA);
    await registry.pushVersion('m', modelB);
    expect(registry.resolve('m').version).toBe('2');
    registry.setAlias('m', 'production', '1');
    expect(registry.resolve('m').version).toBe('1');
    expect(registry.listDefaults()).toEqual([{ name: 'm', version: '1' }]);
    expect(registry.resolveRef('m', '@production').version).toBe('1');
    expect(registry.resolveRef('m', '2').sha256).toBe(sha(modelB));
    expect(await codeOf(() => registry.resolveRef('m', '@staging'))).toBe('CONTINUUM_ERR_ALIAS_NOT_FOUND');
    expect(await codeOf(() => registry.resolve('m', '9'))).toBe('CONTINUUM_ERR_VERSION_NOT_FOUND');
    expect(await codeOf(() => registry.resolve('nope'))).toBe('CONTINUUM_ERR_MODEL_NOT_FOUND');
  });

  it('moves an alias atomically: one row, always pointing at a version', async () => {
    await registry.pushVersion('m', modelA);
    await registry.pushVersion('m', modelB);
    registry.setAlias('m', 'staging', '1');
    const moved = registry.setAlias('m', 'staging', '2');
    expect(moved.aliases).toEqual(['staging']);
    expect(registry.getVersion('m', '1').aliases).toEqual([]);
    expect(registry.getModel('m').aliases).toEqual({ staging: '2' });
    expect(await codeOf(() => registry.setAlias('m', 'staging', '3'))).toBe('CONTINUUM_ERR_VERSION_NOT_FOUND');
    expect(registry.getModel('m').aliases).toEqual({ staging: '2' });
    registry.deleteAlias('m', 'staging');
    expect(await codeOf(() => registry.deleteAlias('m', 'staging'))).toBe('CONTINUUM_ERR_ALIAS_NOT_FOUND');
  });

  it('deleting a version removes the aliases that pointed at it', async () => {
    await registry.pushVersion('m', modelA);
    await registry.pushVersion('m', modelB);
    registry.setAlias('m', 'production', '2');
    registry.deleteVersion('m', '2');
    expect(registry.getModel('m').aliases).toEqual({});
    expect(registry.resolve('m').version).toBe('1');
  });

  it('patches model and version labels (null removes a label)', async () => {
    await registry.pushVersion('m', modelA, { labels: { owner: 'ml-team', stage: 'dev' } });
    expect(registry.updateVersionLabels('m', '1', { stage: 'prod', owner: null }).labels).toEqual({ stage: 'prod' });
    expect(registry.updateModelLabels('m', { team: 'vision' }).labels).toEqual({ team: 'vision' });
    expect(await codeOf(() => registry.updateModelLabels('m', { 'no spaces': 'x' }))).toBe('CONTINUUM_ERR_BAD_REQUEST');
  });

  it('stores runtime options per model', async () => {
    await registry.pushVersion('m', modelA);
    expect(registry.getRuntimeOptions('m')).toEqual({});
    registry.setRuntimeOptions('m', { instances: 2, maxBatchSize: 16 });
    expect(registry.resolve('m').runtimeOptions).toEqual({ instances: 2, maxBatchSize: 16 });
    expect(await codeOf(() => registry.setRuntimeOptions('nope', {}))).toBe('CONTINUUM_ERR_MODEL_NOT_FOUND');
  });
});

describe('Registry deletes and garbage collection', () => {
  it('refuses to delete a version or model a use check says is in use', async () => {
    await registry.pushVersion('m', modelA);
    await registry.pushVersion('m', modelB);
    const remove = registry.addUseCheck((name, version) => (name === 'm' && version === '1' ? 'it is loaded in the runtime' : undefined));
    expect(await codeOf(() => registry.deleteVersion('m', '1'))).toBe('CONTINUUM_ERR_VERSION_IN_USE');
    expect(await codeOf(() => registry.deleteModel('m'))).toBe('CONTINUUM_ERR_VERSION_IN_USE');
    expect(registry.getModel('m').versions.map((v) => v.version)).toEqual(['1', '2']);
    registry.deleteVersion('m', '2');
    remove();
    registry.deleteModel('m');
    expect(await codeOf(() => registry.getModel('m'))).toBe('CONTINUUM_ERR_MODEL_NOT_FOUND');
    expect(blobFiles(dataDir)).toEqual([]);
  });

  it('gc removes unreferenced blobs and stale temp files but keeps referenced blobs', async () => {
    await registry.pushVersion('m', modelA);
    const orphan = '0'.repeat(64);
    writeFileSync(join(dataDir, 'blobs', 'sha256', sha(modelA).slice(0, 2), orphan), 'x');
    writeFileSync(join(dataDir, 'tmp', 'upload-crashed'), 'partial');
    expect(registry.gc()).toEqual({ blobs: 1, tempFiles: 1 });
    expect(blobFiles(dataDir)).toEqual([sha(modelA)]);
    expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]);
  });
});

describe('Registry persistence', () => {
  it('sees every model, version, alias, label and option after close and reopen', async () => {
    await registry.pushVersion('m', modelA, { labels: { a: '1' } });
    await registry.pushVersion('m', modelB);
    registry.setAlias('m', 'production', '1');
    registry.setRuntimeOptions('m', { instances: 3 });
    const before = registry.getModel('m');
    registry.close();
    registry = Registry.open(dataDir);
    expect(registry.getModel('m')).toEqual(before);
    expect(registry.getRuntimeOptions('m')).toEqual({ instances: 3 });
    expect(existsSync(registry.resolve('m').artifactPath)).toBe(true);
    expect((await registry.pushVersion('m', modelA)).version).toBe('3');
  });

  it('uses WAL mode and applies each migration once', () => {
    registry.close();
    registry = Registry.open(dataDir);
    const db = new Database(join(dataDir, 'continuum.db'), { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare('SELECT id FROM schema_migrations').all()).toEqual([{ id: 1 }]);
    } finally {
      db.close();
    }
  });
});
