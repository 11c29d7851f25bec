/**
 * Per-model runtime options: the friendly {@link ModelRuntimeOptions} a user or `continuum tune`
 * writes, validated once with explicit ranges and compiled into {@link CompiledModelRuntimeOptions}.
 */
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import type { CompiledModelRuntimeOptions, ModelRuntimeOptions } from './service.js';

/** Upper limits: a model asking for more is a mistake, not a configuration (2-core edge nodes to cloud hosts). */
export const RUNTIME_OPTION_LIMITS = {
  maxInstances: 64,
  maxThreads: 256,
  maxBatchSize: 4096,
  maxPreferredBatchSizes: 32,
  /** Triton caps nothing here; ten seconds of batching delay is already far beyond any SLO. */
  maxQueueDelayUs: 10_000_000,
  maxQueueSize: 1_000_000,
  /** One hour. */
  maxRequestTimeoutMs: 3_600_000,
} as const;

/** The defaults, as documented with `@default` on {@link ModelRuntimeOptions}. */
export const DEFAULT_RUNTIME_OPTIONS: CompiledModelRuntimeOptions = {
  instances: 1,
  intraOpThreads: 1,
  interOpThreads: 1,
  graphOptimizationLevel: 'all',
  maxBatchSize: 32,
  preferredBatchSizes: [],
  maxQueueDelayUs: 0,
  maxQueueSize: 1024,
  requestTimeoutMs: 30_000,
  executor: 'inline',
};

const L = RUNTIME_OPTION_LIMITS;
const int = (min: number, max: number): z.ZodInt => z.int().min(min).max(max);

const runtimeOptionsSchema = z
  .object({
    instances: int(1, L.maxInstances).optional(),
    intraOpThreads: int(0, L.maxThreads).optional(),
    interOpThreads: int(0, L.maxThreads).optional(),
    graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']).optional(),
    maxBatchSize: int(0, L.maxBatchSize).optional(),
    preferredBatchSizes: z.array(int(1, L.maxBatchSize)).max(L.maxPreferredBatchSizes).optional(),
    maxQueueDelayUs: int(0, L.maxQueueDelayUs).optional(),
    maxQueueSize: int(1, L.maxQueueSize).optional(),
    requestTimeoutMs: int(0, L.maxRequestTimeoutMs).optional(),
    executor: z.enum(['inline', 'worker']).optional(),
  })
  .strict();

/**
 * Validates friendly runtime options and fills the defaults. Preferred batch sizes are sorted,
 * deduplicated and must not exceed `maxBatchSize` (Triton refuses such a config too).
 * Throws CONTINUUM_ERR_BAD_REQUEST saying which option is wrong.
 */
export function compileRuntimeOptions(opts: ModelRuntimeOptions = {}): CompiledModelRuntimeOptions {
  const parsed = runtimeOptionsSchema.safeParse(opts);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? '' : issue.path.join('.');
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `invalid runtime option ${where}: ${issue?.message ?? 'invalid'}`, {
      details: { option: where },
    });
  }
  const o = { ...DEFAULT_RUNTIME_OPTIONS, ...stripUndefined(parsed.data) };
  const preferred = [...new Set(o.preferredBatchSizes)].sort((a, b) => a - b);
  const tooLarge = preferred.find((p) => p > o.maxBatchSize);
  if (tooLarge !== undefined) {
    throw new ContinuumError(
      'CONTINUUM_ERR_BAD_REQUEST',
      `invalid runtime option preferredBatchSizes: ${tooLarge} exceeds maxBatchSize ${o.maxBatchSize}`,
      { details: { option: 'preferredBatchSizes' } },
    );
  }
  return { ...o, preferredBatchSizes: preferred };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
