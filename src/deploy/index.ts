/**
 * Deployments: desired state with immutable revisions and events (SQLite), the controller that runs
 * each deployment's replicas on a target with its autoscaling policy, and the router the OIP front
 * ends call (least outstanding requests, activator buffering, one retry on a lost replica).
 */
export { DeploymentStore } from './store.js';
export type { Deployment, DeploymentEvent, EventListener, EventQuery, Placement, Revision, RevisionSpec } from './store.js';
export { DeploymentController, DEFAULT_ACTIVATOR_OPTIONS } from './controller.js';
export type { CandidateStatus, DeployInput, DeploymentChange, DeploymentControllerOptions, DeploymentStatus } from './controller.js';
export { Router } from './router.js';
export { DeploymentRoute } from './route.js';
export type { TrackName, TrafficRule } from './route.js';
export { mergeTicks, sumStatistics } from './replica-set.js';
export type { ReplicaSet } from './replica-set.js';
export type { ColdStartSummary, HistoryPoint, ReplicaPhase, ReplicaSetStatus, ReplicaSetTick, ReplicaStatus } from './replica-set.js';
export { Activator } from './activator.js';
export type { ActivatorOptions } from './activator.js';
export { quantile, TrafficMeter } from './traffic.js';
export type { TrafficReading } from './traffic.js';
