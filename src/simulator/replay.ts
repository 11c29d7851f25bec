/**
 * Live replay: drives a real Continuum server (real replica processes, real HTTP) with a
 * time-compressed workload in open loop — each request sent at its arrival time, whatever the
 * server is doing — and reports the figures the simulator reports, then simulates the same
 * workload with a service profile measured through the same server and the cold starts the run
 * saw, so the simulator is checked against reality.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { compileCostModel, compilePolicy } from '../autoscale/index.js';
import type { CostAccrual } from '../autoscale/index.js';
import type { DeploymentStatus } from '../deploy/index.js';
import { ContinuumError } from '../errors.js';
import type { Signature, TensorSpec } from '../oip/types.js';
import { measureClosedLoop } from '../runtime/index.js';
import type { ArrivalTimes } from './workload.js';
import { simulate } from './engine.js';
import type { SimulationResult } from './engine.js';
import { simulationCost, simulationPolicy } from './policy.js';
import { DEFAULT_COLD_START_MS, fitServiceProfile } from './profile.js';
import type { ServiceProfile } from './profile.js';

/** What a live replay measured: the simulation's own figures, measured on a real server. */
export type ReplayResult = Pick<
  SimulationResult,
  'requests' | 'completed' | 'failed' | 'sloMs' | 'sloAttainment' | 'latencyP50Ms' | 'latencyP90Ms' | 'latencyP99Ms' | 'replicaSeconds' | 'costUsd' | 'coldStarts' | 'durationMs'
> & {
  /** Largest lag of a send behind its scheduled time, ms (how faithfully the load was offered). */
  readonly maxSendLagMs: number;
};

/** A replay and the simulation of the same workload, side by side. */
export interface ReplayComparison {
  readonly live: ReplayResult;
  readonly simulated: SimulationResult;
  readonly profile: ServiceProfile;
  /** (simulated − live) / live, for cost and SLO attainment; NaN when live is 0. */
  readonly costDifference: number;
  readonly sloDifference: number;
}

/** Options of {@link replayAndSimulate}. */
export interface ReplayOptions {
  readonly arrivals: ArrivalTimes;
  /** The policy as a deployment carries it, e.g. `{ policy: 'kpa', minReplicas: 0 }`. */
  readonly policy: Readonly<Record<string, unknown>>;
  readonly sloMs: number;
  /** ONNX model bytes to deploy (pushed as model `replay`). */
  readonly model: Uint8Array;
  readonly signature: Signature;
  readonly seed: number;
  /** Resources per replica, as the deployment and the simulation account them. */
  readonly resources: { readonly vcpu: number; readonly memoryGb: number };
  /** The server's autoscaler period; the simulation ticks alike. @default 1000 */
  readonly tickMs?: number;
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
}

const BIN = fileURLToPath(new URL('../../bin/continuum.js', import.meta.url));
const MODEL_NAME = 'replay';

/** A `continuum serve` child process in a fresh data directory. */
interface ServerProcess {
  readonly url: string;
  stop(): Promise<void>;
}

async function startServerProcess(tickMs: number): Promise<ServerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'continuum-replay-'));
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--grpc-port', '0', '--no-demo', '--data-dir', dataDir, '--log-level', 'warn', '--autoscaler-tick-ms', String(tickMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const m = /serving at (http:\/\/\S+) /.exec(output);
      if (m?.[1] !== undefined) resolve(m[1]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', () => reject(new ContinuumError('CONTINUUM_ERR_INTERNAL', `the server exited while starting:\n${output}`)));
  });
  return {
    url,
    stop: async () => {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A JSON infer body of zeros for the signature, with `batchSize` rows. */
function zeroRequestBody(inputs: readonly TensorSpec[], batchSize: number): string {
  return JSON.stringify({
    inputs: inputs.map((t) => {
      const shape = t.shape.map((d, i) => (d >= 0 ? d : i === 0 ? batchSize : 1));
      const n = shape.reduce((a, b) => a * b, 1);
      return { name: t.name, datatype: t.datatype, shape, data: new Array<number | string | boolean>(n).fill(t.datatype === 'BYTES' ? '' : t.datatype === 'BOOL' ? false : 0) };
    }),
  });
}

async function api<T>(pool: Pool, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: Uint8Array | string, contentType = 'application/json'): Promise<T> {
  const res = await pool.request({ method, path: `/api/v1${path}`, ...(body === undefined ? {} : { body, headers: { 'content-type': contentType } }) });
  const text = await res.body.text();
  if (res.statusCode >= 400) throw new ContinuumError('CONTINUUM_ERR_INTERNAL', `${method} ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** Sends every arrival at its time (open loop) and records each answer's latency, or failure. */
async function offer(pool: Pool, arrivals: ArrivalTimes, body: string): Promise<{ latencies: number[]; failed: number; maxLagMs: number; durationMs: number }> {
  const latencies: number[] = [];
  let failed = 0;
  let maxLagMs = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  const send = (): Promise<void> => {
    const sent = performance.now();
    return pool
      .request({ method: 'POST', path: `/v2/models/${MODEL_NAME}/infer`, body, headers: { 'content-type': 'application/json' } })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode === 200) latencies.push(performance.now() - sent);
        else failed += 1;
      })
      .catch(() => {
        failed += 1;
      });
  };
  for (let i = 0; i < arrivals.length; ) {
    const now = performance.now() - start;
    while (i < arrivals.length && (arrivals[i] as number) <= now) {
      maxLagMs = Math.max(maxLagMs, now - (arrivals[i] as number));
      pending.push(send());
      i += 1;
    }
    if (i < arrivals.length) await sleep(Math.max(0, (arrivals[i] as number) - (performance.now() - start)));
  }
  await Promise.all(pending);
  return { latencies, failed, maxLagMs, durationMs: performance.now() - start };
}

/** Measures per-batch-size latency through the server (closed loop, one client), for the simulator's profile. */
async function measureThroughServer(pool: Pool, signature: Signature, maxBatchSize: number): Promise<{ batchSize: number; latencyMs: number }[]> {
  const points: { batchSize: number; latencyMs: number }[] = [];
  for (const batchSize of [1, 2, 4, 8, 16, 32].filter((b) => b <= maxBatchSize)) {
    const body = zeroRequestBody(signature.inputs, batchSize);
    const measured = await measureClosedLoop(
      async () => {
        const res = await pool.request({ method: 'POST', path: `/v2/models/${MODEL_NAME}/infer`, body, headers: { 'content-type': 'application/json' } });
        await res.body.dump();
        if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
      },
      1,
      100,
      400,
    );
    points.push({ batchSize, latencyMs: measured.p50Ms });
  }
  return points;
}

function difference(simulated: number, live: number): number {
  return live === 0 ? Number.NaN : (simulated - live) / live;
}

/**
 * Starts a server, deploys the model with the policy, measures its service profile through the
 * server, replays the workload live, then simulates it; see the module comment.
 */
export async function replayAndSimulate(options: ReplayOptions): Promise<ReplayComparison> {
  const log = options.log ?? (() => undefined);
  const tickMs = options.tickMs ?? 1000;
  const policy = compilePolicy(options.policy);
  const server = await startServerProcess(tickMs);
  const pool = new Pool(server.url, { connections: 512, pipelining: 1 });
  try {
    await api(pool, 'POST', `/models/${MODEL_NAME}/versions`, options.model, 'application/octet-stream');
    // Measured on a fixed single replica first, so the profile is one replica's service.
    await api(pool, 'POST', '/deployments', JSON.stringify({ name: MODEL_NAME, model: MODEL_NAME, policy: { policy: 'fixed', minReplicas: 1, maxReplicas: 1 }, resources: options.resources }));
    const waitReady = async (n: number): Promise<DeploymentStatus> => {
      for (;;) {
        const status = await api<DeploymentStatus>(pool, 'GET', `/deployments/${MODEL_NAME}`);
        if (status.replicas.filter((r) => r.phase === 'ready').length >= n) return status;
        await sleep(50);
      }
    };
    const first = await waitReady(1);
    log('measuring the service profile through the server');
    const maxBatchSize = 32;
    const points = await measureThroughServer(pool, options.signature, maxBatchSize);
    const coldStartMs = first.replicas.map((r) => r.startup.readyMs);

    // The policy under test takes over the running replica (a new revision keeps it); the replay
    // starts once the policy's minimum is ready, and the simulation starts from the same count.
    await api(pool, 'PATCH', `/deployments/${MODEL_NAME}`, JSON.stringify({ policy: options.policy }));
    const start = await waitReady(Math.max(0, policy.minReplicas));
    const initialReplicas = start.replicas.filter((r) => r.phase === 'ready').length;
    const before = start.cost;
    const coldBefore = start.coldStarts.count;
    log(`replaying ${options.arrivals.length} requests over ${(((options.arrivals.at(-1) ?? 0) as number) / 1000).toFixed(0)} s`);
    const offered = await offer(pool, options.arrivals, zeroRequestBody(options.signature.inputs, 1));
    // One more tick accrues the last interval's cost.
    await sleep(tickMs + 100);
    const after = await api<DeploymentStatus>(pool, 'GET', `/deployments/${MODEL_NAME}`);
    const cost = subtract(after.cost, before);
    const sorted = [...offered.latencies].sort((a, b) => a - b);
    const within = sorted.filter((l) => l <= options.sloMs).length;
    const live: ReplayResult = {
      requests: options.arrivals.length,
      completed: sorted.length,
      failed: offered.failed,
      sloMs: options.sloMs,
      sloAttainment: options.arrivals.length === 0 ? 1 : within / options.arrivals.length,
      latencyP50Ms: percentile(sorted, 50),
      latencyP90Ms: percentile(sorted, 90),
      latencyP99Ms: percentile(sorted, 99),
      replicaSeconds: cost.replicaSeconds,
      costUsd: cost.totalUsd,
      coldStarts: after.coldStarts.count - coldBefore,
      durationMs: offered.durationMs,
      maxSendLagMs: offered.maxLagMs,
    };
    const samples = [...coldStartMs, ...after.coldStarts.recentMs];
    const profile = fitServiceProfile(
      { model: MODEL_NAME, instances: 1, maxBatchSize, points },
      { coldStartMs: samples.length === 0 ? [DEFAULT_COLD_START_MS] : samples, vcpu: options.resources.vcpu, memoryGb: options.resources.memoryGb },
    );
    const simulated = simulate({
      arrivals: options.arrivals,
      profile,
      policy: simulationPolicy(policy),
      costOf: simulationCost(compileCostModel()),
      sloMs: options.sloMs,
      seed: options.seed,
      tickMs,
      initialReplicas,
    });
    return { live, simulated, profile, costDifference: difference(simulated.costUsd, live.costUsd), sloDifference: difference(simulated.sloAttainment, live.sloAttainment) };
  } finally {
    await pool.close();
    await server.stop();
  }
}

function subtract(a: CostAccrual, b: CostAccrual): CostAccrual {
  return {
    totalUsd: a.totalUsd - b.totalUsd,
    alwaysOnUsd: a.alwaysOnUsd - b.alwaysOnUsd,
    serverlessUsd: a.serverlessUsd - b.serverlessUsd,
    replicaSeconds: a.replicaSeconds - b.replicaSeconds,
    invocations: a.invocations - b.invocations,
    busySeconds: a.busySeconds - b.busySeconds,
  };
}
