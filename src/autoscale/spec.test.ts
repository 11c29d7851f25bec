import { describe, expect, it } from 'vitest';
import { ContinuumError } from '../errors.js';
import { compilePolicy, describePolicy, parsePolicyParams, policyParamNames, policySpecSchema } from './spec.js';
import type { PolicySpec } from './spec.js';
import { POLICY_NAMES } from './types.js';

function thrown(f: () => unknown): ContinuumError {
  try {
    f();
  } catch (e) {
    if (e instanceof ContinuumError) return e;
    throw e;
  }
  throw new Error('expected a ContinuumError');
}

describe('compilePolicy', () => {
  it('fills Knative defaults for kpa', () => {
    expect(compilePolicy({ policy: 'kpa' })).toEqual({
      policy: 'kpa',
      minReplicas: 0,
      maxReplicas: 10,
      containerConcurrency: 100,
      targetUtilization: 0.7,
      stableWindowMs: 60_000,
      panicWindowPercent: 10,
      panicThreshold: 2,
      maxScaleUpRate: 1000,
      maxScaleDownRate: 2,
      scaleToZeroGraceMs: 30_000,
      enableScaleToZero: true,
    });
  });

  it('fills the autoscaling/v2 default behavior for hpa', () => {
    expect(compilePolicy({ policy: 'hpa', maxReplicas: 20 })).toMatchObject({
      minReplicas: 1,
      maxReplicas: 20,
      metric: 'concurrency',
      tolerance: 0.1,
      syncPeriodMs: 15_000,
      scaleUpStabilizationMs: 0,
      scaleDownStabilizationMs: 300_000,
      scaleUpPods: 4,
      scaleUpPercent: 100,
      scaleUpPeriodMs: 15_000,
      scaleDownPercent: 100,
    });
  });

  it('compiles fixed from replicas or minReplicas, and refuses a range', () => {
    expect(compilePolicy({ policy: 'fixed' })).toEqual({ policy: 'fixed', replicas: 1, minReplicas: 1, maxReplicas: 1 });
    expect(compilePolicy({ policy: 'fixed', minReplicas: 3 })).toEqual({ policy: 'fixed', replicas: 3, minReplicas: 3, maxReplicas: 3 });
    expect(thrown(() => compilePolicy({ policy: 'fixed', replicas: 2, maxReplicas: 4 })).message).toMatch(/maxReplicas.*differs/);
  });

  it('takes a typed spec, and its schema accepts what compilePolicy accepts', () => {
    const spec: PolicySpec = { policy: 'serverless', scaleToZeroGraceMs: 60_000 };
    expect(compilePolicy(spec)).toMatchObject({ policy: 'serverless', scaleToZeroGraceMs: 60_000, minReplicas: 0 });
    expect(policySpecSchema.safeParse(spec).success).toBe(true);
    expect(policySpecSchema.safeParse({ policy: 'serverless', grace: 1 }).success).toBe(false);
  });

  it('compiles its own output to itself (the compiled form can be stored)', () => {
    for (const policy of POLICY_NAMES) {
      const p = compilePolicy({ policy });
      expect(compilePolicy(JSON.parse(JSON.stringify(p)))).toEqual(p);
    }
  });

  it.each([
    [{ policy: 'magic' }, /unknown autoscaling policy "magic"; use one of fixed, threshold/],
    [null, /must be an object/],
    [{ policy: 'kpa', stableWindow: 60 }, /unknown parameter stableWindow of policy kpa; its parameters are .*stableWindowMs/],
    [{ policy: 'kpa', stableWindowMs: 1000 }, /invalid parameter stableWindowMs of policy kpa/],
    [{ policy: 'hpa', minReplicas: 0 }, /invalid parameter minReplicas of policy hpa/],
    [{ policy: 'serverless', minReplicas: 5, maxReplicas: 2 }, /minReplicas of policy serverless: 5 exceeds maxReplicas 2/],
    [{ policy: 'threshold', t1Rps: 50, t2Rps: 50 }, /T1 \(50\) must be below T2 \(50\)/],
    [{ policy: 'threshold', u0Replicas: 3, u1Replicas: 2 }, /U0 <= U1 <= U2/],
    [{ policy: 'predictive', bucketMs: 7000 }, /seasonMs of policy predictive: must be a whole number of buckets/],
    [{ policy: 'auto', sloMs: 'fast' }, /invalid parameter sloMs of policy auto/],
  ])('refuses %j with CONTINUUM_ERR_INVALID_POLICY', (input, message) => {
    const err = thrown(() => compilePolicy(input));
    expect(err.code).toBe('CONTINUUM_ERR_INVALID_POLICY');
    expect(err.httpStatus).toBe(400);
    expect(err.message).toMatch(message);
  });
});

describe('parsePolicyParams', () => {
  it('coerces numbers and booleans and leaves strings, for the same schema to validate', () => {
    const params = parsePolicyParams(['stableWindowMs=30000', 'targetUtilization=.5', 'enableScaleToZero=false']);
    expect(params).toEqual({ stableWindowMs: 30_000, targetUtilization: 0.5, enableScaleToZero: false });
    expect(compilePolicy({ policy: 'kpa', ...params })).toMatchObject(params);
    expect(compilePolicy({ policy: 'hpa', ...parsePolicyParams(['metric=cpu', 'targetCpuUtilization=0.6']) })).toMatchObject({ metric: 'cpu', targetCpuUtilization: 0.6 });
  });

  it('refuses a pair without a key, a repeated key, and a value of the wrong type', () => {
    expect(thrown(() => parsePolicyParams(['stableWindowMs'])).message).toMatch(/not key=value/);
    expect(thrown(() => parsePolicyParams(['=3'])).message).toMatch(/not key=value/);
    expect(thrown(() => parsePolicyParams(['a=1', 'a=2'])).message).toMatch(/given twice/);
    expect(thrown(() => compilePolicy({ policy: 'kpa', ...parsePolicyParams(['stableWindowMs=60s']) })).code).toBe('CONTINUUM_ERR_INVALID_POLICY');
    expect(thrown(() => compilePolicy({ policy: 'kpa', ...parsePolicyParams(['__proto__=1']) })).message).toMatch(/unknown parameter __proto__/);
  });
});

describe('describePolicy', () => {
  it('lists every parameter with its default, flat', () => {
    const p = compilePolicy({ policy: 'auto', sloMs: 250 });
    const shown = describePolicy(p);
    expect(Object.keys(shown).sort()).toEqual(['policy', ...policyParamNames('auto')].sort());
    expect(shown).toMatchObject({ policy: 'auto', sloMs: 250, scaleToZeroGraceMs: 30_000, serviceTimeMs: 'measured', alwaysOnVcpuHourUsd: 0.04048 });
  });
});
