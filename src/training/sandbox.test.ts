import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSandboxLimits, networkNamespaceAvailable, runInSandbox } from './sandbox.js';
import type { SandboxLimitsInput, SandboxOutcome } from './sandbox.js';
import { builtInDataset, parseManifest, resolveParameters } from './workflow.js';
import { packWorkflowDirectory } from './workflow-pack.js';

// These tests run dist/training/runner-main.js, which the suites' global setup compiles (test/global-setup.ts).
const FIXTURE = new URL('../../test/fixtures/workflows/iris-mlp/', import.meta.url);
const manifestText = readFileSync(new URL('manifest.json', FIXTURE), 'utf8');
const manifest = parseManifest(manifestText);
const dataset = builtInDataset(manifest, 'iris');

let root: string;
let dataDir: string;
let server: Server;
let connections = 0;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'continuum-sandbox-'));
  // A stand-in data directory with a secret next to the runs' work root.
  dataDir = join(root, 'data');
  mkdirSync(dataDir);
  writeFileSync(join(dataDir, 'continuum.db'), 'secret rows');
  server = createServer((socket) => {
    connections += 1;
    socket.end('hello');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

/** Packs a workflow whose train.js is `source` and runs it in the sandbox. */
async function runWorkflow(source: string, limits: SandboxLimitsInput = {}, log: string[] = []): Promise<SandboxOutcome> {
  const dir = mkdtempSync(join(root, 'pkg-'));
  writeFileSync(join(dir, 'manifest.json'), manifestText);
  writeFileSync(join(dir, 'train.js'), source);
  const archivePath = `${dir}.tar.gz`;
  writeFileSync(archivePath, await packWorkflowDirectory(dir));
  return runInSandbox({
    archivePath,
    entry: 'train.js',
    dataset,
    params: resolveParameters(manifest, {}),
    seed: 1,
    workRoot: join(dataDir, 'workflows', 'work'),
    limits: compileSandboxLimits({ timeoutMs: 30_000, ...limits }),
    allowUnisolatedNetwork: false,
    onLog: (line) => log.push(line),
  });
}

function errorOf(outcome: SandboxOutcome): string {
  expect(outcome.ok).toBe(false);
  return outcome.ok ? '' : outcome.error;
}

describe('sandboxed training runs', () => {
  it('trains the iris fixture with the platform trainers and measures the process', async () => {
    const log: string[] = [];
    const outcome = await runWorkflow(readFileSync(new URL('train.js', FIXTURE), 'utf8'), {}, log);
    if (!outcome.ok) throw new Error(outcome.error);
    expect(outcome.metrics['testAccuracy']).toBeGreaterThanOrEqual(0.9);
    expect(outcome.model.byteLength).toBeGreaterThan(100);
    expect(outcome.resources.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(outcome.resources.cpuMs).toBeGreaterThan(0);
    expect(outcome.network).toBe('namespace');
    expect(log.some((l) => l.includes('held-out accuracy'))).toBe(true);
  });

  it('can make a network namespace on this machine (root, unshare -n)', () => {
    expect(networkNamespaceAvailable()).toBe(true);
  });

  it('denies reading a file outside the work directory', async () => {
    const error = errorOf(await runWorkflow(`import { readFileSync } from 'node:fs';\nexport function train() { return { model: readFileSync('/etc/passwd'), metrics: {} }; }`));
    expect(error).toMatch(/denied by the sandbox: FileSystemRead \/etc\/passwd/);
  });

  it("denies reading the data directory around the work directory", async () => {
    const source = `import { readFileSync } from 'node:fs';\nexport function train() { return { model: readFileSync(process.cwd() + '/../../../continuum.db'), metrics: {} }; }`;
    const error = errorOf(await runWorkflow(source));
    expect(error).toMatch(/denied by the sandbox: FileSystemRead .*continuum\.db/);
  });

  it('denies writing outside the work directory', async () => {
    const target = join(root, 'escaped.txt');
    const error = errorOf(await runWorkflow(`import { writeFileSync } from 'node:fs';\nexport function train() { writeFileSync(${JSON.stringify(target)}, 'x'); }`));
    expect(error).toMatch(/denied by the sandbox: FileSystemWrite/);
    expect(existsSync(target)).toBe(false);
  });

  it('denies starting a child process and a worker thread', async () => {
    const spawnError = errorOf(await runWorkflow(`import { execSync } from 'node:child_process';\nexport function train() { execSync('id'); }`));
    expect(spawnError).toMatch(/denied by the sandbox: ChildProcess/);
    const workerError = errorOf(await runWorkflow(`import { Worker } from 'node:worker_threads';\nexport function train() { new Worker('1', { eval: true }); }`));
    expect(workerError).toMatch(/denied by the sandbox: WorkerThreads/);
  });

  it('refuses native addons, WASI and the inspector', async () => {
    const source = `import { WASI } from 'node:wasi';
import inspector from 'node:inspector';
export function train() {
  const refusals = [];
  for (const attempt of [() => process.dlopen({ exports: {} }, '/usr/lib/x86_64-linux-gnu/libc.so.6'), () => new WASI({ version: 'preview1' }), () => inspector.open(0)]) {
    try { attempt(); refusals.push('allowed'); } catch (err) { refusals.push(err.code); }
  }
  throw new Error(refusals.join(' '));
}`;
    expect(errorOf(await runWorkflow(source))).toMatch(/ERR_DLOPEN_DISABLED ERR_ACCESS_DENIED ERR_ACCESS_DENIED/);
  });

  it('has no network: a TCP connection to a listening loopback server fails', async () => {
    const { port } = server.address() as AddressInfo;
    const source = `import { connect } from 'node:net';
export function train() {
  return new Promise((resolve, reject) => {
    const socket = connect(${port}, '127.0.0.1');
    socket.on('data', () => resolve({ model: new Uint8Array(0), metrics: {} }));
    socket.on('error', reject);
  });
}`;
    const error = errorOf(await runWorkflow(source));
    expect(error).toMatch(/ENETUNREACH.*the sandbox has no network/);
    expect(connections).toBe(0);
  });

  it('stops a run whose heap grows past the heap limit', async () => {
    const source = `export function train() { const keep = []; for (;;) keep.push(new Array(100000).fill(Math.random())); }`;
    const error = errorOf(await runWorkflow(source, { maxHeapMb: 64 }));
    expect(error).toMatch(/ran out of memory: its heap passed 64 MiB/);
  });

  it('kills a run whose resident memory (buffers, off the heap) passes the memory limit', async () => {
    const source = `export async function train() { const keep = []; for (;;) { keep.push(Buffer.alloc(16 * 1024 * 1024, 1)); await new Promise((r) => setTimeout(r, 5)); } }`;
    const outcome = await runWorkflow(source, { maxRssBytes: 256 * 1024 * 1024 });
    expect(errorOf(outcome)).toMatch(/stopped: it used \d+ MiB of memory, over the limit of 256 MiB/);
    expect(outcome.resources.peakRssBytes).toBeGreaterThan(256 * 1024 * 1024);
  });

  it('refuses a file in the work directory larger than the model limit', async () => {
    const source = `import { writeFileSync } from 'node:fs';\nexport function train() { writeFileSync('out/filler.bin', Buffer.alloc(4 * 1024 * 1024)); }`;
    expect(errorOf(await runWorkflow(source, { maxModelBytes: 1024 * 1024 }))).toMatch(/EFBIG/);
  });

  it('kills a run that loops forever at the time limit', async () => {
    const started = Date.now();
    const error = errorOf(await runWorkflow(`export function train() { for (;;) {} }`, { timeoutMs: 1500 }));
    expect(error).toMatch(/stopped: it ran longer than 1500 ms/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('kills a run that prints past the output limit', async () => {
    const error = errorOf(await runWorkflow(`export function train() { for (;;) console.log('x'.repeat(1000)); }`, { maxOutputBytes: 64 * 1024 }));
    expect(error).toMatch(/printed more than 65536 bytes/);
  });

  it('refuses what train returns when it is not an ONNX model with finite metrics', async () => {
    const notOnnx = errorOf(await runWorkflow(`export function train() { return { model: new Uint8Array([1, 2, 3, 255]), metrics: {} }; }`));
    expect(notOnnx).toMatch(/not an ONNX model/);
    const fixture = readFileSync(new URL('train.js', FIXTURE), 'utf8').replace('testAccuracy }', 'testAccuracy: NaN }');
    expect(errorOf(await runWorkflow(fixture))).toMatch(/metric 'testAccuracy' is not a finite number/);
  });
});
