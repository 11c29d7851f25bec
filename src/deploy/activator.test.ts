import { afterEach, describe, expect, it, vi } from 'vitest';
import { Activator } from './activator.js';

describe('Activator', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds requests until a replica is ready, then releases them all', async () => {
    const activator = new Activator('web', { maxBuffered: 4, maxWaitMs: 10_000, retryAfterS: 1 });
    const waits = [activator.wait(0), activator.wait(0)];
    expect(activator.buffered).toBe(2);
    activator.release();
    await expect(Promise.all(waits)).resolves.toEqual([undefined, undefined]);
    expect(activator.buffered).toBe(0);
  });

  it('refuses beyond its bound with ACTIVATOR_FULL and Retry-After', async () => {
    const activator = new Activator('web', { maxBuffered: 1, maxWaitMs: 10_000, retryAfterS: 2 });
    const held = activator.wait(0);
    await expect(activator.wait(0)).rejects.toMatchObject({ code: 'CONTINUUM_ERR_ACTIVATOR_FULL', httpStatus: 503, retryAfterS: 2 });
    activator.release();
    await held;
  });

  it('answers NO_REPLICA when the wait or the request deadline runs out first', async () => {
    vi.useFakeTimers({ now: 0 });
    const activator = new Activator('web', { maxBuffered: 8, maxWaitMs: 5000, retryAfterS: 1 });
    const bounded = activator.wait(0);
    const byDeadline = activator.wait(0, 1000);
    const expectations = [
      expect(byDeadline).rejects.toMatchObject({ code: 'CONTINUUM_ERR_NO_REPLICA', details: { waitedMs: 1000 } }),
      expect(bounded).rejects.toMatchObject({ code: 'CONTINUUM_ERR_NO_REPLICA', details: { waitedMs: 5000 } }),
    ];
    await vi.advanceTimersByTimeAsync(5000);
    await Promise.all(expectations);
    expect(activator.buffered).toBe(0);
  });
});
