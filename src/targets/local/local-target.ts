/**
 * The local target: every replica is its own OS process running the runtime for one model
 * version (its own ONNX Runtime sessions and threads), reached over a socket pair.
 *
 * Cold start is cut with a warm pool (a zygote in spirit; Node cannot fork a booted runtime):
 * spare processes are spawned ahead of time and import the runtime and ONNX Runtime while idle, so
 * a replica started from one only creates and warms its session. Booting Node and importing the
 * runtime are most of a cold start (bench/coldstart.ts measures both paths). The pool is refilled
 * a little after the replica it served is ready, so that booting the next spare does not compete
 * with the new replica's first requests.
 */
import { ContinuumError } from '../../errors.js';
import { compileRuntimeOptions } from '../../runtime/index.js';
import type { Replica, ReplicaSpec, Target } from '../types.js';
import { compileLocalTargetOptions } from './options.js';
import type { CompiledLocalTargetOptions, LocalTargetOptions } from './options.js';
import { epochMs, ReplicaProcess } from './process.js';
import { LocalReplica } from './replica.js';

/** Replicas in local processes, with a warm pool of spare processes; see the module comment. */
export class LocalTarget implements Target {
  /** The compiled options. */
  readonly options: CompiledLocalTargetOptions;
  private readonly spares: ReplicaProcess[] = [];
  private readonly running = new Set<LocalReplica>();
  private started = 0;
  private closed = false;
  private refillTimer: NodeJS.Timeout | undefined;

  /** Validates the options (CONTINUUM_ERR_BAD_REQUEST) and starts filling the warm pool. */
  constructor(options: LocalTargetOptions = {}) {
    this.options = compileLocalTargetOptions(options);
    if (this.options.warmPoolOnStart) this.fillPool();
  }

  prepare(): void {
    if (!this.closed && this.refillTimer === undefined) this.fillPool();
  }

  /**
   * Resolves once the warm pool is full and every spare has imported the runtime (or died);
   * refills a pool still waiting for its refill delay at once.
   */
  async warmPoolReady(): Promise<void> {
    if (this.refillTimer !== undefined) {
      clearTimeout(this.refillTimer);
      this.refillTimer = undefined;
      this.fillPool();
    }
    await Promise.all(
      this.spares.map(async (spare) => {
        // Waiting on a spare keeps this process alive; an idle spare does not.
        spare.ref();
        await Promise.race([spare.whenImported, spare.ended]);
        if (!spare.isGone) spare.unref();
      }),
    );
  }

  /** Spare processes waiting in the warm pool (booting or imported). */
  get spareCount(): number {
    return this.spares.length;
  }

  /** Replicas started by this target and not yet exited. */
  replicas(): readonly Replica[] {
    return [...this.running];
  }

  async startReplica(spec: ReplicaSpec): Promise<Replica> {
    if (this.closed) throw new ContinuumError('CONTINUUM_ERR_SHUTTING_DOWN', 'the local target is closed; no replica can start');
    // Invalid runtime options are refused here, before a process is spent on them.
    const { requestTimeoutMs } = compileRuntimeOptions(spec.model.runtimeOptions);
    const requestedAtEpochMs = epochMs();
    const spare = this.takeSpare();
    const replicaProcess = spare ?? ReplicaProcess.spawn(this.options.nodeArgs);
    this.started += 1;
    const id = `${spec.deployment}-${spec.revision}-${this.started}`;
    try {
      const replica = await LocalReplica.start(replicaProcess, { id, spec, options: this.options, requestTimeoutMs, requestedAtEpochMs, pooled: spare !== undefined });
      if (this.closed) {
        replica.kill();
        throw new ContinuumError('CONTINUUM_ERR_SHUTTING_DOWN', 'the local target was closed while the replica started');
      }
      this.running.add(replica);
      replica.onExit(() => this.running.delete(replica));
      return replica;
    } finally {
      this.scheduleRefill();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refillTimer);
    const spares = this.spares.splice(0);
    const replicas = [...this.running];
    for (const s of spares) s.kill();
    for (const r of replicas) r.kill();
    await Promise.all([...spares.map((s) => s.ended), ...replicas.map((r) => new Promise<void>((resolve) => r.onExit(() => resolve())))]);
  }

  /** An imported spare if there is one, else one still booting (it is ahead of a new spawn). */
  private takeSpare(): ReplicaProcess | undefined {
    const index = this.spares.findIndex((s) => s.imported !== undefined);
    const [spare] = this.spares.splice(index === -1 ? 0 : index, 1);
    return spare;
  }

  private scheduleRefill(): void {
    if (this.refillTimer !== undefined || this.spares.length >= this.options.warmPoolSize) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.fillPool();
    }, this.options.poolRefillDelayMs);
    this.refillTimer.unref();
  }

  /**
   * Spawns spares up to the pool size. A spare that dies is dropped and replaced at the next
   * start, not at once, so a replica program that cannot start does not spin.
   */
  private fillPool(): void {
    while (!this.closed && this.spares.length < this.options.warmPoolSize) {
      const spare = ReplicaProcess.spawn(this.options.nodeArgs);
      spare.attach({
        onFrame: () => undefined,
        onGone: () => {
          const index = this.spares.indexOf(spare);
          if (index !== -1) this.spares.splice(index, 1);
        },
      });
      this.spares.push(spare);
    }
  }
}
