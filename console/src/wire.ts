/**
 * The JSON shapes of the REST API (docs/api.md) that the console reads. These describe the wire,
 * not the server's classes: only the fields the pages show, all read-only.
 */

/** A tensor declaration of a model's signature (-1 = a dynamic dimension). */
export interface TensorSpec {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
}

/** `GET /api/v1/models` item. */
export interface ModelSummary {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly created_at: string;
  readonly version_count: number;
  readonly latest_version: string | null;
  readonly default_version: string | null;
  readonly aliases: Readonly<Record<string, string>>;
}

/** One model version. */
export interface ModelVersion {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  readonly size_bytes: number;
  readonly signature: { readonly inputs: readonly TensorSpec[]; readonly outputs: readonly TensorSpec[] };
  readonly labels: Readonly<Record<string, string>>;
  readonly aliases: readonly string[];
  readonly created_at: string;
}

/** `GET /api/v1/models/{name}`. */
export interface ModelDetail extends ModelSummary {
  readonly versions: readonly ModelVersion[];
}

/** A replica of a deployment. */
export interface Replica {
  readonly id: string;
  readonly pid: number;
  readonly revision: number;
  readonly phase: string;
  readonly inFlight: number;
}

/** An autoscaler decision with its inputs and reason. */
export interface ScalingDecision {
  readonly desiredReplicas: number;
  readonly policy: string;
  readonly reason: string;
  readonly inputs: Readonly<Record<string, number | string | boolean>>;
  readonly mode?: string;
}

/** The status every replica set reports (production, candidate, control). */
export interface ReplicaSetStatus {
  readonly policy: Readonly<Record<string, unknown>>;
  readonly desiredReplicas: number;
  readonly replicas: readonly Replica[];
  readonly buffered: number;
  readonly inSystem: number;
  readonly lastDecision?: ScalingDecision;
  readonly mode: string;
  readonly cost: { readonly totalUsd: number; readonly replicaSeconds: number; readonly invocations: number };
}

/** A revision: the immutable desired state of a deployment. */
export interface Revision {
  readonly revision: number;
  readonly spec: {
    readonly model: string;
    readonly version: string;
    readonly resources: { readonly vcpu: number; readonly memoryGb: number };
  };
}

/** A traffic rule between production and a rollout's candidate. */
export type TrafficRule =
  | { readonly kind: 'baseline' }
  | { readonly kind: 'weighted'; readonly candidateBps: number; readonly controlBps: number }
  | { readonly kind: 'sticky'; readonly candidateBps: number; readonly controlBps: number; readonly keyHeader: string }
  | { readonly kind: 'header'; readonly header: string; readonly value: string }
  | { readonly kind: 'mirror'; readonly shareBps: number; readonly tolerance: number };

/** `GET /api/v1/deployments/{name}` (the list's items lack `events`). */
export interface DeploymentStatus extends ReplicaSetStatus {
  readonly name: string;
  readonly revision: Revision;
  readonly candidate?: ReplicaSetStatus & { readonly revision: Revision; readonly traffic: TrafficRule; readonly control?: ReplicaSetStatus };
  readonly events?: readonly DeploymentEvent[];
}

/** A deployment event (also the global event log's items). */
export interface DeploymentEvent {
  readonly id: number;
  readonly deployment: string;
  readonly at: string;
  readonly type: string;
  readonly message: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** One autoscaler tick of a replica set; `energyJoules` appears once energy is measured. */
export interface HistoryPoint {
  readonly atMs: number;
  readonly throughputRps: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly concurrency: number;
  readonly desiredReplicas: number;
  readonly readyReplicas: number;
  readonly costUsd: number;
  readonly energyJoules?: number | null;
}

/** `GET /api/v1/deployments/{name}/history`. */
export interface DeploymentHistory {
  readonly baseline: readonly HistoryPoint[];
  readonly candidate?: readonly HistoryPoint[];
}

/** One check of a rollout verdict. */
export interface VerdictCheck {
  readonly name: string;
  readonly outcome: 'pass' | 'fail' | 'inconclusive';
  readonly detail: string;
}

/** A rollout's status. */
export type RolloutStatus = 'progressing' | 'paused' | 'succeeded' | 'rolled-back' | 'aborted';

/** `GET /api/v1/rollouts/{id}` (the list's items carry the same fields). */
export interface Rollout {
  readonly id: number;
  readonly deployment: string;
  readonly strategy: string;
  readonly baselineVersion: string;
  readonly candidateVersion: string;
  readonly spec: { readonly steps: readonly unknown[]; readonly analysisIntervalMs: number };
  readonly state: { readonly status: RolloutStatus; readonly stepIndex: number; readonly phase: string; readonly reason: string; readonly lastOutcome?: string };
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly step: string;
  readonly verdicts?: readonly { readonly at: string; readonly step: number; readonly verdict: { readonly outcome: string; readonly summary: string; readonly checks: readonly VerdictCheck[] } }[];
}

/** `GET /v2`: OIP server metadata. */
export interface ServerMetadata {
  readonly name: string;
  readonly version: string;
  readonly extensions: readonly string[];
}

/** `GET /v2/models/{name}`: OIP model metadata. */
export interface ModelMetadata {
  readonly name: string;
  readonly versions?: readonly string[];
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/** An OIP output tensor. */
export interface OutputTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly data: readonly unknown[];
}

/** Whether a rollout has ended. */
export function rolloutFinished(status: RolloutStatus): boolean {
  return status === 'succeeded' || status === 'rolled-back' || status === 'aborted';
}

/** What happened to a data source's messages since the server started (`null` without MQTT). */
export interface IngestCounters {
  readonly received: number;
  readonly inferred: number;
  readonly published: number;
  readonly dropped: number;
  readonly refused: Readonly<Record<string, number>>;
}

/** `GET /api/v1/datasources` item: an MQTT subscription bound to a deployment. */
export interface DataSource {
  readonly name: string;
  readonly topic: string;
  readonly format: string;
  readonly mapping: {
    readonly fields: readonly string[];
    readonly input: string;
    readonly timestampField?: string;
    readonly labelField?: string;
    readonly seqField?: string;
  };
  readonly deployment: string;
  readonly version?: string;
  readonly resultTopic?: string;
  readonly window?: { readonly size: number; readonly hop: number };
  readonly retention?: { readonly maxAgeMs?: number; readonly maxRows?: number };
  readonly counters: IngestCounters | null;
}

/** A declared parameter of a workflow's manifest. */
export interface WorkflowParameter {
  readonly type: 'number' | 'string' | 'boolean';
  readonly default?: number | string | boolean;
  readonly min?: number;
  readonly max?: number;
  readonly enum?: readonly (string | number)[];
}

/** A workflow package's manifest. */
export interface WorkflowManifest {
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly entry: string;
  readonly inputs: readonly string[];
  readonly label: string;
  readonly classes: readonly string[];
  readonly window?: { readonly size: number; readonly hop: number };
  readonly outputs: readonly string[];
  readonly parameters?: Readonly<Record<string, WorkflowParameter>>;
}

/** `GET /api/v1/workflows/{name}`. */
export interface Workflow {
  readonly name: string;
  readonly version: string;
  readonly digest: string;
  readonly manifest: WorkflowManifest;
}

/** A training run of a workflow. */
export interface WorkflowRun {
  readonly id: string | number;
  readonly workflow: string;
  readonly status: 'running' | 'succeeded' | 'failed';
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly durationMs?: number;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly modelVersion?: string;
  readonly error?: string;
  readonly log: readonly string[];
  readonly resources?: { readonly peakRssBytes: number; readonly cpuMs: number };
}
