/**
 * The global event log as a live stream: server-sent events (WHATWG HTML, "Server-sent events")
 * of every deployment event as it is stored. A client that reconnects with `Last-Event-ID` gets
 * what it missed first; each client's unsent bytes are bounded, so a client that stops reading is
 * disconnected instead of growing the server's memory; a comment every 15 s keeps proxies from
 * closing an idle stream.
 */
import type { ServerResponse } from 'node:http';
import type { DeploymentEvent, EventListener, EventQuery } from '../deploy/index.js';

/** Where events come from: the deployment store (its query and its subscription). */
export interface EventLog {
  queryEvents(query: EventQuery): DeploymentEvent[];
  onEvent(listener: EventListener): () => void;
}

/** Which events one stream client wants. */
export interface EventFilter {
  readonly deployment?: string;
  readonly type?: string;
}

/** Options of an {@link EventStream}. */
export interface EventStreamOptions {
  /** Unsent bytes a client may hold before it is disconnected. @default 1 MiB */
  readonly maxBufferedBytes?: number;
  /** Period of keep-alive comments. @default 15000 */
  readonly keepAliveMs?: number;
  /** Missed events replayed at most on (re)connection; older ones are left to `GET /api/v1/events?after=`. @default 1000 */
  readonly maxReplay?: number;
  /** Reconnection delay a browser's EventSource is told (`retry:`). @default 1000 */
  readonly retryMs?: number;
}

/** One field line can hold no line break: an SSE line ends at CR or LF. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/** One event in the SSE wire format: `id`, `event` (its type) and one `data` line of JSON. */
export function formatSseEvent(event: DeploymentEvent): string {
  // JSON.stringify escapes line breaks inside strings, so the data is always one line.
  return `id: ${event.id}\nevent: ${oneLine(event.type)}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** An SSE comment line (ignored by clients; keeps the connection busy). */
export function formatSseComment(text: string): string {
  return `: ${oneLine(text)}\n\n`;
}

/** Whether `event` passes `filter`. */
export function matchesFilter(event: DeploymentEvent, filter: EventFilter): boolean {
  return (filter.deployment === undefined || event.deployment === filter.deployment) && (filter.type === undefined || event.type === filter.type);
}

/** A dispatched SSE message. */
export interface SseMessage {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

/**
 * Reads an SSE byte stream incrementally, per the WHATWG event-stream interpretation: lines end at
 * CRLF, LF or CR; `data` lines join with LF; a blank line dispatches; comments and unknown fields
 * are ignored; the last `id` persists across messages.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private lastId: string | undefined;
  /** A CR ended the previous chunk: an LF opening the next one belongs to it. */
  private skipLf = false;

  /** Parses a chunk; returns the messages it completed. */
  push(chunk: string): SseMessage[] {
    let text = this.buffer + chunk;
    if (this.skipLf && text.startsWith('\n')) text = text.slice(1);
    this.skipLf = false;
    const messages: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c !== '\n' && c !== '\r') continue;
      this.line(text.slice(start, i), messages);
      if (c === '\r') {
        if (i + 1 === text.length) this.skipLf = true;
        else if (text[i + 1] === '\n') i += 1;
      }
      start = i + 1;
    }
    this.buffer = text.slice(start);
    return messages;
  }

  /** The id of the last message seen (what to send as `Last-Event-ID` on reconnection). */
  get lastEventId(): string | undefined {
    return this.lastId;
  }

  private line(line: string, messages: SseMessage[]): void {
    if (line === '') {
      if (this.data.length > 0) messages.push({ id: this.lastId, event: this.event === '' ? 'message' : this.event, data: this.data.join('\n') });
      this.data = [];
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
  }
}

interface StreamClient {
  readonly response: ServerResponse;
  readonly filter: EventFilter;
}

/** Serves the event log's SSE stream to any number of clients; see the module comment. */
export class EventStream {
  private readonly clients = new Set<StreamClient>();
  private readonly unsubscribe: () => void;
  private readonly keepAlive: NodeJS.Timeout;
  private readonly maxBufferedBytes: number;
  private readonly maxReplay: number;
  private readonly retryMs: number;
  private disconnectedSlow = 0;
  private closed = false;

  constructor(
    private readonly source: EventLog,
    options: EventStreamOptions = {},
  ) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.maxReplay = options.maxReplay ?? 1000;
    this.retryMs = options.retryMs ?? 1000;
    this.unsubscribe = source.onEvent((event) => this.publish(event));
    this.keepAlive = setInterval(() => this.broadcast(formatSseComment('keep-alive')), options.keepAliveMs ?? 15_000);
    this.keepAlive.unref();
  }

  /** Clients connected now. */
  get size(): number {
    return this.clients.size;
  }

  /** Clients disconnected so far because they read too slowly. */
  get slowDisconnects(): number {
    return this.disconnectedSlow;
  }

  /**
   * Streams to `response` (headers not yet sent): the events after `afterId` that pass `filter`
   * (at most `maxReplay`, the newest), then each new one as it is stored. Replay and subscription
   * happen in one synchronous step, so no event falls between them.
   */
  attach(response: ServerResponse, filter: EventFilter, afterId: number | undefined): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Tells nginx not to buffer the stream.
      'x-accel-buffering': 'no',
    });
    if (this.closed) {
      response.end();
      return;
    }
    const client: StreamClient = { response, filter };
    this.clients.add(client);
    response.on('close', () => this.clients.delete(client));
    this.write(client, `retry: ${this.retryMs}\n\n`);
    if (afterId === undefined) return;
    const missed = this.source.queryEvents({ ...filter, afterId, limit: this.maxReplay + 1 });
    if (missed.length > this.maxReplay) {
      const newest = this.source.queryEvents({ ...filter, limit: this.maxReplay });
      const first = newest[0]?.id ?? afterId;
      this.write(client, formatSseComment(`more than ${this.maxReplay} events were missed; those before id ${first} are at /api/v1/events?after=${afterId}`));
      for (const event of newest) this.write(client, formatSseEvent(event));
      return;
    }
    for (const event of missed) this.write(client, formatSseEvent(event));
  }

  /** Ends every stream and stops listening (server shutdown). */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    clearInterval(this.keepAlive);
    for (const client of this.clients) client.response.end();
    this.clients.clear();
  }

  private publish(event: DeploymentEvent): void {
    const frame = formatSseEvent(event);
    for (const client of this.clients) if (matchesFilter(event, client.filter)) this.write(client, frame);
  }

  private broadcast(frame: string): void {
    for (const client of this.clients) this.write(client, frame);
  }

  /** Writes unless the client already holds more unsent bytes than allowed; such a client is disconnected. */
  private write(client: StreamClient, frame: string): void {
    const { response } = client;
    if (response.destroyed) return;
    if (response.writableLength + frame.length > this.maxBufferedBytes) {
      this.disconnectedSlow += 1;
      this.clients.delete(client);
      response.destroy();
      return;
    }
    response.write(frame);
  }
}
