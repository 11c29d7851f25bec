/**
 * A small HTTP/2 client (RFC 9113) for the load generator's gRPC target: prior-knowledge cleartext
 * HTTP/2 on one TCP connection, requests with a pre-encoded header block and a body, answers
 * collected whole (headers, data, trailers). It keeps to the protocol — SETTINGS and their ACKs,
 * PING replies, flow control in both directions, CONTINUATION, padding, RST_STREAM and GOAWAY — and
 * nothing more: no priorities, no push (disabled), no server-initiated streams.
 *
 * Why not node:http2: its client spends more CPU per request than the server under test, and the
 * load generator shares this machine's two cores with that server; the REST targets use undici for
 * the same reason.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { HpackDecoder } from './hpack.js';
import type { HeaderField } from './hpack.js';

const FrameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;
const Setting = { HEADER_TABLE_SIZE: 1, ENABLE_PUSH: 2, MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4, MAX_FRAME_SIZE: 5 } as const;

/** The client connection preface (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const MAX_WINDOW = 2 ** 31 - 1;
const DEFAULT_WINDOW = 65_535;
const FRAME_HEADER_BYTES = 9;
const MAX_FRAME_BYTES = 2 ** 24 - 1;
/** Received bytes after which the connection window is topped up again. */
const WINDOW_REFILL_BYTES = 1 << 30;

/** What came back on one stream. */
export interface H2Answer {
  /** Response header fields, then trailer fields, in order. */
  readonly headers: readonly HeaderField[];
  readonly trailers: readonly HeaderField[];
  readonly data: readonly Buffer[];
}

interface Stream {
  readonly id: number;
  readonly headerBlock: Buffer;
  /** Body bytes not yet sent. */
  body: Buffer;
  /** What this side may still send on the stream (peer's flow-control window). */
  window: number;
  headers: HeaderField[] | undefined;
  trailers: HeaderField[];
  readonly data: Buffer[];
  readonly keepData: boolean;
  readonly resolve: (answer: H2Answer) => void;
  readonly reject: (err: Error) => void;
}

function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h.writeUIntBE(length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return h;
}

/** One HTTP/2 connection. */
export class H2Connection {
  private readonly decoder = new HpackDecoder();
  private readonly streams = new Map<number, Stream>();
  /** Streams with body bytes waiting for flow-control window. */
  private readonly sending = new Set<Stream>();
  /** Requests waiting for the peer's concurrent-stream limit. */
  private readonly waiting: (() => void)[] = [];
  private nextStreamId = 1;
  private out: Buffer[] = [];
  private flushScheduled = false;
  /** Received bytes not yet read as frames. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Payload bytes of a skipped DATA frame still to drop. */
  private skipping = 0;
  private connectionWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = 16_384;
  private peerMaxStreams = Infinity;
  private receivedSinceRefill = 0;
  /** A header block split over CONTINUATION frames. */
  private continuation: { streamId: number; endStream: boolean; parts: Buffer[] } | undefined;
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('the connection closed')));
  }

  /** Connects to host:port and sends the preface and this side's settings. */
  static open(host: string, port: number): Promise<H2Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.off('error', reject);
        const c = new H2Connection(socket);
        c.start();
        resolve(c);
      });
      socket.once('error', reject);
    });
  }

  private start(): void {
    const settings = Buffer.alloc(18);
    settings.writeUInt16BE(Setting.ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    // Streams never run out of receive window; the connection's is topped up below.
    settings.writeUInt16BE(Setting.INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(MAX_WINDOW, 8);
    // Large answers in few frames (the largest frame size allowed, RFC 9113 §6.5.2).
    settings.writeUInt16BE(Setting.MAX_FRAME_SIZE, 12);
    settings.writeUInt32BE(MAX_FRAME_BYTES, 14);
    this.queue(PREFACE, frameHeader(settings.length, FrameType.SETTINGS, 0, 0), settings);
    this.windowUpdate(0, MAX_WINDOW - DEFAULT_WINDOW);
  }

  /** Sends a request (header block from {@link encodeLiteralHeaders}, then `body`) and resolves with the whole answer. */
  request(headerBlock: Buffer, body: Buffer, keepData: boolean): Promise<H2Answer> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const begin = (): void => {
        if (this.failure !== undefined) {
          reject(this.failure);
          return;
        }
        if (headerBlock.length > this.peerMaxFrame) {
          reject(new Error('the header block is larger than one frame'));
          return;
        }
        const id = this.nextStreamId;
        this.nextStreamId += 2;
        const stream: Stream = { id, headerBlock, body, window: this.peerInitialWindow, headers: undefined, trailers: [], data: [], keepData, resolve, reject };
        this.streams.set(id, stream);
        this.queue(frameHeader(headerBlock.length, FrameType.HEADERS, Flag.END_HEADERS | (body.length === 0 ? Flag.END_STREAM : 0), id), headerBlock);
        if (body.length > 0) {
          this.sending.add(stream);
          this.pumpBodies();
        }
      };
      if (this.streams.size >= this.peerMaxStreams) this.waiting.push(begin);
      else begin();
    });
  }

  /** Closes the connection (GOAWAY, then the socket). */
  close(): Promise<void> {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(0, 0);
    this.queue(frameHeader(8, FrameType.GOAWAY, 0, 0), payload);
    return new Promise((resolve) => {
      this.flush();
      this.socket.end(() => resolve());
    });
  }

  /** Sends as much waiting body data as the windows and the frame size allow. */
  private pumpBodies(): void {
    for (const stream of this.sending) {
      while (stream.body.length > 0) {
        const n = Math.min(stream.body.length, stream.window, this.connectionWindow, this.peerMaxFrame);
        if (n <= 0) break;
        const chunk = stream.body.subarray(0, n);
        stream.body = stream.body.subarray(n);
        stream.window -= n;
        this.connectionWindow -= n;
        this.queue(frameHeader(n, FrameType.DATA, stream.body.length === 0 ? Flag.END_STREAM : 0, stream.id), chunk);
      }
      if (stream.body.length === 0) this.sending.delete(stream);
      if (this.connectionWindow <= 0) return;
    }
  }

  private queue(...buffers: Buffer[]): void {
    for (const b of buffers) this.out.push(b);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Everything queued in this turn leaves in one write.
      process.nextTick(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.socket.destroyed) return;
    const out = this.out;
    this.out = [];
    this.socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
  }

  private windowUpdate(streamId: number, increment: number): void {
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(increment, 0);
    this.queue(frameHeader(4, FrameType.WINDOW_UPDATE, 0, streamId), payload);
  }

  /**
   * Reads frames from the socket's chunks. A frame split over chunks is joined, except the
   * payload of DATA nobody keeps (a load generator's answers), which is skipped in place: joining
   * would copy every large answer once more.
   */
  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    try {
      for (;;) {
        if (this.skipping > 0) {
          this.skipping -= this.discard(this.skipping);
          if (this.skipping > 0) return;
        }
        if (this.buffered < FRAME_HEADER_BYTES) return;
        const header = this.peek(FRAME_HEADER_BYTES);
        const length = header.readUIntBE(0, 3);
        const type = header[3] as number;
        const flags = header[4] as number;
        const streamId = header.readUInt32BE(5) & 0x7fffffff;
        const stream = type === FrameType.DATA ? this.streams.get(streamId) : undefined;
        if (type === FrameType.DATA && stream?.keepData !== true && this.continuation === undefined) {
          this.discard(FRAME_HEADER_BYTES);
          this.countReceived(length);
          this.skipping = length;
          if (stream !== undefined && flags & Flag.END_STREAM) this.finish(stream);
          continue;
        }
        if (this.buffered < FRAME_HEADER_BYTES + length) return;
        this.discard(FRAME_HEADER_BYTES);
        const payload = this.take(length);
        this.onFrame(type, flags, streamId, payload);
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      this.socket.destroy();
    }
  }

  /** The next `n` buffered bytes, without consuming them (joined when they span chunks). */
  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    return first.length >= n ? first : Buffer.concat(this.chunks, this.buffered).subarray(0, n);
  }

  /** Consumes the next `n` buffered bytes (joined only when they span chunks). */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first === undefined) return Buffer.alloc(0);
    if (first.length >= n) {
      this.discard(n);
      return first.subarray(0, n);
    }
    const joined = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [joined.subarray(n)];
    this.buffered -= n;
    return joined.subarray(0, n);
  }

  /** Drops up to `n` buffered bytes; returns how many it dropped. */
  private discard(n: number): number {
    let dropped = 0;
    while (dropped < n && this.chunks.length > 0) {
      const first = this.chunks[0] as Buffer;
      const k = Math.min(first.length, n - dropped);
      if (k === first.length) this.chunks.shift();
      else this.chunks[0] = first.subarray(k);
      dropped += k;
    }
    this.buffered -= dropped;
    return dropped;
  }

  private countReceived(length: number): void {
    this.receivedSinceRefill += length;
    if (this.receivedSinceRefill >= WINDOW_REFILL_BYTES) {
      this.windowUpdate(0, this.receivedSinceRefill);
      this.receivedSinceRefill = 0;
    }
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.continuation !== undefined && type !== FrameType.CONTINUATION) throw new Error('HTTP/2: expected CONTINUATION');
    switch (type) {
      case FrameType.DATA: {
        this.countReceived(payload.length);
        const stream = this.streams.get(streamId);
        if (stream === undefined) return;
        const data = flags & Flag.PADDED ? payload.subarray(1, payload.length - (payload[0] as number)) : payload;
        if (stream.keepData && data.length > 0) stream.data.push(data);
        if (flags & Flag.END_STREAM) this.finish(stream);
        return;
      }
      case FrameType.HEADERS: {
        let start = 0;
        let end = payload.length;
        if (flags & Flag.PADDED) {
          start = 1;
          end -= payload[0] as number;
        }
        if (flags & Flag.PRIORITY) start += 5;
        const part = payload.subarray(start, end);
        const endStream = (flags & Flag.END_STREAM) !== 0;
        if (flags & Flag.END_HEADERS) this.onHeaderBlock(streamId, part, endStream);
        else this.continuation = { streamId, endStream, parts: [Buffer.from(part)] };
        return;
      }
      case FrameType.CONTINUATION: {
        const c = this.continuation;
        if (c === undefined || c.streamId !== streamId) throw new Error('HTTP/2: unexpected CONTINUATION');
        c.parts.push(Buffer.from(payload));
        if (flags & Flag.END_HEADERS) {
          this.continuation = undefined;
          this.onHeaderBlock(streamId, Buffer.concat(c.parts), c.endStream);
        }
        return;
      }
      case FrameType.RST_STREAM: {
        const stream = this.streams.get(streamId);
        if (stream !== undefined) this.end(stream, new Error(`the server reset stream ${streamId} (error code ${payload.readUInt32BE(0)})`));
        return;
      }
      case FrameType.SETTINGS:
        if (flags & Flag.ACK) return;
        this.onSettings(payload);
        this.queue(frameHeader(0, FrameType.SETTINGS, Flag.ACK, 0));
        return;
      case FrameType.PING:
        if (!(flags & Flag.ACK)) this.queue(frameHeader(8, FrameType.PING, Flag.ACK, 0), Buffer.from(payload));
        return;
      case FrameType.GOAWAY: {
        const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
        const err = new Error(`the server sent GOAWAY (error code ${payload.readUInt32BE(4)})`);
        for (const stream of [...this.streams.values()]) if (stream.id > lastStreamId) this.end(stream, err);
        this.failure = err;
        return;
      }
      case FrameType.WINDOW_UPDATE: {
        const increment = payload.readUInt32BE(0) & 0x7fffffff;
        if (streamId === 0) this.connectionWindow += increment;
        else {
          const stream = this.streams.get(streamId);
          if (stream !== undefined) stream.window += increment;
        }
        this.pumpBodies();
        return;
      }
      case FrameType.PUSH_PROMISE:
        throw new Error('HTTP/2: PUSH_PROMISE although push is disabled');
      default:
      // PRIORITY and unknown frame types are ignored (RFC 9113 §4.1, §5.5).
    }
  }

  private onSettings(payload: Buffer): void {
    for (let i = 0; i + 6 <= payload.length; i += 6) {
      const id = payload.readUInt16BE(i);
      const value = payload.readUInt32BE(i + 2);
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        // A change applies to every open stream's window (RFC 9113 §6.9.2).
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) stream.window += delta;
      } else if (id === Setting.MAX_FRAME_SIZE) this.peerMaxFrame = value;
      else if (id === Setting.MAX_CONCURRENT_STREAMS) this.peerMaxStreams = value;
    }
    this.pumpBodies();
  }

  private onHeaderBlock(streamId: number, block: Buffer, endStream: boolean): void {
    // Every block is decoded, also for a stream already gone: the dynamic table must stay in step.
    const fields = this.decoder.decode(block);
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    if (stream.headers === undefined) stream.headers = fields;
    else stream.trailers = fields;
    if (endStream) this.finish(stream);
  }

  private finish(stream: Stream): void {
    this.end(stream, undefined);
  }

  private end(stream: Stream, err: Error | undefined): void {
    this.streams.delete(stream.id);
    this.sending.delete(stream);
    if (err !== undefined) stream.reject(err);
    else stream.resolve({ headers: stream.headers ?? [], trailers: stream.trailers, data: stream.data });
    const next = this.waiting.shift();
    if (next !== undefined) next();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const stream of [...this.streams.values()]) this.end(stream, err);
    for (const begin of this.waiting.splice(0)) begin();
  }
}
