import { describe, expect, it } from 'vitest';
import { decodeCtc, REC_HEIGHT, renderText, textWidth } from './ocr-text.js';

describe('text images for the recognizer', () => {
  it('draws black glyphs on white in [3, 48, W], the same in every channel', () => {
    const width = textWidth('AB');
    expect(width % 8).toBe(0);
    const image = renderText('AB');
    expect(image.length).toBe(3 * REC_HEIGHT * width);
    const plane = REC_HEIGHT * width;
    const ink = image.subarray(0, plane).filter((v) => v === -1).length;
    // 'A' has 18 dots and 'B' 20, each 4 × 4 pixels.
    expect(ink).toBe((18 + 20) * 16);
    expect(image.subarray(plane, 2 * plane)).toEqual(image.subarray(0, plane));
    expect(() => renderText('a')).toThrow(/no glyph/);
  });

  it('decodes CTC scores greedily: repeats collapse, blanks separate, the last class is a space', () => {
    const dictionary = ['A', 'B'];
    // Classes per step: A A blank A B space B.
    const steps = [1, 1, 0, 1, 2, 3, 2];
    const scores = new Float32Array(steps.length * 4);
    steps.forEach((c, t) => (scores[t * 4 + c] = 1));
    expect(decodeCtc(scores, steps.length, 4, dictionary)).toBe('AAB B');
  });
});
