import { describe, expect, it } from 'vitest';
import { ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior } from 'kubernetes-models/autoscaling/v2';
import type { IHorizontalPodAutoscalerBehavior } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { PodSpec, Service } from 'kubernetes-models/v1';
import { compilePolicy } from '../../autoscale/index.js';
import type { PolicySpec } from '../../autoscale/index.js';
import type { Revision } from '../../deploy/store.js';
import { compileRollout } from '../../rollout/index.js';
import type { StrategyName } from '../../rollout/index.js';
import { compileKubernetesOptions } from './options.js';
import { LABELS, renderDeployment, trackWeightsBps, WEIGHT_ANNOTATION } from './render.js';
import type { KubernetesRenderInput, RenderedObject } from './render.js';
import { planScaling } from './scaling.js';

/** One policy spec per way a policy can run on Kubernetes. */
const POLICIES: readonly PolicySpec[] = [
  { policy: 'fixed', replicas: 3 },
  { policy: 'threshold' },
  { policy: 'threshold', minReplicas: 1, maxReplicas: 6 },
  { policy: 'hpa', minReplicas: 2, maxReplicas: 8 },
  { policy: 'hpa', metric: 'cpu', targetCpuUtilization: 0.6, tolerance: 0.05 },
  { policy: 'kpa' },
  { policy: 'kpa', minReplicas: 0, enableScaleToZero: false },
  { policy: 'serverless', maxReplicas: 5 },
  { policy: 'predictive', minReplicas: 2 },
  { policy: 'auto' },
  { policy: 'auto', minReplicas: 1 },
];
const STRATEGIES: readonly (StrategyName | 'none' | 'ab-header')[] = ['none', 'canary', 'blue-green', 'shadow', 'ab', 'ab-header'];

function revision(n: number, policy: PolicySpec): Revision {
  return {
    deployment: 'iris',
    revision: n,
    spec: { model: 'iris', modelRef: '', version: String(n), sha256: 'ab'.repeat(32), policy, resources: { vcpu: 0.5, memoryGb: 0.25 }, runtime: { intraOpThreads: 1 } },
    createdAt: '2026-01-01T00:00:00.000Z',
  };
}

function inputOf(policy: PolicySpec, strategy: (typeof STRATEGIES)[number]): KubernetesRenderInput {
  const baseline = revision(1, policy);
  if (strategy === 'none') return { deployment: 'iris', baseline };
  const rollout =
    strategy === 'ab-header'
      ? compileRollout({ deployment: 'iris', ref: '2', strategy: 'ab', abHeader: 'x-group', abHeaderValue: 'b' })
      : compileRollout({ deployment: 'iris', ref: '2', strategy });
  const step = rollout.steps[0];
  if (step === undefined) throw new Error('a rollout has a first step');
  return { deployment: 'iris', baseline, candidate: { revision: revision(2, policy), rule: step.rule, replicas: 2, controlReplicas: step.control ? 2 : 0 } };
}

/** Validates one object against the Kubernetes schemas (kubernetes-models); CRDs by their core parts. */
function validate(o: RenderedObject): void {
  switch (o.kind) {
    case 'Deployment':
      new Deployment(o).validate();
      return;
    case 'HorizontalPodAutoscaler':
      new HorizontalPodAutoscaler(o).validate();
      return;
    case 'NetworkPolicy':
      new NetworkPolicy(o).validate();
      return;
    case 'PodDisruptionBudget':
      new PodDisruptionBudget(o).validate();
      return;
    case 'ScaledObject':
      // KEDA's CRD is not among kubernetes-models' core schemas: its metadata and the HPA behavior it embeds are.
      new ObjectMeta(o.metadata).validate();
      new HorizontalPodAutoscalerBehavior(structuredClone(o.spec.advanced.horizontalPodAutoscalerConfig.behavior) as IHorizontalPodAutoscalerBehavior).validate();
      return;
    case 'Service':
      if (o.apiVersion === 'v1') {
        new Service(o).validate();
        return;
      }
      new ObjectMeta(o.metadata).validate();
      new ObjectMeta(o.spec.template.metadata).validate();
      new PodSpec(o.spec.template.spec).validate();
      return;
  }
}

describe('renderDeployment', () => {
  for (const engine of ['keda', 'knative'] as const) {
    const options = compileKubernetesOptions({ namespace: 'ml', image: 'registry.example/continuum:0.1.0', scaleToZero: engine, tokenSecret: 'continuum-token' });
    for (const policy of POLICIES) {
      for (const strategy of STRATEGIES) {
        it(`renders objects that pass the Kubernetes schemas: ${JSON.stringify(policy)}, ${strategy}, ${engine}`, () => {
          const objects = renderDeployment(inputOf(policy, strategy), options);
          expect(objects.length).toBeGreaterThan(2);
          for (const o of objects) {
            expect(() => validate(o), `${o.kind} ${o.metadata?.name ?? ''}`).not.toThrow();
            expect(o.metadata?.namespace).toBe('ml');
            expect(o.metadata?.labels?.[LABELS.deployment]).toBe('iris');
            expect(o.metadata?.labels?.[LABELS.managedBy]).toBe('continuum');
          }
          expect(objects.filter((o) => o.kind === 'NetworkPolicy')).toHaveLength(1);
          expect(objects.filter((o) => o.kind === 'PodDisruptionBudget').length).toBeGreaterThanOrEqual(1);
        });
      }
    }
  }

  it('has a validator that refuses a malformed object (so the passes above mean something)', () => {
    const [policy] = renderDeployment(inputOf({ policy: 'hpa' }, 'none'), compileKubernetesOptions({}));
    if (policy?.kind !== 'NetworkPolicy') throw new Error('a NetworkPolicy comes first');
    const broken = { ...policy, spec: { ...policy.spec, policyTypes: 'Ingress' } } as unknown as RenderedObject;
    expect(() => validate(broken)).toThrow();
  });

  it('is a pure function: the same input renders the same objects', () => {
    const options = compileKubernetesOptions({});
    const input = inputOf({ policy: 'kpa' }, 'canary');
    expect(JSON.stringify(renderDeployment(input, options))).toBe(JSON.stringify(renderDeployment(input, options)));
  });

  it('keeps the replica bounds of every policy on its autoscaler, and leaves the count to it', () => {
    const options = compileKubernetesOptions({});
    for (const spec of POLICIES) {
      const compiled = compilePolicy(spec);
      const objects = renderDeployment({ deployment: 'iris', baseline: revision(1, spec) }, options);
      const deployment = objects.find((o) => o.kind === 'Deployment');
      const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler');
      const scaled = objects.find((o) => o.kind === 'ScaledObject');
      if (compiled.policy === 'fixed') {
        expect(deployment?.spec?.replicas).toBe(compiled.replicas);
        expect(hpa ?? scaled).toBeUndefined();
      } else if (hpa !== undefined) {
        expect([hpa.spec?.minReplicas, hpa.spec?.maxReplicas]).toEqual([Math.max(1, compiled.minReplicas), compiled.maxReplicas]);
        expect(deployment?.spec?.replicas).toBeUndefined();
      } else {
        expect(scaled?.spec.minReplicaCount).toBe(0);
        expect(scaled?.spec.maxReplicaCount).toBe(compiled.maxReplicas);
        expect(deployment?.spec?.replicas).toBeUndefined();
      }
    }
  });

  it('maps the hpa policy to the HPA behavior field by field', () => {
    const plan = planScaling(compilePolicy({ policy: 'hpa', scaleUpStabilizationMs: 5000, scaleDownStabilizationMs: 120_000, scaleUpPods: 2, scaleUpPercent: 50, scaleUpPeriodMs: 30_000, scaleDownPercent: 20, scaleDownPeriodMs: 60_000 }));
    expect(plan.scaleUp).toEqual({ stabilizationWindowSeconds: 5, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 2, periodSeconds: 30 }, { type: 'Percent', value: 50, periodSeconds: 30 }] });
    expect(plan.scaleDown).toEqual({ stabilizationWindowSeconds: 120, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 20, periodSeconds: 60 }] });
  });

  it("maps the kpa policy's defaults to Knative's annotations and the KPA rule to a KEDA threshold", () => {
    const plan = planScaling(compilePolicy({ policy: 'kpa' }));
    expect(plan.knativeAnnotations).toMatchObject({
      'autoscaling.knative.dev/target': '100',
      'autoscaling.knative.dev/target-utilization-percentage': '70',
      'autoscaling.knative.dev/window': '60s',
      'autoscaling.knative.dev/panic-window-percentage': '10',
      'autoscaling.knative.dev/panic-threshold-percentage': '200',
      'autoscaling.knative.dev/min-scale': '0',
    });
    // ceil(concurrency / (100 × 0.7)): the threshold is 70 requests per replica.
    expect(plan.metric).toEqual({ kind: 'concurrency', perReplica: 70 });
    // max-scale-down-rate 2 per 2 s tick: at most half the replicas go each tick.
    expect(plan.scaleDown.policies).toEqual([{ type: 'Percent', value: 50, periodSeconds: 2 }]);
    expect(plan.scaleToZeroGraceS).toBe(30);
  });

  it('carries a canary with a control as three tracks whose weights add up to the whole', () => {
    const objects = renderDeployment(inputOf({ policy: 'hpa' }, 'canary'), compileKubernetesOptions({}));
    const services = objects.filter((o) => o.kind === 'Service');
    expect(services.map((s) => s.metadata?.name)).toEqual(['iris-r1', 'iris-r2', 'iris-r1-control']);
    const weights = services.map((s) => Number(s.metadata?.annotations?.[WEIGHT_ANNOTATION]));
    expect(weights).toEqual([9000, 500, 500]);
    expect(trackWeightsBps({ kind: 'mirror', shareBps: 10_000, tolerance: 0 })).toEqual({ baseline: 10_000, candidate: 0, control: 0 });
  });

  it('splits a canary with Knative traffic blocks in whole percents', () => {
    const objects = renderDeployment(inputOf({ policy: 'serverless' }, 'canary'), compileKubernetesOptions({ scaleToZero: 'knative' }));
    const ksvc = objects.find((o) => o.apiVersion === 'serving.knative.dev/v1');
    expect(ksvc?.kind === 'Service' && 'traffic' in ksvc.spec ? ksvc.spec.traffic : undefined).toEqual([
      { revisionName: 'iris-r1', percent: 95, tag: 'baseline' },
      { revisionName: 'iris-r2', percent: 5, tag: 'candidate' },
    ]);
  });

  it('fetches the artifact by digest before the runtime starts and probes the OIP health endpoints', () => {
    const objects = renderDeployment(inputOf({ policy: 'fixed', replicas: 1 }, 'none'), compileKubernetesOptions({ controlPlaneUrl: 'http://cp:8080/' }));
    const pod = objects.find((o) => o.kind === 'Deployment')?.spec?.template.spec;
    expect(pod?.initContainers?.[0]?.args).toEqual(['--url', 'http://cp:8080/api/v1/models/iris/versions/1/artifact', '--sha256', 'ab'.repeat(32), '--out', '/models/model.onnx']);
    expect(pod?.containers[0]?.readinessProbe?.httpGet?.path).toBe('/v2/health/ready');
    expect(pod?.containers[0]?.livenessProbe?.httpGet?.path).toBe('/v2/health/live');
    expect(pod?.containers[0]?.resources).toEqual({ requests: { cpu: '500m', memory: '256Mi' }, limits: { memory: '256Mi' } });
  });

  it('refuses a deployment name Kubernetes cannot carry, saying what to do', () => {
    const input = { deployment: `a${'b'.repeat(60)}`, baseline: revision(1, { policy: 'fixed' }) };
    expect(() => renderDeployment(input, compileKubernetesOptions({}))).toThrow(/shorter name/);
  });
});
