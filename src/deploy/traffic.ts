/**
 * What the router measures of one deployment's traffic between two autoscaler ticks: arrivals,
 * completions, latencies and the time-weighted mean of requests in the system (Knative's observed
 * concurrency). The autoscaler loop turns one tick's reading into a ScalingObservation.
 */

/** One tick's traffic figures. */
export interface TrafficReading {
  readonly intervalMs: number;
  readonly arrivals: number;
  readonly completions: number;
  /** Completions that failed on the server's side (5xx: a replica lost, no replica, a runtime error). */
  readonly errors: number;
  /** Time-weighted mean of requests in the system over the interval. */
  readonly concurrency: number;
  /** Requests in the system at the end of the interval. */
  readonly inSystem: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /**
   * Service time of the requests answered in the interval, ms: their latency without the time they
   * waited in the activator for a replica (what a serverless platform bills as duration: GB-seconds).
   */
  readonly busyMs: number;
  readonly lastArrivalMs: number | undefined;
}

/** The value at quantile `q` (0..1) of ascending `sorted` (nearest rank); NaN when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** Latency samples kept per tick at most; beyond it, newer samples overwrite older ones in turn, bounding memory. */
const MAX_SAMPLES_PER_TICK = 4096;

/** Counts a deployment's traffic; `read` closes the current interval and starts the next. */
export class TrafficMeter {
  private intervalStartMs: number;
  private lastChangeMs: number;
  private inSystem = 0;
  private area = 0;
  private arrivals = 0;
  private completions = 0;
  private errors = 0;
  private busyMs = 0;
  private samples: number[] = [];
  private lastArrivalMs: number | undefined;

  constructor(nowMs: number) {
    this.intervalStartMs = nowMs;
    this.lastChangeMs = nowMs;
  }

  /** Requests in the system now (in flight on replicas or buffered by the activator). */
  get current(): number {
    return this.inSystem;
  }

  /** A request entered the system. */
  arrive(nowMs: number): void {
    this.advance(nowMs);
    this.inSystem += 1;
    this.arrivals += 1;
    this.lastArrivalMs = nowMs;
  }

  /** A request left the system after `latencyMs`, of which `servedMs` was service (not activator wait); `failed` when the server failed it. */
  complete(nowMs: number, latencyMs: number, servedMs: number, failed = false): void {
    this.advance(nowMs);
    this.inSystem -= 1;
    this.completions += 1;
    if (failed) this.errors += 1;
    this.busyMs += servedMs;
    if (this.samples.length < MAX_SAMPLES_PER_TICK) this.samples.push(latencyMs);
    else this.samples[this.completions % MAX_SAMPLES_PER_TICK] = latencyMs;
  }

  /** Closes the interval ending at `nowMs` and returns its figures. */
  read(nowMs: number): TrafficReading {
    this.advance(nowMs);
    const intervalMs = Math.max(1, nowMs - this.intervalStartMs);
    const sorted = this.samples.sort((a, b) => a - b);
    const reading: TrafficReading = {
      intervalMs,
      arrivals: this.arrivals,
      completions: this.completions,
      errors: this.errors,
      concurrency: this.area / intervalMs,
      inSystem: this.inSystem,
      latencyP50Ms: quantile(sorted, 0.5),
      latencyP99Ms: quantile(sorted, 0.99),
      busyMs: this.busyMs,
      lastArrivalMs: this.lastArrivalMs,
    };
    this.intervalStartMs = nowMs;
    this.area = 0;
    this.arrivals = 0;
    this.completions = 0;
    this.errors = 0;
    this.busyMs = 0;
    this.samples = [];
    return reading;
  }

  private advance(nowMs: number): void {
    if (nowMs > this.lastChangeMs) {
      this.area += this.inSystem * (nowMs - this.lastChangeMs);
      this.lastChangeMs = nowMs;
    }
  }
}
