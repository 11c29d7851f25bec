/**
 * Options of `continuum serve`, compiled once into the shape the server runs with.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import { otlpTracesUrl } from '../observe/index.js';

/** Friendly options of `continuum serve` (CLI flags map one to one). */
export interface ServeOptions {
  /** Interface the HTTP and gRPC servers bind to. @default '127.0.0.1' */
  readonly host?: string;
  /** HTTP port (OIP REST, management API); 0 picks a free port. @default 8080 */
  readonly port?: number;
  /** gRPC port (OIP gRPC); 0 picks a free port. @default 8081 */
  readonly grpcPort?: number;
  /** Data directory. @default $CONTINUUM_HOME or ./.continuum */
  readonly dataDir?: string;
  /** Register and load the demo model on first start. @default true */
  readonly demo?: boolean;
  /** Largest model artifact accepted by a push. @default 1 GiB */
  readonly maxArtifactBytes?: number;
  /** How long SIGTERM waits for in-flight requests before closing. @default 30000 */
  readonly drainTimeoutMs?: number;
  /** Log level (pino). @default 'info' */
  readonly logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Period of the autoscaler loop (Knative and the HPA decide every few seconds). @default 1000 */
  readonly autoscalerTickMs?: number;
  /** Requests the activator buffers per deployment while no replica is ready; one more gets 503. @default 1000 */
  readonly activatorMaxBuffered?: number;
  /** Longest a request waits in the activator for a replica before 503. @default 30000 */
  readonly activatorMaxWaitMs?: number;
  /** Spare replica processes kept booted for fast scale-from-zero. @default 1 */
  readonly warmPoolSize?: number;
  /** Serve the web console (dist/console) at `/`. @default true */
  readonly console?: boolean;
  /** How often the energy meter samples (CodeCarbon's default is 15 s). @default 5000 */
  readonly energyIntervalMs?: number;
  /** Prometheus metrics at `GET /metrics` (docs/metrics.md). @default true */
  readonly metrics?: boolean;
  /**
   * OTLP/HTTP endpoint traces are exported to (a base URL; `/v1/traces` is appended). Without it,
   * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`; none of them: no tracing.
   */
  readonly otlpEndpoint?: string;
  /** Run the MQTT data path (docs/ingest.md). @default true */
  readonly mqtt?: boolean;
  /** Port of the embedded MQTT broker; 0 picks a free port. @default 1883 (a free port when `port` is 0) */
  readonly mqttPort?: number;
  /** An external MQTT broker (mqtt:// or mqtts://) used instead of the embedded one. */
  readonly mqttUrl?: string;
  /** Let workflow training run without its own network namespace where none can be made (docs/workflows.md#the-sandbox). @default false */
  readonly allowUnisolatedTrainingNetwork?: boolean;
  /** A PostgreSQL database (postgres://...) for ingested samples instead of the data directory's SQLite. */
  readonly samplesDb?: string;
  /**
   * Serve the node API (`/agent/v1`, docs/agents.md) over HTTPS on this port, with a certificate
   * agents pin; without it the node API is plain HTTP on the main port. 0 picks a free port.
   */
  readonly agentPort?: number;
}

/** Serve options after validation and defaults. */
export interface CompiledServeOptions {
  readonly host: string;
  readonly port: number;
  readonly grpcPort: number;
  readonly dataDir: string;
  readonly demo: boolean;
  readonly maxArtifactBytes: number;
  readonly drainTimeoutMs: number;
  readonly logLevel: NonNullable<ServeOptions['logLevel']>;
  readonly autoscalerTickMs: number;
  readonly activatorMaxBuffered: number;
  readonly activatorMaxWaitMs: number;
  readonly warmPoolSize: number;
  readonly console: boolean;
  readonly energyIntervalMs: number;
  readonly metrics: boolean;
  /** Where spans are posted (OTLP/HTTP traces URL); undefined: tracing is off. */
  readonly otlpTracesUrl: string | undefined;
  /** The MQTT data path: off, the embedded broker on a port, or an external broker. */
  readonly mqtt: { readonly kind: 'off' } | { readonly kind: 'embedded'; readonly port: number } | { readonly kind: 'external'; readonly url: string };
  readonly allowUnisolatedTrainingNetwork: boolean;
  /** PostgreSQL URL of the sample store; undefined: the data directory's SQLite. */
  readonly samplesDb: string | undefined;
  /** The HTTPS port of the node API; undefined: plain HTTP on the main port. */
  readonly agentPort: number | undefined;
}

const port = z.number().int().min(0).max(65535);

const schema = z.object({
  host: z.string().min(1).max(253).default('127.0.0.1'),
  port: port.default(8080),
  grpcPort: port.default(8081),
  dataDir: z.string().min(1).optional(),
  demo: z.boolean().default(true),
  maxArtifactBytes: z.number().int().positive().default(1024 ** 3),
  drainTimeoutMs: z.number().int().min(0).default(30_000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  autoscalerTickMs: z.number().int().min(10).max(60_000).default(1000),
  activatorMaxBuffered: z.number().int().min(0).max(1_000_000).default(1000),
  activatorMaxWaitMs: z.number().int().min(1).max(3_600_000).default(30_000),
  warmPoolSize: z.number().int().min(0).max(64).default(1),
  console: z.boolean().default(true),
  energyIntervalMs: z.number().int().min(100).max(3_600_000).default(5000),
  metrics: z.boolean().default(true),
  otlpEndpoint: z.url({ protocol: /^https?$/ }).optional(),
  mqtt: z.boolean().default(true),
  mqttPort: port.optional(),
  mqttUrl: z.url({ protocol: /^mqtts?$/ }).optional(),
  allowUnisolatedTrainingNetwork: z.boolean().default(false),
  samplesDb: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  agentPort: port.optional(),
});

/** The data directory when none is given: `$CONTINUUM_HOME`, else `./.continuum`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env['CONTINUUM_HOME'] ?? '.continuum');
}

/** Validates serve options and fills the defaults (the OTLP endpoint from `env` when not given). */
export function compileServeOptions(options: ServeOptions = {}, env: NodeJS.ProcessEnv = process.env): CompiledServeOptions {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `invalid serve option ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const { otlpEndpoint, mqtt, mqttPort, mqttUrl, samplesDb, agentPort, ...o } = parsed.data;
  // Servers on a free HTTP port (tests, side-by-side instances) take a free MQTT port too, so they never collide on 1883.
  const compiledMqtt: CompiledServeOptions['mqtt'] = !mqtt
    ? { kind: 'off' }
    : mqttUrl !== undefined
      ? { kind: 'external', url: mqttUrl }
      : { kind: 'embedded', port: mqttPort ?? (o.port === 0 ? 0 : 1883) };
  return { ...o, dataDir: o.dataDir === undefined ? defaultDataDir(env) : resolve(o.dataDir), otlpTracesUrl: otlpTracesUrl(otlpEndpoint, env), mqtt: compiledMqtt, samplesDb, agentPort };
}
