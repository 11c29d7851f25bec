/**
 * Rendering: a pure function of (deployment, revisions, traffic rule, options) to the Kubernetes
 * objects that run it. Same input, same objects, so `continuum k8s render` output can be kept in Git
 * and the applier can prune what is no longer rendered.
 *
 * Each track of a deployment (production `baseline`, during a rollout the `candidate` and its
 * `control`) is its own Deployment and Service, and Continuum's gateway splits traffic between the
 * tracks' Services. That carries every rollout rule (weighted, sticky A/B by key hash, A/B by
 * header, shadow mirroring with answer comparison) where Knative's traffic blocks carry percentages
 * only. With the Knative engine a scale-to-zero deployment is one Knative Service whose traffic
 * blocks carry the weighted split (a header, sticky or mirror rule keeps 100 % on production and
 * tags the candidate for the gateway to call directly).
 */
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler, IMetricSpec } from 'kubernetes-models/autoscaling/v2';
import type { IContainer, IPodSpec, IProbe, IService } from 'kubernetes-models/v1';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { compilePolicy } from '../../autoscale/index.js';
import type { DeploymentStatus } from '../../deploy/controller.js';
import type { Revision } from '../../deploy/store.js';
import type { TrafficRule } from '../../deploy/route.js';
import { WHOLE_BPS } from '../../deploy/split.js';
import { ContinuumError } from '../../errors.js';
import { compileLocalTargetOptions } from '../local/options.js';
import type { CompiledKubernetesOptions } from './options.js';
import { planScaling } from './scaling.js';
import type { ScalingPlan, ScalingRules } from './scaling.js';

/** A KEDA ScaledObject (keda.sh/v1alpha1), the fields Continuum sets. */
export interface ScaledObject {
  readonly apiVersion: 'keda.sh/v1alpha1';
  readonly kind: 'ScaledObject';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly scaleTargetRef: { readonly apiVersion: string; readonly kind: string; readonly name: string };
    readonly pollingInterval: number;
    readonly cooldownPeriod: number;
    readonly minReplicaCount: number;
    readonly maxReplicaCount: number;
    readonly advanced: { readonly horizontalPodAutoscalerConfig: { readonly name: string; readonly behavior: { readonly scaleUp: ScalingRules; readonly scaleDown: ScalingRules } } };
    readonly triggers: readonly { readonly type: 'prometheus'; readonly metadata: Readonly<Record<string, string>> }[];
  };
}

/** A Knative Service (serving.knative.dev/v1), the fields Continuum sets. */
export interface KnativeService {
  readonly apiVersion: 'serving.knative.dev/v1';
  readonly kind: 'Service';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly template: { readonly metadata: ObjectMeta; readonly spec: IPodSpec };
    readonly traffic: readonly { readonly revisionName: string; readonly percent: number; readonly tag: string }[];
  };
}

interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Every kind of object rendering makes. */
export type RenderedObject = IDeployment | IService | IHorizontalPodAutoscaler | INetworkPolicy | IPodDisruptionBudget | ScaledObject | KnativeService;

/** The sides of a deployment that get their own pods. */
export type KubernetesTrack = 'baseline' | 'candidate' | 'control';

/** What to render: a deployment's production revision and, during a rollout, its candidate. */
export interface KubernetesRenderInput {
  readonly deployment: string;
  /** The production revision (the deployment's current one). */
  readonly baseline: Revision;
  /** During a rollout: the candidate revision, the traffic rule and the replicas the rollout's step sized it to. */
  readonly candidate?: {
    readonly revision: Revision;
    readonly rule: TrafficRule;
    readonly replicas: number;
    /** Replicas of the control (production revision sized like the candidate); 0 or absent: none. */
    readonly controlReplicas?: number;
  };
}

/**
 * What to render for a deployment as Continuum runs it now (`deployments show`): its current
 * revision and, during a rollout, the candidate with the sizes the rollout's step gave it and the
 * traffic rule between them.
 */
export function renderInputOf(status: Pick<DeploymentStatus, 'name' | 'revision' | 'candidate'>): KubernetesRenderInput {
  const c = status.candidate;
  return {
    deployment: status.name,
    baseline: status.revision,
    ...(c === undefined ? {} : { candidate: { revision: c.revision, rule: c.traffic, replicas: c.desiredReplicas, controlReplicas: c.control?.desiredReplicas ?? 0 } }),
  };
}

/** Label keys every rendered object carries; `managed-by` and `deployment` select them for pruning and clean-up. */
export const LABELS = {
  name: 'app.kubernetes.io/name',
  partOf: 'app.kubernetes.io/part-of',
  managedBy: 'app.kubernetes.io/managed-by',
  deployment: 'continuum.dev/deployment',
  revision: 'continuum.dev/revision',
  track: 'continuum.dev/track',
} as const;

/** The value of `app.kubernetes.io/managed-by` (and the server-side apply field manager). */
export const FIELD_MANAGER = 'continuum';

/** The replica's HTTP port (OIP REST). */
export const REPLICA_PORT = 8080;

/** Where the init container puts the verified model and the runtime reads it. */
const MODEL_DIR = '/models';
const MODEL_FILE = `${MODEL_DIR}/model.onnx`;

/** Annotation carrying a track's share of requests in basis points (the gateway's weights). */
export const WEIGHT_ANNOTATION = 'continuum.dev/weight-bps';
/** Annotation carrying the rollout's traffic rule kind (weighted, sticky, header, mirror). */
export const RULE_ANNOTATION = 'continuum.dev/traffic-rule';

/** The selector of everything rendered for `deployment`. */
export function deploymentSelector(deployment: string): string {
  return `${LABELS.managedBy}=${FIELD_MANAGER},${LABELS.deployment}=${deployment}`;
}

/** Each track's share of served requests, basis points (a header rule sends what matches; a mirror serves from production). */
export function trackWeightsBps(rule: TrafficRule | undefined): Readonly<Record<KubernetesTrack, number>> {
  switch (rule?.kind) {
    case 'weighted':
    case 'sticky':
      return { baseline: WHOLE_BPS - rule.candidateBps - rule.controlBps, candidate: rule.candidateBps, control: rule.controlBps };
    default:
      return { baseline: WHOLE_BPS, candidate: 0, control: 0 };
  }
}

/** The name of a track's objects: `<deployment>-r<revision>`, `-control` for the control. */
export function trackObjectName(deployment: string, revision: number, track: KubernetesTrack): string {
  return `${deployment}-r${revision}${track === 'control' ? '-control' : ''}`;
}

/** Service names are DNS-1035 labels: a letter first, at most 63 characters. */
function checkNames(deployment: string, revisions: readonly number[]): void {
  const longest = Math.max(...revisions.map((r) => trackObjectName(deployment, r, 'control').length));
  if (!/^[a-z]/.test(deployment) || longest > 63) {
    throw new ContinuumError(
      'CONTINUUM_ERR_BAD_REQUEST',
      `deployment name '${deployment}' does not fit Kubernetes names (a letter first, and '${trackObjectName(deployment, Math.max(...revisions), 'control')}' within 63 characters); deploy it under a shorter name starting with a letter`,
      { details: { deployment } },
    );
  }
}

/** Kubernetes quantities: whole millicores and mebibytes. */
function cpuQuantity(vcpu: number): string {
  return `${Math.max(1, Math.round(vcpu * 1000))}m`;
}
function memoryQuantity(gb: number): string {
  return `${Math.max(1, Math.round(gb * 1024))}Mi`;
}
/** A metric target as a quantity: plain for whole numbers, else in thousandths. */
function quantity(value: number): string {
  return Number.isInteger(value) ? String(value) : `${Math.round(value * 1000)}m`;
}

/**
 * Probes with the local target's meaning: ready once the model is loaded and warmed up (OIP
 * /v2/health/ready), started within its start timeout, restarted when it stops answering for its
 * unresponsive time. `port` is the container port's name, or its number for Knative (whose
 * queue-proxy rewrites probes and has no startup probe: its readiness gate does that work).
 */
export function replicaProbes(port: string | number): { startupProbe?: IProbe; readinessProbe: IProbe; livenessProbe: IProbe } {
  const local = compileLocalTargetOptions({});
  const periodSeconds = Math.max(1, Math.round(local.healthIntervalMs / 1000));
  const get = (path: string): IProbe['httpGet'] => ({ path, port });
  const startup = typeof port === 'number' ? {} : { startupProbe: { httpGet: get('/v2/health/ready'), periodSeconds, failureThreshold: Math.ceil(local.startTimeoutMs / 1000 / periodSeconds) } };
  return {
    ...startup,
    readinessProbe: { httpGet: get('/v2/health/ready'), periodSeconds, failureThreshold: 1 },
    livenessProbe: { httpGet: get('/v2/health/live'), periodSeconds, failureThreshold: Math.ceil(local.unresponsiveAfterMs / 1000 / periodSeconds) },
  };
}

/** The local target's drain timeout: what a pod gets between SIGTERM and SIGKILL. */
function drainSeconds(): number {
  return Math.ceil(compileLocalTargetOptions({}).drainTimeoutMs / 1000);
}

const RESTRICTED = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };

/** The pod of one revision: an init container fetches the artifact and checks its digest; the runtime serves it. */
function podSpec(revision: Revision, options: CompiledKubernetesOptions, knative: boolean): IPodSpec {
  const spec = revision.spec;
  const artifactUrl = `${options.controlPlaneUrl}/api/v1/models/${encodeURIComponent(spec.model)}/versions/${encodeURIComponent(spec.version)}/artifact`;
  const tokenEnv = options.tokenSecret === undefined ? [] : [{ name: 'CONTINUUM_TOKEN', valueFrom: { secretKeyRef: { name: options.tokenSecret, key: 'token' } } }];
  const mount = { name: 'models', mountPath: MODEL_DIR };
  const runtime: IContainer = {
    name: 'runtime',
    image: options.image,
    command: ['continuum', 'k8s', 'replica'],
    args: ['--model-file', MODEL_FILE, '--model', spec.model, '--version', spec.version, '--sha256', spec.sha256, '--port', String(REPLICA_PORT), '--runtime', JSON.stringify(spec.runtime)],
    // Knative names the one port it routes to by its protocol (h2c or http1).
    ports: [{ name: knative ? 'http1' : 'http', containerPort: REPLICA_PORT }],
    // A memory limit equal to the request (the OOM killer, not the node, ends a leaking replica);
    // no CPU limit, which would throttle a batch run under the CFS quota.
    resources: { requests: { cpu: cpuQuantity(spec.resources.vcpu), memory: memoryQuantity(spec.resources.memoryGb) }, limits: { memory: memoryQuantity(spec.resources.memoryGb) } },
    ...replicaProbes(knative ? REPLICA_PORT : 'http'),
    volumeMounts: [{ ...mount, readOnly: true }],
    securityContext: RESTRICTED,
  };
  const user = { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 };
  // Knative accepts a subset of the pod spec (no token mount switch, no grace period: its revision timeout governs).
  const podLevel = knative
    ? { securityContext: user }
    : { automountServiceAccountToken: false, securityContext: { ...user, seccompProfile: { type: 'RuntimeDefault' as const } }, terminationGracePeriodSeconds: drainSeconds() };
  return {
    ...podLevel,
    initContainers: [
      {
        name: 'fetch-model',
        image: options.image,
        command: ['continuum', 'k8s', 'fetch-model'],
        args: ['--url', artifactUrl, '--sha256', spec.sha256, '--out', MODEL_FILE],
        env: tokenEnv,
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
        volumeMounts: [mount],
        securityContext: RESTRICTED,
      },
    ],
    containers: [runtime],
    volumes: [{ name: 'models', emptyDir: {} }],
  };
}

interface Track {
  readonly track: KubernetesTrack;
  readonly revision: Revision;
  /** Replicas the Deployment sets; undefined when an autoscaler owns the count. */
  readonly replicas: number | undefined;
}

function tracksOf(input: KubernetesRenderInput, plan: ScalingPlan): Track[] {
  const baselineReplicas = plan.scaler === 'none' ? plan.minReplicas : undefined;
  const tracks: Track[] = [{ track: 'baseline', revision: input.baseline, replicas: baselineReplicas }];
  const c = input.candidate;
  if (c !== undefined) {
    tracks.push({ track: 'candidate', revision: c.revision, replicas: c.replicas });
    if ((c.controlReplicas ?? 0) > 0) tracks.push({ track: 'control', revision: input.baseline, replicas: c.controlReplicas });
  }
  return tracks;
}

/** Renders the objects of a deployment (pure); the order is the order they are applied in. */
export function renderDeployment(input: KubernetesRenderInput, options: CompiledKubernetesOptions): RenderedObject[] {
  const { deployment } = input;
  checkNames(deployment, [input.baseline.revision, ...(input.candidate === undefined ? [] : [input.candidate.revision.revision])]);
  const plan = planScaling(compilePolicy(input.baseline.spec.policy));
  const knative = plan.scaler === 'scale-to-zero' && options.scaleToZero === 'knative';
  const ns = options.namespace;
  const base = { [LABELS.name]: 'continuum-replica', [LABELS.partOf]: 'continuum', [LABELS.managedBy]: FIELD_MANAGER, [LABELS.deployment]: deployment };
  const objects: RenderedObject[] = [networkPolicy(deployment, base, options, knative)];
  if (knative) return [...objects, knativeService(input, plan, base, options), ...disruptionBudgets(input, tracksOf(input, plan), base, ns)];

  const weights = trackWeightsBps(input.candidate?.rule);
  const tracks = tracksOf(input, plan);
  for (const t of tracks) {
    const name = trackObjectName(deployment, t.revision.revision, t.track);
    const selector = { ...base, [LABELS.revision]: String(t.revision.revision), [LABELS.track]: t.track };
    const annotations = { [WEIGHT_ANNOTATION]: String(weights[t.track]), [RULE_ANNOTATION]: input.candidate?.rule.kind ?? 'baseline' };
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns, labels: selector, annotations },
      spec: { type: 'ClusterIP', selector, ports: [{ name: 'http', port: REPLICA_PORT, targetPort: 'http', protocol: 'TCP' }] },
    });
    objects.push(workload(name, ns, selector, t, options));
  }
  objects.push(...disruptionBudgets(input, tracks, base, ns));
  const scaler: ScalerTarget = { deployment, target: trackObjectName(deployment, input.baseline.revision, 'baseline'), namespace: ns, labels: base };
  if (plan.scaler === 'hpa') objects.push(horizontalPodAutoscaler(scaler, plan));
  if (plan.scaler === 'scale-to-zero') objects.push(scaledObject(scaler, plan, options));
  return objects;
}

function revisionAnnotations(revision: Revision): Record<string, string> {
  return { 'continuum.dev/model': revision.spec.model, 'continuum.dev/model-version': revision.spec.version, 'continuum.dev/sha256': revision.spec.sha256 };
}

function workload(name: string, namespace: string, selector: Record<string, string>, t: Track, options: CompiledKubernetesOptions): IDeployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: selector, annotations: revisionAnnotations(t.revision) },
    spec: {
      // Left out when an autoscaler owns the count, so an apply never resets what it decided.
      ...(t.replicas === undefined ? {} : { replicas: t.replicas }),
      selector: { matchLabels: selector },
      // A new pod is ready before an old one goes (the local target's surge-then-drain).
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: { metadata: { labels: selector, annotations: revisionAnnotations(t.revision) }, spec: podSpec(t.revision, options, false) },
    },
  };
}

/** Only the gateway (and, with Knative, its activator) may reach a deployment's replicas. */
function networkPolicy(deployment: string, base: Record<string, string>, options: CompiledKubernetesOptions, knative: boolean): INetworkPolicy {
  const fromGateway = { podSelector: { matchLabels: { ...options.gatewayLabels } } };
  // Knative's activator and queue-proxy sit in front of the container (knative-serving namespace, port 8012).
  const fromKnative = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'knative-serving' } } };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `${deployment}-replicas`, namespace: options.namespace, labels: base },
    spec: {
      podSelector: { matchLabels: base },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: knative ? [fromGateway, fromKnative] : [fromGateway],
          ports: knative ? [{ protocol: 'TCP', port: REPLICA_PORT }, { protocol: 'TCP', port: 8012 }] : [{ protocol: 'TCP', port: REPLICA_PORT }],
        },
      ],
    },
  };
}

/** At most one replica of a track away at once for a voluntary disruption (a node drain). */
function disruptionBudgets(input: KubernetesRenderInput, tracks: readonly Track[], base: Record<string, string>, namespace: string): IPodDisruptionBudget[] {
  return tracks.map((t) => {
    const selector = { ...base, [LABELS.revision]: String(t.revision.revision), [LABELS.track]: t.track };
    return {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: trackObjectName(input.deployment, t.revision.revision, t.track), namespace, labels: selector },
      spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
    };
  });
}

function metricSpec(deployment: string, plan: ScalingPlan): IMetricSpec {
  const m = plan.metric;
  if (m.kind === 'cpu') return { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: m.utilizationPercent } } };
  // External metrics served by prometheus-adapter from Continuum's gauge and counter (docs/kubernetes.md).
  const name = m.kind === 'concurrency' ? 'continuum_inference_requests_in_flight' : 'continuum_inference_requests_per_second';
  return { type: 'External', external: { metric: { name, selector: { matchLabels: { deployment } } }, target: { type: 'AverageValue', averageValue: quantity(m.perReplica) } } };
}

function behaviorOf(plan: ScalingPlan): { scaleUp: ScalingRules & { tolerance?: string }; scaleDown: ScalingRules & { tolerance?: string } } {
  const tolerance = plan.tolerance === undefined ? {} : { tolerance: quantity(plan.tolerance) };
  return { scaleUp: { ...plan.scaleUp, ...tolerance }, scaleDown: { ...plan.scaleDown, ...tolerance } };
}

/** What both autoscaler kinds share: named after the deployment, scaling production's Deployment. */
interface ScalerTarget {
  readonly deployment: string;
  /** The production track's Deployment. */
  readonly target: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
}

function scalerParts(t: ScalerTarget, plan: ScalingPlan): { metadata: ObjectMeta; scaleTargetRef: { apiVersion: string; kind: string; name: string } } {
  return {
    metadata: { name: t.deployment, namespace: t.namespace, labels: t.labels, annotations: { 'continuum.dev/policy': plan.policy } },
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: t.target },
  };
}

function horizontalPodAutoscaler(t: ScalerTarget, plan: ScalingPlan): IHorizontalPodAutoscaler {
  const behavior = behaviorOf(plan);
  const { metadata, scaleTargetRef } = scalerParts(t, plan);
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata,
    spec: {
      scaleTargetRef,
      minReplicas: plan.minReplicas,
      maxReplicas: plan.maxReplicas,
      metrics: [metricSpec(t.deployment, plan)],
      behavior: { scaleUp: { ...behavior.scaleUp, policies: [...behavior.scaleUp.policies] }, scaleDown: { ...behavior.scaleDown, policies: [...behavior.scaleDown.policies] } },
    },
  };
}

function scaledObject(t: ScalerTarget, plan: ScalingPlan, options: CompiledKubernetesOptions): ScaledObject {
  const m = plan.metric;
  const selector = `deployment="${t.deployment}"`;
  const query = m.kind === 'rps' ? `sum(rate(continuum_inference_requests_total{${selector}}[${m.windowS}s]))` : `sum(continuum_inference_requests_in_flight{${selector}})`;
  const threshold = m.kind === 'cpu' ? m.utilizationPercent : m.perReplica;
  const { metadata, scaleTargetRef } = scalerParts(t, plan);
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata,
    spec: {
      scaleTargetRef,
      // KEDA polls the trigger to wake a deployment from zero; its default is 30 s.
      pollingInterval: 5,
      cooldownPeriod: plan.scaleToZeroGraceS,
      minReplicaCount: plan.minReplicas,
      maxReplicaCount: plan.maxReplicas,
      advanced: { horizontalPodAutoscalerConfig: { name: t.deployment, behavior: behaviorOf(plan) } },
      // Any request held by the gateway (activation above 0) wakes the deployment: the activator's buffer waits for it.
      triggers: [{ type: 'prometheus', metadata: { serverAddress: options.prometheusUrl, query, threshold: String(threshold), activationThreshold: '0' } }],
    },
  };
}

/** Whole percents summing to 100 from basis points (largest remainder), as Knative's traffic blocks need. */
function percentsOf(bps: readonly number[]): number[] {
  const exact = bps.map((b) => (b * 100) / WHOLE_BPS);
  const whole = exact.map(Math.floor);
  let missing = 100 - whole.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, rest: e - Math.floor(e) })).sort((a, b) => b.rest - a.rest);
  for (const { i } of order) {
    if (missing <= 0) break;
    whole[i] = (whole[i] ?? 0) + 1;
    missing -= 1;
  }
  return whole;
}

function knativeService(input: KubernetesRenderInput, plan: ScalingPlan, base: Record<string, string>, options: CompiledKubernetesOptions): KnativeService {
  const { deployment } = input;
  const newest = input.candidate?.revision ?? input.baseline;
  const weights = trackWeightsBps(input.candidate?.rule);
  // Knative cannot size a control apart from production (both are the same Knative revision): its share is production's.
  const [baselinePercent = 100, candidatePercent = 0] = percentsOf([weights.baseline + weights.control, weights.candidate]);
  const revisionName = (r: Revision): string => trackObjectName(deployment, r.revision, 'baseline');
  const traffic = [{ revisionName: revisionName(input.baseline), percent: baselinePercent, tag: 'baseline' }];
  if (input.candidate !== undefined) traffic.push({ revisionName: revisionName(input.candidate.revision), percent: candidatePercent, tag: 'candidate' });
  const track: KubernetesTrack = input.candidate === undefined ? 'baseline' : 'candidate';
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name: deployment, namespace: options.namespace, labels: base, annotations: { 'continuum.dev/policy': plan.policy, [RULE_ANNOTATION]: input.candidate?.rule.kind ?? 'baseline' } },
    spec: {
      template: {
        // Knative names the revision after the template; it must start with the service's name.
        metadata: {
          name: revisionName(newest),
          labels: { ...base, [LABELS.revision]: String(newest.revision), [LABELS.track]: track },
          annotations: { ...plan.knativeAnnotations, ...revisionAnnotations(newest) },
        },
        spec: podSpec(newest, options, true),
      },
      traffic,
    },
  };
}
