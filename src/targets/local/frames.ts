/**
 * The framing of the gateway→replica channel: length-prefixed binary frames over the socket pair
 * a replica process inherits as file descriptor 3. A frame is
 *
 * ```
 * u32 LE  frame length in bytes, this field included (a multiple of 8)
 * u32 LE  id: the request a frame answers (0 for control frames that answer nothing)
 * u32 LE  header length
 * u32 LE  payload length
 * u8      kind (FrameKind), then 3 zero bytes
 * ...     header: binary for Infer and Result frames (messages.ts), UTF-8 JSON for the others
 * ...     zero bytes up to a multiple of 8
 * ...     payload: raw little-endian tensor bytes (messages.ts lays them out)
 * ...     zero bytes up to a multiple of 8
 * ```
 *
 * Every frame's length is a multiple of 8 and its payload starts 8-aligned within it, so a payload
 * read into a fresh (8-aligned) buffer can be viewed as a typed array of any datatype without a
 * copy.
 *
 * Why this and not Node's IPC channel: in one run on the 2-core development machine, an echo of a 16-float
 * request over child_process IPC with 'advanced' (structured clone) serialization took 80 µs p50
 * and carried 22k requests/s at 64 in flight; these frames over the same kind of socket pair took
 * 47 µs and carried 150k/s. The difference is the per-message serialization and the one write
 * per message; here tensors travel as the bytes they already are, and the frames written before a
 * flush point leave in one write (see {@link FlushPoint}). No HTTP parsing on the hop.
 *
 * This module loads nothing heavy: the replica's entry uses it before the runtime is imported.
 */
import type { Socket } from 'node:net';

/** What a frame carries. */
export const FrameKind = {
  /** Parent → replica: an inference request (binary header: tensors and options; payload: input bytes). */
  Infer: 1,
  /** Replica → parent: the response to request `id` (binary header: output tensors; payload: their bytes). */
  Result: 2,
  /** Replica → parent: request `id` failed (JSON header: the error's code and message). */
  Failure: 3,
  /** Either way: a control message (JSON header only): load, ready, ping, drain... */
  Control: 4,
} as const;

/** A frame kind's number. */
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** A decoded frame. `header` and `payload` are views of the bytes read, valid as long as they are referenced. */
export interface Frame {
  readonly kind: FrameKind;
  readonly id: number;
  readonly header: Buffer;
  readonly payload: Buffer;
}

/** Bytes before the header: length, id, header length, payload length, kind and its padding. */
const PREFIX_BYTES = 20;

/**
 * The largest frame either side accepts. The gateway already limits a request body to 64 MiB by
 * default and outputs are of the same order; a length beyond this means the stream is corrupt.
 */
export const MAX_FRAME_BYTES = 1024 * 1024 * 1024;

/** Payloads up to this size are copied into the writer's buffer: one write instead of several. */
const COPY_PAYLOAD_BELOW_BYTES = 16 * 1024;

/** Size of the writer's buffer, which frames are encoded into until it is full. */
const WRITE_BUFFER_BYTES = 64 * 1024;

/** `n` rounded up to a multiple of 8. */
export function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Zero bytes to pad with (never written to). */
export const ZEROS = new Uint8Array(8);

/** The JSON a Control or Failure frame's header carries. */
export function jsonHeader(frame: Frame): unknown {
  return frame.header.length === 0 ? undefined : JSON.parse(frame.header.toString('utf8'));
}

/**
 * Splits the bytes read from the socket into frames. Chunks are kept until a whole frame is there
 * and joined once, so a frame spanning many reads costs one copy, and frames inside one chunk
 * none.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before the next frame can be decoded. */
  private needed = 4;

  constructor(private readonly onFrame: (frame: Frame) => void) {}

  /** Feeds bytes read from the socket; throws on a malformed stream (the caller closes it). */
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.needed) return;
    const bytes = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    this.needed = 4;
    let offset = 0;
    while (bytes.length - offset >= 4) {
      const frameBytes = bytes.readUInt32LE(offset);
      if (frameBytes < PREFIX_BYTES || frameBytes % 8 !== 0 || frameBytes > MAX_FRAME_BYTES) throw new Error(`malformed frame: length ${frameBytes}`);
      const end = offset + frameBytes;
      if (end > bytes.length) {
        this.needed = frameBytes;
        break;
      }
      const id = bytes.readUInt32LE(offset + 4);
      const headerBytes = bytes.readUInt32LE(offset + 8);
      const payloadBytes = bytes.readUInt32LE(offset + 12);
      const headerStart = offset + PREFIX_BYTES;
      const payloadStart = offset + align8(PREFIX_BYTES + headerBytes);
      if (payloadStart + align8(payloadBytes) !== end) throw new Error(`malformed frame: header ${headerBytes} and payload ${payloadBytes} bytes in a frame of ${frameBytes}`);
      const kind = bytes[offset + 16] as FrameKind;
      offset = end;
      this.onFrame({ kind, id, header: bytes.subarray(headerStart, headerStart + headerBytes), payload: bytes.subarray(payloadStart, payloadStart + payloadBytes) });
    }
    if (offset < bytes.length) {
      this.chunks.push(bytes.subarray(offset));
      this.buffered = bytes.length - offset;
    }
  }
}

/**
 * When a {@link FrameWriter} sends what it was given. 'turn': at the end of the event loop turn
 * (setImmediate), so frames written by many I/O callbacks of one turn (requests decoded from many
 * HTTP connections) go out in one write; the gateway's side. 'callback': right after the current
 * callback and its microtasks (process.nextTick); the replica's side, where a batch's responses
 * are all written by one callback and must not wait for the next batch's run, which the runtime
 * has already queued for the same turn: measured with 64 requests in flight, answering at the end
 * of the callback carried 20-28% more requests per second than at the end of the turn.
 */
export type FlushPoint = 'turn' | 'callback';

/**
 * Writes frames to the socket. Frames are encoded into one buffer as they are written (large
 * payloads are referenced, not copied) and sent at the {@link FlushPoint}: one write for all the
 * frames of a turn, however many; several (one writev) only around large payloads. Each write
 * that wakes the other process costs tens of microseconds on a virtual machine, far more than
 * encoding the frames.
 */
export class FrameWriter {
  private buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  /** Where the next frame is encoded in {@link buffer}. */
  private used = 0;
  /** Where the bytes not yet handed to the socket start in {@link buffer}. */
  private unsent = 0;
  /** Parts cut before the unsent bytes of the buffer (around large payloads), in order. */
  private parts: Uint8Array[] = [];
  private scheduled = false;
  private readonly flush = (): void => {
    if (!this.scheduled) return;
    this.scheduled = false;
    if (this.socket.destroyed) {
      this.parts = [];
      this.unsent = this.used;
      return;
    }
    this.cut();
    const parts = this.parts;
    this.parts = [];
    if (parts.length === 1) {
      this.socket.write(parts[0] as Uint8Array);
      return;
    }
    this.socket.cork();
    for (const p of parts) this.socket.write(p);
    this.socket.uncork();
  };

  constructor(
    private readonly socket: Socket,
    private readonly flushPoint: FlushPoint,
  ) {}

  /** Queues one frame; `header` is copied, `payload` parts are copied when small and referenced when large. */
  write(kind: FrameKind, id: number, header: Uint8Array, payload: readonly Uint8Array[] = []): void {
    if (this.socket.destroyed) return;
    let payloadBytes = 0;
    for (const p of payload) payloadBytes += p.byteLength;
    const headerEnd = align8(PREFIX_BYTES + header.byteLength);
    const paddedPayload = align8(payloadBytes);
    const copy = payloadBytes <= COPY_PAYLOAD_BELOW_BYTES;
    this.reserve(headerEnd + (copy ? paddedPayload : 0));
    const b = this.buffer;
    const at = this.used;
    b.writeUInt32LE(headerEnd + paddedPayload, at);
    b.writeUInt32LE(id, at + 4);
    b.writeUInt32LE(header.byteLength, at + 8);
    b.writeUInt32LE(payloadBytes, at + 12);
    b.writeUInt32LE(kind, at + 16);
    b.set(header, at + PREFIX_BYTES);
    b.fill(0, at + PREFIX_BYTES + header.byteLength, at + headerEnd);
    this.used = at + headerEnd;
    if (copy) {
      let offset = this.used;
      for (const p of payload) {
        b.set(p, offset);
        offset += p.byteLength;
      }
      b.fill(0, offset, at + headerEnd + paddedPayload);
      this.used = at + headerEnd + paddedPayload;
    } else {
      this.cut();
      for (const p of payload) if (p.byteLength > 0) this.parts.push(p);
      if (paddedPayload > payloadBytes) this.parts.push(ZEROS.subarray(0, paddedPayload - payloadBytes));
    }
    this.schedule();
  }

  /** Queues a frame whose header is `message` as JSON (control messages, failures). */
  writeJson(kind: FrameKind, id: number, message: unknown): void {
    this.write(kind, id, message === undefined ? ZEROS.subarray(0, 0) : Buffer.from(JSON.stringify(message), 'utf8'));
  }

  /** Sends what is queued now, then ends the socket; `onEnd` runs once everything is written. */
  end(onEnd: () => void): void {
    if (this.scheduled) this.flush();
    this.socket.end(onEnd);
  }

  /** Makes room for `bytes` more in the buffer: a fresh one when they do not fit (the old one may still be in the socket's queue). */
  private reserve(bytes: number): void {
    if (this.used + bytes <= this.buffer.length) return;
    this.cut();
    this.buffer = Buffer.allocUnsafe(Math.max(WRITE_BUFFER_BYTES, bytes));
    this.used = 0;
    this.unsent = 0;
  }

  /** Moves the buffer's unsent bytes to the parts to send. */
  private cut(): void {
    if (this.used === this.unsent) return;
    this.parts.push(this.buffer.subarray(this.unsent, this.used));
    this.unsent = this.used;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.flushPoint === 'turn') setImmediate(this.flush);
    else process.nextTick(this.flush);
  }
}
