/**
 * Options of the Kubernetes target: where objects go (namespace), what the pods run (image), where
 * pods fetch model artifacts (the control plane's URL), which scale-to-zero engine renders a
 * serverless policy (KEDA or Knative), who may reach replicas (the gateway's pod labels) and where
 * the in-flight metric the scalers read lives. Validated once by zod, compiled with units in names.
 */
import { z } from 'zod';
import { ContinuumError } from '../../errors.js';

/** A DNS-1123 label (RFC 1123): what Kubernetes requires of namespaces and most object names. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A label key or value as Kubernetes accepts it (prefix/name, 63 characters a part). */
const labelKey = z.string().min(1).max(253).regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, 'a Kubernetes label key');
const labelValue = z.string().max(63).regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/, 'a Kubernetes label value');

/** The friendly options (CLI flags, serve configuration). */
export const kubernetesOptionsSchema = z.strictObject({
  /** @default 'continuum' */
  namespace: z.string().max(63).regex(DNS_LABEL, 'a DNS-1123 label').optional(),
  /** The Continuum image (deploy/Containerfile) the replicas run. @default 'continuum:latest' */
  image: z.string().min(1).max(512).optional(),
  /** Base URL pods fetch model artifacts from. @default 'http://continuum.continuum.svc.cluster.local:8080' */
  controlPlaneUrl: z.url({ protocol: /^https?$/ }).max(512).optional(),
  /** Engine of scale-to-zero policies: a KEDA ScaledObject or a Knative Service. @default 'keda' */
  scaleToZero: z.enum(['keda', 'knative']).optional(),
  /** Labels of the gateway's pods: the only pods a NetworkPolicy lets reach replicas. @default the control plane's */
  gatewayLabels: z.record(labelKey, labelValue).optional(),
  /** Prometheus that KEDA's trigger queries for the in-flight gauge. @default 'http://prometheus.monitoring.svc.cluster.local:9090' */
  prometheusUrl: z.url({ protocol: /^https?$/ }).max(512).optional(),
  /** A Secret holding a management token under key `token`, sent when fetching artifacts. @default none */
  tokenSecret: z.string().max(253).regex(DNS_LABEL, 'a DNS-1123 name').optional(),
});

/** Options as a user gives them. */
export type KubernetesOptions = z.input<typeof kubernetesOptionsSchema>;

/** Options after validation: every field present. */
export interface CompiledKubernetesOptions {
  readonly namespace: string;
  readonly image: string;
  readonly controlPlaneUrl: string;
  readonly scaleToZero: 'keda' | 'knative';
  readonly gatewayLabels: Readonly<Record<string, string>>;
  readonly prometheusUrl: string;
  readonly tokenSecret: string | undefined;
}

/** Labels of the control plane's own pods (deploy/continuum.yaml): it is the gateway. */
export const CONTROL_PLANE_LABELS: Readonly<Record<string, string>> = { 'app.kubernetes.io/name': 'continuum', 'app.kubernetes.io/component': 'control-plane' };

/** Validates and fills the defaults; CONTINUUM_ERR_BAD_REQUEST names the option that is wrong. */
export function compileKubernetesOptions(input: KubernetesOptions = {}): CompiledKubernetesOptions {
  const parsed = kubernetesOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `Kubernetes option ${issue?.path.join('.') || 'input'}: ${issue?.message ?? 'invalid'}`);
  }
  const o = parsed.data;
  const namespace = o.namespace ?? 'continuum';
  return {
    namespace,
    image: o.image ?? 'continuum:latest',
    controlPlaneUrl: (o.controlPlaneUrl ?? `http://continuum.${namespace}.svc.cluster.local:8080`).replace(/\/+$/, ''),
    scaleToZero: o.scaleToZero ?? 'keda',
    gatewayLabels: o.gatewayLabels ?? CONTROL_PLANE_LABELS,
    prometheusUrl: (o.prometheusUrl ?? 'http://prometheus.monitoring.svc.cluster.local:9090').replace(/\/+$/, ''),
    tokenSecret: o.tokenSecret,
  };
}
