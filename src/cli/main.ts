/**
 * The `continuum` command. `serve` runs the platform in this process; every other command talks to
 * a running server over its REST API (`--server`, default http://127.0.0.1:8080), and every command
 * that prints state takes `--json` (as kubectl's `-o json`).
 */
import { Command, InvalidArgumentError } from 'commander';
import { demoCurlCommand, DEMO_MODEL_NAME, SERVER_VERSION, startServer } from '../server/index.js';
import type { ServeOptions } from '../server/index.js';
import { registerAgentCommands } from './agent.js';
import { registerAlertCommands } from './alerts.js';
import { registerAssetCommands } from './assets.js';
import { registerDataSourceCommands } from './datasources.js';
import { wholeNumber } from './args.js';
import { registerBenchCommands } from './bench.js';
import { registerDeploymentCommands } from './deployments.js';
import { registerEventCommands } from './events.js';
import { registerK8sCommands } from './k8s.js';
import { registerModelCommands } from './models.js';
import { registerOptimizeCommand } from './optimize.js';
import { registerPlacementCommands } from './placement.js';
import { registerNodeCommands } from './nodes.js';
import { registerReleaseCommands } from './releases.js';
import { registerRolloutCommands } from './rollouts.js';
import { registerSimulateCommand } from './simulate.js';
import { registerTuneCommand } from './tune.js';
import { registerWorkflowCommands } from './workflows.js';

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is an integer from 0 to 65535');
  return n;
}

/** Builds the command tree (exported so tests can run commands in-process). */
export function buildProgram(): Command {
  const program = new Command('continuum')
    .description('Deploy, serve and scale ML models across edge, fog and cloud (Open Inference Protocol v2).')
    .version(SERVER_VERSION)
    .showHelpAfterError();

  program
    .command('serve')
    .description('run the platform: management API, OIP REST and gRPC, runtime, with a demo model on first start')
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--port <port>', 'HTTP port (REST: OIP and /api/v1)', parsePort, 8080)
    .option('--grpc-port <port>', 'gRPC port (OIP gRPC)', parsePort, 8081)
    .option('--data-dir <dir>', 'data directory (default: $CONTINUUM_HOME or ./.continuum)')
    .option('--no-demo', 'do not register the demo model')
    .option('--no-console', 'do not serve the web console at /')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', 'warn')
    .option('--autoscaler-tick-ms <ms>', 'period of the autoscaler loop', wholeNumber(10), 1000)
    .option('--no-metrics', 'do not serve Prometheus metrics at /metrics')
    .option('--otlp-endpoint <url>', 'export OpenTelemetry traces over OTLP/HTTP to this base URL (default: $OTEL_EXPORTER_OTLP_ENDPOINT; none: no tracing)')
    .option('--mqtt-port <port>', 'port of the embedded MQTT broker, docs/ingest.md (default 1883; a free port with --port 0)', parsePort)
    .option('--mqtt-url <url>', 'use this external MQTT broker (mqtt://host:port) instead of the embedded one')
    .option('--no-mqtt', 'no MQTT data path')
    .option('--allow-unisolated-training-network', 'run workflow training even where no network namespace can be made (docs/workflows.md#the-sandbox)')
    .option('--samples-db <url>', 'keep ingested samples in this PostgreSQL database (postgres://...) instead of the data directory')
    .option('--agent-port <port>', 'serve the node API for agents over HTTPS on this port (docs/agents.md); default: plain HTTP on --port', parsePort)
    .action(async (opts: { host: string; port: number; grpcPort: number; dataDir?: string; demo: boolean; console: boolean; logLevel: NonNullable<ServeOptions['logLevel']>; autoscalerTickMs: number; metrics: boolean; otlpEndpoint?: string; mqtt: boolean; mqttPort?: number; mqttUrl?: string; allowUnisolatedTrainingNetwork?: boolean; samplesDb?: string; agentPort?: number }) => {
      const server = await startServer({
        allowUnisolatedTrainingNetwork: opts.allowUnisolatedTrainingNetwork === true,
        mqtt: opts.mqtt,
        ...(opts.mqttPort === undefined ? {} : { mqttPort: opts.mqttPort }),
        ...(opts.mqttUrl === undefined ? {} : { mqttUrl: opts.mqttUrl }),
        ...(opts.samplesDb === undefined ? {} : { samplesDb: opts.samplesDb }),
        ...(opts.agentPort === undefined ? {} : { agentPort: opts.agentPort }),
        metrics: opts.metrics,
        ...(opts.otlpEndpoint === undefined ? {} : { otlpEndpoint: opts.otlpEndpoint }),
        autoscalerTickMs: opts.autoscalerTickMs,
        host: opts.host,
        port: opts.port,
        grpcPort: opts.grpcPort,
        demo: opts.demo,
        console: opts.console,
        logLevel: opts.logLevel,
        ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }),
      });
      const out = process.stdout;
      out.write(`Continuum ${SERVER_VERSION} serving at ${server.url} (gRPC on port ${server.grpcPort}); data in ${server.options.dataDir}\n`);
      if (server.options.console) out.write(`Web console: ${server.url}/\n`);
      if (server.mqttPort !== undefined) out.write(`MQTT broker on port ${server.mqttPort} (password: a management token once tokens exist)\n`);
      if (server.nodeApi !== undefined) out.write(`Node API for agents over HTTPS on port ${server.nodeApi.port}, certificate ${server.nodeApi.fingerprint}\n`);
      if (server.newToken !== undefined) {
        out.write(`Management token (shown once, store it; send as "Authorization: Bearer ..." or CONTINUUM_TOKEN):\n  ${server.newToken}\n`);
      }
      if (server.deployments.find(DEMO_MODEL_NAME) !== undefined || server.runtime.loadedVersions().some((v) => v.name === DEMO_MODEL_NAME)) {
        out.write(`Try the demo model:\n  ${demoCurlCommand(server.url)}\n`);
      }
      let signals = 0;
      const stop = (signal: string): void => {
        signals += 1;
        if (signals > 1) process.exit(1);
        out.write(`${signal}: draining in-flight requests, then exiting\n`);
        server.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`continuum: shutdown failed: ${String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });

  registerModelCommands(program);
  registerTuneCommand(program);
  registerOptimizeCommand(program);
  registerDeploymentCommands(program);
  registerReleaseCommands(program);
  registerWorkflowCommands(program);
  registerRolloutCommands(program);
  registerSimulateCommand(program);
  registerBenchCommands(program);
  registerEventCommands(program);
  registerAlertCommands(program);
  registerDataSourceCommands(program);
  registerAssetCommands(program);
  registerPlacementCommands(program);
  registerK8sCommands(program);
  registerNodeCommands(program);
  registerAgentCommands(program);
  return program;
}

/** Runs the CLI with process.argv-style arguments. */
export async function main(argv: readonly string[]): Promise<void> {
  await buildProgram().parseAsync([...argv]);
}
