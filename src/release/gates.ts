/**
 * The validation gates of a release and their decisions. Each decision is a pure function: the
 * figures a gate measured go in, `passed` or `failed` with one sentence of detail comes out (the
 * way Argo Rollouts' AnalysisRun and Kayenta's judge separate measuring from judging). The
 * measuring around them lives in measure.ts.
 */
import { z } from 'zod';
import type { SignatureCompatibility } from './signature.js';

/** The gates, in the order a release runs them (cheapest and most decisive first). */
export const GATE_NAMES = ['signature', 'smoke', 'accuracy', 'latency', 'size-memory'] as const;

/** A gate's name. */
export type GateName = (typeof GATE_NAMES)[number];

/** How a gate ended. */
export type GateStatus = 'passed' | 'failed' | 'skipped';

/** One recorded gate of a release: what it decided, when, how long it took, on what evidence. */
export interface GateStep {
  readonly name: GateName;
  readonly status: GateStatus;
  /** ISO 8601 time the gate started. */
  readonly startedAt: string;
  readonly durationMs: number;
  /** The figures the decision was made on (accuracies, percentiles, bytes, signature problems ...). */
  readonly evidence: Readonly<Record<string, unknown>>;
  /** What the gate did, line by line. */
  readonly log: readonly string[];
}

/** A gate's decision with its reason. */
export interface GateDecision {
  readonly status: GateStatus;
  readonly detail: string;
}

/** Friendly gate options, as the API and a release policy take them. */
export interface GateOptions {
  /** Which gates run (in the pipeline's order whatever the order given). @default every gate */
  readonly run?: readonly GateName[];
  /** Accuracy gate: the candidate's top-1 accuracy on the dataset (0..1) must reach this. */
  readonly minAccuracy?: number;
  /** Accuracy gate: the candidate may be at most this much (0..1, e.g. 0.02 = 2 points) below production. */
  readonly maxAccuracyDrop?: number;
  /** Latency gate: the candidate's p99 must stay within this, ms. */
  readonly maxP99Ms?: number;
  /**
   * Latency gate: the candidate's p99 may be at most this factor of production's, measured in the
   * same run. @default 2 when a production version exists and maxP99Ms is not given
   */
  readonly maxLatencyFactor?: number;
  /** Latency gate: a candidate p99 within this many ms of production's passes whatever the factor (timer and scheduling noise). @default 10 */
  readonly latencyNoiseMs?: number;
  /** Latency gate: sequential requests sent to each replica. @default 200 */
  readonly latencyRequests?: number;
  /** Latency gate: concurrent clients of the burst. @default 8 */
  readonly burstConcurrency?: number;
  /** Latency gate: measured length of the burst, ms. @default 500 */
  readonly burstMs?: number;
  /** Size gate: largest artifact. @default 2 GiB */
  readonly maxArtifactBytes?: number;
  /** Memory gate: largest resident memory of a replica. @default 4 GiB */
  readonly maxMemoryBytes?: number;
  /** Let a candidate with an incompatible signature through (a breaking change, said so in the evidence). @default false */
  readonly breaking?: boolean;
}

/** Gate options validated with their defaults; units in the names. */
export interface CompiledGateOptions {
  readonly run: readonly GateName[];
  readonly minAccuracy: number | undefined;
  readonly maxAccuracyDrop: number | undefined;
  readonly maxP99Ms: number | undefined;
  readonly maxLatencyFactor: number | undefined;
  readonly latencyNoiseMs: number;
  readonly latencyRequests: number;
  readonly burstConcurrency: number;
  readonly burstMs: number;
  readonly maxArtifactBytes: number;
  readonly maxMemoryBytes: number;
  readonly allowBreaking: boolean;
}

/** Factor of production's p99 the candidate may reach when the user set no latency criterion. */
export const DEFAULT_MAX_LATENCY_FACTOR = 2;

/** The schema of {@link GateOptions} at the API's edge. */
export const gateOptionsSchema = z.strictObject({
  run: z.array(z.enum(GATE_NAMES)).min(1).max(GATE_NAMES.length).optional(),
  minAccuracy: z.number().min(0).max(1).optional(),
  maxAccuracyDrop: z.number().min(0).max(1).optional(),
  maxP99Ms: z.number().positive().max(3_600_000).optional(),
  maxLatencyFactor: z.number().min(1).max(1000).optional(),
  latencyNoiseMs: z.number().min(0).max(60_000).optional(),
  latencyRequests: z.int().min(10).max(10_000).optional(),
  burstConcurrency: z.int().min(1).max(256).optional(),
  burstMs: z.int().min(50).max(60_000).optional(),
  maxArtifactBytes: z.int().positive().optional(),
  maxMemoryBytes: z.int().positive().optional(),
  breaking: z.boolean().optional(),
});

/** Fills in defaults (options already validated by {@link gateOptionsSchema}). */
export function compileGateOptions(options: GateOptions): CompiledGateOptions {
  const run = options.run ?? GATE_NAMES;
  return {
    run: GATE_NAMES.filter((g) => run.includes(g)),
    minAccuracy: options.minAccuracy,
    maxAccuracyDrop: options.maxAccuracyDrop,
    maxP99Ms: options.maxP99Ms,
    maxLatencyFactor: options.maxLatencyFactor,
    latencyNoiseMs: options.latencyNoiseMs ?? 10,
    latencyRequests: options.latencyRequests ?? 200,
    burstConcurrency: options.burstConcurrency ?? 8,
    burstMs: options.burstMs ?? 500,
    maxArtifactBytes: options.maxArtifactBytes ?? 2 * 1024 ** 3,
    maxMemoryBytes: options.maxMemoryBytes ?? 4 * 1024 ** 3,
    allowBreaking: options.breaking ?? false,
  };
}

/** Whether the options ask anything of the accuracy gate (a dataset is then required). */
export function asksForAccuracy(options: CompiledGateOptions): boolean {
  return options.minAccuracy !== undefined || options.maxAccuracyDrop !== undefined;
}

const passed = (detail: string): GateDecision => ({ status: 'passed', detail });
const failed = (detail: string): GateDecision => ({ status: 'failed', detail });
const skipped = (detail: string): GateDecision => ({ status: 'skipped', detail });

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const msText = (x: number): string => `${x.toFixed(2)} ms`;
const size = (bytes: number): string => (bytes < 1024 ** 2 ? `${bytes} B` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`);

/** Signature gate: compatible passes; incompatible fails unless the release allows a breaking change. */
export function decideSignature(compat: SignatureCompatibility | undefined, allowBreaking: boolean): GateDecision {
  if (compat === undefined) return passed('no production version to compare with: any signature is a first release');
  if (compat.compatible) return passed("the candidate's inputs and outputs are compatible with production's");
  const problems = compat.problems.join('; ');
  return allowBreaking ? passed(`breaking change allowed: ${problems}`) : failed(`incompatible with production: ${problems} (release with --breaking to allow it)`);
}

/** One output of a smoke inference as the measuring saw it. */
export interface SmokeOutput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  /** Elements that are NaN or infinite (0 for integer outputs). */
  readonly nonFinite: number;
}

/** Smoke gate: every declared output came back, with the declared datatype and fixed dimensions, and only finite values. */
export function decideSmoke(expected: readonly { readonly name: string; readonly datatype: string; readonly shape: readonly number[] }[], outputs: readonly SmokeOutput[]): GateDecision {
  const problems: string[] = [];
  for (const spec of expected) {
    const out = outputs.find((o) => o.name === spec.name);
    if (out === undefined) {
      problems.push(`output '${spec.name}' is missing`);
      continue;
    }
    if (out.datatype !== spec.datatype) problems.push(`output '${spec.name}' is ${out.datatype}, declared ${spec.datatype}`);
    const fits = out.shape.length === spec.shape.length && spec.shape.every((d, i) => d < 0 || d === out.shape[i]);
    if (!fits) problems.push(`output '${spec.name}' has shape [${out.shape.join(', ')}], declared [${spec.shape.join(', ')}]`);
    if (out.nonFinite > 0) problems.push(`output '${spec.name}' has ${out.nonFinite} NaN or infinite value(s)`);
  }
  return problems.length === 0 ? passed(`one inference answered ${outputs.length} output(s) of the declared shapes with finite values`) : failed(problems.join('; '));
}

/** What the accuracy gate measured. */
export interface AccuracyFigures {
  readonly hasDataset: boolean;
  /** The candidate's top-1 accuracy (0..1); undefined when not measured. */
  readonly candidate: number | undefined;
  /** Production's, measured the same way; undefined when there is no production version or it could not be measured. */
  readonly production: number | undefined;
}

/** Accuracy gate: the candidate reaches `minAccuracy` and is at most `maxAccuracyDrop` below production. */
export function decideAccuracy(figures: AccuracyFigures, options: Pick<CompiledGateOptions, 'minAccuracy' | 'maxAccuracyDrop'>): GateDecision {
  const asked = options.minAccuracy !== undefined || options.maxAccuracyDrop !== undefined;
  if (!figures.hasDataset) {
    return asked ? failed('an accuracy criterion was set but the model has no dataset: attach one with `continuum models dataset MODEL FILE.json`') : skipped('no dataset attached and no accuracy criterion set');
  }
  const { candidate, production } = figures;
  if (candidate === undefined) return failed("the candidate's accuracy could not be measured");
  const problems: string[] = [];
  const notes: string[] = [`candidate ${pct(candidate)}`];
  if (production !== undefined) notes.push(`production ${pct(production)}`);
  if (options.minAccuracy !== undefined && candidate < options.minAccuracy) problems.push(`accuracy ${pct(candidate)} is below the minimum ${pct(options.minAccuracy)}`);
  if (options.maxAccuracyDrop !== undefined) {
    if (production === undefined) {
      problems.push("production's accuracy is not known, so the drop cannot be checked");
    } else if (production - candidate > options.maxAccuracyDrop) {
      problems.push(`accuracy ${pct(candidate)} is ${pct(production - candidate)} below production's ${pct(production)} (at most ${pct(options.maxAccuracyDrop)} allowed)`);
    }
  }
  if (problems.length > 0) return failed(problems.join('; '));
  return passed(asked ? `${notes.join(', ')}: within the criteria` : `${notes.join(', ')} (no accuracy criterion set)`);
}

/** Latency of one replica: p99 of sequential requests and of a concurrent burst, and failed requests. */
export interface LatencyFigures {
  readonly sequentialP99Ms: number;
  readonly burstP99Ms: number;
  readonly errors: number;
}

/**
 * Latency gate: no failed request, and each p99 (sequential and burst) within `maxP99Ms` and
 * within `maxLatencyFactor` × production's — except a p99 within `latencyNoiseMs` of production's,
 * a difference below what a shared machine's scheduling can tell apart (Kayenta likewise
 * ignores effects below a tolerance).
 */
export function decideLatency(
  candidate: LatencyFigures,
  production: LatencyFigures | undefined,
  options: Pick<CompiledGateOptions, 'maxP99Ms' | 'maxLatencyFactor' | 'latencyNoiseMs'>,
): GateDecision {
  if (candidate.errors > 0) return failed(`${candidate.errors} request(s) failed on the candidate`);
  const factor = options.maxLatencyFactor ?? (options.maxP99Ms === undefined ? DEFAULT_MAX_LATENCY_FACTOR : undefined);
  const problems: string[] = [];
  const checked: string[] = [];
  for (const [kind, c, p] of [
    ['sequential', candidate.sequentialP99Ms, production?.sequentialP99Ms],
    ['burst', candidate.burstP99Ms, production?.burstP99Ms],
  ] as const) {
    if (options.maxP99Ms !== undefined) {
      checked.push(`${kind} p99 ${msText(c)} vs limit ${msText(options.maxP99Ms)}`);
      if (c > options.maxP99Ms) problems.push(`${kind} p99 ${msText(c)} exceeds ${msText(options.maxP99Ms)}`);
    }
    if (factor !== undefined && p !== undefined) {
      checked.push(`${kind} p99 ${msText(c)} vs production ${msText(p)}`);
      if (c > factor * p && c - p > options.latencyNoiseMs) problems.push(`${kind} p99 ${msText(c)} is more than ${factor}× production's ${msText(p)}`);
    }
  }
  if (problems.length > 0) return failed(problems.join('; '));
  if (checked.length === 0) return skipped('no production version to compare with and no maxP99Ms set');
  return passed(checked.join('; '));
}

/** What the size-memory gate measured. */
export interface SizeMemoryFigures {
  readonly artifactBytes: number;
  /** Resident memory of the candidate's replica; undefined when no health check reported it. */
  readonly rssBytes: number | undefined;
}

/** Size-memory gate: the artifact and the replica's resident memory within their limits. */
export function decideSizeMemory(figures: SizeMemoryFigures, options: Pick<CompiledGateOptions, 'maxArtifactBytes' | 'maxMemoryBytes'>): GateDecision {
  const problems: string[] = [];
  if (figures.artifactBytes > options.maxArtifactBytes) problems.push(`artifact ${size(figures.artifactBytes)} exceeds ${size(options.maxArtifactBytes)}`);
  if (figures.rssBytes === undefined) problems.push("the replica's resident memory was not reported");
  else if (figures.rssBytes > options.maxMemoryBytes) problems.push(`resident memory ${size(figures.rssBytes)} exceeds ${size(options.maxMemoryBytes)}`);
  if (problems.length > 0) return failed(problems.join('; '));
  return passed(`artifact ${size(figures.artifactBytes)} (limit ${size(options.maxArtifactBytes)}), resident memory ${size(figures.rssBytes ?? 0)} (limit ${size(options.maxMemoryBytes)})`);
}
