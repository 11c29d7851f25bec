/**
 * Per model-version counters for the statistics extension, with Triton's meaning
 * (Triton "Statistics Extension"): success/fail/queue and the compute phases count requests, each
 * request of a batch adding the batch's compute durations; execution_count counts runs and
 * batch_stats groups runs by batch size. Durations are nanoseconds.
 */
import type { ModelStatistics, StatDuration } from '../oip/types.js';

class Duration {
  count = 0;
  ns = 0;
  add(count: number, ns: number): void {
    this.count += count;
    this.ns += ns;
  }
  snapshot(): StatDuration {
    return { count: this.count, ns: Math.round(this.ns) };
  }
}

class BatchPhases {
  readonly computeInput = new Duration();
  readonly computeInfer = new Duration();
  readonly computeOutput = new Duration();
}

/** The durations of one execution (one batch), in nanoseconds. */
export interface ExecutionTiming {
  readonly computeInputNs: number;
  readonly computeInferNs: number;
  readonly computeOutputNs: number;
}

/** Accumulates the statistics of one loaded model version. */
export class ModelStatisticsRecorder {
  private lastInferenceMs = 0;
  private inferenceCount = 0;
  private executionCount = 0;
  private readonly success = new Duration();
  private readonly fail = new Duration();
  private readonly queue = new Duration();
  private readonly phases = new BatchPhases();
  private readonly byBatchSize = new Map<number, BatchPhases>();

  constructor(
    private readonly name: string,
    private readonly version: string,
  ) {}

  /** A request left the queue for execution after waiting `queueNs`. */
  recordQueued(queueNs: number): void {
    this.queue.add(1, queueNs);
  }

  /** One execution of `requests` requests filling `batchSize` slots finished successfully. */
  recordExecution(batchSize: number, requests: number, timing: ExecutionTiming, nowMs: number): void {
    this.executionCount += 1;
    this.inferenceCount += batchSize;
    this.lastInferenceMs = nowMs;
    this.phases.computeInput.add(requests, timing.computeInputNs * requests);
    this.phases.computeInfer.add(requests, timing.computeInferNs * requests);
    this.phases.computeOutput.add(requests, timing.computeOutputNs * requests);
    let b = this.byBatchSize.get(batchSize);
    if (b === undefined) {
      b = new BatchPhases();
      this.byBatchSize.set(batchSize, b);
    }
    b.computeInput.add(1, timing.computeInputNs);
    b.computeInfer.add(1, timing.computeInferNs);
    b.computeOutput.add(1, timing.computeOutputNs);
  }

  /** A request was answered successfully `totalNs` after it arrived. */
  recordSuccess(totalNs: number): void {
    this.success.add(1, totalNs);
  }

  /** A request failed (runtime error or timeout) `totalNs` after it arrived. */
  recordFailure(totalNs: number): void {
    this.fail.add(1, totalNs);
  }

  /** The statistics extension's view of the counters. */
  snapshot(): ModelStatistics {
    return {
      name: this.name,
      version: this.version,
      last_inference: this.lastInferenceMs,
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: {
        success: this.success.snapshot(),
        fail: this.fail.snapshot(),
        queue: this.queue.snapshot(),
        compute_input: this.phases.computeInput.snapshot(),
        compute_infer: this.phases.computeInfer.snapshot(),
        compute_output: this.phases.computeOutput.snapshot(),
      },
      batch_stats: [...this.byBatchSize.entries()]
        .sort(([a], [b]) => a - b)
        .map(([batchSize, p]) => ({
          batch_size: batchSize,
          compute_input: p.computeInput.snapshot(),
          compute_infer: p.computeInfer.snapshot(),
          compute_output: p.computeOutput.snapshot(),
        })),
    };
  }
}
