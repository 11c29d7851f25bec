import { describe, expect, it } from 'vitest';
import { isContinuumError } from '../errors.js';
import { compileAlertRule, evaluateAlerts, INITIAL_ALERT_STATE, stateWithFiring } from './alerts.js';
import type { AlertObservation, AlertRule, AlertRuleInput, AlertState, AlertTransition } from './alerts.js';

const CREATED = '2025-01-01T00:00:00.000Z';

function rule(input: Partial<AlertRuleInput> & Pick<AlertRuleInput, 'kind' | 'threshold'>): AlertRule {
  return compileAlertRule({ name: 'r', ...input }, CREATED);
}

/** A quiet tick of deployment `d` at `nowMs`, changed by `change`. */
function tick(nowMs: number, change: Partial<AlertObservation> = {}, d = 'iris'): AlertObservation {
  return { nowMs, deployment: d, p99Ms: 10, requests: 100, errors: 0, replicaLosses: 0, driftScore: null, costUsd: 0, ...change };
}

/** Feeds observations in order; returns every transition with the final state. */
function run(rules: readonly AlertRule[], observations: readonly AlertObservation[], start: AlertState = INITIAL_ALERT_STATE): { state: AlertState; transitions: AlertTransition[] } {
  let state = start;
  const transitions: AlertTransition[] = [];
  for (const o of observations) {
    const result = evaluateAlerts(rules, state, o);
    state = result.state;
    transitions.push(...result.transitions);
  }
  return { state, transitions };
}

const summary = (ts: readonly AlertTransition[]): string[] => ts.map((t) => `${t.status}@${t.endsAtMs ?? t.startsAtMs}:${t.deployment}`);

describe('evaluateAlerts: for-durations and resolution (Prometheus semantics)', () => {
  const slow = rule({ kind: 'p99', threshold: 250, forMs: 3000 });

  it('fires only once the condition has held for the whole for-duration, then resolves when it stops', () => {
    const { transitions } = run(
      [slow],
      [tick(0, { p99Ms: 300 }), tick(1000, { p99Ms: 400 }), tick(2000, { p99Ms: 500 }), tick(3000, { p99Ms: 300 }), tick(4000, { p99Ms: 900 }), tick(5000, { p99Ms: 100 })],
    );
    expect(summary(transitions)).toEqual(['firing@3000:iris', 'resolved@5000:iris']);
    expect(transitions[0]).toMatchObject({ value: 300, threshold: 250, startsAtMs: 3000 });
    expect(transitions[1]).toMatchObject({ value: 100, startsAtMs: 3000, endsAtMs: 5000 });
  });

  it('a break in the condition restarts the for-duration', () => {
    const { transitions } = run([slow], [tick(0, { p99Ms: 300 }), tick(2000, { p99Ms: 300 }), tick(2500, { p99Ms: 100 }), tick(3000, { p99Ms: 300 }), tick(5500, { p99Ms: 300 }), tick(6000, { p99Ms: 300 })]);
    expect(summary(transitions)).toEqual(['firing@6000:iris']);
  });

  it('with for 0 fires at the first breaking tick; a tick without completed requests resolves a p99 alert', () => {
    const now = rule({ kind: 'p99', threshold: 0 });
    const { transitions } = run([now], [tick(0, { p99Ms: 0 }), tick(1000, { p99Ms: 1 }), tick(2000, { p99Ms: 2 }), tick(3000, { p99Ms: null, requests: 0 })]);
    expect(summary(transitions)).toEqual(['firing@1000:iris', 'resolved@3000:iris']);
    expect(transitions[1]?.value).toBeNull();
  });

  it('an alert restored as firing (after a restart) resolves instead of firing twice', () => {
    const restored = stateWithFiring([{ rule: 'r', deployment: 'iris', startsAtMs: -5000 }]);
    expect(summary(run([slow], [tick(0, { p99Ms: 900 }), tick(1000, { p99Ms: 10 })], restored).transitions)).toEqual(['resolved@1000:iris']);
  });
});

describe('evaluateAlerts: each kind', () => {
  it('error-rate: the share of failed requests over the window', () => {
    const errors = rule({ kind: 'error-rate', threshold: 0.1, windowMs: 3000 });
    // 5 of 100, then 40 of 100: 45 of 200 = 22.5% > 10%. At 4.5 s the bad ticks have left the
    // window (0 of 30 in it) though over all time the share would still be 45 of 230.
    const { transitions } = run(
      [errors],
      [tick(0, { errors: 5 }), tick(1000, { errors: 40 }), tick(2000, { requests: 10 }), tick(3000, { requests: 10 }), tick(4500, { requests: 10 })],
    );
    expect(summary(transitions)).toEqual(['firing@1000:iris', 'resolved@4500:iris']);
    expect(transitions[0]?.value).toBeCloseTo(0.225, 10);
    expect(transitions[1]?.value).toBe(0);
  });

  it('error-rate: no requests in the window is no value, not zero', () => {
    const errors = rule({ kind: 'error-rate', threshold: 0 });
    const result = run([errors], [tick(0, { requests: 0, errors: 0, p99Ms: null })]);
    expect(result.transitions).toEqual([]);
  });

  it('crash-loop: N replica losses within the window fire; it resolves when they age out', () => {
    const crash = rule({ kind: 'crash-loop', threshold: 3, windowMs: 10_000 });
    const { transitions } = run(
      [crash],
      [tick(0, { replicaLosses: 1 }), tick(1000, { replicaLosses: 1 }), tick(5000), tick(9000, { replicaLosses: 1 }), tick(10_000), tick(12_000)],
    );
    expect(summary(transitions)).toEqual(['firing@9000:iris', 'resolved@12000:iris']);
    expect(transitions[0]?.value).toBe(3);
    expect(transitions[1]?.value).toBe(1);
  });

  it('drift: the score over the threshold for the duration; no score never fires', () => {
    const drift = rule({ kind: 'drift', threshold: 0.2, forMs: 1000 });
    expect(summary(run([drift], [tick(0, { driftScore: 0.3 }), tick(1000, { driftScore: 0.35 }), tick(2000, { driftScore: 0.1 })]).transitions)).toEqual([
      'firing@1000:iris',
      'resolved@2000:iris',
    ]);
    expect(run([drift], [tick(0), tick(5000)]).transitions).toEqual([]);
  });

  it('cost: accrued since the start without a window; accrued within the window with one', () => {
    const total = rule({ kind: 'cost', threshold: 1 });
    const perWindow = rule({ name: 'w', kind: 'cost', threshold: 1, windowMs: 2000 });
    const { transitions } = run(
      [total, perWindow],
      [tick(0, { costUsd: 0.6 }), tick(1000, { costUsd: 0.6 }), tick(2000, { costUsd: 0.1 }), tick(3000, { costUsd: 0.1 }), tick(4000, { costUsd: 0.1 })],
    );
    expect(transitions.map((t) => `${t.rule.name}:${t.status}@${t.endsAtMs ?? t.startsAtMs}`)).toEqual(['r:firing@1000', 'w:firing@1000', 'w:resolved@3000']);
  });
});

describe('evaluateAlerts: deployments', () => {
  it("'*' watches every deployment on its own; a named rule only its deployment", () => {
    const any = rule({ kind: 'p99', threshold: 100, forMs: 1000 });
    const onlyIris = rule({ name: 'iris-only', kind: 'p99', threshold: 100, deployment: 'iris' });
    const { transitions, state } = run(
      [any, onlyIris],
      [tick(0, { p99Ms: 200 }, 'iris'), tick(0, { p99Ms: 200 }, 'mnist'), tick(1000, { p99Ms: 200 }, 'iris'), tick(1000, { p99Ms: 50 }, 'mnist'), tick(2000, { p99Ms: 200 }, 'mnist')],
    );
    expect(transitions.map((t) => `${t.rule.name}:${t.deployment}:${t.status}@${t.startsAtMs}`)).toEqual(['iris-only:iris:firing@0', 'r:iris:firing@1000']);
    // mnist broke the rule at 0 and 2000 but not for a whole second in a row.
    expect(Object.values(state.series).filter((s) => s.deployment === 'mnist').map((s) => s.pendingSinceMs)).toEqual([2000]);
  });

  it("one deployment's observation leaves the others' series as they were; a removed rule's series are dropped", () => {
    const any = rule({ kind: 'p99', threshold: 100 });
    const { state } = run([any], [tick(0, { p99Ms: 200 }, 'a'), tick(0, { p99Ms: 200 }, 'b')]);
    const after = evaluateAlerts([any], state, tick(1000, { p99Ms: 10 }, 'a'));
    expect(after.transitions.map((t) => `${t.deployment}:${t.status}`)).toEqual(['a:resolved']);
    expect(Object.values(after.state.series).find((s) => s.deployment === 'b')?.firingSinceMs).toBe(0);
    expect(evaluateAlerts([], state, tick(1000, {}, 'a')).state.series).toEqual({});
  });
});

describe('compileAlertRule', () => {
  it('fills in defaults', () => {
    expect(compileAlertRule({ name: 'crash', kind: 'crash-loop', threshold: 3 }, CREATED)).toEqual({
      name: 'crash',
      kind: 'crash-loop',
      deployment: '*',
      severity: 'warning',
      threshold: 3,
      forMs: 0,
      windowMs: 300_000,
      webhooks: [],
      createdAt: CREATED,
    });
  });

  it.each([
    [{ name: 'Bad Name', kind: 'p99', threshold: 1 }, /rule name/],
    [{ name: 'e', kind: 'error-rate', threshold: 5 }, /share of requests/],
    [{ name: 'c', kind: 'crash-loop', threshold: 0.5 }, /replica losses >= 1/],
    [{ name: 'p', kind: 'p99', threshold: 1, windowMs: 1000 }, /takes no window/],
    [{ name: 'w', kind: 'p99', threshold: 1, webhooks: ['ftp://example.com/x'] }, /only http/],
    [{ name: 'w', kind: 'p99', threshold: 1, webhooks: ['not a url'] }, /not a URL/],
    [{ name: 'f', kind: 'p99', threshold: 1, forMs: 90_000_000 }, /forMs/],
  ] as const)('refuses %j', (input, message) => {
    let caught: unknown;
    try {
      compileAlertRule(input as AlertRuleInput, CREATED);
    } catch (err) {
      caught = err;
    }
    expect(isContinuumError(caught, 'CONTINUUM_ERR_INVALID_ALERT_RULE')).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });
});
