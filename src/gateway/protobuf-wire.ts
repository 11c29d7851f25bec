/**
 * The Protocol Buffers wire format, the part the OIP gRPC hot path needs: varints, fixed 32/64-bit
 * values and length-delimited fields, read in place from a message buffer and written into one
 * preallocated buffer (https://protobuf.dev/programming-guides/encoding/). ModelInfer messages are
 * coded by hand with it (grpc-codec.ts) because a generic reflection-based codec builds and walks
 * intermediate objects on every call; everything else stays with the generated codecs.
 */
import { ContinuumError } from '../errors.js';

/** Wire types (encoding guide, "Message Structure"). */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

/** Groups nest; a hostile message must not recurse without bound while they are skipped. */
const MAX_GROUP_DEPTH = 32;

const TWO_32 = 4294967296;

function malformed(what: string): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `the protobuf message is malformed: ${what}`);
}

/** A cursor over the bytes [pos, end) of a message; every read checks the bounds. */
export class ProtoReader {
  /** Next byte to read. */
  pos: number;
  /** The high 32 bits of the last {@link varint64} read; its low 32 bits are what it returned. */
  hi = 0;
  private view: DataView | undefined;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  /** Whether every byte has been read. */
  done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint's low 32 bits as an unsigned number (tags, lengths, bool, uint32; int32 via `| 0`). */
  uint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    let value = 0;
    // The first four bytes carry 28 bits and cannot overflow a 32-bit integer.
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= this.end) throw malformed('a varint runs past the end');
      const b = buf[pos++] as number;
      value |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return value >>> 0;
      }
    }
    if (pos >= this.end) throw malformed('a varint runs past the end');
    const b = buf[pos++] as number;
    value = (value | ((b & 0x0f) << 28)) >>> 0;
    // Bytes 6 to 10 only carry high bits; a 32-bit reader drops them (encoding guide, "int32").
    for (let i = 0, last = b; last >= 0x80; i++) {
      if (i === 5 || pos >= this.end) throw malformed('a varint is longer than 10 bytes');
      last = buf[pos++] as number;
    }
    this.pos = pos;
    return value;
  }

  /** A 64-bit varint: returns its low 32 bits (unsigned) and leaves its high 32 bits in {@link hi}. */
  varint64(): number {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= this.end) throw malformed('a varint runs past the end');
      b = buf[pos++] as number;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        this.hi = 0;
        return lo >>> 0;
      }
    }
    if (pos >= this.end) throw malformed('a varint runs past the end');
    b = buf[pos++] as number;
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    for (let shift = 3; b >= 0x80; shift += 7) {
      if (shift > 31 || pos >= this.end) throw malformed('a varint is longer than 10 bytes');
      b = buf[pos++] as number;
      hi |= (b & 0x7f) << shift;
    }
    this.pos = pos;
    this.hi = hi >>> 0;
    return lo >>> 0;
  }

  /** An int64 field: a number when exact, else its decimal string (as gRPC JSON mappings do). */
  int64(): number | string {
    const lo = this.varint64();
    const hi = this.hi;
    if (hi < 0x200000) return hi * TWO_32 + lo;
    // Negative, magnitude below 2^53.
    if (hi > 0xffe00000 || (hi === 0xffe00000 && lo > 0)) return (hi - TWO_32) * TWO_32 + lo;
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString();
  }

  /** A uint64 field: a number when exact, else its decimal string. */
  uint64(): number | string {
    const lo = this.varint64();
    const hi = this.hi;
    if (hi < 0x200000) return hi * TWO_32 + lo;
    return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
  }

  private dataView(): DataView {
    this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    return this.view;
  }

  /** A little-endian float (wire type I32). */
  float(): number {
    if (this.pos + 4 > this.end) throw malformed('a fixed32 value runs past the end');
    const v = this.dataView().getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** A little-endian double (wire type I64). */
  double(): number {
    if (this.pos + 8 > this.end) throw malformed('a fixed64 value runs past the end');
    const v = this.dataView().getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** The bounds of a length-delimited field's payload; the cursor moves past it. */
  delimited(): { readonly start: number; readonly end: number } {
    const length = this.uint32();
    const start = this.pos;
    if (length > this.end - start) throw malformed('a length-delimited field runs past the end');
    this.pos = start + length;
    return { start, end: start + length };
  }

  /** A length-delimited payload as a view of the message's bytes (not copied). */
  bytes(): Uint8Array {
    const { start, end } = this.delimited();
    return this.buf.subarray(start, end);
  }

  /** A length-delimited payload decoded as UTF-8 (invalid sequences become U+FFFD, as protobuf runtimes do). */
  string(): string {
    const { start, end } = this.delimited();
    return utf8Slice(this.buf, start, end);
  }

  /** Skips a field of wire type `wireType` whose tag has just been read. */
  skip(wireType: number, depth = 0): void {
    switch (wireType) {
      case WireType.VARINT:
        this.varint64();
        return;
      case WireType.I64:
        this.advance(8);
        return;
      case WireType.LEN:
        this.delimited();
        return;
      case WireType.I32:
        this.advance(4);
        return;
      case WireType.SGROUP: {
        // A (deprecated) group runs to its matching end-group tag.
        if (depth >= MAX_GROUP_DEPTH) throw malformed('groups nest too deeply');
        for (;;) {
          if (this.done()) throw malformed('a group has no end');
          const tag = this.uint32();
          if ((tag & 7) === WireType.EGROUP) return;
          this.skip(tag & 7, depth + 1);
        }
      }
      default:
        throw malformed(`wire type ${wireType} is not valid here`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw malformed('a fixed-size value runs past the end');
    this.pos += n;
  }
}

const utf8 = new TextDecoder('utf-8');

/** UTF-8 bytes [start, end) as a string; short ASCII (names, ids) without a native call. */
function utf8Slice(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= 32) {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = buf[i] as number;
      if (c >= 0x80) return utf8.decode(buf.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8.decode(buf.subarray(start, end));
}

/** Bytes a varint of a non-negative number below 2^53 takes. */
export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  let size = 5;
  for (let v = Math.floor(value / 0x800000000); v > 0; v = Math.floor(v / 128)) size++;
  return size;
}

/** Bytes a length-delimited field of `length` payload bytes takes after its tag. */
export const delimitedSize = (length: number): number => varintSize(length) + length;

/** Bytes of a tag (field number < 2^28 here, so at most 4 bytes and usually 1). */
export const tagSize = (field: number): number => varintSize(field * 8);

/**
 * Writes a message into a buffer allocated once at its final size (the encoder computes sizes
 * first), so nested messages need no intermediate buffers.
 */
export class ProtoWriter {
  /** Next byte to write. */
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
  ) {
    this.pos = start;
  }

  /** A varint of a non-negative number below 2^53. */
  varint(value: number): void {
    const buf = this.buf;
    let pos = this.pos;
    let v = value;
    while (v >= 0x80) {
      buf[pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  /** A tag: field number and wire type. */
  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** A 64-bit two's complement varint (int64 fields; a negative value takes 10 bytes). */
  int64(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  /** A little-endian double. */
  double(value: number): void {
    this.pos = this.buf.writeDoubleLE(value, this.pos);
  }

  /** A length-delimited string of `byteLength` UTF-8 bytes (the caller measured it for the size pass). */
  string(value: string, byteLength: number): void {
    this.varint(byteLength);
    this.pos += this.buf.write(value, this.pos, byteLength, 'utf8');
  }

  /** Length-delimited bytes. */
  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }
}

/** Bytes of an int64 varint of `value` (a negative one takes 10). */
export function int64Size(value: bigint): number {
  let v = BigInt.asUintN(64, value);
  let size = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    size++;
  }
  return size;
}
