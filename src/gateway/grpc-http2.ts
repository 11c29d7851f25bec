/**
 * gRPC over HTTP/2 for unary methods, directly on node:http2 (gRPC "PROTOCOL-HTTP2.md"): a call is
 * a POST to `/{service}/{method}` with content-type application/grpc, carrying one length-prefixed
 * message (1-byte compressed flag, 4-byte big-endian length); the answer is HEADERS, one message,
 * and trailers with `grpc-status` (and a percent-encoded `grpc-message`), or a Trailers-Only
 * HEADERS frame for a failure. `grpc-timeout` sets the call's deadline. Compressed messages are
 * refused with UNIMPLEMENTED (only `identity` is accepted, and said so in `grpc-accept-encoding`);
 * an unknown method is UNIMPLEMENTED.
 *
 * Why not a general gRPC server library: the serving path needs one request message in and one
 * response message out, and the per-call machinery of a general library (interceptors, metadata
 * objects, call state machines, stream wrappers) cost more CPU than the inference itself.
 */
import { constants as h2, createServer } from 'node:http2';
import type { Http2Server, Http2Session, IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { ContinuumError, toContinuumError } from '../errors.js';
import { headerValue } from './headers.js';

/** Bytes before every gRPC message: compressed flag and big-endian length ("Length-Prefixed-Message"). */
export const GRPC_MESSAGE_PREFIX_BYTES = 5;

/**
 * A response message in parts, written in order: `head` starts with
 * {@link GRPC_MESSAGE_PREFIX_BYTES} free bytes for the prefix (so the answer is framed without a
 * copy), and `tail` holds large parts (raw tensors) that are written as they are rather than
 * copied into one buffer.
 */
export interface ResponseMessage {
  readonly head: Buffer;
  readonly tail: readonly Uint8Array[];
}

/**
 * A unary method: takes the request message and returns the response message. Throws or rejects
 * with the error to send as the call's status.
 */
export type UnaryHandler = (message: Buffer, call: CallContext) => ResponseMessage | Promise<ResponseMessage>;

/** What a handler knows of its call besides the message. */
export interface CallContext {
  /** The client's deadline (epoch ms), from `grpc-timeout`. */
  readonly deadlineMs: number | undefined;
  /** A request metadata entry by lower-case name (custom metadata travels as HTTP/2 headers). */
  readonly header: (name: string) => string | undefined;
}

const NO_TAIL: readonly Uint8Array[] = [];

/** Copies a serialized message behind room for its prefix (for handlers whose codec cannot leave room). */
export function withPrefixRoom(message: Uint8Array): ResponseMessage {
  const head = Buffer.allocUnsafe(GRPC_MESSAGE_PREFIX_BYTES + message.length);
  head.set(message, GRPC_MESSAGE_PREFIX_BYTES);
  return { head, tail: NO_TAIL };
}

/** Options of {@link listenGrpc}. */
export interface GrpcListenOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Handlers by path, `/{package}.{Service}/{Method}`. */
  readonly methods: ReadonlyMap<string, UnaryHandler>;
  /** Largest request message, in bytes; a larger one is refused with RESOURCE_EXHAUSTED. */
  readonly maxMessageBytes: number;
  /** How long close() lets in-flight calls finish before cutting their connections, in ms. */
  readonly shutdownGraceMs: number;
}

/** A listening gRPC server. */
export interface GrpcListener {
  /** The bound port (the chosen one when 0 was asked). */
  readonly port: number;
  /** Stops taking connections and calls (GOAWAY), lets in-flight calls finish up to the grace period, then closes. */
  close(): Promise<void>;
}

/** `grpc-timeout`: at most 8 digits and a unit (PROTOCOL-HTTP2.md, "Timeout"). */
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** Parses a `grpc-timeout` value into milliseconds. */
function parseGrpcTimeout(value: string): number {
  const m = TIMEOUT.exec(value);
  if (m === null) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `grpc-timeout ${JSON.stringify(value.slice(0, 40))} is not a timeout (up to 8 digits and a unit H, M, S, m, u or n)`);
  return Number(m[1]) * (TIMEOUT_UNIT_MS[m[2] as string] as number);
}

/**
 * Percent-encodes a status message for `grpc-message`: bytes outside printable ASCII, and '%',
 * become %XX of their UTF-8 encoding (PROTOCOL-HTTP2.md, "Status-Message").
 */
function encodeGrpcMessage(message: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(message)) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Response headers of a call that answers a message; built once. */
const RESPONSE_HEADERS: OutgoingHttpHeaders = {
  [h2.HTTP2_HEADER_STATUS]: 200,
  [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
  'grpc-accept-encoding': 'identity',
};
const OK_TRAILERS: OutgoingHttpHeaders = { 'grpc-status': '0' };
/**
 * Options of every answer: no `date` header (gRPC does not use it, and Node would format and
 * HPACK-code it on every call); a message answer ends with trailers.
 */
const WITH_TRAILERS = { waitForTrailers: true, sendDate: false } as const;
const TRAILERS_ONLY = { endStream: true, sendDate: false } as const;

/** The Trailers-Only answer for a failure: status, message and Continuum's error code as metadata. */
function failureHeaders(err: unknown): OutgoingHttpHeaders {
  const e = toContinuumError(err);
  const headers: OutgoingHttpHeaders = {
    ...RESPONSE_HEADERS,
    'grpc-status': String(e.grpcStatus),
    'grpc-message': encodeGrpcMessage(e.message),
    'continuum-error-code': e.code,
  };
  if (e.retryAfterS !== undefined) headers['retry-after'] = String(Math.max(0, Math.ceil(e.retryAfterS)));
  return headers;
}

const ignore = (): void => {};

/** Longest delay setTimeout keeps (a longer one fires at once, with a warning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The 'wantTrailers' listener of a successful call (one function for every stream: `this` is the stream). */
function sendOkTrailers(this: ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

/** One call on one stream: reads its message, runs the handler, answers once. */
class UnaryCall {
  private readonly chunks: Buffer[] = [];
  private received = 0;
  private answered = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly handler: UnaryHandler,
    private readonly maxMessageBytes: number,
    private readonly context: CallContext,
    timeoutMs: number | undefined,
    /** The call's `grpc-encoding`, for the refusal of a compressed message. */
    private readonly encoding: string,
  ) {
    // The client stops waiting at its deadline; so does the call (DEADLINE_EXCEEDED). A timeout
    // beyond what a timer can hold (about 24.8 days) is as good as none.
    if (timeoutMs !== undefined && timeoutMs <= MAX_TIMER_MS) {
      this.timer = setTimeout(() => this.fail(new ContinuumError('CONTINUUM_ERR_TIMEOUT', `the call's deadline of ${timeoutMs} ms passed`)), timeoutMs);
    }
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => this.onEnd());
    // A client that cancels or resets the stream gets nothing; its deadline timer goes.
    if (this.timer !== undefined) stream.on('close', () => this.settle());
  }

  private onData(chunk: Buffer): void {
    if (this.answered) return;
    const before = this.received;
    this.received += chunk.length;
    this.chunks.push(chunk);
    if (before < GRPC_MESSAGE_PREFIX_BYTES && this.received >= GRPC_MESSAGE_PREFIX_BYTES) {
      this.checkPrefix(this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks));
    }
    if (!this.answered && this.received > GRPC_MESSAGE_PREFIX_BYTES + this.maxMessageBytes) {
      this.fail(new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'a unary call carries one request message; this one sent more'));
    }
  }

  /** Refuses a compressed or oversized message as soon as its prefix arrives, before buffering it. */
  private checkPrefix(head: Buffer): void {
    if (head[0] !== 0) {
      this.fail(new ContinuumError('CONTINUUM_ERR_UNSUPPORTED_ENCODING', `the request message is compressed (grpc-encoding ${this.encoding}); this server takes uncompressed messages only`));
      return;
    }
    const length = head.readUInt32BE(1);
    if (length > this.maxMessageBytes) {
      this.fail(new ContinuumError('CONTINUUM_ERR_BODY_TOO_LARGE', `the request message (${length} bytes) is larger than max (${this.maxMessageBytes} bytes) this server accepts`));
    }
  }

  private onEnd(): void {
    if (this.answered) return;
    const body = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.received);
    this.chunks.length = 0;
    if (body.length < GRPC_MESSAGE_PREFIX_BYTES) {
      this.fail(new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', body.length === 0 ? 'the call carried no request message' : 'the request message ends inside its prefix'));
      return;
    }
    const length = body.readUInt32BE(1);
    if (body.length !== GRPC_MESSAGE_PREFIX_BYTES + length) {
      this.fail(
        new ContinuumError(
          'CONTINUUM_ERR_BAD_REQUEST',
          body.length < GRPC_MESSAGE_PREFIX_BYTES + length ? 'the request message is cut short' : 'a unary call carries one request message; this one sent more',
        ),
      );
      return;
    }
    let result: ResponseMessage | Promise<ResponseMessage>;
    try {
      result = this.handler(body.subarray(GRPC_MESSAGE_PREFIX_BYTES), this.context);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (result instanceof Promise) result.then((message) => this.succeed(message), (err: unknown) => this.fail(err));
    else this.succeed(result);
  }

  /** Marks the call answered; false when it already was (or the stream is gone). */
  private settle(): boolean {
    if (this.answered) return false;
    this.answered = true;
    this.chunks.length = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    return !this.stream.destroyed && !this.stream.closed;
  }

  private succeed({ head, tail }: ResponseMessage): void {
    if (!this.settle()) return;
    let length = head.length - GRPC_MESSAGE_PREFIX_BYTES;
    for (const part of tail) length += part.length;
    head[0] = 0;
    head.writeUInt32BE(length, 1);
    const stream = this.stream;
    stream.respond(RESPONSE_HEADERS, WITH_TRAILERS);
    stream.once('wantTrailers', sendOkTrailers);
    if (tail.length === 0) {
      stream.end(head);
      return;
    }
    stream.write(head);
    for (let i = 0; i < tail.length - 1; i++) stream.write(tail[i]);
    stream.end(tail[tail.length - 1]);
  }

  private fail(err: unknown): void {
    if (!this.settle()) return;
    this.stream.respond(failureHeaders(err), TRAILERS_ONLY);
  }
}

/** Answers a stream that is not a call this server takes, with a Trailers-Only status or an HTTP status. */
function refuse(stream: ServerHttp2Stream, httpStatus: number | undefined, err?: ContinuumError): void {
  stream.respond(httpStatus !== undefined ? { [h2.HTTP2_HEADER_STATUS]: httpStatus } : failureHeaders(err), TRAILERS_ONLY);
  // Whatever the client still sends is not read.
  stream.resume();
}

function onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, options: GrpcListenOptions): void {
  stream.on('error', ignore);
  if (headers[h2.HTTP2_HEADER_METHOD] !== 'POST') {
    // "Only POST can be used for gRPC calls."
    refuse(stream, 405);
    return;
  }
  const contentType = headers[h2.HTTP2_HEADER_CONTENT_TYPE];
  if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
    // "If Content-Type does not begin with "application/grpc", gRPC servers SHOULD respond with HTTP status of 415."
    refuse(stream, 415);
    return;
  }
  const rawPath = headers[h2.HTTP2_HEADER_PATH];
  const path = typeof rawPath === 'string' ? rawPath : '';
  const handler = options.methods.get(path);
  if (handler === undefined) {
    refuse(stream, undefined, new ContinuumError('CONTINUUM_ERR_ROUTE_NOT_FOUND', `no gRPC method ${path}`));
    return;
  }
  const timeout = headers['grpc-timeout'];
  let timeoutMs: number | undefined;
  try {
    timeoutMs = typeof timeout === 'string' ? parseGrpcTimeout(timeout) : undefined;
  } catch (err) {
    refuse(stream, undefined, toContinuumError(err));
    return;
  }
  const encoding = headers['grpc-encoding'];
  const context: CallContext = { deadlineMs: timeoutMs === undefined ? undefined : Date.now() + timeoutMs, header: (name) => headerValue(headers[name]) };
  new UnaryCall(stream, handler, options.maxMessageBytes, context, timeoutMs, typeof encoding === 'string' ? encoding : 'not given');
}

/**
 * HTTP/2 flow-control windows and frame size: a request message of a few hundred KB (an image)
 * arrives without waiting for WINDOW_UPDATE round trips and in a few frames rather than one per
 * 16 KiB (RFC 9113 §6.9 and §6.5.2: the default window is 64 KiB, the default frame 16 KiB).
 */
const STREAM_WINDOW_BYTES = 1 << 20;
const SESSION_WINDOW_BYTES = 16 << 20;
const MAX_FRAME_BYTES = 1 << 20;

/** Starts a gRPC server for `methods`; resolves once it listens. */
export async function listenGrpc(options: GrpcListenOptions): Promise<GrpcListener> {
  const server: Http2Server = createServer({
    settings: { initialWindowSize: STREAM_WINDOW_BYTES, maxFrameSize: MAX_FRAME_BYTES },
    // Node's default cap (10 MB of buffered frames per connection) throttles many concurrent large
    // messages; message size and count are bounded by this server's own limits instead.
    maxSessionMemory: Math.max(64, Math.ceil((4 * options.maxMessageBytes) / (1 << 20))),
  });
  const sessions = new Set<Http2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', ignore);
    session.setLocalWindowSize(SESSION_WINDOW_BYTES);
  });
  server.on('stream', (stream, headers) => onStream(stream, headers, options));
  const address = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const bound = server.address();
      resolve(typeof bound === 'object' && bound !== null ? bound.port : options.port);
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: address,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const s of sessions) s.destroy();
        }, options.shutdownGraceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        // GOAWAY: clients stop opening calls here; in-flight ones finish.
        for (const s of sessions) s.close();
      });
      return closing;
    },
  };
}
