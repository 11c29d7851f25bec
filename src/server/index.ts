/**
 * `continuum serve`: the management API, the OIP REST and gRPC front ends and the runtime in one
 * process, over the registry in the data directory. Replica processes and the gateway's router
 * come with deployments; this composition is where they plug in.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Logger } from 'pino';
import { ContinuumError } from '../errors.js';
import { modelsApiPlugin } from '../api/models.js';
import { tuneApiPlugin } from '../api/tune.js';
import { compileRequestLimits, httpErrorHandler, OIP_EXTENSIONS, oipRestPlugin, startGrpcServer } from '../gateway/index.js';
import type { GrpcServerHandle } from '../gateway/index.js';
import { Registry } from '../registry/index.js';
import { Runtime } from '../runtime/index.js';
import { bearerToken, isLoopbackHost, TokenStore } from '../security/index.js';
import { compileServeOptions } from './config.js';
import type { CompiledServeOptions, ServeOptions } from './config.js';
import { DEMO_MODEL_NAME, ensureDemoModel } from './demo.js';

export { compileServeOptions, defaultDataDir } from './config.js';
export type { CompiledServeOptions, ServeOptions } from './config.js';
export { DEMO_MODEL_NAME, demoCurlCommand } from './demo.js';

/** Server software name reported by `GET /v2` (OIP server metadata). */
export const SERVER_NAME = 'continuum';
/** Server version reported by `GET /v2` and `continuum --version`: package.json's, from src/ or dist/ alike. */
export const SERVER_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** A running `continuum serve`. */
export interface RunningServer {
  readonly options: CompiledServeOptions;
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly grpcPort: number;
  readonly registry: Registry;
  readonly runtime: Runtime;
  readonly app: FastifyInstance;
  /** A management token created at this start (non-loopback first start only); shown once. */
  readonly newToken: string | undefined;
  /** Whether the management API demands a token. */
  readonly authRequired: boolean;
  /** Stops accepting requests, waits for in-flight ones (up to drainTimeoutMs), releases everything. */
  close(): Promise<void>;
}

/** Starts the server; resolves when both listeners are up and every registered model is loaded. */
export async function startServer(input: ServeOptions = {}, logger?: Logger): Promise<RunningServer> {
  const options = compileServeOptions(input);
  const log = logger ?? pino({ level: options.logLevel });
  mkdirSync(options.dataDir, { recursive: true });

  const registry = Registry.open(options.dataDir);
  const runtime = new Runtime({ source: registry, serverName: SERVER_NAME, serverVersion: SERVER_VERSION, extensions: OIP_EXTENSIONS });
  registry.addUseCheck((name, version) =>
    runtime.loadedVersions().some((v) => v.name === name && v.version === version) ? 'it is loaded in the runtime (unload it first)' : undefined,
  );

  // Security baseline: on any non-loopback interface the management API needs a token; the first
  // such start creates one and prints it once.
  const authRequired = !isLoopbackHost(options.host);
  const tokens = TokenStore.open(options.dataDir);
  const newToken = authRequired && tokens.size === 0 ? tokens.create() : undefined;

  const limits = compileRequestLimits();
  const app = Fastify({ logger: false, bodyLimit: limits.maxBodyBytes, forceCloseConnections: 'idle' });
  app.setErrorHandler(httpErrorHandler);
  app.setNotFoundHandler((req, reply) => {
    httpErrorHandler(new ContinuumError('CONTINUUM_ERR_ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`), req, reply);
  });
  if (authRequired) {
    app.addHook('onRequest', async (req) => {
      // Decided on the matched route, not the raw URL, so no spelling of a path slips past.
      if (req.routeOptions.url?.startsWith('/api/') !== true) return;
      const token = bearerToken(req.headers.authorization);
      if (token === undefined) throw new ContinuumError('CONTINUUM_ERR_UNAUTHENTICATED', 'this API needs a token: send "Authorization: Bearer <token>" (the token printed at first start, or CONTINUUM_TOKEN for the CLI)');
      if (!tokens.verify(token)) throw new ContinuumError('CONTINUUM_ERR_UNAUTHENTICATED', 'the token is not valid');
    });
  }
  await app.register(oipRestPlugin, { service: runtime, limits });
  await app.register(modelsApiPlugin, {
    prefix: '/api/v1',
    registry,
    maxArtifactBytes: options.maxArtifactBytes,
    // A model's first version is loaded at once so a push gives a working endpoint; later
    // versions wait for an explicit load (or, with deployments, a rollout).
    onVersionPushed: async (name: string) => {
      if (!runtime.modelReady(name)) await runtime.loadModel(name);
    },
  });
  await app.register(tuneApiPlugin, { prefix: '/api/v1', registry, runtime });

  // Like Triton's default model control mode: everything in the repository is loaded at start.
  if (options.demo) await ensureDemoModel(registry);
  for (const { name } of registry.listDefaults()) {
    try {
      await runtime.loadModel(name);
    } catch (err) {
      log.error({ err, model: name }, 'model failed to load; it stays unavailable');
    }
  }

  let grpc: GrpcServerHandle | undefined;
  try {
    await app.listen({ host: options.host, port: options.port });
    grpc = await startGrpcServer({ service: runtime, host: options.host, port: options.grpcPort, limits });
  } catch (err) {
    await app.close();
    await runtime.close();
    registry.close();
    throw err;
  }
  const address = app.server.address();
  const httpPort = typeof address === 'object' && address !== null ? address.port : options.port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  const grpcHandle = grpc;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Stop taking new work everywhere first, then let in-flight requests finish.
      const drained = runtime.drain();
      // server.close() waits for every keep-alive connection; a connection becomes idle only when
      // its last response is written, so idle ones are swept until none is left.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
      const timeout = new Promise<void>((r) => setTimeout(r, options.drainTimeoutMs).unref());
      await Promise.race([Promise.all([drained, app.close(), grpcHandle.close()]), timeout]);
      clearInterval(sweep);
      await runtime.close();
      registry.close();
    })();
    return closing;
  };

  return {
    options,
    url: `http://${hostForUrl}:${httpPort}`,
    grpcPort: grpcHandle.port,
    registry,
    runtime,
    app,
    newToken,
    authRequired,
    close,
  };
}
