/**
 * How a Continuum scaling policy runs on Kubernetes: a pure mapping of a compiled policy to a
 * {@link ScalingPlan} — no autoscaler (a fixed count), a HorizontalPodAutoscaler, or a
 * scale-to-zero engine (KEDA or Knative) — with the same replica bounds, the same per-replica
 * target and the HPA `behavior` that reproduces the policy's windows and rates.
 *
 * The formulas that make the targets equivalent:
 * - Kubernetes HPA (autoscaling/v2, "Algorithm details"): desired = ceil(current × metric / target).
 *   An External metric with an AverageValue target is divided by the replica count first, so with
 *   the deployment's in-flight gauge it is ceil(inFlight / target): Continuum's concurrency rule.
 * - Knative KPA (config-autoscaler): desired = ceil(concurrency / (target × utilization)), stable
 *   window 60 s, panic window 10 % of it, panic at 200 %, max scale-up rate 1000, max scale-down
 *   rate 2 per 2 s tick. KEDA's Prometheus trigger drives an HPA whose threshold is the per-replica
 *   target, so ceil(concurrency / threshold) with threshold = target × utilization is the KPA's
 *   stable-mode rule; the rates become HPA Percent policies per 2 s period.
 */
import type { CompiledPolicy } from '../../autoscale/index.js';
import type { PolicyName } from '../../autoscale/index.js';

/** The load signal a scaler divides by its per-replica target. */
export type ScalingMetric =
  /** Requests the gateway holds for the deployment (continuum_inference_requests_in_flight). */
  | { readonly kind: 'concurrency'; readonly perReplica: number }
  /** Mean CPU utilization of the pods, percent of their request. */
  | { readonly kind: 'cpu'; readonly utilizationPercent: number }
  /** Requests per second answered (rate of continuum_inference_requests_total over `windowS`). */
  | { readonly kind: 'rps'; readonly perReplica: number; readonly windowS: number };

/** One direction of HPA behavior (autoscaling/v2 HPAScalingRules). */
export interface ScalingRules {
  readonly stabilizationWindowSeconds: number;
  readonly selectPolicy: 'Max' | 'Min';
  readonly policies: readonly { readonly type: 'Pods' | 'Percent'; readonly value: number; readonly periodSeconds: number }[];
}

/** How a policy runs on Kubernetes. */
export interface ScalingPlan {
  readonly policy: PolicyName;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** `none`: the Deployment's replicas; `hpa`: a HorizontalPodAutoscaler; `scale-to-zero`: KEDA or Knative. */
  readonly scaler: 'none' | 'hpa' | 'scale-to-zero';
  readonly metric: ScalingMetric;
  readonly scaleUp: ScalingRules;
  readonly scaleDown: ScalingRules;
  /** HPA tolerance (alpha field, HPAConfigurableTolerance); undefined: the cluster's default 0.1. */
  readonly tolerance: number | undefined;
  /** Idle time before the last replica goes (KEDA cooldownPeriod). */
  readonly scaleToZeroGraceS: number;
  /** Knative revision annotations that say the same (autoscaling.knative.dev/...). */
  readonly knativeAnnotations: Readonly<Record<string, string>>;
}

/** Kubernetes' default behavior (autoscaling/v2 API reference, "Default Behavior"). */
const DEFAULT_SCALE_UP: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
};
const DEFAULT_SCALE_DOWN: ScalingRules = { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] };

/** Knative's autoscaler decides every 2 s (config-autoscaler tick-interval); its rates are per tick. */
const KPA_TICK_S = 2;

/** The HPA's stabilization window and period fields are whole seconds; a window is never shortened. */
const seconds = (ms: number): number => Math.ceil(ms / 1000);

/** Scale up straight to what the metric asks (the whole range in one second): serverless' "as soon as a request waits". */
function immediateUp(maxReplicas: number): ScalingRules {
  return { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: Math.max(1, maxReplicas), periodSeconds: 1 }] };
}

/** Scale down to what the metric asks once the lower count held `delayMs`. */
function delayedDown(delayMs: number): ScalingRules {
  return { stabilizationWindowSeconds: seconds(delayMs), selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 1 }] };
}

function knativeBase(plan: { minReplicas: number; maxReplicas: number }, metric: 'concurrency' | 'rps', target: number): Record<string, string> {
  return {
    'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev',
    'autoscaling.knative.dev/metric': metric,
    'autoscaling.knative.dev/target': String(target),
    'autoscaling.knative.dev/min-scale': String(plan.minReplicas),
    'autoscaling.knative.dev/max-scale': String(plan.maxReplicas),
  };
}

/** Where the HPA must stay above zero (minReplicas >= 1 unless the alpha HPAScaleToZero gate is on). */
function scalerOf(policy: CompiledPolicy, minReplicas: number): ScalingPlan['scaler'] {
  if (policy.policy === 'fixed') return 'none';
  return minReplicas === 0 ? 'scale-to-zero' : 'hpa';
}

/** Maps a compiled policy to how it runs on Kubernetes (pure); see the module comment for the formulas. */
export function planScaling(policy: CompiledPolicy): ScalingPlan {
  const common = { policy: policy.policy, maxReplicas: policy.maxReplicas, tolerance: undefined, scaleToZeroGraceS: 0, knativeAnnotations: {} };
  switch (policy.policy) {
    case 'fixed':
      return { ...common, minReplicas: policy.replicas, maxReplicas: policy.replicas, scaler: 'none', metric: { kind: 'concurrency', perReplica: 1 }, scaleUp: DEFAULT_SCALE_UP, scaleDown: DEFAULT_SCALE_DOWN };
    case 'hpa': {
      const up: ScalingRules = {
        stabilizationWindowSeconds: seconds(policy.scaleUpStabilizationMs),
        selectPolicy: 'Max',
        policies: [
          { type: 'Pods', value: policy.scaleUpPods, periodSeconds: seconds(policy.scaleUpPeriodMs) },
          { type: 'Percent', value: Math.ceil(policy.scaleUpPercent), periodSeconds: seconds(policy.scaleUpPeriodMs) },
        ],
      };
      const down: ScalingRules = {
        stabilizationWindowSeconds: seconds(policy.scaleDownStabilizationMs),
        selectPolicy: 'Max',
        policies: [{ type: 'Percent', value: Math.ceil(policy.scaleDownPercent), periodSeconds: seconds(policy.scaleDownPeriodMs) }],
      };
      const metric: ScalingMetric =
        policy.metric === 'cpu' ? { kind: 'cpu', utilizationPercent: Math.round(policy.targetCpuUtilization * 100) } : { kind: 'concurrency', perReplica: policy.targetConcurrency };
      return { ...common, minReplicas: policy.minReplicas, scaler: 'hpa', metric, scaleUp: up, scaleDown: down, tolerance: policy.tolerance === 0.1 ? undefined : policy.tolerance };
    }
    case 'kpa': {
      const minReplicas = policy.enableScaleToZero ? policy.minReplicas : Math.max(1, policy.minReplicas);
      const perReplica = policy.containerConcurrency * policy.targetUtilization;
      // max-scale-up-rate r allows r × ready per tick: a rise of (r − 1) × 100 %; max-scale-down-rate r
      // allows ready / r: a fall of (1 − 1/r) × 100 %.
      const up: ScalingRules = { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: Math.ceil((policy.maxScaleUpRate - 1) * 100), periodSeconds: KPA_TICK_S }] };
      const down: ScalingRules = {
        stabilizationWindowSeconds: seconds(policy.stableWindowMs),
        selectPolicy: 'Max',
        policies: [{ type: 'Percent', value: Math.max(1, Math.floor((1 - 1 / policy.maxScaleDownRate) * 100)), periodSeconds: KPA_TICK_S }],
      };
      const plan = { minReplicas, maxReplicas: policy.maxReplicas };
      return {
        ...common,
        minReplicas,
        scaler: scalerOf(policy, minReplicas),
        metric: { kind: 'concurrency', perReplica },
        scaleUp: up,
        scaleDown: down,
        scaleToZeroGraceS: seconds(policy.scaleToZeroGraceMs),
        knativeAnnotations: {
          ...knativeBase(plan, 'concurrency', policy.containerConcurrency),
          'autoscaling.knative.dev/target-utilization-percentage': String(policy.targetUtilization * 100),
          'autoscaling.knative.dev/window': `${seconds(policy.stableWindowMs)}s`,
          'autoscaling.knative.dev/panic-window-percentage': String(policy.panicWindowPercent),
          'autoscaling.knative.dev/panic-threshold-percentage': String(policy.panicThreshold * 100),
        },
      };
    }
    case 'serverless':
    case 'auto': {
      // `auto` renders its serverless form: its mode choice is the control plane's and is not carried to the cluster yet (docs/kubernetes.md).
      const plan = { minReplicas: policy.minReplicas, maxReplicas: policy.maxReplicas };
      return {
        ...common,
        minReplicas: policy.minReplicas,
        scaler: scalerOf(policy, policy.minReplicas),
        metric: { kind: 'concurrency', perReplica: policy.targetConcurrency },
        scaleUp: immediateUp(policy.maxReplicas),
        scaleDown: delayedDown(policy.scaleDownDelayMs),
        scaleToZeroGraceS: seconds(policy.scaleToZeroGraceMs),
        knativeAnnotations: {
          ...knativeBase(plan, 'concurrency', policy.targetConcurrency),
          'autoscaling.knative.dev/target-utilization-percentage': '100',
          'autoscaling.knative.dev/scale-down-delay': `${seconds(policy.scaleDownDelayMs)}s`,
        },
      };
    }
    case 'predictive':
      // The HPA reacts to concurrency within the bounds; the forecast is the control plane's and is not
      // carried to the cluster yet (it would be written as the HPA's minReplicas, a floor).
      return { ...common, minReplicas: policy.minReplicas, scaler: scalerOf(policy, policy.minReplicas), metric: { kind: 'concurrency', perReplica: policy.targetConcurrency }, scaleUp: DEFAULT_SCALE_UP, scaleDown: DEFAULT_SCALE_DOWN };
    case 'threshold': {
      // Equation 2's steps have no HPA form; the proportional rule through its top level (T2 at U2
      // replicas) reaches the same count at and above T2 and never fewer than the steps below it.
      const perReplica = policy.t2Rps / Math.max(1, policy.u2Replicas);
      const windowS = seconds(policy.demandWindowMs);
      const plan = { minReplicas: policy.minReplicas, maxReplicas: policy.maxReplicas };
      return {
        ...common,
        minReplicas: policy.minReplicas,
        scaler: scalerOf(policy, policy.minReplicas),
        metric: { kind: 'rps', perReplica, windowS },
        scaleUp: DEFAULT_SCALE_UP,
        scaleDown: { ...DEFAULT_SCALE_DOWN, stabilizationWindowSeconds: windowS },
        scaleToZeroGraceS: windowS,
        knativeAnnotations: { ...knativeBase(plan, 'rps', perReplica), 'autoscaling.knative.dev/window': `${Math.max(6, windowS)}s` },
      };
    }
  }
}
