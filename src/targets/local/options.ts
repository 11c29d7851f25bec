/**
 * Options of the local target, validated once and compiled with units in the names.
 */
import { z } from 'zod';
import { ContinuumError } from '../../errors.js';

/** Friendly options of a {@link LocalTarget}; every field optional. */
export interface LocalTargetOptions {
  /**
   * Spare processes kept booted with the runtime and ONNX Runtime imported, waiting for a model:
   * a replica started from one skips process spawn and imports (the cold start's largest part).
   * Each spare costs one idle Node process (about 60 MB resident). @default 1
   */
  readonly warmPoolSize?: number;
  /**
   * How long after a spare is taken the pool is refilled. Booting a spare takes a core for a few
   * hundred milliseconds; deferring it leaves the CPU to the replica that was just started, whose
   * first requests are waiting (measured by bench/coldstart.ts). @default 500
   */
  readonly poolRefillDelayMs?: number;
  /** Longest a replica may take from start to ready before it is killed. @default 60000 */
  readonly startTimeoutMs?: number;
  /** Interval of the health check (ping) of each replica. @default 1000 */
  readonly healthIntervalMs?: number;
  /**
   * A replica that answered no ping for this long is killed and its requests fail over. Long
   * inline runs block a replica's event loop, so this is far above any single batch. @default 10000
   */
  readonly unresponsiveAfterMs?: number;
  /** Longest stop() waits for accepted requests to finish before the process is killed. @default 30000 */
  readonly drainTimeoutMs?: number;
  /**
   * Extra time a request may take past its deadline (or the model's request timeout) before the
   * parent gives up on it; the replica's own timeout normally answers first. @default 1000
   */
  readonly answerGraceMs?: number;
  /** Extra Node.js flags for replica processes. @default [] */
  readonly nodeArgs?: readonly string[];
  /**
   * Whether the warm pool boots at construction; when false it boots at the first
   * {@link Target.prepare} (a server with no deployment keeps no spare process). @default true
   */
  readonly warmPoolOnStart?: boolean;
}

/** Local target options after validation and defaults. */
export type CompiledLocalTargetOptions = Required<LocalTargetOptions>;

const ms = (max: number): z.ZodInt => z.int().min(1).max(max);

const schema = z
  .object({
    warmPoolSize: z.int().min(0).max(64).default(1),
    poolRefillDelayMs: z.int().min(0).max(3_600_000).default(500),
    startTimeoutMs: ms(3_600_000).default(60_000),
    healthIntervalMs: ms(60_000).default(1000),
    unresponsiveAfterMs: ms(3_600_000).default(10_000),
    drainTimeoutMs: ms(3_600_000).default(30_000),
    answerGraceMs: z.int().min(0).max(3_600_000).default(1000),
    nodeArgs: z.array(z.string()).max(64).default([]),
    warmPoolOnStart: z.boolean().default(true),
  })
  .strict();

/** Validates and fills in defaults; throws CONTINUUM_ERR_BAD_REQUEST naming the bad option. */
export function compileLocalTargetOptions(options: LocalTargetOptions = {}): CompiledLocalTargetOptions {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `invalid local target option ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`, {
      details: { option: issue?.path.join('.') },
    });
  }
  if (parsed.data.unresponsiveAfterMs <= parsed.data.healthIntervalMs) {
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'invalid local target option unresponsiveAfterMs: it must exceed healthIntervalMs', {
      details: { option: 'unresponsiveAfterMs' },
    });
  }
  return parsed.data;
}
