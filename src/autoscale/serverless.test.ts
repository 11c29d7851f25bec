import { describe, expect, it } from 'vitest';
import { observation, runPolicy, tickAt } from '../../test/support/scaling.js';
import { decideScale, initialPolicyState } from './decide.js';
import { compilePolicy } from './spec.js';

const serverless = compilePolicy({ policy: 'serverless', maxReplicas: 20 }); // 70 per replica, 30 s grace, 5 s delay

describe('serverless', () => {
  it('scales to zero once idle for the grace period, not before', () => {
    const ticks = runPolicy(serverless, (t) => (t <= 5000 ? { arrivals: 3, concurrency: 2 } : {}), 40_000, { initialReplicas: 1 });
    expect(tickAt(ticks, 5000).decision.desiredReplicas).toBe(1);
    expect(tickAt(ticks, 34_000).decision).toMatchObject({ desiredReplicas: 1, inputs: { idleForMs: 29_000 } });
    expect(tickAt(ticks, 35_000).decision.desiredReplicas).toBe(0); // last arrival at 5 s + 30 s
    expect(tickAt(ticks, 40_000).decision.desiredReplicas).toBe(0);
  });

  it('asks for a replica the tick a request is buffered', () => {
    const at = (buffered: number): number =>
      decideScale(serverless, initialPolicyState(serverless), observation({ nowMs: 1000, desiredReplicas: 0, buffered, concurrency: buffered, arrivals: buffered, lastArrivalMs: 1000 }))
        .decision.desiredReplicas;
    expect(at(1)).toBe(1);
    expect(at(200)).toBe(3); // ceil(200 / 70)
    // Even a buffered request whose tick-mean concurrency is tiny gets its replica.
    const tiny = decideScale(serverless, initialPolicyState(serverless), observation({ nowMs: 1000, desiredReplicas: 0, buffered: 1, concurrency: 0, arrivals: 1, lastArrivalMs: 1000 }));
    expect(tiny.decision.desiredReplicas).toBe(1);
  });

  it('scales out with concurrency and waits the scale-down delay before scaling in', () => {
    const ticks = runPolicy(serverless, (t) => ({ arrivals: 50, concurrency: t <= 20_000 ? 300 : 70 }), 30_000, { initialReplicas: 1 });
    expect(tickAt(ticks, 20_000).decision.desiredReplicas).toBe(5); // ceil(300 / 70)
    expect(tickAt(ticks, 24_000).decision.desiredReplicas).toBe(5); // 5 was needed within the last 5 s
    expect(tickAt(ticks, 25_000).decision.desiredReplicas).toBe(1);
  });

  it('does not wake up without traffic', () => {
    const ticks = runPolicy(serverless, () => ({}), 60_000, { initialReplicas: 0 });
    expect(ticks.every((t) => t.decision.desiredReplicas === 0)).toBe(true);
  });
});
