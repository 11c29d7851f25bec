/**
 * The cost model: what a deployment costs in each serving mode, from public price lists.
 *
 * - always-on: every replica that runs is paid for by the second, at an hourly price derived from
 *   its vCPU and memory (how AWS Fargate bills a task);
 * - serverless: each invocation pays a request fee plus its execution time × memory in GB-seconds
 *   (how AWS Lambda bills a function). Idle warm replicas cost nothing in this mode.
 *
 * The live autoscaler loop and the simulator both add up cost with {@link accrueCost}, so they agree.
 */
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import type { ScalingDecision, ServingMode } from './types.js';

/** Prices of the cost model, in US dollars, with the unit in each name. */
export interface CompiledCostModel {
  /** Price of one vCPU for one hour of an always-on replica. */
  readonly alwaysOnVcpuHourUsd: number;
  /** Price of one GB of memory for one hour of an always-on replica. */
  readonly alwaysOnGbHourUsd: number;
  /** Serverless request fee per million invocations. */
  readonly serverlessMillionRequestsUsd: number;
  /** Serverless execution price per GB-second (memory × billed duration). */
  readonly serverlessGbSecondUsd: number;
}

/** Friendly cost model input: any price may be overridden; the rest come from {@link DEFAULT_COST_MODEL}. */
export type CostModelSpec = Partial<CompiledCostModel>;

/**
 * Default prices (US East, N. Virginia, Linux/x86, as published in 2025):
 * - AWS Fargate, https://aws.amazon.com/fargate/pricing/ : $0.04048 per vCPU per hour and
 *   $0.004445 per GB per hour;
 * - AWS Lambda, https://aws.amazon.com/lambda/pricing/ : $0.20 per 1M requests and
 *   $0.0000166667 per GB-second (x86, first pricing tier).
 */
export const DEFAULT_COST_MODEL: CompiledCostModel = {
  alwaysOnVcpuHourUsd: 0.04048,
  alwaysOnGbHourUsd: 0.004445,
  serverlessMillionRequestsUsd: 0.2,
  serverlessGbSecondUsd: 0.0000166667,
};

const price = z.number().min(0).max(1_000_000);

/** The zod shape of the cost model's prices (also part of the `auto` policy's parameters). */
export const costModelShape = {
  alwaysOnVcpuHourUsd: price.default(DEFAULT_COST_MODEL.alwaysOnVcpuHourUsd),
  alwaysOnGbHourUsd: price.default(DEFAULT_COST_MODEL.alwaysOnGbHourUsd),
  serverlessMillionRequestsUsd: price.default(DEFAULT_COST_MODEL.serverlessMillionRequestsUsd),
  serverlessGbSecondUsd: price.default(DEFAULT_COST_MODEL.serverlessGbSecondUsd),
};

const costModelSchema = z.strictObject(costModelShape);

/** What one replica (or one serverless instance) is given. */
export interface ReplicaResources {
  readonly vcpu: number;
  readonly memoryGb: number;
}

/** One vCPU and 2 GB per replica unless the deployment says otherwise (a Fargate 1 vCPU / 2 GB task). */
export const DEFAULT_REPLICA_RESOURCES: ReplicaResources = { vcpu: 1, memoryGb: 2 };

/** Validates a cost model and fills the default prices; a bad price is CONTINUUM_ERR_BAD_REQUEST naming it. */
export function compileCostModel(input: unknown = {}): CompiledCostModel {
  const parsed = costModelSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.join('.') ?? '';
  throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `invalid cost model price ${where}: ${issue?.message ?? 'invalid'}`, { details: { price: where } });
}

/** Price of one always-on replica for one hour, in USD. */
export function replicaHourUsd(model: CompiledCostModel, resources: ReplicaResources): number {
  return resources.vcpu * model.alwaysOnVcpuHourUsd + resources.memoryGb * model.alwaysOnGbHourUsd;
}

/** Cost of `replicaSeconds` of always-on replicas of the given size, in USD. */
export function alwaysOnCostUsd(model: CompiledCostModel, resources: ReplicaResources, replicaSeconds: number): number {
  return (replicaSeconds / 3600) * replicaHourUsd(model, resources);
}

/**
 * Cost of `invocations` serverless requests that executed for `busySeconds` in total, in USD.
 * Like Lambda, every invocation's duration is billed on its own, even when several ran at once.
 */
export function serverlessCostUsd(model: CompiledCostModel, resources: ReplicaResources, invocations: number, busySeconds: number): number {
  return (invocations / 1e6) * model.serverlessMillionRequestsUsd + busySeconds * resources.memoryGb * model.serverlessGbSecondUsd;
}

/** How a policy's replicas are billed: `auto` says per decision, `serverless` is billed per invocation, the rest per replica-second. */
export function billingMode(decision: Pick<ScalingDecision, 'policy' | 'mode'>): ServingMode {
  return decision.mode ?? (decision.policy === 'serverless' ? 'serverless' : 'always-on');
}

/** One tick of a deployment, as the cost model sees it. */
export interface CostTick {
  /** How the tick is billed (see {@link billingMode}). */
  readonly mode: ServingMode;
  /** Replicas that existed during the tick (ready or starting). */
  readonly replicas: number;
  readonly intervalMs: number;
  /** Requests answered during the tick. */
  readonly invocations: number;
  /** Summed execution time of those requests, ms. */
  readonly busyMs: number;
}

/** Cost accrued so far by a deployment, with the quantities it was computed from. */
export interface CostAccrual {
  readonly totalUsd: number;
  readonly alwaysOnUsd: number;
  readonly serverlessUsd: number;
  /** Replica-seconds in every mode (billed only in always-on mode). */
  readonly replicaSeconds: number;
  /** Invocations in every mode (billed only in serverless mode). */
  readonly invocations: number;
  /** Execution seconds in every mode (billed only in serverless mode). */
  readonly busySeconds: number;
}

/** Nothing accrued yet. */
export const ZERO_COST: CostAccrual = { totalUsd: 0, alwaysOnUsd: 0, serverlessUsd: 0, replicaSeconds: 0, invocations: 0, busySeconds: 0 };

/** Adds one tick to an accrual (pure): the live loop and the simulator both call it each tick. */
export function accrueCost(model: CompiledCostModel, resources: ReplicaResources, acc: CostAccrual, tick: CostTick): CostAccrual {
  const replicaSeconds = (tick.replicas * tick.intervalMs) / 1000;
  const busySeconds = tick.busyMs / 1000;
  const alwaysOn = tick.mode === 'always-on' ? alwaysOnCostUsd(model, resources, replicaSeconds) : 0;
  const serverless = tick.mode === 'serverless' ? serverlessCostUsd(model, resources, tick.invocations, busySeconds) : 0;
  return {
    totalUsd: acc.totalUsd + alwaysOn + serverless,
    alwaysOnUsd: acc.alwaysOnUsd + alwaysOn,
    serverlessUsd: acc.serverlessUsd + serverless,
    replicaSeconds: acc.replicaSeconds + replicaSeconds,
    invocations: acc.invocations + tick.invocations,
    busySeconds: acc.busySeconds + busySeconds,
  };
}
