/**
 * The activator's buffer (Knative's activator, in small): while a deployment has no ready replica —
 * scaled to zero, or every replica lost — requests wait here instead of failing, up to a bound on
 * how many wait and how long. When a replica becomes ready every waiter is released to the router.
 */
import { ContinuumError } from '../errors.js';

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: ContinuumError) => void;
  readonly timer: NodeJS.Timeout;
}

/** Options of an {@link Activator}. */
export interface ActivatorOptions {
  /** Requests that may wait; one more is refused with 503. */
  readonly maxBuffered: number;
  /** How long a request may wait for a replica before it is answered 503. */
  readonly maxWaitMs: number;
  /** Seconds a refused client is told to wait (`Retry-After`). */
  readonly retryAfterS: number;
}

/** A bounded, timed FIFO of requests waiting for a ready replica. */
export class Activator {
  private readonly waiters = new Set<Waiter>();

  constructor(
    private readonly deployment: string,
    private readonly options: ActivatorOptions,
  ) {}

  /** Requests waiting now. */
  get buffered(): number {
    return this.waiters.size;
  }

  /**
   * Resolves when a replica is ready ({@link release}); rejects with CONTINUUM_ERR_ACTIVATOR_FULL
   * at once when the buffer is full, CONTINUUM_ERR_NO_REPLICA when `deadlineMs` (epoch ms) or the
   * buffer's own wait limit passes first.
   */
  wait(nowMs: number, deadlineMs?: number): Promise<void> {
    const { maxBuffered, maxWaitMs, retryAfterS } = this.options;
    if (this.waiters.size >= maxBuffered) {
      return Promise.reject(
        new ContinuumError('CONTINUUM_ERR_ACTIVATOR_FULL', `deployment '${this.deployment}' is starting and ${maxBuffered} requests already wait for it; retry shortly`, {
          retryAfterS,
          details: { deployment: this.deployment, maxBuffered },
        }),
      );
    }
    const waitMs = Math.max(0, Math.min(maxWaitMs, (deadlineMs ?? Number.POSITIVE_INFINITY) - nowMs));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(
            new ContinuumError('CONTINUUM_ERR_NO_REPLICA', `no replica of deployment '${this.deployment}' became ready within ${waitMs} ms; retry shortly`, {
              retryAfterS,
              details: { deployment: this.deployment, waitedMs: waitMs },
            }),
          );
        }, waitMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** A replica is ready: every waiter goes on to the router. */
  release(): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.waiters.clear();
  }

  /** The deployment is going away: every waiter fails with `err`. */
  failAll(err: ContinuumError): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
    this.waiters.clear();
  }
}
