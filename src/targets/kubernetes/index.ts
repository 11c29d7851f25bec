/**
 * The Kubernetes target: a deployment's revisions rendered (a pure function) as Deployments,
 * Services, an HPA or a KEDA/Knative scale-to-zero engine, a NetworkPolicy and PodDisruptionBudgets,
 * and an applier that server-side applies them, reads their state back and cleans them up.
 * docs/kubernetes.md says what each object means and what was verified without a cluster.
 */
export { compileKubernetesOptions, kubernetesOptionsSchema } from './options.js';
export type { CompiledKubernetesOptions, KubernetesOptions } from './options.js';
export { planScaling } from './scaling.js';
export type { ScalingMetric, ScalingPlan, ScalingRules } from './scaling.js';
export { deploymentSelector, FIELD_MANAGER, LABELS, renderDeployment, renderInputOf, replicaProbes, trackObjectName, trackWeightsBps, REPLICA_PORT } from './render.js';
export type { KnativeService, KubernetesRenderInput, KubernetesTrack, RenderedObject, ScaledObject } from './render.js';
export { KubernetesApplier, MANAGED_KINDS, retryDelayMs } from './apply.js';
export type { KubernetesApplierOptions, KubernetesCondition, KubernetesDeploymentStatus, KubernetesTrackStatus } from './apply.js';
export { fetchModel, startPodReplica } from './pod.js';
export type { FetchModelOptions, PodReplica, PodReplicaOptions } from './pod.js';
export { artifactApiPlugin } from './artifacts.js';
export type { ArtifactApiOptions } from './artifacts.js';
export { KUBERNETES_EVENT, KubernetesReconciler } from './reconciler.js';
export type { KubernetesReconcilerOptions, SyncInput } from './reconciler.js';
