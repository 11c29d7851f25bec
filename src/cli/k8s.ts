/**
 * `continuum k8s render|apply|status|delete DEPLOYMENT`: a deployment as Kubernetes objects — printed
 * as YAML for GitOps, or server-side applied to the cluster of the kubeconfig (or the pod's service
 * account), read back, and cleaned up. And the two programs of a replica pod: `continuum k8s
 * fetch-model` (init container) and `continuum k8s replica` (runtime container). docs/kubernetes.md.
 */
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import type { DeploymentStatus } from '../deploy/index.js';
import { wholeNumber } from './args.js';
import { clientOf, TOKEN_ENV, withCommonOptions } from './client.js';
import type { CommonOptions } from './client.js';
import { formatTable, printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';

interface RenderFlags extends CommonOptions {
  readonly namespace?: string;
  readonly image?: string;
  readonly controlPlaneUrl?: string;
  readonly scaleToZero?: 'keda' | 'knative';
  readonly prometheusUrl?: string;
  readonly tokenSecret?: string;
}

interface ClusterFlags extends RenderFlags {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly forceConflicts?: boolean;
}

function scaleToZeroEngine(value: string): 'keda' | 'knative' {
  if (value !== 'keda' && value !== 'knative') throw new InvalidArgumentError('use keda or knative');
  return value;
}

function withRenderOptions(command: Command): Command {
  return withCommonOptions(command)
    .option('--namespace <ns>', 'namespace of the objects (default: continuum)')
    .option('--image <ref>', 'the Continuum image replicas run (deploy/Containerfile; default: continuum:latest)')
    .option('--control-plane-url <url>', 'where pods fetch model artifacts (default: the continuum Service of the namespace)')
    .option('--scale-to-zero <engine>', 'engine of scale-to-zero policies: keda or knative (default: keda)', scaleToZeroEngine)
    .option('--prometheus-url <url>', "Prometheus KEDA's trigger queries")
    .option('--token-secret <name>', "a Secret with a management token under key 'token', for pods fetching artifacts");
}

function withClusterOptions(command: Command): Command {
  return withRenderOptions(command)
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else the in-cluster service account)')
    .option('--context <name>', 'kubeconfig context (default: the current one)');
}

/** The Kubernetes module is loaded by the commands that use it, so other commands start without the client's weight. */
async function kubernetes(): Promise<typeof import('../targets/kubernetes/index.js')> {
  return import('../targets/kubernetes/index.js');
}

async function rendered(name: string, flags: RenderFlags): Promise<{ objects: import('../targets/kubernetes/index.js').RenderedObject[]; namespace: string }> {
  const k8s = await kubernetes();
  // An option left out is undefined here, which the schema takes as absent.
  const { namespace, image, controlPlaneUrl, scaleToZero, prometheusUrl, tokenSecret } = flags;
  const options = k8s.compileKubernetesOptions({ namespace, image, controlPlaneUrl, scaleToZero, prometheusUrl, tokenSecret });
  const status = await clientOf(flags).getJson<DeploymentStatus>(`/deployments/${encodeURIComponent(name)}`);
  return { objects: k8s.renderDeployment(k8s.renderInputOf(status), options), namespace: options.namespace };
}

async function applierOf(flags: ClusterFlags): Promise<import('../targets/kubernetes/index.js').KubernetesApplier> {
  const k8s = await kubernetes();
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (flags.kubeconfig === undefined) kc.loadFromDefault();
  else kc.loadFromFile(flags.kubeconfig);
  if (flags.context !== undefined) kc.setCurrentContext(flags.context);
  return new k8s.KubernetesApplier({ kubeConfig: kc, forceConflicts: flags.forceConflicts === true });
}

/** Registers `continuum k8s ...`. */
export function registerK8sCommands(program: Command, out: Output = stdoutOutput): void {
  const k8s = program.command('k8s').description('run deployments on Kubernetes: render YAML for GitOps, apply, status, delete (docs/kubernetes.md)');

  withRenderOptions(k8s.command('render').description("print a deployment's Kubernetes objects as YAML (--json: a List)").argument('<deployment>')).action(
    async (name: string, flags: RenderFlags) => {
      const { objects } = await rendered(name, flags);
      if (flags.json === true) {
        out.write(`${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`);
        return;
      }
      // js-yaml directly: the client's dumpYaml serializes through its typed models, which drop a
      // NetworkPolicy rule's `from` (an ingress rule without it admits every source).
      const { dump } = await import('js-yaml');
      out.write(objects.map((o) => dump(o, { noRefs: true, lineWidth: -1 })).join('---\n'));
    },
  );

  withClusterOptions(k8s.command('apply').description("server-side apply a deployment's objects (field manager continuum) and prune what it no longer has").argument('<deployment>'))
    .option('--force-conflicts', 'take fields another field manager owns instead of failing')
    .action(async (name: string, flags: ClusterFlags) => {
      const { objects, namespace } = await rendered(name, flags);
      const result = await (await applierOf(flags)).apply(name, namespace, objects);
      printResult(out, flags.json === true, result, (r) => [...r.applied.map((a) => `applied ${a}\n`), ...r.pruned.map((p) => `pruned ${p}\n`)].join(''));
    });

  withClusterOptions(k8s.command('status').description("a deployment's replicas, conditions and events as the cluster reports them").argument('<deployment>')).action(
    async (name: string, flags: ClusterFlags) => {
      const k = await kubernetes();
      const namespace = k.compileKubernetesOptions({ namespace: flags.namespace }).namespace;
      const status = await (await applierOf(flags)).status(name, namespace);
      printResult(out, flags.json === true, status, (s) => {
        const tracks = formatTable(s.tracks, [
          { header: 'DEPLOYMENT', value: (t) => t.name },
          { header: 'TRACK', value: (t) => t.track },
          { header: 'READY', value: (t) => `${t.readyReplicas}/${t.desiredReplicas}` },
          { header: 'CONDITIONS', value: (t) => t.conditions.map((c) => `${c.type}=${c.status}`).join(' ') },
        ]);
        const scaler = s.autoscaler === undefined ? '' : `${s.autoscaler.kind}: ${s.autoscaler.currentReplicas} now, ${s.autoscaler.desiredReplicas} wanted\n`;
        const events = s.events.map((e) => `${e.at} ${e.object} ${e.reason}: ${e.message}\n`).join('');
        return `${tracks}${scaler}${events}`;
      });
    },
  );

  withClusterOptions(k8s.command('delete').description('delete every object Continuum made for a deployment').argument('<deployment>')).action(async (name: string, flags: ClusterFlags) => {
    const k = await kubernetes();
    const namespace = k.compileKubernetesOptions({ namespace: flags.namespace }).namespace;
    const deleted = await (await applierOf(flags)).delete(name, namespace);
    printResult(out, flags.json === true, { deleted }, (d) => d.deleted.map((n) => `deleted ${n}\n`).join(''));
  });

  k8s
    .command('fetch-model')
    .description(`(init container) download a model artifact and check its sha256; token from $${TOKEN_ENV}`)
    .requiredOption('--url <url>', 'the artifact URL on the control plane')
    .requiredOption('--sha256 <hex>', 'the digest the revision names')
    .requiredOption('--out <file>', 'where to put it')
    .action(async (flags: { url: string; sha256: string; out: string }) => {
      const token = process.env[TOKEN_ENV];
      const { bytes } = await (await kubernetes()).fetchModel({ ...flags, ...(token === undefined || token === '' ? {} : { token }) });
      out.write(`fetched ${bytes} bytes, sha256 ${flags.sha256}, to ${flags.out}\n`);
    });

  k8s
    .command('replica')
    .description('(runtime container) serve one model file over OIP REST once its sha256 checks out')
    .requiredOption('--model-file <file>', 'the ONNX file')
    .requiredOption('--model <name>', 'the model name clients call')
    .requiredOption('--version <version>', 'its version')
    .requiredOption('--sha256 <hex>', 'the digest the revision names')
    .option('--host <host>', 'interface to bind', '0.0.0.0')
    .option('--port <port>', 'HTTP port', wholeNumber(0), 8080)
    .option('--runtime <json>', "the revision's runtime options as JSON", '{}')
    .action(async (flags: { modelFile: string; model: string; version: string; sha256: string; host: string; port: number; runtime: string }) => {
      const runtime = JSON.parse(flags.runtime) as Record<string, unknown>;
      const replica = await (await kubernetes()).startPodReplica({ ...flags, runtime });
      out.write(`serving ${flags.model} version ${flags.version} at ${replica.url}\n`);
      const stop = (): void => {
        replica.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}
