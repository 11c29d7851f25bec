/**
 * Text images for the PP-OCRv4 recognizer without a browser or a native canvas: a 5×7 bitmap font
 * (the classic dot-matrix glyph shapes of HD44780-style character displays) drawn in code into the
 * recognizer's input tensor [1, 3, 48, W], and greedy CTC decoding of its output with the
 * model's dictionary (PaddleOCR's `CTCLabelDecode`: index 0 is the blank, 1..N the dictionary
 * lines, N + 1 the space).
 */

/** Glyphs, 7 rows of 5 columns each ('#' ink). */
const GLYPHS: Readonly<Record<string, readonly string[]>> = {
  '0': ['.###.', '#...#', '#..##', '#.#.#', '##..#', '#...#', '.###.'],
  '1': ['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  '2': ['.###.', '#...#', '....#', '...#.', '..#..', '.#...', '#####'],
  '3': ['#####', '...#.', '..#..', '...#.', '....#', '#...#', '.###.'],
  '4': ['...#.', '..##.', '.#.#.', '#..#.', '#####', '...#.', '...#.'],
  '5': ['#####', '#....', '####.', '....#', '....#', '#...#', '.###.'],
  '6': ['..##.', '.#...', '#....', '####.', '#...#', '#...#', '.###.'],
  '7': ['#####', '....#', '...#.', '..#..', '.#...', '.#...', '.#...'],
  '8': ['.###.', '#...#', '#...#', '.###.', '#...#', '#...#', '.###.'],
  '9': ['.###.', '#...#', '#...#', '.####', '....#', '...#.', '.##..'],
  A: ['.###.', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  B: ['####.', '#...#', '#...#', '####.', '#...#', '#...#', '####.'],
  C: ['.###.', '#...#', '#....', '#....', '#....', '#...#', '.###.'],
  D: ['###..', '#..#.', '#...#', '#...#', '#...#', '#..#.', '###..'],
  E: ['#####', '#....', '#....', '####.', '#....', '#....', '#####'],
  F: ['#####', '#....', '#....', '####.', '#....', '#....', '#....'],
  G: ['.###.', '#...#', '#....', '#.###', '#...#', '#...#', '.####'],
  H: ['#...#', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  I: ['.###.', '..#..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  J: ['..###', '...#.', '...#.', '...#.', '...#.', '#..#.', '.##..'],
  K: ['#...#', '#..#.', '#.#..', '##...', '#.#..', '#..#.', '#...#'],
  L: ['#....', '#....', '#....', '#....', '#....', '#....', '#####'],
  M: ['#...#', '##.##', '#.#.#', '#.#.#', '#...#', '#...#', '#...#'],
  N: ['#...#', '#...#', '##..#', '#.#.#', '#..##', '#...#', '#...#'],
  O: ['.###.', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  P: ['####.', '#...#', '#...#', '####.', '#....', '#....', '#....'],
  Q: ['.###.', '#...#', '#...#', '#...#', '#.#.#', '#..#.', '.##.#'],
  R: ['####.', '#...#', '#...#', '####.', '#.#..', '#..#.', '#...#'],
  S: ['.####', '#....', '#....', '.###.', '....#', '....#', '####.'],
  T: ['#####', '..#..', '..#..', '..#..', '..#..', '..#..', '..#..'],
  U: ['#...#', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  V: ['#...#', '#...#', '#...#', '#...#', '#...#', '.#.#.', '..#..'],
  W: ['#...#', '#...#', '#...#', '#.#.#', '#.#.#', '#.#.#', '.#.#.'],
  X: ['#...#', '#...#', '.#.#.', '..#..', '.#.#.', '#...#', '#...#'],
  Y: ['#...#', '#...#', '.#.#.', '..#..', '..#..', '..#..', '..#..'],
  Z: ['#####', '....#', '...#.', '..#..', '.#...', '#....', '#####'],
  '-': ['.....', '.....', '.....', '#####', '.....', '.....', '.....'],
  ' ': ['.....', '.....', '.....', '.....', '.....', '.....', '.....'],
};

/** The characters the font draws. */
export const FONT_CHARACTERS: readonly string[] = Object.keys(GLYPHS);

/** The recognizer's input height (PP-OCRv4 rec: 3 × 48 × W). */
export const REC_HEIGHT = 48;
/** Pixels per font dot: 7 rows × 4 = 28 px of a 48 px line, like a line of printed text. */
const DOT = 4;
const MARGIN = 8;

/** Width of the image `text` is drawn into, a multiple of 8 as PaddleOCR's resize gives. */
export function textWidth(text: string): number {
  return Math.ceil((2 * MARGIN + text.length * 6 * DOT) / 8) * 8;
}

/**
 * Draws `text` (characters of {@link FONT_CHARACTERS}) black on white into a [3, 48, width]
 * float32 image normalised as PaddleOCR's recognizer expects ((pixel / 255 − 0.5) / 0.5); columns
 * past the text are white.
 */
export function renderText(text: string, width = textWidth(text)): Float32Array {
  const plane = REC_HEIGHT * width;
  const image = new Float32Array(3 * plane).fill(1);
  const top = Math.floor((REC_HEIGHT - 7 * DOT) / 2);
  [...text].forEach((ch, k) => {
    const glyph = GLYPHS[ch];
    if (glyph === undefined) throw new Error(`the bitmap font has no glyph for ${JSON.stringify(ch)}`);
    glyph.forEach((row, r) => {
      [...row].forEach((dot, c) => {
        if (dot !== '#') return;
        for (let y = 0; y < DOT; y++) {
          for (let x = 0; x < DOT; x++) {
            const px = MARGIN + (k * 6 + c) * DOT + x;
            if (px >= width) continue;
            const i = (top + r * DOT + y) * width + px;
            for (let ch3 = 0; ch3 < 3; ch3++) image[ch3 * plane + i] = -1;
          }
        }
      });
    });
  });
  return image;
}

/**
 * Greedy CTC decoding of one image's scores [T, classes]: the arg-max class per time step,
 * repeats collapsed, blanks (0) dropped, class i read as dictionary line i − 1 and the last
 * class as a space.
 */
export function decodeCtc(scores: Float32Array, steps: number, classes: number, dictionary: readonly string[]): string {
  let text = '';
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if ((scores[t * classes + c] as number) > (scores[t * classes + best] as number)) best = c;
    if (best !== previous && best !== 0) text += best === dictionary.length + 1 ? ' ' : (dictionary[best - 1] ?? '');
    previous = best;
  }
  return text;
}
