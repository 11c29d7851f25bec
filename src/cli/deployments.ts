/**
 * `continuum deploy MODEL[:VERSION|@ALIAS]` and `continuum deployments list|show|scale|delete|
 * events|revisions`, over the management API. Every command takes `--server`, `--token`, `--json`.
 */
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import type { DeploymentEvent, DeploymentStatus, Revision } from '../deploy/index.js';
import { nonNegativeInt, positiveNumber } from './args.js';
import { clientOf, withCommonOptions } from './client.js';
import { policyOf, withPolicyOptions } from './policy-flags.js';
import type { PolicyFlags } from './policy-flags.js';
import type { CommonOptions } from './client.js';
import { formatFields, formatTable, printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';

const segment = encodeURIComponent;

/** Splits `MODEL[:VERSION|@ALIAS]` into the model and the reference the API takes. */
export function parseModelRef(value: string): { readonly model: string; readonly ref?: string } {
  const at = value.indexOf('@');
  const colon = value.indexOf(':');
  if (at > 0) return { model: value.slice(0, at), ref: value.slice(at) };
  if (colon > 0) return { model: value.slice(0, colon), ref: value.slice(colon + 1) };
  if (at === 0 || colon === 0 || value === '') throw new InvalidArgumentError('give MODEL, MODEL:VERSION or MODEL@ALIAS');
  return { model: value };
}


function money(usd: number): string {
  return `$${usd < 0.01 ? usd.toFixed(6) : usd.toFixed(4)}`;
}

function ms(value: number | null | undefined): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${value.toFixed(0)} ms` : '-';
}

function replicaCounts(d: DeploymentStatus): string {
  const ready = d.replicas.filter((r) => r.phase === 'ready').length;
  return `${ready}/${d.desiredReplicas}`;
}

function listText(list: { readonly deployments: readonly DeploymentStatus[] }): string {
  return formatTable(list.deployments, [
    { header: 'NAME', value: (d) => d.name },
    { header: 'MODEL', value: (d) => `${d.revision.spec.model}:${d.revision.spec.version}` },
    { header: 'REVISION', value: (d) => String(d.revision.revision) },
    { header: 'POLICY', value: (d) => String(d.policy['policy']) },
    { header: 'MODE', value: (d) => d.mode },
    { header: 'READY', value: replicaCounts },
    { header: 'COST', value: (d) => money(d.cost.totalUsd) },
  ]);
}

function eventsText(events: readonly DeploymentEvent[]): string {
  return formatTable(events, [
    { header: 'AT', value: (e) => e.at },
    { header: 'TYPE', value: (e) => e.type },
    { header: 'MESSAGE', value: (e) => e.message },
  ]);
}

function showText(d: DeploymentStatus & { readonly events: readonly DeploymentEvent[] }): string {
  const decision = d.lastDecision;
  const params = Object.entries(d.policy)
    .filter(([k]) => k !== 'policy')
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('/') : String(v)}`)
    .join(' ');
  return (
    formatFields([
      ['Deployment', d.name],
      ['Model', `${d.revision.spec.model}:${d.revision.spec.version}${d.revision.spec.modelRef === '' ? '' : ` (from ${d.revision.spec.modelRef})`}`],
      ['Revision', `${d.revision.revision} (${d.revision.createdAt})`],
      ['Policy', `${String(d.policy['policy'])} ${params}`],
      ['Current choice', `${d.mode}${decision === undefined ? '' : `; ${decision.desiredReplicas} replicas: ${decision.reason}`}`],
      ['Replicas', `${replicaCounts(d)} ready, ${d.buffered} request(s) buffered, ${d.inSystem} in the system`],
      ['Resources', `${d.revision.spec.resources.vcpu} vCPU, ${d.revision.spec.resources.memoryGb} GB per replica`],
      ['Cost so far', `${money(d.cost.totalUsd)} (always-on ${money(d.cost.alwaysOnUsd)}, serverless ${money(d.cost.serverlessUsd)}; ${d.cost.replicaSeconds.toFixed(0)} replica-s, ${d.cost.invocations} invocations)`],
      ['Cold starts', d.coldStarts.count === 0 ? '-' : `${d.coldStarts.count}, p50 ${ms(d.coldStarts.p50Ms)}, p90 ${ms(d.coldStarts.p90Ms)}, max ${ms(d.coldStarts.maxMs)}`],
      ['Input drift', d.drift.score === null ? `- (${d.drift.sampledRequests} request(s) sampled; the windows are filling)` : `PSI ${d.drift.score.toFixed(3)} (${d.drift.level ?? '-'}) over ${d.drift.features} feature(s), reference ${d.drift.referenceSource}`],
      ['Energy', d.energy === undefined ? '-' : `${d.energy.joules.toFixed(1)} J so far, ${d.energy.watts.toFixed(2)} W now${d.energy.joulesPerInference === null ? '' : `, ${(d.energy.joulesPerInference * 1000).toFixed(3)} mJ per inference`} (${d.energy.mode})`],
    ]) +
    '\n' +
    formatTable(d.replicas, [
      { header: 'REPLICA', value: (r) => r.id },
      { header: 'PID', value: (r) => String(r.pid) },
      { header: 'REVISION', value: (r) => String(r.revision) },
      { header: 'PHASE', value: (r) => r.phase },
      { header: 'IN-FLIGHT', value: (r) => String(r.inFlight) },
      { header: 'STARTUP', value: (r) => ms(r.startup?.readyMs) },
      { header: 'STARTED', value: (r) => r.startedAt },
    ]) +
    '\nRecent events:\n' +
    eventsText(d.events)
  );
}

function revisionsText(list: { readonly revisions: readonly Revision[] }): string {
  return formatTable(list.revisions, [
    { header: 'REVISION', value: (r) => String(r.revision) },
    { header: 'MODEL', value: (r) => `${r.spec.model}:${r.spec.version}` },
    { header: 'POLICY', value: (r) => JSON.stringify(r.spec.policy) },
    { header: 'CREATED', value: (r) => r.createdAt },
  ]);
}

interface DeployFlags extends CommonOptions, PolicyFlags {
  readonly name?: string;
  readonly threads?: number;
  readonly instances?: number;
  readonly vcpu?: number;
  readonly memoryGb?: number;
  readonly node?: string;
}

/** Adds `deploy` and `deployments ...` to the program. */
export function registerDeploymentCommands(program: Command, out: Output = stdoutOutput): void {
  withCommonOptions(
    withPolicyOptions(program.command('deploy'))
      .description('deploy a model version as replicas with an autoscaling policy (fixed|threshold|hpa|kpa|serverless|predictive|auto)')
      .argument('<model>', 'MODEL, MODEL:VERSION or MODEL@ALIAS', parseModelRef)
      .option('--name <name>', 'deployment name, also the OIP model name clients call (default: the model name)')
      .option('--threads <n>', 'ONNX Runtime intra-op threads per replica', nonNegativeInt)
      .option('--instances <n>', 'sessions per replica', nonNegativeInt)
      .option('--vcpu <n>', 'vCPU accounted per replica (cost)', positiveNumber)
      .option('--memory-gb <n>', 'memory accounted per replica in GB (cost)', positiveNumber)
      .option('--node <name>', 'run the replicas on this joined node (`continuum nodes list`; docs/agents.md)'),
  ).action(async (target: { model: string; ref?: string }, flags: DeployFlags) => {
    const runtime = { ...(flags.threads === undefined ? {} : { intraOpThreads: flags.threads }), ...(flags.instances === undefined ? {} : { instances: flags.instances }) };
    const resources = { ...(flags.vcpu === undefined ? {} : { vcpu: flags.vcpu }), ...(flags.memoryGb === undefined ? {} : { memoryGb: flags.memoryGb }) };
    const body = {
      ...target,
      ...(flags.name === undefined ? {} : { name: flags.name }),
      policy: policyOf(flags),
      ...(Object.keys(runtime).length === 0 ? {} : { runtime }),
      ...(Object.keys(resources).length === 0 ? {} : { resources }),
      ...(flags.node === undefined ? {} : { placement: { node: flags.node } }),
    };
    const created = await clientOf(flags).sendJson<DeploymentStatus>('POST', '/deployments', body);
    printResult(out, flags.json === true, created, (d) => `deployment ${d.name} created at revision ${d.revision.revision} (${String(d.policy['policy'])}); OIP model name '${d.name}'\n`);
  });

  const deployments = program.command('deployments').description('list, show, scale and delete deployments');

  withCommonOptions(deployments.command('list').description('list deployments')).action(async (flags: CommonOptions) => {
    printResult(out, flags.json === true, await clientOf(flags).getJson<{ deployments: DeploymentStatus[] }>('/deployments'), listText);
  });

  withCommonOptions(deployments.command('show').description('replicas, the policy and its current choice, cost so far, recent events').argument('<name>')).action(
    async (name: string, flags: CommonOptions) => {
      printResult(out, flags.json === true, await clientOf(flags).getJson<DeploymentStatus & { events: DeploymentEvent[] }>(`/deployments/${segment(name)}`), showText);
    },
  );

  withCommonOptions(
    deployments
      .command('scale')
      .description('set the replica bounds the policy works within (--replicas sets both)')
      .argument('<name>')
      .option('--replicas <n>', 'exactly this many replicas', nonNegativeInt)
      .option('--min <n>', 'fewest replicas', nonNegativeInt)
      .option('--max <n>', 'most replicas', nonNegativeInt),
  ).action(async (name: string, flags: CommonOptions & { replicas?: number; min?: number; max?: number }) => {
    const body = {
      ...(flags.replicas === undefined ? {} : { replicas: flags.replicas }),
      ...(flags.min === undefined ? {} : { minReplicas: flags.min }),
      ...(flags.max === undefined ? {} : { maxReplicas: flags.max }),
    };
    const scaled = await clientOf(flags).sendJson<DeploymentStatus>('POST', `/deployments/${segment(name)}/scale`, body);
    printResult(out, flags.json === true, scaled, (d) => `deployment ${d.name} at revision ${d.revision.revision}: min ${String(d.policy['minReplicas'])}, max ${String(d.policy['maxReplicas'])}\n`);
  });

  withCommonOptions(deployments.command('events').description("a deployment's events, newest last").argument('<name>').option('--limit <n>', 'how many', nonNegativeInt)).action(
    async (name: string, flags: CommonOptions & { limit?: number }) => {
      const query = flags.limit === undefined ? '' : `?limit=${flags.limit}`;
      const result = await clientOf(flags).getJson<{ events: DeploymentEvent[] }>(`/deployments/${segment(name)}/events${query}`);
      printResult(out, flags.json === true, result, (r) => eventsText(r.events));
    },
  );

  withCommonOptions(deployments.command('revisions').description("a deployment's revisions").argument('<name>')).action(async (name: string, flags: CommonOptions) => {
    printResult(out, flags.json === true, await clientOf(flags).getJson<{ revisions: Revision[] }>(`/deployments/${segment(name)}/revisions`), revisionsText);
  });

  withCommonOptions(deployments.command('delete').description('drain and stop the replicas, then delete the deployment').argument('<name>')).action(
    async (name: string, flags: CommonOptions) => {
      await clientOf(flags).sendJson('DELETE', `/deployments/${segment(name)}`);
      printResult(out, flags.json === true, { deleted: name }, () => `deployment ${name} deleted\n`);
    },
  );
}
