/**
 * `continuum bench asset`: the testing framework of Keusch et al. ("Platform-Agnostic MLOps on
 * Edge, Fog and Cloud Platforms in Industrial IoT", §4.3) against a running Continuum server.
 * A virtual asset of the kind the workflow expects publishes a training window into a data
 * source (named after the deployment to come); a training run of the uploaded workflow package
 * learns from it; the model is deployed under that name; then N prediction cycles (the paper:
 * ten per run, twenty per workflow) each send a message and wait for its prediction on
 * `<topic>/predictions`. Measured:
 * training time, prediction time split into ingest and compute, communication latency, peak CPU
 * and memory of the server's process tree, and energy (the server's meter for the deployment,
 * CodeCarbon's process-mode estimate for the training run).
 *
 * Everything goes through the public interfaces: REST `/api/v1` (workflows, data sources,
 * deployments) and MQTT. The figures are computed by the pure functions of bench-report.ts.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import mqtt from 'mqtt';
import { cpuTdp, parseCpuModel, processCpuPowerW } from '../observe/index.js';
import { noDelay } from '../ingest/index.js';
import { VirtualAsset, type AssetCounters } from './asset.js';
import { cycleTimings, parsePrediction, resourcePeaks, spread, type AssetBenchResult, type CycleTiming, type ReceivedPrediction, type ResourcePeaks, type SentMessage } from './bench-report.js';
import { ASSET_MODELS, type AssetKind, type AssetModel } from './catalog.js';
import { packWorkflow, readWorkflowManifest, type WorkflowManifest } from './package.js';
import type { AssetFormat } from './payload.js';
import { sampleProcessTree, type ProcessTreeProbe, type ProcessTreeReading } from './procfs.js';

/** Options of {@link runAssetBench}. */
export interface AssetBenchOptions {
  /** Base URL of the server's HTTP API. */
  readonly server: string;
  /** A management token (REST bearer and MQTT password). */
  readonly token?: string;
  /** The server's MQTT broker. */
  readonly brokerUrl: string;
  /** A workflow package directory (manifest.json at its root). */
  readonly workflowDir: string;
  /** Predictions to collect. @default 20 (the paper's per workflow) */
  readonly cycles?: number;
  /** Messages per second during the prediction cycles. @default the asset's own rate */
  readonly rateHz?: number;
  /** Messages the training window holds. @default 2000 pads, 3 minutes of IMU frames */
  readonly trainSamples?: number;
  /** Messages per second while the training window is sent (faster than real time). @default 500 */
  readonly trainRateHz?: number;
  /** @default 'json' */
  readonly format?: AssetFormat;
  /** Seed of the asset. @default 1 */
  readonly seed?: number;
  /** The server's process tree: peaks of CPU and memory; on this machine also the training energy. */
  readonly probe?: ProcessTreeProbe;
  /** How long to wait after the cycles for the server's energy meter to close an interval. @default 6000 */
  readonly energyWaitMs?: number;
  /** Longest wait for each phase (ingest, training, deployment, predictions). @default 300000 */
  readonly phaseTimeoutMs?: number;
  /** Leave the data source and the deployment in place afterwards. @default false */
  readonly keep?: boolean;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** Longest wait for the energy meter's first figure of a new deployment: one default interval and a margin. */
const ENERGY_FIRST_READING_MS = 12_000;

/** Training-window sizes by asset: enough rows for a held-out quarter to mean something. */
const DEFAULT_TRAIN_SAMPLES: Readonly<Record<AssetKind, number>> = { pcb: 2000, imu: 9000 };

/** An error answer of the management API, with its status and code. */
export class ApiCallError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** The management API over fetch: JSON in and out, the archive upload as `application/gzip`. */
class ManagementApi {
  constructor(
    private readonly server: string,
    private readonly token: string | undefined,
  ) {}

  async call<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = contentType;
    const payload = body === undefined ? undefined : body instanceof Uint8Array ? body : JSON.stringify(body);
    const res = await fetch(`${this.server.replace(/\/+$/, '')}/api/v1${path}`, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
    const text = await res.text();
    if (!res.ok) {
      let error = text.slice(0, 500);
      let code: string | undefined;
      try {
        const parsed = JSON.parse(text) as { error?: unknown; code?: unknown };
        if (typeof parsed.error === 'string') error = parsed.error;
        if (typeof parsed.code === 'string') code = parsed.code;
      } catch {
        // Not JSON: keep the text.
      }
      throw new ApiCallError(`${method} /api/v1${path}: HTTP ${res.status}: ${error}${code === undefined ? '' : ` (${code})`}`, res.status, code);
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}

/** The kind of virtual asset whose fields are the workflow's inputs. */
export function assetFor(manifest: WorkflowManifest): AssetModel {
  const model = Object.values(ASSET_MODELS).find((m) => m.inputs.length === manifest.inputs.length && m.inputs.every((name, i) => name === manifest.inputs[i]));
  if (model === undefined) {
    const kinds = Object.values(ASSET_MODELS).map((m) => `${m.kind} (${m.inputs.length} fields)`).join(', ');
    throw new Error(`workflow ${manifest.name}: its inputs match no virtual asset (${kinds}); bench asset needs a workflow of one of them`);
  }
  return model;
}

/** A run as `GET /workflows/{name}/runs/{id}` answers it (docs/workflows.md). */
interface TrainingRun {
  readonly id: string;
  readonly status: 'running' | 'succeeded' | 'failed';
  readonly durationMs?: number;
  readonly metrics?: Record<string, number>;
  readonly modelVersion?: string;
  readonly error?: string;
  readonly log?: string[];
  readonly resources?: { readonly peakRssBytes: number; readonly cpuMs: number };
}

/** The parts of `GET /deployments/{name}` the bench reads. */
interface DeploymentView {
  readonly replicas: readonly { readonly phase: string }[];
  readonly energy?: { readonly joules: number; readonly mode: string };
}

/** Polls `read` every `everyMs` until `done` holds of its value; fails after `timeoutMs` with `what`. */
async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Peaks while `work` runs, when a probe is given. */
async function measured<T>(probe: ProcessTreeProbe | undefined, work: () => Promise<T>): Promise<{ value: T; peaks: ResourcePeaks | null; readings: ProcessTreeReading[] }> {
  const sampler = probe === undefined ? undefined : sampleProcessTree(probe);
  try {
    const value = await work();
    const readings = (await sampler?.stop()) ?? [];
    return { value, peaks: sampler === undefined ? null : resourcePeaks(readings), readings };
  } catch (err) {
    await sampler?.stop();
    throw err;
  }
}

/** CPU energy of `cpuSeconds` over `wallSeconds` on this machine, CodeCarbon's process mode: TDP × CPU s / (wall × CPUs) × wall. */
function trainingJoules(cpuSeconds: number, wallSeconds: number): number {
  const cpus = availableParallelism();
  const { tdpW } = cpuTdp(parseCpuModel(readFileSync('/proc/cpuinfo', 'utf8')), cpus);
  return processCpuPowerW(tdpW, cpuSeconds, wallSeconds, cpus) * wallSeconds;
}

/** Runs the bench once; see the module comment. */
export async function runAssetBench(options: AssetBenchOptions): Promise<AssetBenchResult> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.phaseTimeoutMs ?? 300_000;
  const manifest = readWorkflowManifest(options.workflowDir);
  const assetModel = assetFor(manifest);
  const format = options.format ?? 'json';
  const api = new ManagementApi(options.server, options.token);
  const cycles = options.cycles ?? 20;
  const trainSamples = options.trainSamples ?? DEFAULT_TRAIN_SAMPLES[assetModel.kind];
  const source = `${manifest.name}-bench`;
  const deployment = `${manifest.name}-bench`;
  const asset = new VirtualAsset({
    kind: assetModel.kind,
    brokerUrl: options.brokerUrl,
    format,
    labelField: manifest.label,
    seed: options.seed ?? 1,
    rateHz: options.trainRateHz ?? 500,
    ...(format === 'json' ? { topic: `continuum/bench/${manifest.name}` } : {}),
    ...(options.token === undefined ? {} : { token: options.token }),
  });

  log(`uploading workflow package ${options.workflowDir}`);
  try {
    await api.call('POST', '/workflows', await packWorkflow(options.workflowDir), 'application/gzip');
  } catch (err) {
    if (!(err instanceof ApiCallError && err.status === 409)) throw err;
    log(`workflow ${manifest.name} ${manifest.version} is already uploaded`);
  }

  const definition = {
    name: source,
    topic: asset.topic,
    format,
    mapping: {
      fields: manifest.inputs,
      input: 'input',
      labelField: manifest.label,
      ...(format === 'json' ? { timestampField: 'ts', seqField: 'seq' } : {}),
    },
    ...(manifest.window === undefined ? {} : { window: manifest.window }),
    // Named before it exists: until it is deployed, messages are stored as samples and their
    // inference is refused (counted); once it is, the same data source feeds it.
    deployment,
  };
  await api.call('DELETE', `/datasources/${source}`).catch(() => undefined);
  await api.call('POST', '/datasources', definition);
  await asset.connect();
  try {
    log(`sending a training window of ${trainSamples} ${assetModel.kind} messages to ${asset.topic}`);
    const fromMs = Date.now() - 1000;
    await asset.run({ count: trainSamples });
    await pollUntil(
      () => api.call<{ counters: { received: number } | null }>('GET', `/datasources/${source}`),
      (s) => (s.counters?.received ?? 0) >= trainSamples,
      `data source ${source} receiving the training window`,
      timeoutMs,
    );
    const toMs = Date.now() + 1000;

    log(`training ${manifest.name} on data source ${source}`);
    const trainingStart = performance.now();
    const training = await measured(options.probe, async () => {
      const started = await api.call<{ id: string }>('POST', `/workflows/${manifest.name}/runs`, {
        datasource: source,
        from: new Date(fromMs).toISOString(),
        to: new Date(toMs).toISOString(),
        model: manifest.name,
      });
      return pollUntil(() => api.call<TrainingRun>('GET', `/workflows/${manifest.name}/runs/${started.id}`), (r) => r.status !== 'running', `training run ${started.id}`, timeoutMs);
    });
    const trainingWallMs = performance.now() - trainingStart;
    const run = training.value;
    if (run.status !== 'succeeded' || run.modelVersion === undefined) {
      throw new Error(`training run ${run.id} ${run.status}: ${run.error ?? 'no model version'}\n${(run.log ?? []).slice(-20).join('\n')}`);
    }
    log(`trained ${manifest.name} version ${run.modelVersion} in ${trainingWallMs.toFixed(0)} ms; deploying`);
    const cpuSeconds = run.resources === undefined ? undefined : run.resources.cpuMs / 1000;
    const treeCpuSeconds = training.readings.length < 2 ? undefined : (training.readings.at(-1)?.cpuSeconds ?? 0) - (training.readings[0]?.cpuSeconds ?? 0);
    const runCpuSeconds = cpuSeconds ?? treeCpuSeconds;
    const estimatedJoules = options.probe?.onThisMachine !== true || runCpuSeconds === undefined ? null : trainingJoules(runCpuSeconds, trainingWallMs / 1000);

    await api.call('DELETE', `/deployments/${deployment}`).catch(() => undefined);
    await api.call('POST', '/deployments', { name: deployment, model: manifest.name, ref: run.modelVersion, policy: { policy: 'fixed', replicas: 1 } });
    await pollUntil(() => api.call<DeploymentView>('GET', `/deployments/${deployment}`), (d) => d.replicas.some((r) => r.phase === 'ready'), `deployment ${deployment}`, timeoutMs);

    // The meter names a deployment after its first interval (5 s by default); count from there.
    const energyBefore = (
      await pollUntil(() => api.call<DeploymentView>('GET', `/deployments/${deployment}`), (d) => d.energy !== undefined, `energy of ${deployment}`, ENERGY_FIRST_READING_MS).catch(() => undefined)
    )?.energy;
    const cyclesRun = await predictionCycles({
      brokerUrl: options.brokerUrl,
      kind: assetModel.kind,
      format,
      topic: asset.topic,
      labelField: manifest.label,
      classes: manifest.classes,
      cycles,
      // A seed of its own: prediction data the model has not seen.
      seed: (options.seed ?? 1) + 1000,
      messagesPerPrediction: manifest.window?.hop ?? 1,
      log,
      ...(options.rateHz === undefined ? {} : { rateHz: options.rateHz }),
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(options.probe === undefined ? {} : { probe: options.probe }),
    });
    await new Promise((r) => setTimeout(r, options.energyWaitMs ?? 6000));
    const energyAfter = (await api.call<DeploymentView>('GET', `/deployments/${deployment}`)).energy;

    const { timings } = cyclesRun;
    const judged = timings.filter((t) => t.correct !== undefined);
    const joules = energyBefore === undefined || energyAfter === undefined ? null : energyAfter.joules - energyBefore.joules;
    if (options.keep !== true) {
      await api.call('DELETE', `/datasources/${source}`);
      await api.call('DELETE', `/deployments/${deployment}`);
    }
    return {
      workflow: `${manifest.name} ${manifest.version}`,
      asset: assetModel.kind,
      format,
      server: options.server,
      training: {
        samples: trainSamples,
        wallMs: trainingWallMs,
        serverDurationMs: run.durationMs ?? null,
        modelVersion: run.modelVersion,
        metrics: run.metrics ?? {},
        runResources: run.resources ?? null,
        estimatedJoules,
        peaks: training.peaks,
      },
      prediction: {
        cycles,
        received: timings.length,
        accuracy: judged.length === 0 ? null : judged.filter((t) => t.correct === true).length / judged.length,
        totalMs: spread(timings.map((t) => t.totalMs)),
        ingestMs: spread(timings.map((t) => t.ingestMs)),
        computeMs: spread(timings.map((t) => t.computeMs)),
        communicationMs: spread(timings.map((t) => t.communicationMs)),
        peaks: cyclesRun.peaks,
        joules,
        joulesPerInference: joules === null || timings.length === 0 ? null : joules / timings.length,
        energyMode: energyAfter?.mode ?? null,
      },
      messages: {
        sent: asset.counters.sent + cyclesRun.counters.sent,
        acked: asset.counters.acked + cyclesRun.counters.acked,
        failed: asset.counters.failed + cyclesRun.counters.failed,
      },
    };
  } finally {
    await asset.close();
  }
}

/** Options of {@link predictionCycles}. */
export interface PredictionCyclesOptions {
  readonly brokerUrl: string;
  readonly token?: string;
  readonly kind: AssetKind;
  readonly format: AssetFormat;
  /** The data topic a data source bound to a deployment consumes; predictions come back on `<topic>/predictions`. */
  readonly topic: string;
  readonly labelField: string;
  /** The model's classes, to judge each predicted label. */
  readonly classes: readonly string[];
  readonly cycles: number;
  readonly seed: number;
  /** @default the asset's own rate */
  readonly rateHz?: number;
  /** Messages between two predictions: 1, or a windowed model's hop. @default 1 */
  readonly messagesPerPrediction?: number;
  readonly probe?: ProcessTreeProbe;
  readonly log?: (line: string) => void;
}

/** What {@link predictionCycles} measured. */
export interface PredictionCyclesResult {
  /** One per matched prediction, at most `cycles`. */
  readonly timings: CycleTiming[];
  readonly peaks: ResourcePeaks | null;
  readonly counters: AssetCounters;
}

/**
 * The paper's prediction cycles: a fresh asset publishes at its rate while the bench listens on
 * `<topic>/predictions`, until `cycles` predictions are matched to the messages they answer (or
 * three prediction periods per cycle and 30 s more have passed).
 */
export async function predictionCycles(options: PredictionCyclesOptions): Promise<PredictionCyclesResult> {
  const auth = options.token === undefined ? {} : { username: 'continuum-bench', password: options.token };
  const listener = await mqtt.connectAsync(options.brokerUrl, { reconnectPeriod: 1000, ...auth });
  noDelay(listener);
  const asset = new VirtualAsset({
    kind: options.kind,
    brokerUrl: options.brokerUrl,
    format: options.format,
    labelField: options.labelField,
    seed: options.seed,
    topic: options.topic,
    ...(options.rateHz === undefined ? {} : { rateHz: options.rateHz }),
    ...(options.token === undefined ? {} : { token: options.token }),
  });
  const sent: SentMessage[] = [];
  const received: ReceivedPrediction[] = [];
  const enough = new AbortController();
  try {
    listener.on('message', (_topic, body) => {
      const prediction = parsePrediction(body.toString('utf8'));
      if (prediction === undefined) return;
      received.push({ prediction, receivedAtMs: Date.now() });
      if (cycleTimings(sent, received, options.classes).length >= options.cycles) enough.abort();
    });
    const resultTopic = `${options.topic}/predictions`;
    await listener.subscribeAsync(resultTopic, { qos: 1 });
    await asset.connect();
    const deadline = AbortSignal.timeout(30_000 + (3000 * options.cycles * (options.messagesPerPrediction ?? 1)) / asset.rateHz);
    options.log?.(`running ${options.cycles} prediction cycles at ${asset.rateHz} messages/s; predictions on ${resultTopic}`);
    const run = await measured(options.probe, () =>
      asset.run({ signal: AbortSignal.any([enough.signal, deadline]), onSent: (sample, sentAtMs) => sent.push({ seq: sample.seq, sentAtMs, label: sample.label }) }),
    );
    // Predictions of the last messages may still be on their way.
    await new Promise((r) => setTimeout(r, enough.signal.aborted ? 0 : 1000));
    const timings = cycleTimings(sent, received, options.classes).slice(0, options.cycles);
    options.log?.(`${timings.length} of ${options.cycles} predictions matched`);
    return { timings, peaks: run.peaks, counters: run.value };
  } finally {
    await asset.close();
    await listener.endAsync();
  }
}
