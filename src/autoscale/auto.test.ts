import { describe, expect, it } from 'vitest';
import { runPolicy } from '../../test/support/scaling.js';
import type { Tick, TickLoad } from '../../test/support/scaling.js';
import { chooseServingMode, coldStartLateMs } from './auto.js';
import type { ModeEstimate } from './auto.js';
import { compilePolicy } from './spec.js';
import type { CompiledAutoPolicy } from './spec.js';

const MINUTE = 60_000;
const auto = compilePolicy({ policy: 'auto' }) as CompiledAutoPolicy;

/** Steady traffic around 20 req/s with a slow daily-like swing (±25%) and tick-to-tick jitter; 50 ms requests. */
function steady(t: number): TickLoad {
  const rate = 20 * (1 + 0.25 * Math.sin((2 * Math.PI * t) / (20 * MINUTE))) + ((t / 1000) % 3) - 1;
  return { arrivals: Math.round(rate), concurrency: rate * 0.05, serviceTimeMs: 50 };
}

/** A 5 s burst of 2 req/s every 5 minutes, nothing in between; 50 ms requests. */
function sporadic(t: number): TickLoad {
  return t % (5 * MINUTE) <= 5000 && t % (5 * MINUTE) > 0 ? { arrivals: 2, concurrency: 0.1, serviceTimeMs: 50 } : {};
}

const modes = (ticks: readonly Tick[]): (string | undefined)[] => ticks.map((t) => t.decision.mode);
const switches = (ticks: readonly Tick[]): Tick[] => ticks.filter((t) => t.decision.inputs['switched'] === true);

describe('auto', () => {
  it('runs steady traffic always-on, and stays there', () => {
    const ticks = runPolicy(auto, steady, 40 * MINUTE);
    const changes = switches(ticks);
    // Starts serverless (a new deployment is idle); one minute of traffic shows always-on is cheaper:
    // ~21 req/s × 50 ms ≈ 1.05 replicas of work at the 77% utilization a 1 s SLO allows (1 − 50 ms × ln 100 / 1 s)
    // is 2 replicas × $0.04937/h ≈ $0.099/h, against ~75 600 req/h × (0.2 µ$ + 0.05 s × 2 GB × $0.0000166667) ≈ $0.14/h.
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
    // Serverless must be 20% cheaper over the 10-minute window. With f minutes of steady traffic left in
    // it (about 17.5 req/s at that point of its swing), serverless costs f × 17.5 × 360 req/h × $1.87e-6
    // ≈ f × $0.0118/h; always-on held 2 replicas for those f minutes and one more (the stable window),
    // 1 after: (11 + f) / 10 × $0.0494/h. Serverless is 20% cheaper once f < 5.6 min: about 24.5 min in.
    const at = changes[0]?.nowMs ?? 0;
    expect(at).toBeGreaterThan(24 * MINUTE);
    expect(at).toBeLessThan(26 * MINUTE);
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

describe('auto: measurement and scale from zero', () => {
  it('measures the service time from busy CPU, not from a latency that includes queueing', () => {
    const queued = (t: number): TickLoad => ({ ...steady(t), latencyP50Ms: 400 });
    const last = runPolicy(compilePolicy({ policy: 'auto', initialMode: 'always-on' }), queued, 2 * MINUTE, { initialReplicas: 2 }).at(-1);
    expect(last?.decision.inputs['serviceTimeMs']).toBeCloseTo(50, 0);
  });

  it('follows concurrency in always-on mode while no replica reports CPU', () => {
    // 20 requests in the system / target 0.7 per replica → 29, capped at maxReplicas 10; with no service time the rate alone would say 1.
    const noCpu = (): TickLoad => ({ arrivals: 20, concurrency: 20, latencyP50Ms: 1000 });
    const ticks = runPolicy(compilePolicy({ policy: 'auto', initialMode: 'always-on', targetConcurrency: 0.7 }), noCpu, 30_000, { initialReplicas: 1 });
    expect(ticks.every((t) => t.decision.desiredReplicas === 10 && t.decision.inputs['serviceTimeMs'] === 0)).toBe(true);
    expect(ticks[0]?.decision.reason).toMatch(/service time not measured yet: 20 requests in the system/);
  });

  it('provisions always-on mode from the request rate at the utilization the SLO allows', () => {
    // 100 req/s of 32.5 ms requests under a 2 s SLO: 3.25 replicas of work at 92.5% → 4, however many
    // requests queue (a concurrency target would chase the queue).
    const p = compilePolicy({ policy: 'auto', initialMode: 'always-on', sloMs: 2000, switchMargin: 1 });
    const ticks = runPolicy(p, () => ({ arrivals: 100, concurrency: 12, serviceTimeMs: 32.5 }), 3 * MINUTE, { initialReplicas: 4 });
    expect(ticks.slice(-60).every((t) => t.decision.desiredReplicas === 4 && t.decision.mode === 'always-on')).toBe(true);
  });

  it('starts from zero as many replicas as the bursts seen so far need', () => {
    // 10 s bursts of 100 req/s every 5 minutes: each starts from zero (the gaps outlast the 30 s grace).
    const bursts = (t: number): TickLoad => (t % (5 * MINUTE) > 0 && t % (5 * MINUTE) <= 10_000 ? { arrivals: 100, concurrency: 3.25 } : {});
    const p = compilePolicy({ policy: 'auto', sloMs: 2000, serviceTimeMs: 32.5 });
    const ticks = runPolicy(p, bursts, 11 * MINUTE);
    const starts = (ts: readonly Tick[]): Tick[] => ts.filter((t) => t.observation.buffered > 0 && t.observation.readyReplicas === 0);
    // Each tick that finds requests waiting and no replica has seen a burst at 100 req/s (its own arrivals
    // included): 3.25 replicas of work at 92.5% utilization → 4. With the buffer spread over 4 replicas no
    // request misses the SLO (coldStartLateMs is 0), so the bursts stay serverless.
    expect(starts(ticks).map((t) => t.decision.desiredReplicas)).toEqual([4, 4, 4]);
    expect(starts(ticks).every((t) => t.decision.mode === 'serverless')).toBe(true);
    expect(starts(ticks)[1]?.decision.reason).toMatch(/start 4, what a burst at 100 req\/s needs/);
    // The serverless policy starts one and lets concurrency ask for more at the next tick.
    const serverless = runPolicy(compilePolicy({ policy: 'serverless' }), bursts, 11 * MINUTE);
    expect(starts(serverless).map((t) => t.decision.desiredReplicas)).toEqual([1, 1, 1]);
  });
});

describe('coldStartLateMs', () => {
  it('makes the last arrivals late when one replica cannot keep up with the burst', () => {
    // 100 req/s of 32.5 ms behind an 822 ms start, 2 s SLO: late from u = (2000 − 854.5) / 2.25 = 509.1 ms
    // to the end of the start.
    expect(coldStartLateMs(822, 32.5, 2000, 100, 1)).toBeCloseTo(822 - 1145.5 / 2.25, 6);
    // Four replicas keep up (growth 3.25 / 4 − 1 < 0) and the first arrival makes it: nobody is late.
    expect(coldStartLateMs(822, 32.5, 2000, 100, 4)).toBe(0);
  });

  it('makes the first arrivals late when the start alone breaks the SLO', () => {
    // 2 req/s of 50 ms behind a 2 s start, 500 ms SLO: late while u < 1550 / 0.9 = 1722 ms.
    expect(coldStartLateMs(2000, 50, 500, 2, 1)).toBeCloseTo(1550 / 0.9, 6);
    expect(coldStartLateMs(2000, 50, 500, 0, 1)).toBe(1550);
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
