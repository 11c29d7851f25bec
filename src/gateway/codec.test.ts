/**
 * Unit tests of the gateway's codecs and limits: the pieces whose edge cases are easier to state
 * here than through a server (the end-to-end suites in test/oip-*.test.ts cover the wire).
 */
import { describe, expect, it } from 'vitest';
import { isContinuumError } from '../errors.js';
import { checkJsonDepth, encodeInferResponse, halfToNumber, tensorDataJson } from './json-codec.js';
import { compileRequestLimits } from './limits.js';
import { checkShape, dataToRaw, rawToData } from './tensor-codec.js';

const limits = compileRequestLimits();
const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');

describe('checkJsonDepth', () => {
  it('counts arrays and objects but not brackets inside strings, escaped quotes included', () => {
    expect(() => checkJsonDepth(bytes('{"a":"[[[[[[\\"[[[[[["}'), 2)).not.toThrow();
    expect(() => checkJsonDepth(bytes('{"a":[[1]]}'), 3)).not.toThrow();
    expect(() => checkJsonDepth(bytes('{"a":[[1]]}'), 2)).toThrow(/nested deeper than 2/);
  });
});

describe('tensorDataJson', () => {
  it('writes NaN and infinities as null, which JSON can carry', () => {
    expect(tensorDataJson('FP32', Float32Array.from([1.5, NaN, Infinity, -Infinity]))).toBe('[1.5,null,null,null]');
    expect(JSON.parse(tensorDataJson('FP64', Float64Array.from([0.1, -2e-308])))).toEqual([0.1, -2e-308]);
  });

  it('writes 64-bit integers as exact literals and BOOL as true/false', () => {
    expect(tensorDataJson('UINT64', BigUint64Array.from([18446744073709551615n]))).toBe('[18446744073709551615]');
    expect(tensorDataJson('BOOL', Uint8Array.from([1, 0]))).toBe('[true,false]');
    expect(tensorDataJson('BYTES', [bytes('a"b')])).toBe('["a\\"b"]');
  });
});

describe('halfToNumber', () => {
  it('decodes normals, subnormals, zeros, infinities and NaN (IEEE 754 binary16)', () => {
    expect([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0xfc00].map(halfToNumber)).toEqual([1, -2, 65504, 2 ** -24, -0, Infinity, -Infinity]);
    expect(halfToNumber(0x7e00)).toBeNaN();
  });
});

describe('encodeInferResponse', () => {
  it('announces binary outputs by size instead of data and keeps the id', () => {
    const text = encodeInferResponse(
      {
        model_name: 'm',
        model_version: '2',
        id: 'x',
        outputs: [
          { name: 'a', datatype: 'INT32', shape: [2], data: Int32Array.from([1, -2]) },
          { name: 'b', datatype: 'FP32', shape: [1], data: Float32Array.from([3]) },
        ],
      },
      new Map([['b', 4]]),
    );
    expect(JSON.parse(text)).toEqual({
      model_name: 'm',
      model_version: '2',
      id: 'x',
      outputs: [
        { name: 'a', datatype: 'INT32', shape: [2], data: [1, -2] },
        { name: 'b', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } },
      ],
    });
  });
});

describe('checkShape', () => {
  it('counts a zero dimension as an empty tensor whatever the others declare', () => {
    expect(checkShape([1e15, 0, 1e15], 'x', limits)).toBe(0);
    expect(checkShape([], 'x', limits)).toBe(1);
  });

  it('refuses products beyond the limit without overflowing to Infinity or NaN', () => {
    expect(() => checkShape(Array.from({ length: 16 }, () => 1e15), 'x', limits)).toThrow(/more than the 16777216 elements/);
  });
});

describe('raw tensor data', () => {
  it('decodes misaligned raw bytes by copying and round-trips BYTES with length prefixes', () => {
    const buffer = Buffer.alloc(9);
    buffer.writeFloatLE(2.5, 1);
    buffer.writeFloatLE(-1, 5);
    const header = { name: 'x', datatype: 'FP32' as const, shape: [2], elements: 2, parameters: undefined };
    expect(Array.from(rawToData(header, buffer.subarray(1)) as Float32Array)).toEqual([2.5, -1]);
    const strings = [bytes('héllo'), bytes('')];
    const raw = dataToRaw('BYTES', strings);
    const decoded = rawToData({ name: 's', datatype: 'BYTES', shape: [2], elements: 2, parameters: undefined }, raw) as Uint8Array[];
    expect(decoded.map((b) => Buffer.from(b).toString('utf8'))).toEqual(['héllo', '']);
  });
});

describe('compileRequestLimits', () => {
  it('fills in defaults and refuses non-positive or unknown limits', () => {
    expect(compileRequestLimits()).toMatchObject({ maxBodyBytes: 64 * 1024 * 1024, maxJsonDepth: 32, maxInputs: 64 });
    expect(compileRequestLimits({ maxInputs: 2 }).maxInputs).toBe(2);
    let error: unknown;
    try {
      compileRequestLimits({ maxInputs: 0 });
    } catch (err) {
      error = err;
    }
    expect(isContinuumError(error, 'CONTINUUM_ERR_BAD_REQUEST')).toBe(true);
    expect(() => compileRequestLimits({ maxBodyMegabytes: 3 } as never)).toThrow(/invalid request limit/);
  });
});
