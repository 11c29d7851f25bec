/**
 * Continuum as the bench runs it: `node bin/continuum.js serve` as a user starts it (compiled
 * first when dist/ is missing or older than src/), models pushed over the management API, the
 * statistics and repository extensions read over OIP REST.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelStatistics } from '../src/oip/types.js';
import type { ModelRuntimeOptions } from '../src/runtime/service.js';
import type { BenchModel } from './models.js';
import { freePort, waitForHttp } from './processes.js';
import type { BenchProcess, ProcessSet } from './processes.js';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The OIP gRPC service definition Continuum serves. */
export const OIP_PROTO_PATH = join(ROOT, 'src', 'gateway', 'proto', 'grpc_service.proto');

const CLI_ENTRY = join(ROOT, 'dist', 'cli', 'main.js');

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && (entry.name.endsWith('.ts') || entry.name.endsWith('.proto')) && !entry.name.endsWith('.test.ts')) {
      newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/**
 * Whether `continuum serve` can run here, compiling src/ into dist/ first when the compiled CLI is
 * missing or older than the sources (a stale build would measure old code). Returns why not.
 */
export function prepareContinuum(): string | undefined {
  if (!existsSync(join(ROOT, 'src', 'server')) || !existsSync(join(ROOT, 'src', 'cli', 'main.ts'))) return 'src/server or src/cli/main.ts is missing';
  const stale = !existsSync(CLI_ENTRY) || statSync(CLI_ENTRY).mtimeMs < newestMtimeMs(join(ROOT, 'src'));
  if (stale) {
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], { stdio: 'pipe' });
    } catch (err) {
      // tsc still emits on type errors; only a missing entry point stops the run.
      const out = (err as { stdout?: Buffer }).stdout?.toString('utf8') ?? String(err);
      if (!existsSync(CLI_ENTRY)) return `npm run build failed:\n${out.slice(0, 2000)}`;
      process.stderr.write(`warning: npm run build reported errors; measuring what it emitted:\n${out.slice(0, 1000)}\n`);
    }
  }
  return undefined;
}

/** A running `continuum serve`. */
export interface ContinuumServer {
  readonly process: BenchProcess;
  readonly origin: string;
  readonly grpcAddress: string;
}

/** Starts `continuum serve --no-demo` (and `extraArgs`) on free ports over `dataDir`; resolves when it is live. */
export async function startContinuum(processes: ProcessSet, dataDir: string, extraArgs: readonly string[] = []): Promise<ContinuumServer> {
  const port = await freePort();
  const grpcPort = await freePort();
  const proc = processes.start('continuum serve', process.execPath, [
    join(ROOT, 'bin', 'continuum.js'),
    'serve',
    '--data-dir',
    dataDir,
    '--port',
    String(port),
    '--grpc-port',
    String(grpcPort),
    '--no-demo',
    '--log-level',
    'warn',
    ...extraArgs,
  ]);
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/v2/health/live`, proc);
  return { process: proc, origin, grpcAddress: `127.0.0.1:${grpcPort}` };
}

async function call(method: string, url: string, body?: Uint8Array | string, contentType?: string): Promise<unknown> {
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { body, headers: { 'content-type': contentType ?? 'application/json' } }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status} ${text.slice(0, 500)}`);
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

/** Pushes the model's ONNX file as its first version (`POST /api/v1/models/{name}/versions`); the server loads it. */
export async function pushModel(server: ContinuumServer, model: BenchModel): Promise<void> {
  await call('POST', `${server.origin}/api/v1/models/${model.name}/versions`, readFileSync(model.path), 'application/octet-stream');
}

/** The model's statistics (statistics extension, `GET /v2/models/{m}/stats`). */
export async function modelStats(server: ContinuumServer, name: string): Promise<ModelStatistics> {
  const body = (await call('GET', `${server.origin}/v2/models/${name}/stats`)) as { model_stats: ModelStatistics[] };
  const stats = body.model_stats[0];
  if (stats === undefined) throw new Error(`no statistics for model ${name}`);
  return stats;
}

/**
 * Times load to ready `repeats` times: unload, then `POST /v2/repository/models/{m}/load`, which
 * answers once the model is ready (repository extension).
 */
export async function timeLoads(server: ContinuumServer, name: string, repeats: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    await call('POST', `${server.origin}/v2/repository/models/${name}/unload`);
    const start = performance.now();
    await call('POST', `${server.origin}/v2/repository/models/${name}/load`);
    times.push(performance.now() - start);
  }
  return times;
}

/** Unloads a model (repository extension). */
export async function unloadModel(server: ContinuumServer, name: string): Promise<void> {
  await call('POST', `${server.origin}/v2/repository/models/${name}/unload`);
}

/** What `POST /api/v1/models/{name}/tune` answers (the parts the bench reports). */
export interface TuneAnswer {
  readonly best: ModelRuntimeOptions;
  readonly best_trial: { readonly concurrency: number; readonly throughput: number; readonly p99Ms: number };
  readonly trials: readonly unknown[];
  readonly confirmations: readonly unknown[];
}

/** The body of a tune request: the size of dynamic dimensions, and optionally a shorter grid. */
export interface TuneRequest {
  readonly dynamicDimSize: number;
  readonly measureMs?: number;
  readonly concurrencies?: readonly number[];
}

/**
 * Runs `continuum tune` on a model (`POST /api/v1/models/{name}/tune`): the server measures its
 * candidate configurations, stores the best as the model's runtime options and reloads the model
 * with them.
 */
export async function tuneModel(server: ContinuumServer, name: string, request: TuneRequest): Promise<TuneAnswer> {
  return (await call('POST', `${server.origin}/api/v1/models/${name}/tune`, JSON.stringify(request))) as TuneAnswer;
}

/**
 * Creates deployment `name` of `model` (`POST /api/v1/deployments`) with `policy`, and resolves
 * with its replicas' process ids once `replicas` of them are ready.
 */
export async function deployModel(server: ContinuumServer, name: string, model: string, policy: Readonly<Record<string, unknown>>, replicas: number, timeoutMs = 60_000): Promise<number[]> {
  await call('POST', `${server.origin}/api/v1/deployments`, JSON.stringify({ name, model, policy }));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = await readyReplicaPids(server, name);
    if (pids.length >= replicas) return pids;
    if (Date.now() > deadline) throw new Error(`deployment ${name}: ${pids.length} of ${replicas} replicas ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Process ids of a deployment's ready replicas (`GET /api/v1/deployments/{name}`). */
export async function readyReplicaPids(server: ContinuumServer, name: string): Promise<number[]> {
  const status = (await call('GET', `${server.origin}/api/v1/deployments/${name}`)) as { replicas: { pid: number; phase: string }[] };
  return status.replicas.filter((r) => r.phase === 'ready').map((r) => r.pid);
}
