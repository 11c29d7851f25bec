import { describe, expect, it } from 'vitest';
import { runPolicy } from '../../test/support/scaling.js';
import type { Tick } from '../../test/support/scaling.js';
import { chooseServingMode } from './auto.js';
import type { ModeEstimate } from './auto.js';
import { compilePolicy } from './spec.js';
import type { CompiledAutoPolicy } from './spec.js';

const MINUTE = 60_000;
const auto = compilePolicy({ policy: 'auto' }) as CompiledAutoPolicy;

/** Steady traffic around 20 req/s with a slow daily-like swing (±25%) and tick-to-tick jitter; 100 ms requests. */
function steady(t: number): { arrivals: number; concurrency: number; latencyP50Ms: number } {
  const rate = 20 * (1 + 0.25 * Math.sin((2 * Math.PI * t) / (20 * MINUTE))) + ((t / 1000) % 3) - 1;
  return { arrivals: Math.round(rate), concurrency: rate * 0.1, latencyP50Ms: 100 };
}

/** A 5 s burst of 2 req/s every 5 minutes, nothing in between; 50 ms requests. */
function sporadic(t: number): { arrivals: number; concurrency: number; latencyP50Ms: number } | Record<string, never> {
  return t % (5 * MINUTE) <= 5000 && t % (5 * MINUTE) > 0 ? { arrivals: 2, concurrency: 0.1, latencyP50Ms: 50 } : {};
}

const modes = (ticks: readonly Tick[]): (string | undefined)[] => ticks.map((t) => t.decision.mode);
const switches = (ticks: readonly Tick[]): Tick[] => ticks.filter((t) => t.decision.inputs['switched'] === true);

describe('auto', () => {
  it('runs steady traffic always-on, and stays there', () => {
    const ticks = runPolicy(auto, steady, 40 * MINUTE);
    const changes = switches(ticks);
    // Starts serverless (a new deployment is idle); one minute of traffic shows always-on is cheaper:
    // 1 replica × $0.04937/h against 72 000 req/h × (0.2 µ$ + 0.1 s × 2 GB × $0.0000166667) ≈ $0.25/h.
    expect(changes.map((t) => [t.nowMs, t.decision.mode])).toEqual([[MINUTE, 'always-on']]);
    expect(changes[0]?.decision.reason).toMatch(/always-on is cheaper/);
    expect(modes(ticks.slice(60)).every((m) => m === 'always-on')).toBe(true);
    expect(ticks.slice(60).every((t) => t.decision.desiredReplicas >= 1)).toBe(true);
  });

  it('runs sporadic traffic serverless, at zero between bursts', () => {
    const ticks = runPolicy(auto, sporadic, 40 * MINUTE);
    expect(switches(ticks)).toEqual([]);
    expect(modes(ticks).every((m) => m === 'serverless')).toBe(true);
    const between = ticks.filter((t) => t.nowMs % (5 * MINUTE) === 4 * MINUTE);
    expect(between.length).toBeGreaterThan(5);
    expect(between.every((t) => t.decision.desiredReplicas === 0)).toBe(true);
    // From an always-on start, the first minute of sporadic traffic is enough to switch.
    const fromAlwaysOn = runPolicy(compilePolicy({ policy: 'auto', initialMode: 'always-on' }), sporadic, 10 * MINUTE, { initialReplicas: 1 });
    expect(switches(fromAlwaysOn).map((t) => [t.nowMs, t.decision.mode])).toEqual([[MINUTE, 'serverless']]);
  });

  it('switches once when the traffic pattern changes, after the window has seen it', () => {
    const ticks = runPolicy(compilePolicy({ policy: 'auto', initialMode: 'always-on' }), (t) => (t <= 20 * MINUTE ? steady(t) : sporadic(t)), 50 * MINUTE, {
      initialReplicas: 1,
    });
    const changes = switches(ticks);
    expect(changes.map((t) => t.decision.mode)).toEqual(['serverless']);
    // Serverless must be 20% cheaper over the 10-minute window: only once little steady traffic is left in it.
    const at = changes[0]?.nowMs ?? 0;
    expect(at).toBeGreaterThan(25 * MINUTE);
    expect(at).toBeLessThan(30 * MINUTE);
  });

  it('keeps always-on when cold starts would break the SLO, however cheap serverless is', () => {
    const strict = compilePolicy({ policy: 'auto', sloMs: 500, coldStartMs: 2000 });
    const ticks = runPolicy(strict, sporadic, 30 * MINUTE);
    const changes = switches(ticks);
    // The first cold start (the burst at 5 min, after a long gap) shows the risk; the switch does not wait for the dwell time.
    expect(changes.map((t) => [t.nowMs, t.decision.mode])).toEqual([[5 * MINUTE + 1000, 'always-on']]);
    expect(changes[0]?.decision.reason).toMatch(/miss the SLO/);
    expect(ticks.filter((t) => t.nowMs > 5 * MINUTE).every((t) => t.decision.desiredReplicas >= 1)).toBe(true);
  });
});

describe('chooseServingMode: hysteresis', () => {
  const estimate = (serverlessUsdPerHour: number, coldStartMissShare = 0): ModeEstimate => ({ alwaysOnUsdPerHour: 1, serverlessUsdPerHour, coldStartMissShare });
  const choose = (current: 'serverless' | 'always-on', e: ModeEstimate, heldMs = 10 * MINUTE): string => chooseServingMode(auto, current, heldMs, 10 * MINUTE, e).mode;

  it('needs a 20% cost difference to switch either way', () => {
    expect(choose('always-on', estimate(0.85))).toBe('always-on');
    expect(choose('always-on', estimate(0.75))).toBe('serverless');
    expect(choose('serverless', estimate(1.15))).toBe('serverless');
    expect(choose('serverless', estimate(1.25))).toBe('always-on');
  });

  it('waits the dwell time for a cost-driven switch but not for an SLO-driven one', () => {
    expect(choose('always-on', estimate(0.1), MINUTE)).toBe('always-on');
    expect(choose('serverless', estimate(5), MINUTE)).toBe('serverless');
    expect(choose('serverless', estimate(0.1, 0.01), MINUTE)).toBe('always-on');
    // Back to serverless only with the risk well under budget (0.5% × 0.8 = 0.4%).
    expect(choose('always-on', estimate(0.1, 0.0045))).toBe('always-on');
    expect(choose('always-on', estimate(0.1, 0.003))).toBe('serverless');
  });

  it('does not decide before enough traffic was observed', () => {
    expect(chooseServingMode(auto, 'serverless', Number.POSITIVE_INFINITY, 30_000, estimate(5)).mode).toBe('serverless');
  });
});
