/**
 * The measuring around the gate decisions: real replicas of the candidate (and of production,
 * when a gate compares) on the deployment's target, a smoke inference, the dataset through both,
 * sequential and concurrent latency, the replica's resident memory. Each gate's figures go to its
 * pure decision in gates.ts; the step records the figures as evidence.
 */
import { quantile } from '../deploy/index.js';
import { ContinuumError } from '../errors.js';
import type { InferRequest, Signature, TensorSpec } from '../oip/types.js';
import type { ModelVersion } from '../registry/index.js';
import { compileRuntimeOptions, measureClosedLoop, zeroInputs } from '../runtime/index.js';
import type { ResolvedModelVersion } from '../runtime/index.js';
import type { Replica, Target } from '../targets/index.js';
import { labelIndices } from './dataset.js';
import type { Dataset } from './dataset.js';
import { decideAccuracy, decideLatency, decideSignature, decideSizeMemory, decideSmoke } from './gates.js';
import type { CompiledGateOptions, GateDecision, GateName, GateStep, LatencyFigures } from './gates.js';
import { signatureCompatibility } from './signature.js';
import { countTopOneCorrect, rowsPerRequest, rowsTensor, smokeOutputs } from './tensors.js';

/** Unmeasured requests sent to each replica before the latency gate measures. */
const LATENCY_WARMUP_REQUESTS = 10;
/** Unmeasured time of the concurrent burst before its window. */
const BURST_WARMUP_MS = 100;
/** How often the memory gate looks for a replica's first health-check reading. */
const USAGE_POLL_MS = 50;

/** The replicas a release's gates use, each started once on first use and stopped together. */
export class GateReplicas {
  private candidateReplica: Promise<Replica> | undefined;
  private productionReplica: Promise<Replica> | undefined;

  constructor(
    private readonly target: Target,
    /** The replicas' deployment name in the target (`release-<id>`), so they are told apart from serving ones. */
    private readonly deployment: string,
    private readonly candidateModel: ResolvedModelVersion,
    private readonly productionModel: ResolvedModelVersion | undefined,
  ) {}

  /** The candidate's replica (started on first call). */
  candidate(): Promise<Replica> {
    this.candidateReplica ??= this.target.startReplica({ deployment: this.deployment, revision: 0, model: this.candidateModel });
    return this.candidateReplica;
  }

  /** Production's replica (started on first call); undefined when there is no production version. */
  production(): Promise<Replica> | undefined {
    if (this.productionModel === undefined) return undefined;
    this.productionReplica ??= this.target.startReplica({ deployment: this.deployment, revision: 0, model: this.productionModel });
    return this.productionReplica;
  }

  /** Stops every replica started (drained: they hold no request once the gates are done). */
  async stop(): Promise<void> {
    const started = [this.candidateReplica, this.productionReplica].filter((p): p is Promise<Replica> => p !== undefined);
    await Promise.all(started.map((p) => p.then((r) => r.stop(), () => undefined)));
  }
}

/** What a gate needs: both versions, the dataset, the replicas, the options. */
export interface GateContext {
  readonly candidate: ModelVersion;
  readonly production: ModelVersion | undefined;
  readonly dataset: Dataset | undefined;
  readonly replicas: GateReplicas;
  readonly options: CompiledGateOptions;
  /** Longest wait for a replica's first resident-memory reading. */
  readonly usageTimeoutMs: number;
}

/** A gate's result before timing is added. */
interface GateResult {
  readonly decision: GateDecision;
  readonly evidence: Record<string, unknown>;
  readonly log: string[];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The request the smoke and latency gates send: the dataset's first row when the dataset feeds
 * the model's only input, else zeros (a dynamic dimension taken as 1).
 */
export function probeRequest(signature: Signature, dataset: Dataset | undefined): InferRequest {
  const only = signature.inputs.length === 1 ? signature.inputs[0] : undefined;
  const row = dataset?.features[0];
  if (only !== undefined && row !== undefined && dataset?.input === only.name) {
    try {
      return { inputs: [rowsTensor(only, [row])] };
    } catch {
      // A row that does not fit the input is the accuracy gate's finding; the probe uses zeros.
    }
  }
  return { inputs: zeroInputs(signature.inputs, 1, 1) };
}

function signatureGate(ctx: GateContext): GateResult {
  const compat = ctx.production === undefined ? undefined : signatureCompatibility(ctx.production.signature, ctx.candidate.signature);
  const decision = decideSignature(compat, ctx.options.allowBreaking);
  return {
    decision,
    evidence: {
      production: ctx.production?.version ?? null,
      compatible: compat?.compatible ?? true,
      problems: compat?.problems ?? [],
      breaking: compat !== undefined && !compat.compatible,
      breakingAllowed: ctx.options.allowBreaking,
      candidateSignature: ctx.candidate.signature,
      productionSignature: ctx.production?.signature ?? null,
    },
    log: [decision.detail],
  };
}

async function smokeGate(ctx: GateContext): Promise<GateResult> {
  const replica = await ctx.replicas.candidate();
  const log = [`replica ${replica.id} (pid ${replica.pid}) ready in ${replica.startupTimings.readyMs.toFixed(0)} ms`];
  const request = probeRequest(ctx.candidate.signature, ctx.dataset);
  const started = performance.now();
  const response = await replica.infer(request);
  const latencyMs = performance.now() - started;
  const outputs = smokeOutputs(response.outputs);
  log.push(`one inference (${request.inputs.map((t) => `${t.name} [${t.shape.join(', ')}]`).join(', ')}) answered in ${latencyMs.toFixed(2)} ms`);
  const decision = decideSmoke(ctx.candidate.signature.outputs, outputs);
  log.push(decision.detail);
  return { decision, evidence: { replica: replica.id, startup: replica.startupTimings, latencyMs, outputs }, log };
}

/** Top-1 accuracy of a replica on the dataset, read from output `outputName`. */
async function accuracyOn(replica: Replica, signature: Signature, dataset: Dataset, outputName: string): Promise<{ readonly accuracy: number; readonly correct: number; readonly rows: number }> {
  const spec: TensorSpec | undefined = signature.inputs.find((t) => t.name === dataset.input);
  if (spec === undefined) throw new ContinuumError('CONTINUUM_ERR_UNKNOWN_INPUT', `the dataset feeds input '${dataset.input}'; the model's inputs are ${signature.inputs.map((t) => `'${t.name}'`).join(', ')}`);
  if (signature.inputs.length > 1) throw new ContinuumError('CONTINUUM_ERR_UNKNOWN_INPUT', `the model has ${signature.inputs.length} inputs; a dataset feeds one`);
  if (!signature.outputs.some((t) => t.name === outputName)) throw new ContinuumError('CONTINUUM_ERR_UNKNOWN_OUTPUT', `the model has no output '${outputName}'`);
  const labels = labelIndices(dataset);
  const chunk = rowsPerRequest(spec, compileRuntimeOptions(replica.spec.model.runtimeOptions).maxBatchSize);
  let correct = 0;
  for (let start = 0; start < dataset.features.length; start += chunk) {
    const rows = dataset.features.slice(start, start + chunk);
    const response = await replica.infer({ inputs: [rowsTensor(spec, rows)], outputs: [{ name: outputName }] });
    const output = response.outputs.find((t) => t.name === outputName);
    if (output === undefined) throw new ContinuumError('CONTINUUM_ERR_UNKNOWN_OUTPUT', `the answer has no output '${outputName}'`);
    correct += countTopOneCorrect(output, labels.slice(start, start + rows.length));
  }
  return { accuracy: correct / dataset.features.length, correct, rows: dataset.features.length };
}

async function accuracyGate(ctx: GateContext): Promise<GateResult> {
  const { dataset } = ctx;
  if (dataset === undefined) {
    const decision = decideAccuracy({ hasDataset: false, candidate: undefined, production: undefined }, ctx.options);
    return { decision, evidence: { dataset: null }, log: [decision.detail] };
  }
  const outputName = dataset.output ?? ctx.candidate.signature.outputs[0]?.name ?? '';
  const log: string[] = [];
  const candidate = await accuracyOn(await ctx.replicas.candidate(), ctx.candidate.signature, dataset, outputName);
  log.push(`candidate ${ctx.candidate.version}: ${candidate.correct}/${candidate.rows} correct`);
  let production: { accuracy: number; correct: number; rows: number } | undefined;
  let productionError: string | undefined;
  const productionReplica = ctx.replicas.production();
  if (productionReplica !== undefined && ctx.production !== undefined) {
    try {
      production = await accuracyOn(await productionReplica, ctx.production.signature, dataset, outputName);
      log.push(`production ${ctx.production.version}: ${production.correct}/${production.rows} correct`);
    } catch (err) {
      productionError = message(err);
      log.push(`production ${ctx.production.version} could not be measured: ${productionError}`);
    }
  }
  const decision = decideAccuracy({ hasDataset: true, candidate: candidate.accuracy, production: production?.accuracy }, ctx.options);
  log.push(decision.detail);
  return {
    decision,
    evidence: {
      rows: candidate.rows,
      output: outputName,
      candidateAccuracy: candidate.accuracy,
      productionAccuracy: production?.accuracy ?? null,
      productionVersion: ctx.production?.version ?? null,
      ...(productionError === undefined ? {} : { productionError }),
      minAccuracy: ctx.options.minAccuracy ?? null,
      maxAccuracyDrop: ctx.options.maxAccuracyDrop ?? null,
    },
    log,
  };
}

/** Sequential latencies of `requests` calls per replica, the replicas taking turns so drift in the machine's load hits both alike. */
async function sequentialLatencies(replicas: readonly Replica[], request: InferRequest, requests: number): Promise<{ latencies: number[][]; errors: number[] }> {
  const latencies = replicas.map(() => [] as number[]);
  const errors = replicas.map(() => 0);
  for (let i = 0; i < LATENCY_WARMUP_REQUESTS + requests; i++) {
    for (const [r, replica] of replicas.entries()) {
      const started = performance.now();
      try {
        await replica.infer(request);
        if (i >= LATENCY_WARMUP_REQUESTS) latencies[r]?.push(performance.now() - started);
      } catch {
        errors[r] = (errors[r] ?? 0) + 1;
      }
    }
  }
  return { latencies, errors };
}

/** A replica's latency figures: what the decision reads and the medians and throughput beside them. */
interface MeasuredLatency extends LatencyFigures {
  readonly sequentialP50Ms: number;
  readonly burstP50Ms: number;
  /** Answers per second during the burst. */
  readonly burstThroughput: number;
}

async function latencyGate(ctx: GateContext): Promise<GateResult> {
  const candidateReplica = await ctx.replicas.candidate();
  const productionPromise = ctx.replicas.production();
  const productionReplica = productionPromise === undefined ? undefined : await productionPromise;
  const replicas = productionReplica === undefined ? [candidateReplica] : [candidateReplica, productionReplica];
  const sequential = await sequentialLatencies(replicas, probeRequest(ctx.candidate.signature, ctx.dataset), ctx.options.latencyRequests);
  const figures: MeasuredLatency[] = [];
  for (const [i, replica] of replicas.entries()) {
    const signature = i === 0 ? ctx.candidate.signature : (ctx.production?.signature ?? ctx.candidate.signature);
    const request = probeRequest(signature, ctx.dataset);
    const burst = await measureClosedLoop(() => replica.infer(request), ctx.options.burstConcurrency, BURST_WARMUP_MS, ctx.options.burstMs);
    const sorted = (sequential.latencies[i] ?? []).slice().sort((a, b) => a - b);
    figures.push({
      sequentialP50Ms: quantile(sorted, 0.5),
      sequentialP99Ms: quantile(sorted, 0.99),
      burstP50Ms: burst.p50Ms,
      burstP99Ms: burst.p99Ms,
      burstThroughput: burst.throughput,
      errors: (sequential.errors[i] ?? 0) + burst.errors,
    });
  }
  const [candidate, production] = figures as [MeasuredLatency, MeasuredLatency | undefined];
  const decision = decideLatency(candidate, production, ctx.options);
  return {
    decision,
    evidence: {
      requests: ctx.options.latencyRequests,
      burstConcurrency: ctx.options.burstConcurrency,
      burstMs: ctx.options.burstMs,
      candidate,
      production: production ?? null,
      productionVersion: ctx.production?.version ?? null,
      maxP99Ms: ctx.options.maxP99Ms ?? null,
      maxLatencyFactor: ctx.options.maxLatencyFactor ?? null,
    },
    log: [`${ctx.options.latencyRequests} sequential requests and a ${ctx.options.burstMs} ms burst of ${ctx.options.burstConcurrency} clients per replica`, decision.detail],
  };
}

/** Resolves with the replica's resident memory once a health check reported it, or undefined after `timeoutMs`. */
async function residentBytes(replica: Replica, timeoutMs: number): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMs;
  while (replica.usage === undefined && replica.state !== 'stopped' && performance.now() < deadline) await new Promise((r) => setTimeout(r, USAGE_POLL_MS));
  return replica.usage?.rssBytes;
}

async function sizeMemoryGate(ctx: GateContext): Promise<GateResult> {
  const candidateRss = await residentBytes(await ctx.replicas.candidate(), ctx.usageTimeoutMs);
  const productionPromise = ctx.replicas.production();
  // Production's figure is evidence, not a criterion: a replica of it that did not start leaves it null.
  const productionRss = productionPromise === undefined ? undefined : await productionPromise.then((r) => residentBytes(r, ctx.usageTimeoutMs), () => undefined);
  const decision = decideSizeMemory({ artifactBytes: ctx.candidate.size_bytes, rssBytes: candidateRss }, ctx.options);
  return {
    decision,
    evidence: {
      artifactBytes: ctx.candidate.size_bytes,
      rssBytes: candidateRss ?? null,
      productionArtifactBytes: ctx.production?.size_bytes ?? null,
      productionRssBytes: productionRss ?? null,
      maxArtifactBytes: ctx.options.maxArtifactBytes,
      maxMemoryBytes: ctx.options.maxMemoryBytes,
    },
    log: [decision.detail],
  };
}

const GATES: Readonly<Record<GateName, (ctx: GateContext) => GateResult | Promise<GateResult>>> = {
  signature: signatureGate,
  smoke: smokeGate,
  accuracy: accuracyGate,
  latency: latencyGate,
  'size-memory': sizeMemoryGate,
};

/** Runs one gate and records it: a gate that throws has failed, with the error in its log and evidence. */
export async function runGate(name: GateName, ctx: GateContext): Promise<GateStep> {
  const startedAt = new Date().toISOString();
  const started = performance.now();
  let result: GateResult;
  try {
    result = await GATES[name](ctx);
  } catch (err) {
    result = { decision: { status: 'failed', detail: message(err) }, evidence: { error: message(err) }, log: [`failed: ${message(err)}`] };
  }
  return { name, status: result.decision.status, startedAt, durationMs: performance.now() - started, evidence: { ...result.evidence, detail: result.decision.detail }, log: result.log };
}

/** A gate that did not run, recorded with the reason. */
export function skippedStep(name: GateName, reason: string): GateStep {
  return { name, status: 'skipped', startedAt: new Date().toISOString(), durationMs: 0, evidence: { detail: reason }, log: [reason] };
}
