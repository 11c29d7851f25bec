/**
 * The local target with real replica processes and real ONNX Runtime: answers equal the
 * in-process runtime's, a replica killed with requests in flight leaves none hanging, stop()
 * drains, the warm pool skips spawn and import, a replica that stops answering is replaced by an
 * error, and replicas die with their parent.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContinuumError } from '../src/errors.js';
import type { ErrorCode } from '../src/errors.js';
import type { Datatype, InferRequest, InferResponse, Signature, TensorData } from '../src/oip/types.js';
import { buildIdentity, buildMlp, buildModel } from '../src/onnx/build.js';
import { Runtime } from '../src/runtime/index.js';
import type { ModelRuntimeOptions, ResolvedModelVersion } from '../src/runtime/index.js';
import { LocalTarget } from '../src/targets/index.js';
import type { Replica, ReplicaExit, ReplicaSpec } from '../src/targets/index.js';
import { TempDirModelSource } from './support/temp-model-source.js';

const dir = mkdtempSync(join(tmpdir(), 'continuum-local-target-'));
const source = new TempDirModelSource(dir);
const targets: LocalTarget[] = [];
const runtimes: Runtime[] = [];
afterAll(async () => {
  await Promise.all([...targets.map((t) => t.close()), ...runtimes.map((r) => r.close())]);
  rmSync(dir, { recursive: true, force: true });
});

function target(options: ConstructorParameters<typeof LocalTarget>[0] = {}): LocalTarget {
  const t = new LocalTarget({ warmPoolSize: 0, ...options });
  targets.push(t);
  return t;
}

function model(name: string, bytes: Uint8Array, signature: Signature, runtimeOptions: ModelRuntimeOptions = {}): ResolvedModelVersion {
  return source.add(name, '1', bytes, signature, runtimeOptions).resolve(name, '1');
}

const spec = (m: ResolvedModelVersion): ReplicaSpec => ({ deployment: `dep-${m.name}`, revision: 1, model: m });

async function rejection(promise: Promise<unknown>): Promise<ContinuumError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ContinuumError);
    return err as ContinuumError;
  }
  throw new Error('expected a rejection, but it succeeded');
}

const exitOf = (replica: Replica): Promise<ReplicaExit> => new Promise((resolve) => replica.onExit(resolve));

/** Whether `pid` is a live process (a zombie, exited but not yet reaped, is not). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const MLP = model('mlp', buildMlp({ inputSize: 16, hiddenSizes: [64, 64], outputSize: 4, seed: 7 }), {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 16] }],
  outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 4] }],
});
const mlpRequest = (k: number, rows = 1): InferRequest => ({
  id: `req-${k}`,
  inputs: [{ name: 'input', datatype: 'FP32', shape: [rows, 16], data: Float32Array.from({ length: rows * 16 }, (_, i) => Math.sin(i + k)) }],
});

/** x [batch, 512] through 24 MatMuls: each request takes milliseconds, so requests stay in flight. */
const SLOW = model(
  'slow',
  buildModel({
    inputs: [{ name: 'x', datatype: 'FP32', shape: ['batch', 512] }],
    outputs: [{ name: 'y', datatype: 'FP32', shape: ['batch', 512] }],
    initializers: [{ name: 'W', dims: [512, 512], values: Float32Array.from({ length: 512 * 512 }, (_, i) => ((i % 7) - 3) / 512) }],
    nodes: Array.from({ length: 24 }, (_, i) => ({ op: 'MatMul', inputs: [i === 0 ? 'x' : `h${i}`, 'W'], outputs: [i === 23 ? 'y' : `h${i + 1}`] })),
  }),
  { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 512] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 512] }] },
  // One request per run: a queue of requests drains one by one.
  { maxBatchSize: 0 },
);
const slowRequest = (): InferRequest => ({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 512], data: new Float32Array(512).fill(0.5) }] });

describe('a replica in its own process', () => {
  it('answers exactly what the in-process runtime answers, datatypes, ids and errors included', async () => {
    const datatypes: Datatype[] = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'];
    const identity = model('identity', buildIdentity(datatypes.map((datatype) => ({ datatype, shape: ['b', 2] }))), {
      inputs: datatypes.map((datatype, i) => ({ name: `in_${i}`, datatype, shape: [-1, 2] })),
      outputs: datatypes.map((datatype, i) => ({ name: `out_${i}`, datatype, shape: [-1, 2] })),
    });
    const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
    const samples: Record<Datatype, TensorData> = {
      BOOL: Uint8Array.from([1, 0]),
      UINT8: Uint8Array.from([0, 255]),
      UINT16: Uint16Array.from([0, 65535]),
      UINT32: Uint32Array.from([0, 4294967295]),
      UINT64: BigUint64Array.from([0n, 18446744073709551615n]),
      INT8: Int8Array.from([-128, 127]),
      INT16: Int16Array.from([-32768, 32767]),
      INT32: Int32Array.from([-2147483648, 2147483647]),
      INT64: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]),
      FP16: Uint16Array.from([0x7c00, 0x7bff]),
      FP32: Float32Array.from([3.4028234663852886e38, -0]),
      FP64: Float64Array.from([Number.MIN_VALUE, -Infinity]),
      BYTES: [utf8('héllo'), utf8('日本語 🚀')],
    };
    const identityRequest: InferRequest = {
      id: 'all-types',
      outputs: [{ name: 'out_12' }, { name: 'out_4' }, { name: 'out_9' }],
      inputs: datatypes.map((datatype, i) => ({ name: `in_${i}`, datatype, shape: [1, 2], data: samples[datatype] })),
    };

    const runtime = new Runtime({ source });
    runtimes.push(runtime);
    await Promise.all([runtime.loadModel('mlp'), runtime.loadModel('identity')]);
    const local = target();
    const [mlpReplica, identityReplica] = await Promise.all([local.startReplica(spec(MLP)), local.startReplica(spec(identity))]);
    expect(mlpReplica.state).toBe('ready');
    expect(mlpReplica.pid).not.toBe(process.pid);
    expect(isRunning(mlpReplica.pid)).toBe(true);

    const plain = (r: InferResponse): unknown =>
      JSON.parse(JSON.stringify({ ...r, outputs: r.outputs.map((o) => ({ ...o, data: Array.from(o.data as ArrayLike<unknown>, (v) => (v instanceof Uint8Array ? Array.from(v) : String(v))) })) }));
    // Several at once, of different batch sizes: the replica's batcher runs them together.
    const requests = [mlpRequest(1), mlpRequest(2, 3), mlpRequest(3), mlpRequest(4, 2)];
    const [direct, hopped] = await Promise.all([
      Promise.all(requests.map((r) => runtime.infer('mlp', undefined, r))),
      Promise.all(requests.map((r) => mlpReplica.infer(r))),
    ]);
    expect(hopped.map(plain)).toEqual(direct.map(plain));
    expect(hopped[1]?.outputs[0]?.shape).toEqual([3, 4]);
    const [directTypes, hoppedTypes] = await Promise.all([runtime.infer('identity', undefined, identityRequest), identityReplica.infer(identityRequest)]);
    expect(plain(hoppedTypes)).toEqual(plain(directTypes));
    expect(hoppedTypes.outputs.map((o) => o.name)).toEqual(['out_12', 'out_4', 'out_9']);

    // The replica's own errors arrive with their code; the replica keeps serving.
    const wrongShape: InferRequest = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: new Float32Array(3) }] };
    const [directError, hoppedError] = await Promise.all([rejection(runtime.infer('mlp', undefined, wrongShape)), rejection(mlpReplica.infer(wrongShape))]);
    expect([hoppedError.code, hoppedError.message]).toEqual([directError.code, directError.message]);
    expect(mlpReplica.inFlight).toBe(0);

    const stats = await mlpReplica.statistics();
    expect([stats.name, stats.version, stats.inference_count]).toEqual(['mlp', '1', 7]);
    const timings = mlpReplica.startupTimings;
    expect(timings.pooled).toBe(false);
    for (const phase of ['spawnMs', 'importMs', 'sessionMs', 'warmupMs'] as const) expect(timings[phase]).toBeGreaterThan(0);
    // Phases are measured on two processes' clocks (performance.timeOrigin): allow a millisecond of skew.
    expect(timings.readyMs).toBeGreaterThanOrEqual(timings.spawnMs + timings.importMs + timings.sessionMs + timings.warmupMs - 1);
  });

  it('refuses runtime options it cannot run before spawning, and reports a model that fails to load', async () => {
    const local = target();
    const bad = { ...MLP, runtimeOptions: { maxBatchSize: -1 } };
    expect((await rejection(local.startReplica(spec(bad)))).code).toBe('CONTINUUM_ERR_BAD_REQUEST');
    const missing = { ...MLP, name: 'missing', artifactPath: join(dir, 'no-such-model.onnx') };
    const err = await rejection(local.startReplica(spec(missing)));
    expect(err.code).toBe('CONTINUUM_ERR_LOAD_FAILED');
    expect(err.message).toMatch(/missing/);
    expect(local.replicas()).toHaveLength(0);
  });

  it('a process that dies while starting is reported as lost, with what it said on stderr', async () => {
    const err = await rejection(target({ nodeArgs: ['--require', join(dir, 'no-such-preload.cjs')] }).startReplica(spec(MLP)));
    expect(err.code).toBe('CONTINUUM_ERR_REPLICA_LOST');
    expect(err.message).toMatch(/exited with code 1|channel closed/);
    expect(err.message).toMatch(/no-such-preload/);
  });
});

describe('failures never leave a request hanging', () => {
  it('kill -9 with requests in flight: every pending request rejects at once as replica lost, and later ones too', async () => {
    const replica = await target().startReplica(spec(SLOW));
    const exit = exitOf(replica);
    const pending = Array.from({ length: 40 }, () => replica.infer(slowRequest()));
    const settled = Promise.allSettled(pending);
    await pending[0];
    expect(replica.inFlight).toBeGreaterThan(0);
    const killedAt = performance.now();
    process.kill(replica.pid, 'SIGKILL');
    const results = await settled;
    const settledAfterMs = performance.now() - killedAt;
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const r of rejected) {
      expect(r.reason).toBeInstanceOf(ContinuumError);
      expect((r.reason as ContinuumError).code).toBe('CONTINUUM_ERR_REPLICA_LOST' satisfies ErrorCode);
      expect((r.reason as ContinuumError).httpStatus).toBe(503);
    }
    // Noticed from the closed channel, not from a timeout (the health check would take 10 s).
    expect(settledAfterMs).toBeLessThan(5000);
    expect(replica.state).toBe('stopped');
    expect(replica.inFlight).toBe(0);
    expect(await exit).toMatchObject({ signal: 'SIGKILL', expected: false });
    expect((await rejection(replica.infer(slowRequest()))).code).toBe('CONTINUUM_ERR_REPLICA_LOST');
  });

  it('a replica that stops answering: overdue requests time out, then it is killed and the rest fail over', async () => {
    const replica = await target({ healthIntervalMs: 100, unresponsiveAfterMs: 1500, answerGraceMs: 0 }).startReplica(spec(MLP));
    const exit = exitOf(replica);
    process.kill(replica.pid, 'SIGSTOP');
    const withDeadline = replica.infer(mlpRequest(1), { deadlineMs: Date.now() + 200 });
    const withoutDeadline = replica.infer(mlpRequest(2));
    expect((await rejection(withDeadline)).code).toBe('CONTINUUM_ERR_TIMEOUT');
    expect(replica.state).toBe('ready');
    expect((await rejection(withoutDeadline)).code).toBe('CONTINUUM_ERR_REPLICA_LOST');
    const ended = await exit;
    expect(ended).toMatchObject({ signal: 'SIGKILL', expected: false });
    expect(ended.reason).toMatch(/health check/);
  });

  it('stop() drains: every request accepted before it is answered, later ones are refused, the process exits', async () => {
    const replica = await target().startReplica(spec(SLOW));
    const exit = exitOf(replica);
    const accepted = Array.from({ length: 12 }, () => replica.infer(slowRequest()));
    const stopped = replica.stop();
    expect(replica.state).toBe('draining');
    expect((await rejection(replica.infer(slowRequest()))).code).toBe('CONTINUUM_ERR_REPLICA_LOST');
    const answers = await Promise.all(accepted);
    expect(answers.every((a) => a.outputs[0]?.shape[1] === 512)).toBe(true);
    await stopped;
    expect(replica.state).toBe('stopped');
    expect(await exit).toMatchObject({ code: 0, signal: null, expected: true });
    expect(isRunning(replica.pid)).toBe(false);
  });
});

describe('cold start', () => {
  it('a replica from the warm pool skips spawn and import, and the pool is refilled', async () => {
    const local = target({ warmPoolSize: 1 });
    expect(local.spareCount).toBe(1);
    await local.warmPoolReady();
    const pooled = await local.startReplica(spec(MLP));
    expect(pooled.startupTimings).toMatchObject({ pooled: true, spawnMs: 0, importMs: 0 });
    expect(pooled.startupTimings.sessionMs).toBeGreaterThan(0);
    // The pool is refilled a little later, leaving the CPU to the new replica's first requests.
    expect(local.spareCount).toBe(0);
    expect((await pooled.infer(mlpRequest(1))).outputs[0]?.shape).toEqual([1, 4]);
    await local.warmPoolReady();
    expect(local.spareCount).toBe(1);
    const second = await local.startReplica(spec(MLP));
    expect(second.startupTimings.pooled).toBe(true);
    expect(second.pid).not.toBe(pooled.pid);
    expect(local.replicas()).toHaveLength(2);
    await local.close();
    expect([isRunning(pooled.pid), isRunning(second.pid), local.spareCount]).toEqual([false, false, 0]);
  });
});

describe('process tree', () => {
  it('a replica exits when its parent dies, however it dies', async () => {
    // A parent process of its own (running the build, as `continuum serve` does) that starts a
    // replica, reports its pid and is then killed with SIGKILL: no chance to clean up.
    const entry = new URL('../dist/targets/index.js', import.meta.url).href;
    const program = `
      import { LocalTarget } from ${JSON.stringify(entry)};
      const target = new LocalTarget({ warmPoolSize: 0 });
      const replica = await target.startReplica(${JSON.stringify(spec(MLP))});
      process.stdout.write(replica.pid + '\\n');
      setInterval(() => {}, 1000);
    `;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', program], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const replicaPid = await new Promise<number>((resolve, reject) => {
        parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString('utf8').trim())));
        parent.once('exit', (code) => reject(new Error(`the parent exited (${code}) before its replica was ready`)));
      });
      expect(isRunning(replicaPid)).toBe(true);
      parent.kill('SIGKILL');
      const deadline = Date.now() + 10_000;
      while (isRunning(replicaPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(isRunning(replicaPid)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
