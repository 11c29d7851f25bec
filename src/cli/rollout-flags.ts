/**
 * The rollout flags `rollouts start` and `release` share: the strategy, its steps and timings, the
 * A/B and shadow shares, and the analysis criteria; and the rollout input they describe (validated
 * by the server's rollout compiler).
 */
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { durationMs, numberList, positiveNumber, wholeNumber } from './args.js';

/** The rollout flags as commander parses them. */
export interface RolloutFlags {
  readonly strategy?: string;
  readonly steps?: number[];
  readonly bake?: number;
  readonly interval?: number;
  readonly retention?: number;
  readonly mirrorPercent?: number;
  readonly abPercent?: number;
  readonly abKeyHeader?: string;
  readonly abHeader?: { readonly header: string; readonly value: string };
  readonly sloErrorRate?: number;
  readonly sloP99Ms?: number;
  readonly maxLatencyRatio?: number;
  readonly minRequests?: number;
  readonly readyTimeout?: number;
}

function headerMatch(value: string): { header: string; value: string } {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) throw new InvalidArgumentError('expected HEADER=VALUE, e.g. x-variant=b');
  return { header: value.slice(0, eq), value: value.slice(eq + 1) };
}

/** Adds the rollout flags to a command. */
export function withRolloutOptions(command: Command): Command {
  return command
    .option('--strategy <strategy>', 'canary | blue-green | shadow | ab (default canary)')
    .option('--steps <percents>', 'canary traffic shares, e.g. 5,25,50,100', numberList(false))
    .option('--bake <duration>', 'how long each canary, shadow or A/B step runs before its verdict (default 30s)', durationMs)
    .option('--interval <duration>', 'analysis interval (default 5s)', durationMs)
    .option('--retention <duration>', 'blue-green: how long the old revision stays warm after the switch (default 60s)', durationMs)
    .option('--mirror-percent <n>', 'shadow: share of requests mirrored to the candidate (default 100)', positiveNumber)
    .option('--ab-percent <n>', 'A/B: candidate share (default 50)', positiveNumber)
    .option('--ab-key-header <name>', 'A/B: header whose value is hashed so a key stays on one side (default x-user-id)')
    .option('--ab-header <header=value>', 'A/B by header: requests carrying this header value go to the candidate', headerMatch)
    .option('--slo-error-rate <rate>', 'SLO: the candidate fails above this error rate, 0..1 (default 0.05)', Number)
    .option('--slo-p99-ms <ms>', 'SLO: the candidate fails when its p99 latency exceeds this', positiveNumber)
    .option('--max-latency-ratio <x>', 'the candidate fails when significantly slower by more than this factor of the median (default 1.25)', positiveNumber)
    .option('--min-requests <n>', 'fewest requests per side before a verdict can decide (default 50)', wholeNumber(5))
    .option('--ready-timeout <duration>', 'how long the candidate may take to get its replicas (default 2m)', durationMs);
}

/** The rollout input the flags describe, without the deployment and candidate reference. */
export function rolloutOf(flags: RolloutFlags): Record<string, unknown> {
  const criteria = {
    ...(flags.sloErrorRate === undefined ? {} : { maxErrorRate: flags.sloErrorRate }),
    ...(flags.sloP99Ms === undefined ? {} : { maxP99Ms: flags.sloP99Ms }),
    ...(flags.maxLatencyRatio === undefined ? {} : { maxLatencyRatio: flags.maxLatencyRatio }),
    ...(flags.minRequests === undefined ? {} : { minRequests: flags.minRequests }),
  };
  const fields: Record<string, unknown> = {
    strategy: flags.strategy,
    steps: flags.steps,
    bakeMs: flags.bake,
    analysisIntervalMs: flags.interval,
    retentionMs: flags.retention,
    mirrorPercent: flags.mirrorPercent,
    abPercent: flags.abPercent,
    abKeyHeader: flags.abKeyHeader,
    abHeader: flags.abHeader?.header,
    abHeaderValue: flags.abHeader?.value,
    readyTimeoutMs: flags.readyTimeout,
    criteria: Object.keys(criteria).length === 0 ? undefined : criteria,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}
