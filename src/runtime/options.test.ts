import { describe, expect, it } from 'vitest';
import { ContinuumError } from '../errors.js';
import { compileRuntimeOptions, DEFAULT_RUNTIME_OPTIONS } from './options.js';

describe('compileRuntimeOptions', () => {
  it('fills every default', () => {
    expect(compileRuntimeOptions({})).toEqual(DEFAULT_RUNTIME_OPTIONS);
    expect(compileRuntimeOptions({ instances: 2, maxQueueDelayUs: 500 })).toEqual({ ...DEFAULT_RUNTIME_OPTIONS, instances: 2, maxQueueDelayUs: 500 });
  });

  it('sorts and deduplicates preferred batch sizes', () => {
    expect(compileRuntimeOptions({ preferredBatchSizes: [8, 4, 8] }).preferredBatchSizes).toEqual([4, 8]);
  });

  it.each([
    [{ instances: 0 }, 'instances'],
    [{ maxBatchSize: 1.5 }, 'maxBatchSize'],
    [{ maxQueueSize: -1 }, 'maxQueueSize'],
    [{ maxBatchSize: 4, preferredBatchSizes: [8] }, 'preferredBatchSizes'],
    [{ graphOptimizationLevel: 'max' }, 'graphOptimizationLevel'],
    [{ batchSize: 4 }, ''],
  ])('refuses %j naming the option', (opts, option) => {
    let err: unknown;
    try {
      compileRuntimeOptions(opts as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ContinuumError);
    expect((err as ContinuumError).code).toBe('CONTINUUM_ERR_BAD_REQUEST');
    expect((err as ContinuumError).message).toContain(`invalid runtime option ${option}`);
  });
});
