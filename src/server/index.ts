/**
 * `continuum serve`: the management API, the OIP REST and gRPC front ends, the router with its
 * deployments' replica processes (local target) and autoscaler loop, and the in-process runtime
 * for models no deployment serves, over the registry and deployment store in the data directory.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Logger } from 'pino';
import { ContinuumError } from '../errors.js';
import { deploymentsApiPlugin } from '../api/deployments.js';
import { rolloutsApiPlugin } from '../api/rollouts.js';
import { modelsApiPlugin } from '../api/models.js';
import { releasesApiPlugin } from '../api/releases.js';
import { alertsApiPlugin } from '../api/alerts.js';
import { dataSourcesApiPlugin } from '../api/datasources.js';
import { workflowsApiPlugin } from '../api/workflows.js';
import { eventsApiPlugin } from '../api/events.js';
import { agentApiPlugin, nodesApiPlugin } from '../api/nodes.js';
import { NodeStore, nodeApiCertificate } from '../agent/index.js';
import { NodeFleet } from '../targets/agent/index.js';
import { reloadIfLoaded, tuneApiPlugin } from '../api/tune.js';
import { optimizeApiPlugin } from '../api/optimize.js';
import { compileCostModel } from '../autoscale/index.js';
import { DeploymentController, DeploymentStore, Router } from '../deploy/index.js';
import { RolloutController, RolloutStore } from '../rollout/index.js';
import { compileRequestLimits, httpErrorHandler, OIP_EXTENSIONS, oipRestPlugin, startGrpcServer } from '../gateway/index.js';
import type { GrpcServerHandle } from '../gateway/index.js';
import { AlertEngine, AlertStore, ContinuumMetrics, EnergyMeter, EventStream, InferenceTracing, metricsPlugin, RequestMetrics, RequestObserver } from '../observe/index.js';
import { Registry } from '../registry/index.js';
import { ReleasePipeline } from '../release/index.js';
import type { Dataset } from '../release/index.js';
import { Runtime } from '../runtime/index.js';
import { DataSourceStore, IngestService, openSampleStore, startIngestBroker, type IngestBroker } from '../ingest/index.js';
import { bearerToken, isLoopbackHost, TokenStore } from '../security/index.js';
import { LocalTarget } from '../targets/index.js';
import { RetrainController, WorkflowService } from '../training/index.js';
import { artifactApiPlugin } from '../targets/kubernetes/index.js';
import { compileServeOptions } from './config.js';
import type { CompiledServeOptions, ServeOptions } from './config.js';
import { consolePlugin } from './console.js';
import { DEMO_MODEL_NAME, ensureDemoModel } from './demo.js';

export { compileServeOptions, defaultDataDir } from './config.js';
export type { CompiledServeOptions, ServeOptions } from './config.js';
export { DEMO_MODEL_NAME, DEMO_REQUEST, demoCurlCommand } from './demo.js';

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
  /** The in-process runtime: serves registry models that no deployment names. */
  readonly runtime: Runtime;
  readonly deployments: DeploymentController;
  readonly rollouts: RolloutController;
  /** The Prometheus metrics behind `GET /metrics`; undefined with `metrics: false`. */
  readonly metrics: ContinuumMetrics | undefined;
  readonly app: FastifyInstance;
  /** A management token created at this start (non-loopback first start only); shown once. */
  readonly newToken: string | undefined;
  /** Whether the management API demands a token. */
  readonly authRequired: boolean;
  /** The MQTT data path (docs/ingest.md); undefined with `mqtt: false`. */
  readonly ingest: IngestService | undefined;
  /** Port of the embedded MQTT broker; undefined when off or external. */
  readonly mqttPort: number | undefined;
  /** The node API's HTTPS port and the certificate fingerprint agents pin; undefined: plain HTTP on the main port. */
  readonly nodeApi: { readonly port: number; readonly fingerprint: string } | undefined;
  /** Stops accepting requests, waits for in-flight ones (up to drainTimeoutMs), releases everything. */
  close(): Promise<void>;
}

/** Starts the server; resolves when both listeners are up and every registered model is loaded. */
export async function startServer(input: ServeOptions = {}, logger?: Logger): Promise<RunningServer> {
  const options = compileServeOptions(input);
  const log = logger ?? pino({ level: options.logLevel });
  mkdirSync(options.dataDir, { recursive: true });

  const registry = Registry.open(options.dataDir);
  const store = DeploymentStore.open(options.dataDir);
  const rolloutStore = RolloutStore.open(options.dataDir);
  const alertStore = AlertStore.open(options.dataDir);
  // The server's URL once it listens, for links in alert notifications.
  let externalUrl = '';
  const alerts = new AlertEngine({
    store: alertStore,
    recordEvent: (deployment, type, message, data) => {
      if (store.find(deployment) !== undefined) store.recordEvent(deployment, type, message, data);
    },
    logWarning: (message, details) => log.warn(details, message),
    externalUrl: () => externalUrl,
  });
  const events = new EventStream(store);
  const runtime = new Runtime({ source: registry, serverName: SERVER_NAME, serverVersion: SERVER_VERSION, extensions: OIP_EXTENSIONS });
  // The warm pool boots with the first deployment: an idle server with none keeps no spare process.
  const target = new LocalTarget({ warmPoolSize: options.warmPoolSize, warmPoolOnStart: false });
  // Nodes run by agents (docs/agents.md): a deployment placed on one runs its replicas there.
  const nodes = NodeStore.open(options.dataDir);
  const fleet = new NodeFleet({ store: nodes });
  // Metrics read the controller at scrape time; the controller tells them its events as they happen.
  let metrics: ContinuumMetrics | undefined;
  const deployments: DeploymentController = new DeploymentController({
    store,
    registry,
    target,
    costModel: compileCostModel(),
    tickMs: options.autoscalerTickMs,
    activator: { maxBuffered: options.activatorMaxBuffered, maxWaitMs: options.activatorMaxWaitMs, retryAfterS: 1 },
    logError: (err, message) => log.error({ err }, message),
    onEvent: (deployment, track, type, data) => metrics?.onDeploymentEvent(deployment, track, type, data),
    onTick: (deployment, tick) => void alerts.observe({ ...tick, deployment, driftScore: deployments.find(deployment)?.drift.report().score ?? null }),
    // A model's attached dataset (the accuracy gate's) is also the reference its inputs drift from.
    driftReference: (model): { input: string; rows: readonly (readonly number[])[] } | undefined => {
      const dataset: Dataset | undefined = releases.dataset(model);
      return dataset === undefined ? undefined : { input: dataset.input, rows: dataset.features };
    },
    nodeTarget: (node) => fleet.targetFor(node),
    energyOf: (name) => {
      const snapshot = energy.snapshot();
      const figures = snapshot.deployments[name];
      return figures === undefined ? undefined : { ...figures, mode: snapshot.mode };
    },
  });
  // Energy by CodeCarbon's method (docs/energy-and-drift.md), attributed to deployments by their replicas' CPU and memory.
  const energy = new EnergyMeter({ intervalMs: options.energyIntervalMs });
  const requestMetrics = options.metrics ? new RequestMetrics() : undefined;
  if (requestMetrics !== undefined) metrics = new ContinuumMetrics({ requests: requestMetrics, runtime, deployments });
  metrics?.setEnergySource(() => {
    const snapshot = energy.snapshot();
    return Object.entries(snapshot.deployments).map(([deployment, e]) => ({ deployment, mode: snapshot.mode, joules: e.joules }));
  });
  const rollouts = new RolloutController({
    deployments,
    store: rolloutStore,
    recordEvent: (deployment, type, message, data) => {
      if (store.find(deployment) !== undefined) store.recordEvent(deployment, type, message, data);
    },
    logError: (err, message) => log.error({ err }, message),
  });
  const tracing =
    options.otlpTracesUrl === undefined ? undefined : InferenceTracing.start({ tracesUrl: options.otlpTracesUrl, serviceName: SERVER_NAME, serviceVersion: SERVER_VERSION });
  const observer = requestMetrics === undefined && tracing === undefined ? undefined : new RequestObserver(requestMetrics, tracing?.tracer);
  const router = new Router(runtime, deployments, registry, observer);
  registry.addUseCheck((name, version) =>
    runtime.loadedVersions().some((v) => v.name === name && v.version === version) ? 'it is loaded in the runtime (unload it first)' : undefined,
  );
  registry.addUseCheck((name, version) => store.usesModelVersion(name, version));
  const releases = new ReleasePipeline({
    registry,
    target,
    dataDir: options.dataDir,
    rollouts: {
      start: (input) => rollouts.create(input),
      status: (id) => rollouts.status(id),
    },
    deployedVersion: (name) => {
      const spec = store.find(name)?.revision.spec;
      return spec === undefined ? undefined : { model: spec.model, version: spec.version };
    },
    onPromoted: (name) => reloadIfLoaded(runtime, name),
    onDatasetAttached: (model, dataset) => deployments.setDriftReference(model, dataset.features),
  });

  // Security baseline: on any non-loopback interface the management API needs a token; the first
  // such start creates one and prints it once.
  const authRequired = !isLoopbackHost(options.host);
  const tokens = TokenStore.open(options.dataDir);
  const newToken = authRequired && tokens.size === 0 ? tokens.create() : undefined;

  // A model's first version is loaded at once so a push (over the API or by a training run) gives a
  // working endpoint; later versions wait for an explicit load (or, with deployments, a rollout).
  const afterVersionPushed = async (name: string, version: string): Promise<void> => {
    if (deployments.find(name) === undefined && !runtime.modelReady(name)) await runtime.loadModel(name);
    // A push stands whether or not its release can start (another may be running); the log says why not.
    try {
      releases.onVersionPushed(name, version);
    } catch (err) {
      log.warn({ err, model: name, version }, 'release policy: the release of the pushed version did not start');
    }
  };
  // Workflows (docs/workflows.md): sandboxed training runs push to the registry and start releases;
  // retraining follows drift alerts and trains on the data sources' stored samples.
  const samples = await openSampleStore(options.dataDir, options.samplesDb);
  const workflows = new WorkflowService({
    dataDir: options.dataDir,
    samples,
    registry,
    startRelease: (input) => releases.start(input),
    onModelPushed: afterVersionPushed,
    allowUnisolatedNetwork: options.allowUnisolatedTrainingNetwork,
  });
  const retraining = new RetrainController({
    workflows,
    driftAlerts: () => alerts.alerts().active.filter((a) => a.kind === 'drift').map((a) => ({ deployment: a.deployment, startsAtMs: Date.parse(a.startsAt) })),
    logError: (err, message) => log.error({ err }, message),
  });

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
  await app.register(oipRestPlugin, { service: router, limits, ...(tracing === undefined ? {} : { tracing }) });
  if (metrics !== undefined) await app.register(metricsPlugin, { metrics });
  await app.register(modelsApiPlugin, {
    prefix: '/api/v1',
    registry,
    maxArtifactBytes: options.maxArtifactBytes,
    onVersionPushed: afterVersionPushed,
  });
  // Replica pods on Kubernetes fetch their model version's artifact here (docs/kubernetes.md).
  await app.register(artifactApiPlugin, { prefix: '/api/v1', registry });
  // An optimized version is recorded like a push, so a release policy gates it against its original.
  await app.register(optimizeApiPlugin, { prefix: '/api/v1', registry, datasetOf: (model) => releases.dataset(model), onVersionRecorded: afterVersionPushed });
  await app.register(tuneApiPlugin, {
    prefix: '/api/v1',
    registry,
    runtime,
    // New options reach a deployment's replicas by a restart (new replicas read them), and a model
    // served in-process by a reload.
    reload: async (name) => {
      const restarted = deployments.restartModel(name);
      return (await reloadIfLoaded(runtime, name)) || restarted;
    },
  });
  await app.register(deploymentsApiPlugin, { prefix: '/api/v1', controller: deployments });
  await app.register(releasesApiPlugin, { prefix: '/api/v1', pipeline: releases });
  await app.register(rolloutsApiPlugin, { prefix: '/api/v1', rollouts });
  await app.register(eventsApiPlugin, { prefix: '/api/v1', store, stream: events });
  await app.register(alertsApiPlugin, { prefix: '/api/v1', engine: alerts });
  await app.register(workflowsApiPlugin, { prefix: '/api/v1', workflows });
  // The node API over HTTPS on its own port when asked (agents pin its certificate), else plain HTTP here.
  const nodeCertificate = options.agentPort === undefined ? undefined : nodeApiCertificate(options.dataDir);
  let nodeApi: RunningServer['nodeApi'];
  const nodesApi = {
    store: nodes,
    fleet,
    artifactPath: (model: string, version: string) => registry.resolve(model, version).artifactPath,
    nodeApi: () => nodeApi,
  };
  await app.register(nodesApiPlugin, { prefix: '/api/v1', ...nodesApi });
  // Agents authenticate with their node credentials, not management tokens: outside /api.
  const tlsApp = nodeCertificate === undefined ? undefined : Fastify({ logger: false, https: { key: nodeCertificate.keyPem, cert: nodeCertificate.certPem }, forceCloseConnections: true });
  if (tlsApp === undefined) await app.register(agentApiPlugin, { prefix: '/agent/v1', ...nodesApi });
  else {
    tlsApp.setErrorHandler(httpErrorHandler);
    tlsApp.setNotFoundHandler((req, reply) => httpErrorHandler(new ContinuumError('CONTINUUM_ERR_ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`), req, reply));
    await tlsApp.register(agentApiPlugin, { prefix: '/agent/v1', ...nodesApi });
  }
  // The MQTT data path starts with the listeners below; its API is registered now, like every route.
  let ingestBroker: IngestBroker | undefined;
  let ingest: IngestService | undefined;
  const dataSources = DataSourceStore.open(options.dataDir);
  await app.register(dataSourcesApiPlugin, { prefix: '/api/v1', store: dataSources, samples, ingest: () => ingest });
  // The web console at `/` (docs/console.md); the routes above keep precedence over its catch-all.
  if (options.console) await app.register(consolePlugin);

  // The demo model of a first start is a deployment whose policy picks serverless or always-on
  // from the traffic it sees.
  if (options.demo && (await ensureDemoModel(registry, releases)) && store.find(DEMO_MODEL_NAME) === undefined) {
    deployments.create({ model: DEMO_MODEL_NAME, policy: { policy: 'auto' } });
  }
  deployments.start();
  // Every stored deployment has asked for its replicas now: nodes' desired states may be written.
  fleet.start();
  rollouts.start();
  retraining.start();
  energy.start(() => deployments.usage());
  // Like Triton's default model control mode: every registry model no deployment serves is loaded
  // in-process at start.
  for (const { name } of registry.listDefaults()) {
    if (deployments.find(name) !== undefined) continue;
    try {
      await runtime.loadModel(name);
    } catch (err) {
      log.error({ err, model: name }, 'model failed to load; it stays unavailable');
    }
  }

  let grpc: GrpcServerHandle | undefined;
  try {
    await app.listen({ host: options.host, port: options.port });
    if (tlsApp !== undefined && nodeCertificate !== undefined) {
      await tlsApp.listen({ host: options.host, port: options.agentPort ?? 0 });
      const agentAddress = tlsApp.server.address();
      nodeApi = { port: typeof agentAddress === 'object' && agentAddress !== null ? agentAddress.port : (options.agentPort ?? 0), fingerprint: nodeCertificate.fingerprint };
    }
    grpc = await startGrpcServer({ service: router, host: options.host, port: options.grpcPort, limits, ...(tracing === undefined ? {} : { tracing }) });
    // MQTT data path: tokens guard the embedded broker whenever the REST API needs them, and also on
    // loopback once tokens exist (another local process is no more trusted over MQTT than over HTTP).
    if (options.mqtt.kind !== 'off') {
      const verifyToken = authRequired || tokens.size > 0 ? (token: string) => tokens.verify(token) : undefined;
      ingestBroker = await startIngestBroker(
        options.mqtt.kind === 'external'
          ? options.mqtt
          : { kind: 'embedded', port: options.mqtt.port, host: options.host, dataDir: options.dataDir, ...(verifyToken === undefined ? {} : { verifyToken }) },
      );
      ingest = await IngestService.start({
        endpoint: ingestBroker.endpoint,
        inference: router,
        samples,
        clientId: dataSources.clientId(),
        sources: dataSources.list(),
        onError: (err, what) => log.warn({ err }, `ingest: ${what} failed`),
      });
    }
  } catch (err) {
    await ingest?.close();
    await ingestBroker?.close();
    await grpc?.close();
    await tlsApp?.close();
    dataSources.close();
    await samples.close();
    events.close();
    energy.stop();
    await app.close();
    await tracing?.shutdown();
    retraining.close();
    await workflows.close();
    await releases.close();
    rollouts.close();
    await fleet.close();
    await deployments.close();
    nodes.close();
    await alerts.close();
    await target.close();
    await runtime.close();
    alertStore.close();
    rolloutStore.close();
    store.close();
    registry.close();
    throw err;
  }
  const address = app.server.address();
  const httpPort = typeof address === 'object' && address !== null ? address.port : options.port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  const grpcHandle = grpc;
  externalUrl = `http://${hostForUrl}:${httpPort}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Stop taking new work everywhere first, then let in-flight requests finish. The broker stops
      // taking device messages before the ingest service leaves, so none arrive with nobody to consume them.
      await ingestBroker?.drain();
      await ingest?.close();
      await ingestBroker?.close();
      const drained = runtime.drain();
      // Event streams never end by themselves: they are closed so the HTTP server can.
      events.close();
      energy.stop();
      // server.close() waits for every keep-alive connection; a connection becomes idle only when
      // its last response is written, so idle ones are swept until none is left.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
      const timeout = new Promise<void>((r) => setTimeout(r, options.drainTimeoutMs).unref());
      await Promise.race([Promise.all([drained, app.close(), grpcHandle.close(), tlsApp?.close()]), timeout]);
      clearInterval(sweep);
      retraining.close();
      await workflows.close();
      await releases.close();
      // Rollouts stop where they are (the next start resumes them); replicas drain once no front end takes requests any more.
      rollouts.close();
      await fleet.close();
      await Promise.race([deployments.close(), new Promise<void>((r) => setTimeout(r, options.drainTimeoutMs).unref())]);
      nodes.close();
      await alerts.close();
      await target.close();
      await runtime.close();
      // The spans of the last requests are sent before the process goes.
      await tracing?.shutdown();
      alertStore.close();
      rolloutStore.close();
      dataSources.close();
      await samples.close();
      store.close();
      registry.close();
    })();
    return closing;
  };

  return {
    options,
    url: externalUrl,
    grpcPort: grpcHandle.port,
    registry,
    runtime,
    deployments,
    rollouts,
    metrics,
    app,
    newToken,
    authRequired,
    ingest,
    mqttPort: ingestBroker?.port,
    nodeApi,
    close,
  };
}
