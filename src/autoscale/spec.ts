/**
 * Policy specifications: the friendly {@link PolicySpec} a user writes (`--policy kpa --param
 * stableWindowMs=30000`, or JSON through the API), validated once by zod and compiled into a flat
 * {@link CompiledPolicy} with every default filled and the unit in every name.
 *
 * Defaults follow the systems each policy reproduces: Kubernetes' HPA (autoscaling/v2 default
 * behavior) and Knative's KPA (config-autoscaler defaults); the sources are cited field by field.
 */
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import { costModelShape, DEFAULT_REPLICA_RESOURCES } from './cost.js';
import { POLICY_NAMES } from './types.js';
import type { PolicyName } from './types.js';

/** Hard limits on policy parameters: beyond them a value is a mistake, not a configuration. */
export const POLICY_LIMITS = {
  maxReplicas: 1000,
  /** Knative bounds its stable window to 1 h, Kubernetes its stabilization windows to 1 h. */
  maxWindowMs: 3_600_000,
  /** Longest horizon, season or grace anything may look at: one week. */
  maxSpanMs: 7 * 86_400_000,
  maxParams: 64,
} as const;

/** Replicas a policy may reach when the spec gives no `maxReplicas` (one machine's worth). */
export const DEFAULT_MAX_REPLICAS = 10;

/**
 * Concurrency per replica the concurrency-driven policies aim at by default: Knative's 100
 * (container-concurrency-target-default) × 0.7 (container-concurrency-target-percentage), so every
 * policy is compared at the same per-replica load unless told otherwise.
 */
export const DEFAULT_TARGET_CONCURRENCY = 70;

const L = POLICY_LIMITS;
const replicas = (min = 0): z.ZodInt => z.int().min(min).max(L.maxReplicas);
const durationMs = (min: number, max: number): z.ZodInt => z.int().min(min).max(max);
const concurrency = z.number().positive().max(1_000_000);
const ratio = z.number().min(0).max(1);
const bounds = (minDefault: number, minFloor = 0) => ({
  minReplicas: replicas(minFloor).default(minDefault),
  maxReplicas: replicas(1).default(DEFAULT_MAX_REPLICAS),
});

const fixedSchema = z.strictObject({
  policy: z.literal('fixed'),
  /** Replicas to keep. @default minReplicas, else 1 */
  replicas: replicas().optional(),
  minReplicas: replicas().optional(),
  maxReplicas: replicas().optional(),
});

const thresholdSchema = z.strictObject({
  policy: z.literal('threshold'),
  ...bounds(0),
  /** Demand D(t) is the mean request rate over this window (a single tick's rate is too noisy to step on). */
  demandWindowMs: durationMs(1000, L.maxWindowMs).default(30_000),
  /** Thresholds T1 < T2 of equation 2, requests per second. */
  t1Rps: z.number().min(0).max(1e9).default(10),
  t2Rps: z.number().min(0).max(1e9).default(50),
  /** Levels U0 ≤ U1 ≤ U2 of equation 2, as replica counts. */
  u0Replicas: replicas().default(1),
  u1Replicas: replicas().default(2),
  u2Replicas: replicas().default(4),
});

const hpaSchema = z.strictObject({
  policy: z.literal('hpa'),
  // The HPA never scales to zero (minReplicas >= 1 unless the alpha HPAScaleToZero gate is on).
  ...bounds(1, 1),
  /** `concurrency`: requests in the system per ready replica; `cpu`: mean CPU utilization of ready replicas. */
  metric: z.enum(['concurrency', 'cpu']).default('concurrency'),
  targetConcurrency: concurrency.default(DEFAULT_TARGET_CONCURRENCY),
  /** autoscaling/v1's default target when none is given is 80% CPU. */
  targetCpuUtilization: z.number().positive().max(10).default(0.8),
  /** kube-controller-manager --horizontal-pod-autoscaler-tolerance. */
  tolerance: ratio.default(0.1),
  /** kube-controller-manager --horizontal-pod-autoscaler-sync-period; the metric is averaged over it. */
  syncPeriodMs: durationMs(100, L.maxWindowMs).default(15_000),
  /** behavior.scaleUp.stabilizationWindowSeconds (default 0) and scaleDown's (default 300). */
  scaleUpStabilizationMs: durationMs(0, L.maxWindowMs).default(0),
  scaleDownStabilizationMs: durationMs(0, L.maxWindowMs).default(300_000),
  /** Default scale-up policies: 4 Pods or 100 Percent per 15 s, selectPolicy Max. */
  scaleUpPods: z.int().min(1).max(L.maxReplicas).default(4),
  scaleUpPercent: z.number().positive().max(100_000).default(100),
  scaleUpPeriodMs: durationMs(1000, 1_800_000).default(15_000),
  /** Default scale-down policy: 100 Percent per 15 s. */
  scaleDownPercent: z.number().positive().max(100).default(100),
  scaleDownPeriodMs: durationMs(1000, 1_800_000).default(15_000),
});

const kpaSchema = z.strictObject({
  policy: z.literal('kpa'),
  // Knative min-scale 0: scale to zero is on.
  ...bounds(0),
  /** container-concurrency-target-default. */
  containerConcurrency: concurrency.default(100),
  /** container-concurrency-target-percentage 70, as a ratio. */
  targetUtilization: z.number().positive().max(1).default(0.7),
  /** stable-window: 6 s <= value <= 1 h. */
  stableWindowMs: durationMs(6000, L.maxWindowMs).default(60_000),
  /** panic-window-percentage: the panic window as a percentage of the stable window (1..100). */
  panicWindowPercent: z.number().min(1).max(100).default(10),
  /** panic-threshold-percentage 200, as a ratio of desired to ready replicas (1.1..10). */
  panicThreshold: z.number().min(1.1).max(10).default(2),
  /** max-scale-up-rate and max-scale-down-rate, per decision. */
  maxScaleUpRate: z.number().gt(1).max(1e6).default(1000),
  maxScaleDownRate: z.number().gt(1).max(1e6).default(2),
  /** scale-to-zero-grace-period (Knative requires at least 6 s). */
  scaleToZeroGraceMs: durationMs(6000, L.maxWindowMs).default(30_000),
  /** enable-scale-to-zero: when false the last replica stays. */
  enableScaleToZero: z.boolean().default(true),
});

const serverlessSchema = z.strictObject({
  policy: z.literal('serverless'),
  ...bounds(0),
  targetConcurrency: concurrency.default(DEFAULT_TARGET_CONCURRENCY),
  /** Idle time (no arrival, nothing in flight) before the last replica goes; Knative's default grace. */
  scaleToZeroGraceMs: durationMs(0, L.maxSpanMs).default(30_000),
  /** A scale-down takes effect only after the lower count held this long (Knative's scale-down-delay idea). */
  scaleDownDelayMs: durationMs(0, L.maxWindowMs).default(5000),
});

const predictiveSchema = z.strictObject({
  policy: z.literal('predictive'),
  ...bounds(1),
  /** History is kept as the mean request rate per bucket of this length. */
  bucketMs: durationMs(1000, L.maxWindowMs).default(10_000),
  /** How far ahead replicas are provisioned: enough to cover a cold start and a scale decision. */
  lookaheadMs: durationMs(1000, L.maxSpanMs).default(120_000),
  /** Season of the seasonal-naive method (a day: inference traffic follows the working day); 0 turns it off. */
  seasonMs: durationMs(0, L.maxSpanMs).default(86_400_000),
  /** Number of past forecast origins the methods are scored on. */
  scoreOrigins: z.int().min(1).max(1000).default(30),
  /** Holt's smoothing factors for level and trend. */
  holtAlpha: z.number().gt(0).max(1).default(0.5),
  holtBeta: ratio.default(0.2),
  /** Request rate one replica serves within its target (Knative's requests-per-second-target-default). */
  targetRpsPerReplica: z.number().positive().max(1e9).default(200),
  /** Reactive floor: never fewer replicas than current concurrency / targetConcurrency. */
  targetConcurrency: concurrency.default(DEFAULT_TARGET_CONCURRENCY),
});

const autoSchema = z.strictObject({
  policy: z.literal('auto'),
  // Serverless mode may go to zero; always-on mode keeps at least one replica whatever minReplicas says.
  ...bounds(0),
  /** Mode before enough traffic was observed: serverless, because a new deployment is idle. */
  initialMode: z.enum(['serverless', 'always-on']).default('serverless'),
  /** Concurrency per replica in both modes. */
  targetConcurrency: concurrency.default(DEFAULT_TARGET_CONCURRENCY),
  /** Serverless mode: idle grace and scale-down delay (as the `serverless` policy). */
  scaleToZeroGraceMs: durationMs(0, L.maxSpanMs).default(30_000),
  scaleDownDelayMs: durationMs(0, L.maxWindowMs).default(5000),
  /** Latency objective of the deployment (a typical interactive one until the deployment states its own). */
  sloMs: durationMs(1, L.maxWindowMs).default(1000),
  /** Expected scale-from-zero time until a measured one is given: twice the 250 ms p50 Continuum aims at for a small model. */
  coldStartMs: durationMs(0, L.maxWindowMs).default(500),
  /** Replica time one request takes (its execution time / executors per replica); when absent it is measured from busy CPU. */
  serviceTimeMs: z.number().positive().max(L.maxWindowMs).optional(),
  /** Always-on mode: utilization replicas are provisioned at; when absent, the highest whose M/M/1 p99 meets sloMs (src/autoscale/provision.ts). */
  targetUtilization: z.number().gt(0).max(1).optional(),
  /** Always-on mode: its mean rate is provisioned at the target utilization and its highest need holds the count (Knative's stable window). */
  stableWindowMs: durationMs(1000, L.maxWindowMs).default(60_000),
  /** Always-on mode: its mean rate is provisioned at full utilization, catching a rise the stable window is slow to see (Knative's panic window). */
  burstWindowMs: durationMs(1000, L.maxWindowMs).default(6000),
  /** Share of requests cold starts may push past the SLO: half the 1% budget of a 99% SLO. */
  coldStartMissBudget: ratio.default(0.005),
  /** Window the traffic statistics are computed over. */
  statsWindowMs: durationMs(10_000, L.maxSpanMs).default(600_000),
  /** Traffic that must be observed before the first change of mode. */
  minObservationMs: durationMs(0, L.maxSpanMs).default(60_000),
  /** Shortest stay in a mode before a cost-driven change (an SLO-driven change does not wait). */
  minModeDwellMs: durationMs(0, L.maxSpanMs).default(300_000),
  /** A mode must be this much cheaper (or the SLO risk this much under budget) to be switched to. */
  switchMargin: ratio.default(0.2),
  /** Size of one replica, priced by the cost model. */
  replicaVcpu: z.number().positive().max(1024).default(DEFAULT_REPLICA_RESOURCES.vcpu),
  replicaMemoryGb: z.number().positive().max(10_240).default(DEFAULT_REPLICA_RESOURCES.memoryGb),
  ...costModelShape,
});

const POLICY_SCHEMAS = {
  fixed: fixedSchema,
  threshold: thresholdSchema,
  hpa: hpaSchema,
  kpa: kpaSchema,
  serverless: serverlessSchema,
  predictive: predictiveSchema,
  auto: autoSchema,
} as const satisfies Record<PolicyName, z.ZodObject>;

/** A compiled `fixed` policy: min = max = replicas. */
export interface CompiledFixedPolicy {
  readonly policy: 'fixed';
  readonly replicas: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
}
/** A compiled `threshold` policy (equation 2). */
export type CompiledThresholdPolicy = Readonly<z.output<typeof thresholdSchema>>;
/** A compiled `hpa` policy (Kubernetes HorizontalPodAutoscaler). */
export type CompiledHpaPolicy = Readonly<z.output<typeof hpaSchema>>;
/** A compiled `kpa` policy (Knative Pod Autoscaler). */
export type CompiledKpaPolicy = Readonly<z.output<typeof kpaSchema>>;
/** A compiled `serverless` policy. */
export type CompiledServerlessPolicy = Readonly<z.output<typeof serverlessSchema>>;
/** A compiled `predictive` policy. */
export type CompiledPredictivePolicy = Readonly<z.output<typeof predictiveSchema>>;
/** A compiled `auto` policy. */
export type CompiledAutoPolicy = Readonly<z.output<typeof autoSchema>>;

/** Knative's defaults, which `auto` runs its always-on mode with. */
export const KPA_DEFAULTS: CompiledKpaPolicy = kpaSchema.parse({ policy: 'kpa' });

/** A policy after validation: flat, every parameter present, units in the names. */
export type CompiledPolicy =
  | CompiledFixedPolicy
  | CompiledThresholdPolicy
  | CompiledHpaPolicy
  | CompiledKpaPolicy
  | CompiledServerlessPolicy
  | CompiledPredictivePolicy
  | CompiledAutoPolicy;

/** The friendly policy input: `{ policy, minReplicas?, maxReplicas?, ...parameters }`, defaults as above. */
export type PolicySpec = { [K in PolicyName]: z.input<(typeof POLICY_SCHEMAS)[K]> }[PolicyName];

/**
 * The zod schema of {@link PolicySpec}, for an API edge that composes it into a larger body (and
 * its JSON Schema). It checks each parameter alone: pass the result to {@link compilePolicy},
 * which also checks them against one another.
 */
export const policySpecSchema = z.discriminatedUnion('policy', [
  fixedSchema,
  thresholdSchema,
  hpaSchema,
  kpaSchema,
  serverlessSchema,
  predictiveSchema,
  autoSchema,
]);

/** The parameter names a policy takes (for help texts and error messages). */
export function policyParamNames(policy: PolicyName): string[] {
  return Object.keys(POLICY_SCHEMAS[policy].shape).filter((k) => k !== 'policy');
}

function invalidPolicy(message: string, details: Record<string, unknown> = {}): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_INVALID_POLICY', message, { details });
}

function isPolicyName(value: unknown): value is PolicyName {
  return typeof value === 'string' && (POLICY_NAMES as readonly string[]).includes(value);
}

/**
 * Validates a policy spec and fills its defaults. Throws CONTINUUM_ERR_INVALID_POLICY naming the
 * policy or parameter that is wrong (and, for an unknown parameter, the ones the policy takes).
 * A compiled policy compiles to itself, so the compiled form can be stored and read back.
 */
export function compilePolicy(input: unknown): CompiledPolicy {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidPolicy('an autoscaling policy must be an object with a "policy" field');
  }
  const name: unknown = (input as Record<string, unknown>)['policy'];
  if (!isPolicyName(name)) {
    throw invalidPolicy(`unknown autoscaling policy ${JSON.stringify(name)}; use one of ${POLICY_NAMES.join(', ')}`, { policy: name });
  }
  const parsed = POLICY_SCHEMAS[name].safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const known = policyParamNames(name).join(', ');
    if (issue?.code === 'unrecognized_keys') {
      throw invalidPolicy(`unknown parameter ${issue.keys.join(', ')} of policy ${name}; its parameters are ${known}`, { policy: name, param: issue.keys[0] });
    }
    const param = issue?.path.join('.') ?? '';
    throw invalidPolicy(`invalid parameter ${param} of policy ${name}: ${issue?.message ?? 'invalid'}`, { policy: name, param });
  }
  const compiled = parsed.data.policy === 'fixed' ? compileFixed(parsed.data) : parsed.data;
  checkConsistency(compiled);
  return compiled;
}

function compileFixed(spec: z.output<typeof fixedSchema>): CompiledFixedPolicy {
  const n = spec.replicas ?? spec.minReplicas ?? spec.maxReplicas ?? 1;
  for (const param of ['minReplicas', 'maxReplicas'] as const) {
    const given = spec[param];
    if (given !== undefined && given !== n) {
      throw invalidPolicy(`invalid parameter ${param} of policy fixed: ${given} differs from replicas ${n} (a fixed policy keeps one count)`, { policy: 'fixed', param });
    }
  }
  return { policy: 'fixed', replicas: n, minReplicas: n, maxReplicas: n };
}

/** Checks that relate parameters to one another (the schema checks each alone). */
function checkConsistency(p: CompiledPolicy): void {
  const fail = (param: string, why: string): never => {
    throw invalidPolicy(`invalid parameter ${param} of policy ${p.policy}: ${why}`, { policy: p.policy, param });
  };
  if (p.minReplicas > p.maxReplicas) fail('minReplicas', `${p.minReplicas} exceeds maxReplicas ${p.maxReplicas}`);
  switch (p.policy) {
    case 'threshold':
      if (!(p.t1Rps < p.t2Rps)) fail('t1Rps', `T1 (${p.t1Rps}) must be below T2 (${p.t2Rps})`);
      if (!(p.u0Replicas <= p.u1Replicas && p.u1Replicas <= p.u2Replicas)) fail('u1Replicas', 'levels must not decrease as demand grows (U0 <= U1 <= U2)');
      break;
    case 'predictive':
      if (p.lookaheadMs < p.bucketMs) fail('lookaheadMs', `must cover at least one bucket (${p.bucketMs} ms)`);
      if (p.seasonMs % p.bucketMs !== 0) fail('seasonMs', `must be a whole number of buckets (${p.bucketMs} ms)`);
      if (p.seasonMs !== 0 && p.seasonMs < p.lookaheadMs) fail('seasonMs', `must be at least lookaheadMs (${p.lookaheadMs}) or 0`);
      break;
    case 'auto':
      if (p.minObservationMs > p.statsWindowMs) fail('minObservationMs', `exceeds statsWindowMs ${p.statsWindowMs}`);
      break;
    default:
      break;
  }
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

/** Turns a `--param` value into the JSON value it stands for: a number, a boolean, else the string. */
function coerceParam(raw: string): number | string | boolean {
  if (NUMBER.test(raw)) return Number(raw);
  if (raw === 'true' || raw === 'false') return raw === 'true';
  return raw;
}

/**
 * Parses CLI `--param key=value` pairs into policy parameters (numbers and booleans coerced), for
 * `compilePolicy({ policy, ...parsePolicyParams(pairs) })` to validate with the same schema.
 * Throws CONTINUUM_ERR_INVALID_POLICY for a pair without `=`, an empty key or a key given twice.
 */
export function parsePolicyParams(pairs: readonly string[]): Record<string, number | string | boolean> {
  if (pairs.length > L.maxParams) throw invalidPolicy(`too many policy parameters (${pairs.length}; at most ${L.maxParams})`);
  const params = new Map<string, number | string | boolean>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? '' : pair.slice(0, eq).trim();
    if (key === '') throw invalidPolicy(`policy parameter ${JSON.stringify(pair)} is not key=value`);
    if (params.has(key)) throw invalidPolicy(`policy parameter ${key} is given twice`, { param: key });
    params.set(key, coerceParam(pair.slice(eq + 1).trim()));
  }
  // Object.fromEntries defines own properties, so a key such as "__proto__" stays a plain (rejected) key.
  return Object.fromEntries(params);
}

/** Every parameter of a compiled policy, defaults included, as a flat record (for `deployments show`). */
export function describePolicy(p: CompiledPolicy): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const [key, value] of Object.entries(p) as [string, number | string | boolean | undefined][]) {
    if (value !== undefined) out[key] = value;
  }
  if (p.policy === 'auto' && p.serviceTimeMs === undefined) out['serviceTimeMs'] = 'measured';
  if (p.policy === 'auto' && p.targetUtilization === undefined) out['targetUtilization'] = 'from sloMs';
  return out;
}
