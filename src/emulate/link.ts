/**
 * The emulated network link between nodes of the continuum: a userspace TCP relay that delivers
 * each chunk a one-way delay after it was sent and no faster than a bandwidth cap, in both
 * directions. It stands in for `tc qdisc netem` where the kernel lacks it. A link is a pipe of
 * rate `bandwidth` followed by a propagation delay: a chunk starts transmitting when the previous
 * one has finished (or when it arrives, if later), takes bytes × 8 / bandwidth to transmit, and
 * arrives `oneWayDelayMs` after its last bit left (the store-and-forward model of netem's `rate`
 * with `delay`). A round trip over one link is therefore 2 × oneWayDelayMs plus transmission.
 */
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { ContinuumError } from '../errors.js';

/** One direction of a link: its delay and cap. */
export interface LinkShape {
  /** Propagation delay, one way, in milliseconds. */
  readonly oneWayDelayMs: number;
  /** Bandwidth cap in bits per second; Infinity for none. */
  readonly bandwidthBitsPerSecond: number;
}

/** When a chunk is delivered, and when the link is free again (the state the next chunk sees). */
export interface LinkDeparture {
  readonly deliverAtMs: number;
  readonly freeAtMs: number;
}

/** Where a chunk of `bytes` arriving at `arrivalMs` on a link free from `freeAtMs` ends up; see the module comment. */
export function linkDeparture(shape: LinkShape, freeAtMs: number, arrivalMs: number, bytes: number): LinkDeparture {
  const startMs = Math.max(arrivalMs, freeAtMs);
  const doneMs = startMs + (Number.isFinite(shape.bandwidthBitsPerSecond) ? (bytes * 8 * 1000) / shape.bandwidthBitsPerSecond : 0);
  return { deliverAtMs: doneMs + shape.oneWayDelayMs, freeAtMs: doneMs };
}

/** Bytes a direction holds in flight before it stops reading its source (backpressure). */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/** Carries one direction of one connection through the link model. */
function shapeDirection(from: Socket, to: Socket, shape: LinkShape): void {
  const queue: { chunk: Buffer; deliverAtMs: number }[] = [];
  let queuedBytes = 0;
  let freeAtMs = 0;
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const flush = (): void => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && (queue[0]?.deliverAtMs ?? Infinity) <= now) {
      const { chunk } = queue.shift() as { chunk: Buffer };
      queuedBytes -= chunk.length;
      to.write(chunk);
    }
    if (queuedBytes < MAX_QUEUED_BYTES && from.isPaused()) from.resume();
    if (queue.length > 0) timer = setTimeout(flush, Math.max(0, (queue[0]?.deliverAtMs ?? now) - now));
    else if (ended) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    const departure = linkDeparture(shape, freeAtMs, performance.now(), chunk.length);
    freeAtMs = departure.freeAtMs;
    queue.push({ chunk, deliverAtMs: departure.deliverAtMs });
    queuedBytes += chunk.length;
    if (queuedBytes >= MAX_QUEUED_BYTES) from.pause();
    timer ??= setTimeout(flush, Math.max(0, departure.deliverAtMs - performance.now()));
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0 && timer === undefined) to.end();
  });
  from.on('close', () => {
    // An abrupt close (reset) ends the other side after what is in flight has arrived.
    if (!ended) {
      ended = true;
      if (queue.length === 0 && timer === undefined) to.destroy();
    }
  });
}

/** Options of {@link startLink}. */
export interface LinkOptions extends LinkShape {
  /** Where the link accepts connections. */
  readonly listenHost: string;
  /** 0 picks a free port. */
  readonly listenPort: number;
  /** Where it carries them to. */
  readonly targetHost: string;
  readonly targetPort: number;
}

/** A running link. */
export interface RunningLink {
  readonly port: number;
  /** Stops accepting and cuts every open connection (the link goes down). */
  close(): Promise<void>;
}

/** Starts a link relay; see the module comment. */
export async function startLink(options: LinkOptions): Promise<RunningLink> {
  if (!(options.oneWayDelayMs >= 0) || !(options.bandwidthBitsPerSecond > 0)) {
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `a link needs a delay >= 0 ms and a bandwidth > 0 bit/s, got ${options.oneWayDelayMs} ms and ${options.bandwidthBitsPerSecond} bit/s`);
  }
  const sockets = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (client) => {
    const upstream = createConnection({ host: options.targetHost, port: options.targetPort, noDelay: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      // A failure on one side ends the other: the connection is gone for both ends, as on a real link.
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    shapeDirection(client, upstream, options);
    shapeDirection(upstream, client, options);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort, options.listenHost, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.listenPort;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
