/**
 * A rollout as a user asks for it (API body, CLI flags, a model's release policy), validated once
 * and compiled into steps with units in the names. Each strategy is a list of steps the state
 * machine (plan.ts) walks through, ending in a promotion:
 * - canary: traffic shares with a bake time and analysis at each (Argo Rollouts' setWeight steps);
 * - blue-green: the candidate at full size, all traffic switched at once, the old revision kept
 *   warm for a retention period for an instant rollback (slot swap);
 * - shadow: a share of live traffic mirrored to the candidate, answers compared and discarded;
 * - ab: a share split by a hash of a request key (sticky) or by a header.
 */
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import type { TrafficRule } from '../deploy/route.js';
import { WHOLE_BPS } from '../deploy/split.js';
import { DEFAULT_CRITERIA } from './analysis.js';
import type { AnalysisCriteria, StrategyName } from './types.js';

/** The friendly analysis criteria: every field optional, defaults in {@link DEFAULT_CRITERIA}. */
const criteriaInput = z.strictObject({
  alpha: z.number().gt(0).lt(0.5).optional(),
  minRequests: z.int().min(5).max(1_000_000).optional(),
  maxLatencyRatio: z.number().min(1).max(100).optional(),
  minLatencyIncreaseMs: z.number().min(0).max(3_600_000).optional(),
  maxErrorRateIncrease: z.number().min(0).max(1).optional(),
  maxErrorRate: z.number().min(0).max(1).nullable().optional(),
  maxP99Ms: z.number().positive().max(3_600_000).nullable().optional(),
  maxDisagreement: z.number().min(0).max(1).optional(),
  outputTolerance: z.number().min(0).max(1e6).optional(),
});

const durationMs = z.int().min(0).max(7 * 24 * 3_600_000);
const percent = z.number().gt(0).max(100);
const headerName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9-]+$/, 'a header name (letters, digits, -)')
  .transform((h) => h.toLowerCase());

/** The friendly rollout input (API body, CLI flags, release policies). */
export const rolloutInputSchema = z.strictObject({
  deployment: z.string().min(1).max(63),
  /** The candidate: a version (`3`) or an alias (`@staging`) of the deployment's model. */
  ref: z.string().min(1).max(64),
  /** @default 'canary' */
  strategy: z.enum(['canary', 'blue-green', 'shadow', 'ab']).optional(),
  /** Canary traffic shares in percent, ascending; 100 (or the end of the list) promotes. @default [5, 25, 50, 100] */
  steps: z.array(percent).min(1).max(20).optional(),
  /** Time each canary, shadow or A/B step runs before its verdict decides. @default 30000 */
  bakeMs: durationMs.optional(),
  /** How often the analysis runs during a step. @default 5000 */
  analysisIntervalMs: z.int().min(100).max(3_600_000).optional(),
  /** Blue-green: how long the old revision stays warm after the switch. @default 60000 */
  retentionMs: durationMs.optional(),
  /** Shadow: share of requests mirrored to the candidate, percent. @default 100 */
  mirrorPercent: percent.optional(),
  /** A/B: candidate share, percent. @default 50 */
  abPercent: percent.optional(),
  /** A/B: hash this header's value so a key always lands on the same side. @default 'x-user-id' */
  abKeyHeader: headerName.optional(),
  /** A/B by header instead: requests whose `abHeader` equals `abHeaderValue` go to the candidate. */
  abHeader: headerName.optional(),
  abHeaderValue: z.string().min(1).max(256).optional(),
  /** How long the candidate may take to reach the size a step needs. @default 120000 */
  readyTimeoutMs: z.int().min(1000).max(3_600_000).optional(),
  /** A step whose verdict stays inconclusive is rolled back after this many bake times. @default 3 */
  maxBakeFactor: z.number().min(1).max(100).optional(),
  criteria: criteriaInput.optional(),
  /** Runtime options of the candidate's replicas (over the deployment's). */
  runtime: z.record(z.string().max(64), z.union([z.string().max(256), z.number(), z.boolean()])).optional(),
});

/** A rollout as the user gave it. */
export type RolloutInput = z.input<typeof rolloutInputSchema>;

/** How big the candidate must be before a step routes to it. */
export type StepSize = 'share' | 'full';

/** One step of a compiled rollout. */
export interface RolloutStep {
  /** The traffic rule the step applies once the candidate has its size. */
  readonly rule: TrafficRule;
  /** The candidate's share of requests (served or mirrored), for sizing it: basis points. */
  readonly candidateBps: number;
  /** `share`: replicas for its share of the baseline's; `full`: as many as the baseline (blue-green). */
  readonly size: StepSize;
  /** How long the step runs before its verdict decides. */
  readonly bakeMs: number;
  /**
   * Whether the step needs a passing verdict to go on (canary, shadow, A/B); a blue-green
   * retention goes on unless a verdict fails, so a quiet period does not block the promotion.
   */
  readonly needsPass: boolean;
  /** Whether the analysis compares with the baseline (false after a switch: the baseline has no traffic). */
  readonly compare: boolean;
  /**
   * Whether a control — production replicas sized like the candidate and given the same share (or,
   * in a shadow step, the same mirrored copies) — is what the candidate is compared with (canary
   * and A/B steps up to half the traffic, shadow), so both sides see the same load per replica;
   * otherwise production itself is.
   */
  readonly control: boolean;
  /** Keep the baseline at its size while this step runs (blue-green's retention). */
  readonly holdBaseline: boolean;
}

/** A rollout, compiled. */
export interface CompiledRollout {
  readonly deployment: string;
  readonly ref: string;
  readonly strategy: StrategyName;
  readonly steps: readonly RolloutStep[];
  readonly analysisIntervalMs: number;
  readonly readyTimeoutMs: number;
  readonly maxBakeFactor: number;
  readonly criteria: AnalysisCriteria;
  readonly runtime: Readonly<Record<string, string | number | boolean>> | undefined;
}

function bps(percentValue: number): number {
  return Math.round(percentValue * (WHOLE_BPS / 100));
}

function invalid(message: string): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_INVALID_ROLLOUT', message);
}

/** Validates and compiles a rollout input; CONTINUUM_ERR_INVALID_ROLLOUT names what is wrong. */
export function compileRollout(input: unknown): CompiledRollout {
  const parsed = rolloutInputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`rollout ${issue?.path.join('.') || 'input'}: ${issue?.message ?? 'invalid'}`);
  }
  const r = parsed.data;
  const strategy = r.strategy ?? 'canary';
  const bakeMs = r.bakeMs ?? 30_000;
  const c = r.criteria ?? {};
  const criteria: AnalysisCriteria = {
    alpha: c.alpha ?? DEFAULT_CRITERIA.alpha,
    minRequests: c.minRequests ?? DEFAULT_CRITERIA.minRequests,
    maxLatencyRatio: c.maxLatencyRatio ?? DEFAULT_CRITERIA.maxLatencyRatio,
    minLatencyIncreaseMs: c.minLatencyIncreaseMs ?? DEFAULT_CRITERIA.minLatencyIncreaseMs,
    maxErrorRateIncrease: c.maxErrorRateIncrease ?? DEFAULT_CRITERIA.maxErrorRateIncrease,
    maxErrorRate: c.maxErrorRate === null ? undefined : (c.maxErrorRate ?? DEFAULT_CRITERIA.maxErrorRate),
    maxP99Ms: c.maxP99Ms ?? undefined,
    maxDisagreement: c.maxDisagreement ?? DEFAULT_CRITERIA.maxDisagreement,
    outputTolerance: c.outputTolerance ?? DEFAULT_CRITERIA.outputTolerance,
  };
  const analysed = { size: 'share' as const, bakeMs, needsPass: true, compare: true, holdBaseline: false, control: false };
  /** A control takes as much traffic as the candidate, so it fits only up to half. */
  const controlled = (share: number): { readonly control: boolean; readonly controlBps: number } => (2 * share <= WHOLE_BPS ? { control: true, controlBps: share } : { control: false, controlBps: 0 });
  let steps: RolloutStep[];
  switch (strategy) {
    case 'canary': {
      const shares = r.steps ?? [5, 25, 50, 100];
      for (let i = 1; i < shares.length; i++) {
        if ((shares[i] as number) <= (shares[i - 1] as number)) throw invalid(`rollout steps must rise: ${shares.join(', ')}`);
      }
      // A last step of 100% is the promotion itself.
      steps = shares
        .filter((p) => p < 100)
        .map((p) => {
          const { control, controlBps } = controlled(bps(p));
          return { ...analysed, control, rule: { kind: 'weighted', candidateBps: bps(p), controlBps }, candidateBps: bps(p) };
        });
      break;
    }
    case 'blue-green':
      steps = [
        {
          rule: { kind: 'weighted', candidateBps: WHOLE_BPS, controlBps: 0 },
          candidateBps: WHOLE_BPS,
          size: 'full',
          bakeMs: r.retentionMs ?? 60_000,
          needsPass: false,
          compare: false,
          holdBaseline: true,
          control: false,
        },
      ];
      break;
    case 'shadow': {
      const share = bps(r.mirrorPercent ?? 100);
      // Mirrored copies go to a control as well, so latency is compared at the same load.
      steps = [{ ...analysed, control: true, rule: { kind: 'mirror', shareBps: share, tolerance: criteria.outputTolerance }, candidateBps: share }];
      break;
    }
    case 'ab': {
      const share = bps(r.abPercent ?? 50);
      if ((r.abHeader === undefined) !== (r.abHeaderValue === undefined)) throw invalid('an A/B split by header needs both abHeader and abHeaderValue');
      if (r.abHeader !== undefined && r.abHeaderValue !== undefined) {
        steps = [{ ...analysed, rule: { kind: 'header', header: r.abHeader, value: r.abHeaderValue }, candidateBps: share }];
      } else {
        const { control, controlBps } = controlled(share);
        steps = [{ ...analysed, control, rule: { kind: 'sticky', candidateBps: share, controlBps, keyHeader: r.abKeyHeader ?? 'x-user-id' }, candidateBps: share }];
      }
      break;
    }
  }
  return {
    deployment: r.deployment,
    ref: r.ref,
    strategy,
    steps,
    analysisIntervalMs: r.analysisIntervalMs ?? 5000,
    readyTimeoutMs: r.readyTimeoutMs ?? 120_000,
    maxBakeFactor: r.maxBakeFactor ?? 3,
    criteria,
    runtime: r.runtime,
  };
}
