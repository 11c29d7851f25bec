/**
 * `continuum optimize`: reads a model version from the registry, rewrites it (graph.ts), measures
 * the result against the original on the real runtime (measure.ts), and records it as a new
 * version whose labels carry its lineage (`optimized-from`, `optimization`) and key figures —
 * unless it lost more accuracy than the budget allows, in which case nothing is recorded.
 */
import { readFile } from 'node:fs/promises';
import { ContinuumError } from '../errors.js';
import { OPTIMIZED_FROM_LABEL } from '../registry/index.js';
import type { Registry } from '../registry/index.js';
import type { Dataset } from '../release/index.js';
import { optimizeOnnx } from './graph.js';
import type { Optimization } from './graph.js';
import { compareModels } from './measure.js';
import type { MeasureOptions } from './measure.js';
import { buildReport } from './report.js';
import type { OptimizationReport } from './report.js';

/** The version label saying which optimization made a version (`int8`, `fp16`). */
export const OPTIMIZATION_LABEL = 'optimization';

/** What to optimize and how. */
export interface OptimizeRequest extends MeasureOptions {
  readonly model: string;
  /** A version or `@alias`; the model's default version when absent. */
  readonly ref?: string;
  readonly optimization: Optimization;
  /** The new version's name; the next integer when absent. */
  readonly version?: string;
  /** Refuse the result when its top-1 accuracy is more than this (0..1) below the original's on the attached dataset. */
  readonly maxAccuracyDrop?: number;
}

/** What {@link optimizeVersion} needs: the registry, and the dataset attached to a model (the release pipeline keeps them). */
export interface OptimizeDependencies {
  readonly registry: Registry;
  readonly datasetOf: (model: string) => Dataset | undefined;
}

const figure = (x: number): string => x.toFixed(4);

/**
 * Optimizes a version and records the result as a new version with its lineage; returns the
 * report. Throws CONTINUUM_ERR_OPTIMIZE_UNSUPPORTED when the model has nothing to rewrite and
 * CONTINUUM_ERR_ACCURACY_BUDGET (the report in its details) when the budget refuses the result.
 */
export async function optimizeVersion(deps: OptimizeDependencies, request: OptimizeRequest): Promise<OptimizationReport> {
  const { registry } = deps;
  const original = registry.resolve(request.model, request.ref);
  const originalVersion = registry.getVersion(original.name, original.version);
  const { bytes, summary } = optimizeOnnx(await readFile(original.artifactPath), request.optimization);
  const staged = await registry.stageArtifact(bytes);
  let report: OptimizationReport;
  try {
    const comparison = await compareModels(
      { ...original, sizeBytes: originalVersion.size_bytes },
      { ...original, version: request.version ?? 'optimized', artifactPath: staged.blob.tempPath, sha256: staged.blob.sha256, signature: staged.inspection.signature, sizeBytes: staged.blob.sizeBytes },
      deps.datasetOf(original.name),
      request,
    );
    report = buildReport({ model: original.name, original: original.version, version: null, rewrite: summary, comparison, maxAccuracyDrop: request.maxAccuracyDrop });
  } catch (err) {
    registry.discardStaged(staged);
    throw err;
  }
  if (report.gate.status === 'failed') {
    registry.discardStaged(staged);
    throw new ContinuumError('CONTINUUM_ERR_ACCURACY_BUDGET', `the ${request.optimization} version of '${original.name}' version ${original.version} was not recorded: ${report.gate.detail}`, { details: { report } });
  }
  const labels: Record<string, string> = {
    [OPTIMIZED_FROM_LABEL]: original.version,
    [OPTIMIZATION_LABEL]: request.optimization,
    'optimize.size-ratio': figure(report.sizeRatio),
    ...(report.latency[0] === undefined ? {} : { 'optimize.latency-ratio': figure(report.latency[0].ratio) }),
    ...(report.accuracy.drop === null ? {} : { 'optimize.accuracy-drop': figure(report.accuracy.drop) }),
  };
  const recorded = registry.commitVersion(original.name, staged, { labels, ...(request.version === undefined ? {} : { version: request.version }) });
  return { ...report, version: recorded.version };
}
