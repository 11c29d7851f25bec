/**
 * `continuum models ...` run in-process (commander) against a real HTTP server with the models
 * API and a real registry in a temp directory.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelsApiPlugin } from '../src/api/models.js';
import { registerModelCommands } from '../src/cli/models.js';
import { ContinuumError, errorBody, isContinuumError, toContinuumError } from '../src/errors.js';
import type { ErrorCode } from '../src/errors.js';
import { buildIrisClassifier } from '../src/demo/iris.js';
import { buildMlp } from '../src/onnx/build.js';
import { Registry } from '../src/registry/index.js';

const TOKEN = 'test-token-1234';
const MAX_BYTES = 256 * 1024;

let dir: string;
let registry: Registry;
let app: FastifyInstance;
let server: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'continuum-cli-'));
  registry = Registry.open(join(dir, 'data'));
  app = Fastify();
  app.setErrorHandler((err, _request, reply) => {
    const e = toContinuumError(err);
    void reply.code(e.httpStatus).send(errorBody(e));
  });
  // A token check like the server's, so the test sees the CLI send its token.
  app.addHook('onRequest', async (request) => {
    if (request.headers.authorization !== `Bearer ${TOKEN}`) throw new ContinuumError('CONTINUUM_ERR_UNAUTHENTICATED', 'this API needs a token');
  });
  await app.register(modelsApiPlugin, { prefix: '/api/v1', registry, maxArtifactBytes: MAX_BYTES });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  server = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  writeFileSync(join(dir, 'iris.onnx'), buildIrisClassifier().model);
  writeFileSync(join(dir, 'mlp.onnx'), buildMlp({ inputSize: 4, hiddenSizes: [16], outputSize: 3 }));
  writeFileSync(join(dir, 'big.onnx'), new Uint8Array(4 * 1024 * 1024));
  writeFileSync(join(dir, 'notes.txt'), 'these are not the weights you are looking for');
});

afterAll(async () => {
  await app.close();
  registry.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `continuum <args>` in-process and returns what it printed. */
async function run(...args: string[]): Promise<string> {
  let printed = '';
  const program = new Command('continuum').version('0.0.0-test').exitOverride();
  registerModelCommands(program, { write: (text) => (printed += text) });
  await program.parseAsync(['node', 'continuum', ...args]);
  return printed;
}

/** `run` with the server and token options every command takes. */
function cli(...args: string[]): Promise<string> {
  return run(...args, '--server', server, '--token', TOKEN);
}

async function failure(promise: Promise<unknown>): Promise<{ code: ErrorCode; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (isContinuumError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('the command succeeded');
}

describe('continuum models', () => {
  it('pushes, lists, shows, aliases and removes models', async () => {
    const pushed = await cli('models', 'push', join(dir, 'iris.onnx'), '--name', 'iris', '--label', 'dataset=iris', '--label', 'owner=ml');
    expect(pushed).toMatch(/^Pushed iris version 1\n/);
    expect(pushed).toContain('Labels:   dataset=iris,owner=ml');
    expect(pushed).toMatch(/output\s+label\s+INT64\s+\[-1\]/);

    const json = JSON.parse(await cli('models', 'push', join(dir, 'mlp.onnx'), '--name', 'iris', '--version', '2.0.0', '--json')) as { version: string; size_bytes: number };
    expect(json.version).toBe('2.0.0');
    expect(registry.getVersion('iris', '2.0.0').size_bytes).toBe(json.size_bytes);

    const list = await cli('models', 'list');
    expect(list.split('\n')[0]).toMatch(/^NAME\s+VERSIONS\s+LATEST\s+DEFAULT\s+ALIASES\s+LABELS$/);
    expect(list).toMatch(/^iris\s+2\s+2\.0\.0\s+2\.0\.0\s+-\s+-$/m);

    expect(await cli('models', 'alias', 'iris', 'production', '1')).toBe('iris@production → version 1\n');
    const shown = await cli('models', 'show', 'iris');
    expect(shown).toContain('Default version:  1');
    expect(shown).toMatch(/^1\s+[0-9a-f]{12}\s+.*production\s+dataset=iris,owner=ml/m);
    const byAlias = JSON.parse(await cli('models', 'show', 'iris', '--version', '@production', '--json')) as { version: string };
    expect(byAlias.version).toBe('1');

    await cli('models', 'alias', 'iris', 'production', '--delete');
    expect(registry.getModel('iris').aliases).toEqual({});
    expect(await cli('models', 'rm', 'iris', '--version', '1')).toBe('Deleted version 1 of iris\n');
    expect(await cli('models', 'rm', 'iris')).toBe('Deleted model iris\n');
    expect(await cli('models', 'list', '--json')).toBe('{\n  "models": []\n}\n');
  });

  it("reports the server's errors with the server's code and message", async () => {
    expect(await failure(cli('models', 'show', 'ghost'))).toEqual({
      code: 'CONTINUUM_ERR_MODEL_NOT_FOUND',
      message: "model 'ghost' is not in the registry; push it with `continuum models push`",
    });
    const invalid = await failure(cli('models', 'push', join(dir, 'notes.txt'), '--name', 'notes'));
    expect(invalid.code).toBe('CONTINUUM_ERR_INVALID_MODEL');
    expect(await failure(run('models', 'list', '--server', server))).toEqual({ code: 'CONTINUUM_ERR_UNAUTHENTICATED', message: 'this API needs a token' });
    expect((await failure(cli('models', 'push', join(dir, 'iris.onnx'), '--name', 'x', '--label', 'bad label'))).code).toBe('CONTINUUM_ERR_BAD_REQUEST');
    const missing = await failure(cli('models', 'push', join(dir, 'missing.onnx'), '--name', 'x'));
    expect(missing.message).toMatch(/^cannot read .*missing\.onnx: ENOENT/);
    expect(await failure(cli('models', 'push', dir, '--name', 'x'))).toEqual({ code: 'CONTINUUM_ERR_BAD_REQUEST', message: `${dir} is not a file` });
  });

  it('reports an oversized file as too large and leaves nothing on the server', async () => {
    const tooBig = await failure(cli('models', 'push', join(dir, 'big.onnx'), '--name', 'big'));
    expect(tooBig).toEqual({ code: 'CONTINUUM_ERR_MODEL_TOO_LARGE', message: `model artifact is larger than the limit of ${MAX_BYTES} bytes` });
    expect(readdirSync(join(dir, 'data', 'tmp'))).toEqual([]);
  });

  it('says when no server is listening', async () => {
    const closed = Fastify();
    await closed.listen({ host: '127.0.0.1', port: 0 });
    const address = closed.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    await closed.close();
    const { code, message } = await failure(run('models', 'list', '--server', url));
    expect(code).toBe('CONTINUUM_ERR_SERVER_UNREACHABLE');
    expect(message).toBe(`cannot reach ${url} (ECONNREFUSED): is \`continuum serve\` running at ${url}?`);
  });
});
