import { describe, expect, it } from 'vitest';
import { releaseStatusAfterRollout } from './pipeline.js';

describe('releaseStatusAfterRollout', () => {
  it('settles a release by its rollout outcome and waits while it goes on', () => {
    expect(releaseStatusAfterRollout('succeeded')).toBe('released');
    expect(releaseStatusAfterRollout('rolled-back')).toBe('rolled-back');
    expect(releaseStatusAfterRollout('aborted')).toBe('aborted');
    expect(releaseStatusAfterRollout('progressing')).toBeUndefined();
    expect(releaseStatusAfterRollout('paused')).toBeUndefined();
    expect(releaseStatusAfterRollout(undefined)).toBeUndefined();
  });
});
