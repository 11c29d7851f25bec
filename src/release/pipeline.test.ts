import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildMlp } from '../onnx/build.js';
import { Registry } from '../registry/index.js';
import { LocalTarget } from '../targets/index.js';
import { ReleasePipeline, releaseStatusAfterRollout } from './pipeline.js';
import type { RolloutPort, RolloutState } from './pipeline.js';

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

/** The rollout controller is another capability; its port is played here by a recorder whose state the test sets. */
class RecordedRollouts implements RolloutPort {
  readonly started: Record<string, unknown>[] = [];
  state: RolloutState = 'progressing';

  start(input: Record<string, unknown>): { readonly id: number } {
    this.started.push(input);
    return { id: 40 + this.started.length };
  }

  status(): RolloutState {
    return this.state;
  }
}

describe('ReleasePipeline with a deployment (signature gate only: no replica needed)', () => {
  let dir: string;
  let registry: Registry;
  let target: LocalTarget;
  let rollouts: RecordedRollouts;
  let pipeline: ReleasePipeline;
  const open = (): ReleasePipeline =>
    new ReleasePipeline({ registry, target, dataDir: dir, rollouts, deployedVersion: (name) => (name === 'web' ? { model: 'm', version: '1' } : undefined) });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'continuum-release-'));
    registry = Registry.open(dir);
    target = new LocalTarget({ warmPoolOnStart: false });
    rollouts = new RecordedRollouts();
    await registry.pushVersion('m', buildMlp({ inputSize: 4, hiddenSizes: [], outputSize: 3 }));
    await registry.pushVersion('m', buildMlp({ inputSize: 4, hiddenSizes: [], outputSize: 3, seed: 9 }));
    pipeline = open();
  });

  afterEach(async () => {
    await pipeline.close();
    await target.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands a passing candidate to the rollout with its strategy, then follows the rollout to released', async () => {
    const started = pipeline.start({ model: 'm', ref: '2', deployment: 'web', strategy: { strategy: 'canary', steps: [10, 100] }, gates: { run: ['signature'] } });
    expect(started.baselineVersion).toBe('1');
    const r = await pipeline.settled(started.id);
    expect(r).toMatchObject({ status: 'rolling-out', rolloutId: 41 });
    expect(rollouts.started).toEqual([{ strategy: 'canary', steps: [10, 100], deployment: 'web', ref: '2' }]);
    expect(() => pipeline.start({ model: 'm', ref: '2', deployment: 'web' })).toThrow(/release 1 .* is rolling-out/);
    expect(registry.getModel('m').aliases['production']).toBeUndefined();

    rollouts.state = 'succeeded';
    expect(pipeline.get(started.id)).toMatchObject({ status: 'released' });
    expect(registry.getModel('m').aliases['production']).toBe('2');
    // Persisted once seen: the rollout forgetting it later changes nothing.
    rollouts.state = 'aborted';
    expect(pipeline.list({ model: 'm' })[0]?.status).toBe('released');
  });

  it('reports a rolled-back rollout as a rolled-back release, production unmoved', async () => {
    const started = pipeline.start({ model: 'm', ref: '2', deployment: 'web', gates: { run: ['signature'] } });
    await pipeline.settled(started.id);
    rollouts.state = 'rolled-back';
    expect(pipeline.get(started.id).status).toBe('rolled-back');
    expect(registry.getModel('m').aliases['production']).toBeUndefined();
  });

  it('refuses an unknown deployment, a strategy without deployment and releasing what is already served', () => {
    expect(() => pipeline.start({ model: 'm', ref: '2', deployment: 'nope' })).toThrow("no deployment named 'nope'");
    expect(() => pipeline.start({ model: 'm', ref: '2', strategy: { strategy: 'canary' } })).toThrow('needs a deployment');
    expect(() => pipeline.start({ model: 'm', ref: '1', deployment: 'web' })).toThrow("already what deployment 'web' serves");
    expect(pipeline.list()).toEqual([]);
  });

  it('starts a release on push only for a model with a release policy', async () => {
    expect(pipeline.onVersionPushed('m', '2')).toBeUndefined();
    pipeline.setPolicy('m', { deployment: 'web', strategy: { strategy: 'blue-green' }, gates: { run: ['signature'] } });
    const r = pipeline.onVersionPushed('m', '2');
    expect(r).toMatchObject({ model: 'm', version: '2', deployment: 'web', strategy: { strategy: 'blue-green' } });
    expect((await pipeline.settled(r?.id ?? 0)).status).toBe('rolling-out');
  });

  it('aborts at the next start a release whose gates were running when the server stopped', async () => {
    const started = pipeline.start({ model: 'm', ref: '2', gates: { run: ['signature'] } });
    // A second pipeline on the same data directory, opened before the first gate's result is
    // recorded, plays the restarted server.
    const restarted = open();
    const seen = restarted.get(started.id);
    await restarted.close();
    expect(seen).toMatchObject({ status: 'aborted', error: 'the server stopped while the release ran; start it again' });
    expect(seen.finishedAt).not.toBeNull();
  });
});
