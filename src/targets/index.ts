/**
 * Targets: where replicas run. The deployment controller starts replicas of a revision through a
 * {@link Target} and routes requests to the {@link Replica} handles it gets back. The local
 * target runs each replica as its own OS process, with a warm pool of spare processes.
 */
export type { Replica, ReplicaExit, ReplicaSpec, ReplicaStartupTimings, ReplicaState, ReplicaUsage, Target } from './types.js';
export { LocalTarget } from './local/local-target.js';
export { compileLocalTargetOptions } from './local/options.js';
export type { CompiledLocalTargetOptions, LocalTargetOptions } from './local/options.js';
