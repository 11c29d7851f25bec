import { describe, expect, it } from 'vitest';
import { formBatch, type BatchingPolicy, type QueuedRequestView } from './batching.js';

const req = (batchSize: number, arrivalUs: number, shapeKey = 'a', deadlineUs = Infinity): QueuedRequestView => ({ batchSize, shapeKey, arrivalUs, deadlineUs });
const policy = (p: Partial<BatchingPolicy> = {}): BatchingPolicy => ({ maxBatchSize: 8, preferredBatchSizes: [], maxQueueDelayUs: 0, ...p });

describe('formBatch', () => {
  it('with no delay takes what is queued now, up to the largest batch', () => {
    const queue = [req(3, 0), req(3, 1), req(3, 2), req(1, 3)];
    // 3 + 3 = 6; the third (3) would make 9 > 8 and is skipped; the 1 fits: 7.
    expect(formBatch(queue, policy(), 10, 1)).toEqual({ expired: [], batch: [0, 1, 3], wakeAtUs: undefined });
  });

  it('batches only requests whose non-batch shapes match the oldest one', () => {
    const queue = [req(1, 0, 'x3'), req(1, 1, 'x5'), req(2, 2, 'x3'), req(1, 3, 'x5')];
    expect(formBatch(queue, policy(), 10, 1).batch).toEqual([0, 2]);
  });

  it('decides nothing but expiry while every instance is busy', () => {
    const queue = [req(1, 0, 'a', 50), req(1, 1, 'a', 500)];
    expect(formBatch(queue, policy(), 100, 0)).toEqual({ expired: [0], batch: [], wakeAtUs: 500 });
  });

  it('answers expired requests and never puts them in a batch', () => {
    const queue = [req(1, 0, 'a', 5), req(2, 1, 'a', 500), req(1, 2, 'a', 8)];
    expect(formBatch(queue, policy(), 10, 1)).toEqual({ expired: [0, 2], batch: [1], wakeAtUs: undefined });
  });

  it('with a delay waits for the oldest request’s delay to pass, or its deadline if sooner', () => {
    const queue = [req(1, 100), req(2, 150)];
    expect(formBatch(queue, policy({ maxQueueDelayUs: 1000 }), 200, 1)).toEqual({ expired: [], batch: [], wakeAtUs: 1100 });
    const withDeadline = [req(1, 100, 'a', 600), req(2, 150)];
    expect(formBatch(withDeadline, policy({ maxQueueDelayUs: 1000 }), 200, 1).wakeAtUs).toBe(600);
    // Once the delay has passed, whatever is queued goes.
    expect(formBatch(queue, policy({ maxQueueDelayUs: 1000 }), 1100, 1).batch).toEqual([0, 1]);
  });

  it('with a delay sends at once when the batch is full', () => {
    const queue = [req(4, 100), req(4, 150), req(1, 160)];
    expect(formBatch(queue, policy({ maxQueueDelayUs: 1000 }), 200, 1).batch).toEqual([0, 1]);
  });

  it('sends the largest preferred batch size that can be formed without waiting', () => {
    const queue = [req(1, 100), req(1, 110), req(2, 120), req(1, 130)];
    // Prefix sizes 1, 2, 4, 5; preferred [2, 4] → the first three (4 slots).
    expect(formBatch(queue, policy({ maxQueueDelayUs: 1000, preferredBatchSizes: [2, 4] }), 200, 1).batch).toEqual([0, 1, 2]);
    // No preferred size reachable yet: wait.
    expect(formBatch([req(1, 100)], policy({ maxQueueDelayUs: 1000, preferredBatchSizes: [2, 4] }), 200, 1).batch).toEqual([]);
  });

  it('with several free instances and no delay shares the queued work out', () => {
    const queue = [req(1, 0), req(1, 1), req(1, 2), req(1, 3), req(2, 4)];
    // 6 slots over 2 free instances: 3 each.
    expect(formBatch(queue, policy(), 10, 2).batch).toEqual([0, 1, 2]);
    expect(formBatch([req(1, 3), req(2, 4)], policy(), 10, 1).batch).toEqual([0, 1]);
    // The oldest request always goes, even when larger than the share.
    expect(formBatch([req(4, 0), req(1, 1)], policy(), 10, 2).batch).toEqual([0]);
    // With a queue delay the batcher fills batches instead.
    expect(formBatch(queue, policy({ maxQueueDelayUs: 5 }), 10, 2).batch).toEqual([0, 1, 2, 3, 4]);
  });

  it('with maxBatchSize 1 runs every request alone', () => {
    const queue = [req(1, 0), req(1, 1)];
    expect(formBatch(queue, policy({ maxBatchSize: 1 }), 10, 1).batch).toEqual([0]);
  });

  it('is idle on an empty queue', () => {
    expect(formBatch([], policy(), 10, 1)).toEqual({ expired: [], batch: [], wakeAtUs: undefined });
  });
});
