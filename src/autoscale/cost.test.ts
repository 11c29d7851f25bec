import { describe, expect, it } from 'vitest';
import { ContinuumError } from '../errors.js';
import {
  accrueCost,
  alwaysOnCostUsd,
  billingMode,
  compileCostModel,
  DEFAULT_COST_MODEL,
  DEFAULT_REPLICA_RESOURCES,
  replicaHourUsd,
  serverlessCostUsd,
  ZERO_COST,
} from './cost.js';

const model = compileCostModel();
const size = DEFAULT_REPLICA_RESOURCES; // 1 vCPU, 2 GB

describe('cost model', () => {
  it('defaults to the Fargate and Lambda list prices', () => {
    expect(model).toEqual({
      alwaysOnVcpuHourUsd: 0.04048,
      alwaysOnGbHourUsd: 0.004445,
      serverlessMillionRequestsUsd: 0.2,
      serverlessGbSecondUsd: 0.0000166667,
    });
    expect(compileCostModel({ serverlessMillionRequestsUsd: 0.25 })).toEqual({ ...DEFAULT_COST_MODEL, serverlessMillionRequestsUsd: 0.25 });
  });

  it('refuses a negative or unknown price, naming it', () => {
    expect(() => compileCostModel({ alwaysOnGbHourUsd: -1 })).toThrow(/alwaysOnGbHourUsd/);
    const err = (() => {
      try {
        compileCostModel({ cpuHourUsd: 1 });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ContinuumError);
    expect((err as ContinuumError).code).toBe('CONTINUUM_ERR_BAD_REQUEST');
  });

  it('prices an always-on replica-hour from vCPU and memory', () => {
    // 1 × 0.04048 + 2 × 0.004445 = 0.04937 $/h
    expect(replicaHourUsd(model, size)).toBeCloseTo(0.04937, 10);
    // 3 replicas for 20 minutes = 3600 replica-seconds = one replica-hour
    expect(alwaysOnCostUsd(model, size, 3 * 1200)).toBeCloseTo(0.04937, 10);
    // 0.5 vCPU, 1 GB for 2 hours: 2 × (0.02024 + 0.004445) = 0.04937
    expect(alwaysOnCostUsd(model, { vcpu: 0.5, memoryGb: 1 }, 7200)).toBeCloseTo(0.04937, 10);
  });

  it('prices serverless by invocations and GB-seconds of execution', () => {
    // 1M requests of 100 ms at 2 GB: 0.20 + 100 000 s × 2 GB × 0.0000166667 = 0.20 + 3.33334
    expect(serverlessCostUsd(model, size, 1e6, 1e5)).toBeCloseTo(3.53334, 8);
    expect(serverlessCostUsd(model, size, 0, 0)).toBe(0);
  });

  it('accrues tick by tick, billing each tick by its mode and counting everything', () => {
    let acc = accrueCost(model, size, ZERO_COST, { mode: 'always-on', replicas: 2, intervalMs: 1000, invocations: 4, busyMs: 200 });
    acc = accrueCost(model, size, acc, { mode: 'serverless', replicas: 1, intervalMs: 1000, invocations: 10, busyMs: 500 });
    const alwaysOn = (2 / 3600) * 0.04937; // 2 replica-seconds
    const serverless = (10 / 1e6) * 0.2 + 0.5 * 2 * 0.0000166667; // 10 invocations, 0.5 s at 2 GB
    expect(acc.alwaysOnUsd).toBeCloseTo(alwaysOn, 14);
    expect(acc.serverlessUsd).toBeCloseTo(serverless, 14);
    expect(acc.totalUsd).toBeCloseTo(alwaysOn + serverless, 14);
    expect(acc.replicaSeconds).toBe(3);
    expect(acc.invocations).toBe(14);
    expect(acc.busySeconds).toBeCloseTo(0.7, 12);
  });

  it('bills auto by its mode, serverless per invocation, everything else per replica-second', () => {
    expect(billingMode({ policy: 'auto', mode: 'serverless' })).toBe('serverless');
    expect(billingMode({ policy: 'auto', mode: 'always-on' })).toBe('always-on');
    expect(billingMode({ policy: 'serverless' })).toBe('serverless');
    expect(billingMode({ policy: 'kpa' })).toBe('always-on');
  });
});
