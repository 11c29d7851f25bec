/**
 * Batch formation of the dynamic batcher, as a pure function: a snapshot of the queue, the
 * model's batching options and the current time in, the next batch (or when to look again) out.
 * Semantics follow Triton's dynamic batcher (Triton Inference Server docs, "Dynamic Batcher"):
 * preferred batch sizes are sent at once, otherwise the batcher waits up to the queue delay for
 * the batch to fill to the maximum size, and a delay of 0 sends whatever is queued.
 */

/** What the batcher needs to know about one queued request. */
export interface QueuedRequestView {
  /** Slots the request takes: its own first (batch) dimension. */
  readonly batchSize: number;
  /** Requests batch together only when their non-batch dimensions and datatypes match. */
  readonly shapeKey: string;
  /** Arrival time, microseconds on the batcher's monotonic clock. */
  readonly arrivalUs: number;
  /** When the request must have started running, same clock; Infinity for none. */
  readonly deadlineUs: number;
}

/** The options that steer batch formation (from the compiled model runtime options). */
export interface BatchingPolicy {
  /** Largest batch in slots; 1 means every request runs alone. */
  readonly maxBatchSize: number;
  /** Sorted ascending; a batch of one of these sizes is sent without waiting. */
  readonly preferredBatchSizes: readonly number[];
  readonly maxQueueDelayUs: number;
}

/** The decision for one look at the queue. */
export interface BatchDecision {
  /** Indices (into the snapshot) of requests whose deadline passed: answer TIMEOUT, never run. */
  readonly expired: readonly number[];
  /** Indices of the requests that form the next batch, in queue order; empty when none now. */
  readonly batch: readonly number[];
  /** When to look again (microseconds) if nothing else happens: batch delay or the next deadline. */
  readonly wakeAtUs: number | undefined;
}

/**
 * Decides what the batcher does now, with `freeInstances` instances able to take a batch; when
 * none is free only expiry is decided (and when to next check for it).
 *
 * The oldest live request always belongs to the next batch, so nothing starves. Requests of the
 * same shape are added in queue order while they fit into `maxBatchSize`; one that does not fit
 * is skipped for a later batch. With no queue delay and several free instances, the queued work
 * is shared out: a batch takes at most its share (queued slots / free instances, rounded up), so
 * instances that run in parallel all get work instead of one taking everything.
 */
export function formBatch(
  queue: readonly QueuedRequestView[],
  policy: BatchingPolicy,
  nowUs: number,
  freeInstances: number,
): BatchDecision {
  const expired: number[] = [];
  let head = -1;
  let nextDeadlineUs = Infinity;
  let liveSlots = 0;
  for (let i = 0; i < queue.length; i++) {
    const r = queue[i] as QueuedRequestView;
    if (r.deadlineUs <= nowUs) expired.push(i);
    else {
      if (head < 0) head = i;
      liveSlots += r.batchSize;
      if (r.deadlineUs < nextDeadlineUs) nextDeadlineUs = r.deadlineUs;
    }
  }
  const deadlineWake = nextDeadlineUs === Infinity ? undefined : nextDeadlineUs;
  if (head < 0 || freeInstances <= 0) return { expired, batch: [], wakeAtUs: deadlineWake };

  const limit =
    policy.maxQueueDelayUs === 0 && freeInstances > 1 ? Math.min(policy.maxBatchSize, Math.ceil(liveSlots / freeInstances)) : policy.maxBatchSize;
  const first = queue[head] as QueuedRequestView;
  const batch = [head];
  let size = first.batchSize;
  // Length of the longest prefix of `batch` whose size is a preferred batch size.
  let preferredLength = policy.preferredBatchSizes.includes(size) ? 1 : 0;
  for (let i = head + 1; i < queue.length && size < limit; i++) {
    const r = queue[i] as QueuedRequestView;
    if (r.deadlineUs <= nowUs || r.shapeKey !== first.shapeKey || size + r.batchSize > limit) continue;
    batch.push(i);
    size += r.batchSize;
    if (policy.preferredBatchSizes.includes(size)) preferredLength = batch.length;
  }

  const sendAll = size >= policy.maxBatchSize || policy.maxQueueDelayUs === 0 || nowUs >= first.arrivalUs + policy.maxQueueDelayUs;
  if (sendAll) return { expired, batch, wakeAtUs: undefined };
  if (preferredLength > 0) return { expired, batch: batch.slice(0, preferredLength), wakeAtUs: undefined };
  const delayWake = first.arrivalUs + policy.maxQueueDelayUs;
  return { expired, batch: [], wakeAtUs: deadlineWake === undefined ? delayWake : Math.min(delayWake, deadlineWake) };
}
