import { describe, expect, it } from 'vitest';
import { advanceRollout, candidateTarget, commandRollout, initialRolloutState, resumeAfterRestart } from './plan.js';
import type { RolloutObservation, RolloutState, RolloutTransition } from './plan.js';
import { compileRollout } from './spec.js';
import type { TrackSample } from './types.js';

/** `n` requests, a share of them failed, latencies spread evenly around `medianMs`. */
function sample(n: number, medianMs: number, errorRate = 0): TrackSample {
  const errors = Math.round(n * errorRate);
  const latenciesMs = Array.from({ length: n - errors }, (_, i) => medianMs * (0.8 + (0.4 * i) / Math.max(1, n - errors)));
  return { requests: n, errors, latenciesMs, compared: 0, disagreed: 0 };
}

const healthy = { baseline: sample(400, 2), candidate: sample(100, 2), control: sample(100, 2) };

function observe(nowMs: number, extra: Partial<RolloutObservation> = {}): RolloutObservation {
  return { nowMs, baselineDesired: 4, baselineReady: 4, candidateReady: 4, controlReady: 4, ...healthy, ...extra };
}

const canary = compileRollout({ deployment: 'd', ref: '2', steps: [10, 50, 100], bakeMs: 10_000, analysisIntervalMs: 2000 });

/** Advances `state` at each time in turn, collecting the transitions. */
function run(spec = canary, state: RolloutState, times: readonly number[], extra: Partial<RolloutObservation> = {}): RolloutTransition[] {
  const out: RolloutTransition[] = [];
  let s = state;
  for (const t of times) {
    const tr = advanceRollout(spec, s, observe(t, extra));
    out.push(tr);
    s = tr.state;
  }
  return out;
}

describe('advanceRollout', () => {
  it('walks a healthy canary through its steps, sizing the candidate for each, and promotes it', () => {
    const times = Array.from({ length: 30 }, (_, i) => i * 1000);
    const trs = run(canary, initialRolloutState(0), times);
    const routes = trs.flatMap((t) => t.actions.flatMap((a) => (a.type === 'route' && a.rule.kind === 'weighted' ? [[a.rule.candidateBps, a.rule.controlBps]] : [])));
    // Each share goes to the candidate and as much to the control it is compared with.
    expect(routes).toEqual([
      [1000, 1000],
      [5000, 5000],
    ]);
    const last = trs.at(-1)?.state;
    expect(last?.status).toBe('succeeded');
    expect(trs.some((t) => t.actions.some((a) => a.type === 'promote'))).toBe(true);
    // Every analysis ran on the interval or at the end of a bake, and each step's last verdict passed.
    expect(trs.filter((t) => t.verdict !== undefined).every((t) => t.verdict?.outcome === 'pass')).toBe(true);
  });

  it('waits for the candidate to be ready before routing to it, and rolls back when it never is', () => {
    const waiting = advanceRollout(canary, initialRolloutState(0), observe(1000, { candidateReady: 0 }));
    expect(waiting.actions).toEqual([{ type: 'size', candidateReplicas: 1, controlReplicas: 1, baselineReplicas: 0 }]);
    expect(advanceRollout(canary, initialRolloutState(0), observe(1000, { controlReady: 0 })).state.phase).toBe('sizing');
    expect(waiting.state.phase).toBe('sizing');
    const late = advanceRollout(canary, initialRolloutState(0), observe(canary.readyTimeoutMs + 1, { candidateReady: 0 }));
    expect(late.state.status).toBe('rolled-back');
    expect(late.actions.at(-1)).toEqual({ type: 'rollback' });
  });

  it('compares the candidate with its control, not with busy production', () => {
    // Production is slow under its load; the candidate is twice as slow as the control at the same load.
    const trs = run(canary, initialRolloutState(0), [0, 1000, 2000, 3000], { baseline: sample(400, 10), control: sample(200, 2), candidate: sample(200, 4) });
    const rolledBack = trs.find((t) => t.state.status === 'rolled-back');
    expect(rolledBack?.verdict?.checks.find((c) => c.name === 'latency')?.outcome).toBe('fail');
  });

  it('rolls back at the first analysis that fails, before the bake time is up', () => {
    const [, ...rest] = run(canary, initialRolloutState(0), [0, 1000, 2000, 3000], { candidate: sample(400, 2, 0.3) });
    const failed = rest.find((t) => t.state.status === 'rolled-back');
    expect(failed?.verdict?.outcome).toBe('fail');
    expect(failed?.state.reason).toMatch(/analysis failed/);
    expect(failed?.actions.map((a) => a.type)).toEqual(['size', 'rollback']);
  });

  it('keeps baking while the verdict is inconclusive and rolls back after maxBakeFactor bake times', () => {
    const few = { candidate: sample(10, 2) };
    const trs = run(canary, initialRolloutState(0), [0, 10_000, 20_000, 29_000, 30_001], few);
    expect(trs[1]?.verdict?.outcome).toBe('inconclusive');
    expect(trs[2]?.state.status).toBe('progressing');
    expect(trs[3]?.state.status).toBe('progressing');
    expect(trs[4]?.state.status).toBe('rolled-back');
    expect(trs[4]?.state.reason).toMatch(/inconclusive after 3 bake times/);
  });

  it('blue-green: sizes the candidate like production, switches all traffic, keeps the old revision warm, promotes after retention without traffic', () => {
    const spec = compileRollout({ deployment: 'd', ref: '2', strategy: 'blue-green', retentionMs: 5000, analysisIntervalMs: 1000 });
    const quiet = { baseline: sample(0, 2), candidate: sample(0, 2) };
    const trs = run(spec, initialRolloutState(0), [0, 1000, 3000, 6000, 7000], quiet);
    expect(trs[0]?.actions).toEqual([
      { type: 'size', candidateReplicas: 4, controlReplicas: 0, baselineReplicas: 4 },
      { type: 'route', rule: { kind: 'weighted', candidateBps: 10_000, controlBps: 0 } },
    ]);
    expect(trs[3]?.verdict?.outcome).toBe('inconclusive');
    expect(trs.at(-1)?.state.status).toBe('succeeded');
  });

  it('blue-green: an SLO breach during retention rolls back to the warm old revision', () => {
    const spec = compileRollout({ deployment: 'd', ref: '2', strategy: 'blue-green', retentionMs: 60_000, analysisIntervalMs: 1000 });
    const trs = run(spec, initialRolloutState(0), [0, 1000, 2000], { candidate: sample(500, 2, 0.2) });
    expect(trs.at(-1)?.state.status).toBe('rolled-back');
  });
});

describe('commandRollout', () => {
  const analysing = run(canary, initialRolloutState(0), [0]).at(-1)?.state as RolloutState;

  it('pause holds the rollout; resume routes again and restarts the bake', () => {
    const paused = commandRollout(canary, analysing, 'pause', 500).state;
    expect(paused.status).toBe('paused');
    expect(advanceRollout(canary, paused, observe(60_000)).state).toBe(paused);
    const resumed = commandRollout(canary, paused, 'resume', 70_000);
    expect(resumed.state.status).toBe('progressing');
    expect(resumed.state.phaseSinceMs).toBe(70_000);
    expect(resumed.actions).toEqual([{ type: 'route', rule: { kind: 'weighted', candidateBps: 1000, controlBps: 1000 } }]);
  });

  it('promote skips the remaining steps; abort rolls back', () => {
    const promoting = commandRollout(canary, analysing, 'promote', 1000).state;
    const done = advanceRollout(canary, promoting, observe(1500));
    expect(done.state.status).toBe('succeeded');
    expect(done.actions).toEqual([{ type: 'size', candidateReplicas: 4, controlReplicas: 0, baselineReplicas: 0 }, { type: 'promote' }]);
    const aborted = commandRollout(canary, analysing, 'abort', 1000);
    expect(aborted.state.status).toBe('aborted');
    expect(aborted.actions.at(-1)).toEqual({ type: 'rollback' });
  });

  it('a rollout resumed after a restart sizes its candidate again before routing', () => {
    const resumed = resumeAfterRestart(analysing, 99_000);
    expect(resumed.phase).toBe('sizing');
    expect(resumed.stepIndex).toBe(analysing.stepIndex);
    expect(advanceRollout(canary, resumed, observe(99_100, { candidateReady: 0 })).actions.map((a) => a.type)).toEqual(['size']);
  });
});

describe('candidateTarget', () => {
  it('sizes a canary step for its share (at least one) and the promotion like production', () => {
    expect(candidateTarget(canary, 0, 4)).toBe(1);
    expect(candidateTarget(canary, 1, 4)).toBe(2);
    expect(candidateTarget(canary, 2, 4)).toBe(4);
    expect(candidateTarget(canary, 2, 0)).toBe(1);
  });
});

describe('compileRollout', () => {
  it('refuses falling steps, half an A/B header rule and unknown fields, naming them', () => {
    expect(() => compileRollout({ deployment: 'd', ref: '2', steps: [50, 10] })).toThrow(/steps must rise/);
    expect(() => compileRollout({ deployment: 'd', ref: '2', strategy: 'ab', abHeader: 'x-variant' })).toThrow(/abHeader and abHeaderValue/);
    expect(() => compileRollout({ deployment: 'd', ref: '2', bogus: 1 })).toThrow(/CONTINUUM_ERR_INVALID_ROLLOUT|bogus|Unrecognized/);
  });
});
