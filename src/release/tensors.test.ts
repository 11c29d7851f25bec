import { describe, expect, it } from 'vitest';
import { countTopOneCorrect, inputShape, rowsPerRequest, rowsTensor, smokeOutputs } from './tensors.js';

describe('dataset rows as request tensors', () => {
  it('batches rows along a dynamic first dimension', () => {
    const spec = { name: 'input', datatype: 'FP32' as const, shape: [-1, 4] };
    expect(rowsPerRequest(spec, 0)).toBe(64);
    expect(rowsPerRequest(spec, 32)).toBe(32);
    const t = rowsTensor(spec, [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    expect(t.shape).toEqual([2, 4]);
    expect(Array.from(t.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('shapes one row per request for a fixed input and infers one dynamic dimension', () => {
    expect(rowsPerRequest({ name: 'x', datatype: 'FP32', shape: [1, 2, 2] }, 32)).toBe(1);
    expect(inputShape({ name: 'x', datatype: 'FP32', shape: [1, 2, 2] }, 1, 4)).toEqual([1, 2, 2]);
    expect(inputShape({ name: 'x', datatype: 'FP32', shape: [-1, 2, -1] }, 3, 8)).toEqual([3, 2, 4]);
  });

  it('refuses rows that do not fit the input, naming both', () => {
    expect(() => inputShape({ name: 'x', datatype: 'FP32', shape: [-1, 3] }, 1, 4)).toThrow("dataset rows have 4 features; input 'x' of shape [-1, 3] takes 3 per row");
    expect(() => rowsTensor({ name: 's', datatype: 'BYTES', shape: [-1] }, [[1]])).toThrow('BYTES');
  });

  it('fills integer inputs, INT64 as BigInt', () => {
    const t = rowsTensor({ name: 'ids', datatype: 'INT64', shape: [-1, 2] }, [[1, 2.6]]);
    expect(Array.from(t.data as BigInt64Array)).toEqual([1n, 3n]);
  });
});

describe('countTopOneCorrect', () => {
  it('takes the arg-max of per-class scores', () => {
    const output = { name: 'p', datatype: 'FP32' as const, shape: [3, 3], data: Float32Array.from([0.7, 0.2, 0.1, 0.1, 0.1, 0.8, 0.3, 0.4, 0.3]) };
    expect(countTopOneCorrect(output, [0, 2, 1])).toBe(3);
    expect(countTopOneCorrect(output, [1, 2, 0])).toBe(1);
  });

  it('compares a class-index output directly', () => {
    const output = { name: 'label', datatype: 'INT64' as const, shape: [4], data: BigInt64Array.from([0n, 1n, 2n, 2n]) };
    expect(countTopOneCorrect(output, [0, 1, 1, 2])).toBe(3);
  });

  it('refuses one float per row and a count that does not divide by the rows', () => {
    expect(() => countTopOneCorrect({ name: 's', datatype: 'FP32', shape: [2], data: Float32Array.from([0.2, 0.9]) }, [0, 1])).toThrow('one FP32 value per row');
    expect(() => countTopOneCorrect({ name: 'p', datatype: 'FP32', shape: [5], data: new Float32Array(5) }, [0, 1])).toThrow('5 values for 2 rows');
  });
});

describe('smokeOutputs', () => {
  it('counts NaN and infinite values of float outputs', () => {
    const [out] = smokeOutputs([{ name: 'y', datatype: 'FP32', shape: [1, 3], data: Float32Array.from([1, Number.NaN, Number.POSITIVE_INFINITY]) }]);
    expect(out).toEqual({ name: 'y', datatype: 'FP32', shape: [1, 3], nonFinite: 2 });
  });
});
