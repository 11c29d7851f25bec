/**
 * A closed-loop load: N workers, each sends a request, waits for the whole answer, and sends the
 * next one at once (perf_analyzer's concurrency mode). Completions are stamped with a clock that
 * worker threads share, so windows can be cut at exact instants across threads.
 */

/** Milliseconds on a clock shared by every thread of the process. */
export function sharedClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/** What completed before an instant. */
export interface WindowCut {
  readonly latenciesUs: number[];
  readonly completed: number;
  readonly errors: number;
  readonly firstError: string | undefined;
}

/** Runs `concurrency` loops of `send` until stopped, recording each completion. */
export class ClosedLoop {
  private ends: number[] = [];
  private latenciesUs: number[] = [];
  private errorEnds: number[] = [];
  private firstError: string | undefined;
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(send: () => Promise<void>, concurrency: number) {
    this.loops = Array.from({ length: concurrency }, () => this.loop(send));
  }

  private async loop(send: () => Promise<void>): Promise<void> {
    while (this.running) {
      const start = sharedClockMs();
      try {
        await send();
        const end = sharedClockMs();
        this.ends.push(end);
        this.latenciesUs.push(Math.round((end - start) * 10_000) / 10);
      } catch (err) {
        this.errorEnds.push(sharedClockMs());
        this.firstError ??= err instanceof Error ? err.message : String(err);
        // A refused or failing server must not turn the loop into a busy spin.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  /** Takes every completion that ended before `atMs` (shared clock); later ones stay. */
  cut(atMs: number): WindowCut {
    const n = firstAtOrAfter(this.ends, atMs);
    const e = firstAtOrAfter(this.errorEnds, atMs);
    const latenciesUs = this.latenciesUs.slice(0, n);
    this.ends = this.ends.slice(n);
    this.latenciesUs = this.latenciesUs.slice(n);
    this.errorEnds = this.errorEnds.slice(e);
    const firstError = this.firstError;
    this.firstError = undefined;
    return { latenciesUs, completed: n, errors: e, firstError };
  }

  /** Stops sending; resolves when every request in flight has finished. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

/** Index of the first value >= `at` in ascending `values` (completions are recorded in order). */
function firstAtOrAfter(values: readonly number[], at: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as number) < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
