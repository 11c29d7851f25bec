import { describe, expect, it } from 'vitest';
import type { Signature } from '../oip/types.js';
import { signatureCompatibility } from './signature.js';

const iris: Signature = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
  outputs: [
    { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
    { name: 'label', datatype: 'INT64', shape: [-1] },
  ],
};

describe('signatureCompatibility', () => {
  it('accepts an identical signature', () => {
    expect(signatureCompatibility(iris, iris)).toEqual({ compatible: true, problems: [] });
  });

  it('accepts an input that takes more (a dynamic dimension where production was fixed)', () => {
    const production: Signature = { ...iris, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4] }] };
    expect(signatureCompatibility(production, iris).compatible).toBe(true);
  });

  it('refuses an input that takes less (a fixed dimension where production was dynamic)', () => {
    const candidate: Signature = { ...iris, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4] }] };
    expect(signatureCompatibility(iris, candidate).problems).toEqual(["input 'input' changed shape from [?, 4] to [1, 4]"]);
  });

  it('accepts an extra output and a more precise output shape, refuses a less precise one', () => {
    const extra: Signature = { ...iris, outputs: [...iris.outputs, { name: 'logits', datatype: 'FP32', shape: [-1, 3] }] };
    expect(signatureCompatibility(iris, extra).compatible).toBe(true);
    const dynamicClasses: Signature = { ...iris, outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, -1] }, iris.outputs[1]!] };
    expect(signatureCompatibility(dynamicClasses, iris).compatible).toBe(true);
    expect(signatureCompatibility(iris, dynamicClasses).problems).toEqual(["output 'probabilities' changed shape from [?, 3] to [?, ?]"]);
  });

  it('names every renamed, retyped, reshaped, missing and new tensor', () => {
    const candidate: Signature = {
      inputs: [
        { name: 'features', datatype: 'FP32', shape: [-1, 4] },
      ],
      outputs: [
        { name: 'probabilities', datatype: 'FP64', shape: [-1, 3] },
        { name: 'label', datatype: 'INT64', shape: [-1, 1] },
      ],
    };
    expect(signatureCompatibility(iris, candidate).problems).toEqual([
      "input 'input' is gone",
      "input 'features' is new; production's clients do not send it",
      "output 'probabilities' changed datatype from FP32 to FP64",
      "output 'label' changed shape from [?] to [?, 1]",
    ]);
  });
});
