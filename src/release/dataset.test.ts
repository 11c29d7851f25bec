import { describe, expect, it } from 'vitest';
import { canonicalDataset, datasetSchema, irisDataset, labelIndices } from './dataset.js';

describe('datasets', () => {
  it('takes the iris data set with class-name labels mapped to output indices', () => {
    const iris = datasetSchema.parse(irisDataset());
    expect(iris.features).toHaveLength(150);
    const labels = labelIndices(iris);
    expect(labels.slice(0, 1)).toEqual([0]);
    expect(new Set(labels)).toEqual(new Set([0, 1, 2]));
  });

  it('addresses content, not spelling: key order does not change the SHA-256', () => {
    const a = canonicalDataset({ input: 'x', features: [[1, 2]], labels: [0] });
    const b = canonicalDataset(datasetSchema.parse(JSON.parse('{"labels":[0],"features":[[1,2]],"input":"x"}')));
    expect(a.sha256).toBe(b.sha256);
    expect(canonicalDataset({ input: 'x', features: [[1, 3]], labels: [0] }).sha256).not.toBe(a.sha256);
  });

  it.each([
    [{ input: 'x', features: [[1, 2], [3]], labels: [0, 1] }, 'every row needs 2 features'],
    [{ input: 'x', features: [[1]], labels: [0, 1] }, 'one label per row'],
    [{ input: 'x', features: [[1]], labels: ['cat'] }, "give 'classes'"],
    [{ input: 'x', features: [[1]], labels: ['cat'], classes: ['dog'] }, "not one of 'classes'"],
    [{ input: 'x', features: [[1]], labels: [2], classes: ['a', 'b'] }, 'past the 2 classes'],
    [{ input: 'x', features: [[1]], labels: [-1] }, 'expected'],
    [{ input: 'x', features: [['1']], labels: [0] }, 'expected number'],
    [{ input: 'x', features: [[1]], labels: [0], extra: true }, 'extra'],
  ])('refuses a malformed dataset %#', (value, expected) => {
    const result = datasetSchema.safeParse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join(' ')).toContain(expected);
  });
});
