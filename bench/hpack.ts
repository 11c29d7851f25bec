/**
 * HPACK (RFC 7541), the part a load generator's HTTP/2 client needs: a decoder with the static
 * and dynamic tables and Huffman-coded strings, and an encoder of literal fields (no indexing,
 * no Huffman: always valid, and built once per request shape).
 */

/** The static table (RFC 7541 Appendix A), index 1 to 61. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  ['', ''],
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/**
 * Huffman code lengths of symbols 0-255 and EOS (256), RFC 7541 Appendix B. The code is
 * canonical (codes of one length are consecutive, in symbol order), so the codes follow from the
 * lengths: symbol 0 is 0x1ff8 (13 bits) and EOS is thirty 1 bits, as the RFC lists them.
 */
const HUFFMAN_CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;
const MAX_CODE_LENGTH = 30;

/** Canonical decoding tables: per length, the first code, how many codes, and where their symbols start. */
const huffman = (() => {
  const count = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  for (const l of HUFFMAN_CODE_LENGTHS) count[l] = (count[l] as number) + 1;
  const symbols = HUFFMAN_CODE_LENGTHS.map((l, s) => [l, s] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map(([, s]) => s);
  const firstCode = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  const offset = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  let code = 0;
  let index = 0;
  for (let l = 1; l <= MAX_CODE_LENGTH; l++) {
    firstCode[l] = code;
    offset[l] = index;
    code = (code + (count[l] as number)) * 2;
    index += count[l] as number;
  }
  return { count, symbols, firstCode, offset };
})();

/** Decodes a Huffman-coded string (RFC 7541 §5.2): padding must be a prefix of EOS, at most 7 bits. */
export function huffmanDecode(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  let code = 0;
  let length = 0;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      length++;
      const k = code - (huffman.firstCode[length] as number);
      if (k >= 0 && k < (huffman.count[length] as number)) {
        const symbol = huffman.symbols[(huffman.offset[length] as number) + k] as number;
        if (symbol === EOS) throw new Error('HPACK: a Huffman string contains EOS');
        out.push(symbol);
        code = 0;
        length = 0;
      } else if (length >= MAX_CODE_LENGTH) {
        throw new Error('HPACK: invalid Huffman code');
      }
    }
  }
  if (length > 7 || code !== 2 ** length - 1) throw new Error('HPACK: invalid Huffman padding');
  return Uint8Array.from(out);
}

/** A decoded header field. */
export type HeaderField = readonly [name: string, value: string];

/** A header block decoder; one per connection, fed every block in order (the dynamic table is shared state). */
export class HpackDecoder {
  private dynamic: HeaderField[] = [];
  private size = 0;

  /** @param maxTableSize SETTINGS_HEADER_TABLE_SIZE this side announced (4096 by default). */
  constructor(private maxTableSize = 4096) {}

  /** Decodes one complete header block. */
  decode(block: Uint8Array): HeaderField[] {
    const fields: HeaderField[] = [];
    let pos = 0;
    const integer = (prefixBits: number): number => {
      const max = (1 << prefixBits) - 1;
      let value = (block[pos++] as number) & max;
      if (value < max) return value;
      for (let shift = 0; ; shift += 7) {
        if (pos >= block.length || shift > 28) throw new Error('HPACK: bad integer');
        const b = block[pos++] as number;
        value += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) return value;
      }
    };
    const string = (): string => {
      if (pos >= block.length) throw new Error('HPACK: block ends inside a field');
      const huffmanCoded = ((block[pos] as number) & 0x80) !== 0;
      const length = integer(7);
      if (pos + length > block.length) throw new Error('HPACK: string runs past the block');
      const raw = block.subarray(pos, pos + length);
      pos += length;
      return Buffer.from(huffmanCoded ? huffmanDecode(raw) : raw).toString('latin1');
    };
    while (pos < block.length) {
      const b = block[pos] as number;
      if (b & 0x80) {
        // Indexed field (§6.1).
        fields.push(this.entry(integer(7)));
      } else if ((b & 0xe0) === 0x20) {
        // Dynamic table size update (§6.3).
        const size = integer(5);
        if (size > this.maxTableSize) throw new Error('HPACK: table size update above the announced maximum');
        this.maxTableSize = size;
        this.evict(0);
      } else {
        // Literal with incremental indexing (§6.2.1), without indexing (§6.2.2) or never indexed (§6.2.3).
        const indexing = (b & 0xc0) === 0x40;
        const index = integer(indexing ? 6 : 4);
        const name = index === 0 ? string() : this.entry(index)[0];
        const field: HeaderField = [name, string()];
        fields.push(field);
        if (indexing) this.add(field);
      }
    }
    return fields;
  }

  private entry(index: number): HeaderField {
    if (index >= 1 && index < STATIC_TABLE.length) return STATIC_TABLE[index] as HeaderField;
    const field = this.dynamic[index - STATIC_TABLE.length];
    if (field === undefined) throw new Error(`HPACK: index ${index} is not in the table`);
    return field;
  }

  /** Entry size: name and value octets plus 32 (§4.1). */
  private static sizeOf(field: HeaderField): number {
    return field[0].length + field[1].length + 32;
  }

  private add(field: HeaderField): void {
    const size = HpackDecoder.sizeOf(field);
    this.evict(size);
    // An entry larger than the table empties it and is not added (§4.4).
    if (size > this.maxTableSize) return;
    this.dynamic.unshift(field);
    this.size += size;
  }

  private evict(room: number): void {
    while (this.dynamic.length > 0 && this.size + room > this.maxTableSize) this.size -= HpackDecoder.sizeOf(this.dynamic.pop() as HeaderField);
  }
}

function encodeInteger(value: number, prefixBits: number, firstByteFlags: number, out: number[]): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(firstByteFlags | value);
    return;
  }
  out.push(firstByteFlags | max);
  let v = value - max;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** Encodes fields as literals without indexing, names and values raw (§6.2.2): a block any decoder reads the same every time. */
export function encodeLiteralHeaders(fields: readonly HeaderField[]): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    out.push(0);
    for (const s of [name, value]) {
      const bytes = Buffer.from(s, 'latin1');
      encodeInteger(bytes.length, 7, 0, out);
      for (const byte of bytes) out.push(byte);
    }
  }
  return Buffer.from(out);
}
