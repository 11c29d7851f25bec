/**
 * The MQTT broker of the data path: an embedded aedes broker on a TCP port, or an external broker
 * (Mosquitto, EMQX, the Industrial Edge databus) reached by URL. Either way the ingest service
 * talks to it as an ordinary MQTT client, so both paths run the same code.
 *
 * On the embedded broker the MQTT password is a Continuum management token (zero trust, NIST
 * SP 800-207: every client authenticates, whatever network it comes from); the service itself
 * uses a random per-process credential that never leaves memory.
 *
 * With a data directory the embedded broker is durable (./persistence.ts): persistent sessions,
 * their queued messages, retained messages and wills survive a restart. Stopping it drains first:
 * no new connections or client publishes, in-flight routing and deliveries finish (bounded), then
 * it closes.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import { DurablePersistence, type BrokerPacket } from './persistence.js';

/** How the ingest service reaches its broker. */
export type BrokerOptions =
  | {
      readonly kind: 'embedded';
      /** TCP port; 0 picks a free one. @default 1883 */
      readonly port: number;
      readonly host: string;
      /** Checks a client's password (a management token); undefined lets every client in. */
      readonly verifyToken?: (token: string) => boolean;
      /** Where sessions, queues and retained messages are journalled; undefined keeps them in memory only. */
      readonly dataDir?: string;
      /** Longest wait, when stopping, for in-flight messages to be routed and acknowledged. @default 5000 */
      readonly drainTimeoutMs?: number;
    }
  | { readonly kind: 'external'; readonly url: string };

/** Where and how the ingest service connects. */
export interface BrokerEndpoint {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
}

/** The broker the ingest service connects to; `close` stops an embedded one. */
export interface IngestBroker {
  readonly endpoint: BrokerEndpoint;
  /** The TCP port of the embedded broker (undefined for an external one). */
  readonly port?: number;
  /**
   * Starts stopping: refuses new connections and publishes from clients other than the ingest
   * service, and waits (bounded) until what was accepted is routed and what was delivered to
   * connected clients is acknowledged. The ingest service can still publish predictions.
   */
  drain(): Promise<void>;
  /** Drains (when not done yet) and stops the broker. */
  close(): Promise<void>;
}

const INTERNAL_USER = 'continuum-ingest';

/** Starts the embedded broker, or describes the external one. */
export async function startIngestBroker(options: BrokerOptions): Promise<IngestBroker> {
  if (options.kind === 'external') return { endpoint: { url: options.url }, drain: async () => {}, close: async () => {} };
  const internalSecret = Buffer.from(randomBytes(24).toString('base64url'));
  const verify = options.verifyToken;
  const persistence = options.dataDir === undefined ? undefined : new DurablePersistence({ dataDir: options.dataDir });
  const internalClients = new WeakSet<Client>();
  const connected = new Set<string>();
  // Client publishes admitted and not yet routed (queued, retained, delivered).
  const routing = new Set<object>();
  let draining = false;
  const broker = await Aedes.createBroker({
    ...(persistence === undefined ? {} : { persistence }),
    authenticate: (client, username, password, done) => {
      const given = password ?? Buffer.alloc(0);
      const internal = username === INTERNAL_USER && given.length === internalSecret.length && timingSafeEqual(given, internalSecret);
      if (internal) internalClients.add(client);
      if (verify === undefined || internal || verify(given.toString('utf8'))) return done(null, true);
      // MQTT 3.1.1 CONNACK return code 4: bad user name or password.
      const err = Object.assign(new Error('the MQTT password must be a Continuum management token'), { returnCode: 4 });
      done(err, false);
    },
    authorizePublish: (client, packet, done) => {
      // As aedes' default: $SYS/ belongs to the broker.
      if (packet.topic.startsWith('$SYS/')) return done(new Error('$SYS/ topics are reserved'));
      // A refused publish closes the connection without PUBACK; the publisher keeps the message
      // and sends it again to the restarted broker.
      if (draining && client !== null && !internalClients.has(client)) return done(new Error('the broker is stopping'));
      // Without a journal only a QoS 2 retransmission (DUP) is known not to be routed again.
      const admitted = persistence === undefined ? Promise.resolve(packet.qos !== 2 || !packet.dup) : persistence.recordInbound(client, packet as BrokerPacket);
      admitted.then((routed) => {
        if (routed) routing.add(packet);
        done(null);
      }, done);
    },
    published: (packet, _client, done) => {
      routing.delete(packet);
      persistence?.settleInbound(packet as BrokerPacket);
      done(null);
    },
  });
  broker.on('client', (client) => connected.add(client.id));
  broker.on('clientDisconnect', (client) => connected.delete(client.id));
  // Messages acknowledged before the last stop but never routed are published again before any
  // client connects, so persistent sessions find them queued.
  for (const message of persistence?.takeUnrouted() ?? []) {
    // recordInbound journalled it from aedes' PublishPacket, every field kept.
    await new Promise<void>((resolve, reject) => broker.publish(message.packet as unknown as PublishPacket, (err) => (err ? reject(err) : resolve())));
    persistence?.settleUnrouted(message);
  }
  // Nagle's algorithm off on every client socket: a prediction or a PUBACK written behind an
  // unacknowledged packet would otherwise wait for the peer's delayed ACK (about 40 ms on Linux).
  const server: Server = createServer({ noDelay: true }, broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const drainTimeoutMs = options.drainTimeoutMs ?? 5000;
  const serverClosed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  let drained: Promise<void> | undefined;
  const drain = (): Promise<void> => {
    drained ??= (async () => {
      draining = true;
      server.close();
      const deadline = Date.now() + drainTimeoutMs;
      while (Date.now() < deadline && (routing.size > 0 || (persistence?.unacknowledged(connected) ?? 0) > 0)) await sleep(5);
    })();
    return drained;
  };
  return {
    endpoint: { url: `mqtt://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`, username: INTERNAL_USER, password: internalSecret.toString('utf8') },
    port,
    drain,
    close: async () => {
      await drain();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await serverClosed;
      await persistence?.destroy();
    },
  };
}
