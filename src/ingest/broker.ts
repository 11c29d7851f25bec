/**
 * The MQTT broker of the data path: an embedded aedes broker on a TCP port, or an external broker
 * (Mosquitto, EMQX, the Industrial Edge databus) reached by URL. Either way the ingest service
 * talks to it as an ordinary MQTT client, so both paths run the same code.
 *
 * On the embedded broker the MQTT password is a Continuum management token (zero trust, NIST
 * SP 800-207: every client authenticates, whatever network it comes from); the service itself
 * uses a random per-process credential that never leaves memory.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';

/** How the ingest service reaches its broker. */
export type BrokerOptions =
  | {
      readonly kind: 'embedded';
      /** TCP port; 0 picks a free one. @default 1883 */
      readonly port: number;
      readonly host: string;
      /** Checks a client's password (a management token); undefined lets every client in. */
      readonly verifyToken?: (token: string) => boolean;
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
  close(): Promise<void>;
}

const INTERNAL_USER = 'continuum-ingest';

/** Starts the embedded broker, or describes the external one. */
export async function startIngestBroker(options: BrokerOptions): Promise<IngestBroker> {
  if (options.kind === 'external') return { endpoint: { url: options.url }, close: async () => {} };
  const internalSecret = Buffer.from(randomBytes(24).toString('base64url'));
  const verify = options.verifyToken;
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      if (verify === undefined) return done(null, true);
      const given = password ?? Buffer.alloc(0);
      const internal = username === INTERNAL_USER && given.length === internalSecret.length && timingSafeEqual(given, internalSecret);
      if (internal || verify(given.toString('utf8'))) return done(null, true);
      // MQTT 3.1.1 CONNACK return code 4: bad user name or password.
      const err = Object.assign(new Error('the MQTT password must be a Continuum management token'), { returnCode: 4 });
      done(err, false);
    },
  });
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    endpoint: { url: `mqtt://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`, username: INTERNAL_USER, password: internalSecret.toString('utf8') },
    port,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
