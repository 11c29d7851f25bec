/**
 * The scaling-policy flags `deploy`, `simulate` and `bench replay` share: `--policy`, repeatable
 * `--param key=value`, `--min` and `--max`, and the policy record they describe.
 */
import type { Command } from 'commander';
import { parsePolicyParams, POLICY_NAMES } from '../autoscale/index.js';
import { collect, nonNegativeInt } from './args.js';

/** The policy flags as commander parses them. */
export interface PolicyFlags {
  readonly policy: string;
  readonly param?: readonly string[];
  readonly min?: number;
  readonly max?: number;
}

/** Adds the policy flags to a command (`--policy` defaults to `auto`). */
export function withPolicyOptions(command: Command): Command {
  return command
    .option('--policy <policy>', `autoscaling policy: ${POLICY_NAMES.join('|')}`, 'auto')
    .option('--param <key=value>', 'a policy parameter, e.g. targetConcurrency=10 (repeatable)', collect)
    .option('--min <n>', 'fewest replicas (0 allows scale to zero)', nonNegativeInt)
    .option('--max <n>', 'most replicas', nonNegativeInt);
}

/** The policy record the flags describe: `--policy`, `--min`, `--max` over the `--param`s (validated by the server or compilePolicy). */
export function policyOf(flags: PolicyFlags): Record<string, string | number | boolean> {
  return {
    ...parsePolicyParams(flags.param ?? []),
    policy: flags.policy,
    ...(flags.min === undefined ? {} : { minReplicas: flags.min }),
    ...(flags.max === undefined ? {} : { maxReplicas: flags.max }),
  };
}
