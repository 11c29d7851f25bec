/**
 * `continuum workflows push|list|show|delete|train|runs|run|retrain` over the management API
 * (docs/workflows.md). `push DIR` packs the directory into a .tar.gz first. Every command takes
 * `--server`, `--token` and `--json`.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { BUILT_IN_DATASETS, packWorkflowDirectory, parameterFromText } from '../training/index.js';
import type { RetrainBinding, RetrainState, Workflow, WorkflowDetail, WorkflowRun } from '../training/index.js';
import { collect, durationMs, nonNegativeInt } from './args.js';
import { clientOf, withCommonOptions } from './client.js';
import type { ApiClient, CommonOptions } from './client.js';
import { formatBytes, formatFields, formatTable, printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';

const segment = encodeURIComponent;

/** How often `train --wait` asks for the run's state. */
const WAIT_POLL_MS = 500;

function isoTime(value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidArgumentError('expected a date and time, e.g. 2026-01-31T12:00:00Z');
  return new Date(ms).toISOString();
}

function builtInDataset(value: string): string {
  if (!(BUILT_IN_DATASETS as readonly string[]).includes(value)) throw new InvalidArgumentError(`choose one of ${BUILT_IN_DATASETS.join(', ')}`);
  return value;
}

function keyValue(value: string, previous: readonly string[] = []): string[] {
  if (!/^[^=]+=/.test(value)) throw new InvalidArgumentError('expected NAME=VALUE');
  return collect(value, previous);
}

/** Uploads a package file, or a directory packed to .tar.gz first. */
async function pushPackage(client: ApiClient, path: string): Promise<Workflow> {
  if (!statSync(path).isDirectory()) return client.uploadFile<Workflow>('/workflows', path);
  const dir = mkdtempSync(join(tmpdir(), 'continuum-workflow-'));
  try {
    const file = join(dir, 'package.tar.gz');
    writeFileSync(file, await packWorkflowDirectory(path));
    return await client.uploadFile<Workflow>('/workflows', file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function listText(list: { readonly workflows: readonly Workflow[]; readonly network: string }): string {
  return (
    formatTable(list.workflows, [
      { header: 'NAME', value: (w) => w.name },
      { header: 'VERSION', value: (w) => w.version },
      { header: 'INPUTS', value: (w) => String(w.manifest.inputs.length * (w.manifest.window?.size ?? 1)) },
      { header: 'CLASSES', value: (w) => w.manifest.classes.join(',') },
      { header: 'DIGEST', value: (w) => w.digest.slice(0, 12) },
      { header: 'PUSHED', value: (w) => w.createdAt },
    ]) + `training network: ${list.network === 'namespace' ? 'isolated (own network namespace)' : list.network === 'none' ? 'NOT isolated (allowed by configuration)' : 'no namespace available: runs are refused'}\n`
  );
}

function retrainingText(r: { readonly binding: RetrainBinding; readonly state: RetrainState } | undefined): string {
  if (r === undefined) return '-';
  const { binding: b, state } = r;
  const when = [b.schedule === undefined ? undefined : `every ${b.schedule.everyMs / 60_000} min`, b.onDriftAlert ? `on drift alerts of ${b.deployment ?? '?'}` : undefined].filter((s) => s !== undefined).join(', ');
  const last = state.lastStartedMs === null ? 'no run yet' : `last run ${state.lastRunId ?? '(did not start)'} at ${new Date(state.lastStartedMs).toISOString()}`;
  return `${b.datasource} → ${b.model}${b.deployment === undefined ? '' : ` → ${b.deployment}`}, ${when}, window ${b.windowMs / 60_000} min; ${last}`;
}

function showText(w: WorkflowDetail): string {
  const m = w.manifest;
  const parameters = Object.entries(m.parameters ?? {}).map(([name, p]) => `${name}=${String(p.default)} (${p.type})`);
  return formatFields([
    ['Workflow', `${w.name} ${w.version}`],
    ['Description', m.description ?? '-'],
    ['Entry', m.entry],
    ['Inputs', m.inputs.join(', ')],
    ['Window', m.window === undefined ? '-' : `${m.window.size} samples every ${m.window.hop}`],
    ['Label', `${m.label}: ${m.classes.join(', ')}`],
    ['Outputs', m.outputs.join(', ')],
    ['Parameters', parameters.join(', ') || '-'],
    ['Digest', w.digest],
    ['Versions', w.versions.map((v) => v.version).join(', ')],
    ['Retraining', retrainingText(w.retraining)],
  ]);
}

function runsText(list: { readonly runs: readonly WorkflowRun[] }): string {
  return formatTable(list.runs, [
    { header: 'ID', value: (r) => String(r.id) },
    { header: 'STATUS', value: (r) => r.status },
    { header: 'TRIGGER', value: (r) => r.input.trigger },
    { header: 'DATA', value: (r) => r.input.dataset ?? r.input.datasource ?? '-' },
    { header: 'MODEL', value: (r) => (r.modelVersion === undefined ? r.model : `${r.model}:${r.modelVersion}`) },
    { header: 'ACCURACY', value: (r) => (r.metrics?.['testAccuracy'] === undefined ? '-' : r.metrics['testAccuracy'].toFixed(3)) },
    { header: 'DURATION', value: (r) => (r.durationMs === undefined ? '-' : `${(r.durationMs / 1000).toFixed(1)} s`) },
    { header: 'STARTED', value: (r) => r.startedAt },
  ]);
}

function runText(r: WorkflowRun): string {
  const data = r.input.dataset ?? `${r.input.datasource ?? '?'} ${r.input.from ?? ''} … ${r.input.to ?? ''}`;
  return (
    formatFields([
      ['Run', `${r.id} of ${r.workflow} ${r.workflowVersion}`],
      ['Status', r.status],
      ['Trained on', data],
      ['Parameters', Object.entries(r.input.parameters).map(([k, v]) => `${k}=${String(v)}`).join(', ') || '-'],
      ['Model', r.modelVersion === undefined ? `${r.model} (no version)` : `${r.model}:${r.modelVersion}`],
      ['Metrics', r.metrics === undefined ? '-' : Object.entries(r.metrics).map(([k, v]) => `${k}=${Number(v.toPrecision(4))}`).join(', ')],
      ['Release', r.releaseId === undefined ? '-' : `${r.releaseId} (continuum releases show ${r.releaseId})`],
      ['Resources', r.resources === undefined ? '-' : `peak RSS ${formatBytes(r.resources.peakRssBytes)}, CPU ${r.resources.cpuMs} ms`],
      ['Network', r.network === undefined ? '-' : r.network === 'namespace' ? 'isolated' : 'not isolated'],
      ['Started', r.startedAt],
      ['Duration', r.durationMs === undefined ? '-' : `${r.durationMs} ms`],
      ['Error', r.error ?? '-'],
    ]) + (r.log.length === 0 ? '' : `\nLog:\n${r.log.map((l) => `  ${l}`).join('\n')}\n`)
  );
}

interface TrainFlags extends CommonOptions {
  readonly datasource?: string;
  readonly from?: string;
  readonly to?: string;
  readonly dataset?: string;
  readonly param: string[];
  readonly model?: string;
  readonly release?: boolean;
  readonly deployment?: string;
  readonly seed?: number;
  readonly wait?: boolean;
}

interface RetrainFlags extends CommonOptions {
  readonly datasource?: string;
  readonly model?: string;
  readonly deployment?: string;
  readonly every?: number;
  readonly onDrift?: boolean;
  readonly window: number;
  readonly minGap?: number;
  readonly off?: boolean;
}

/** Adds `workflows ...` to the program. */
export function registerWorkflowCommands(program: Command, out: Output = stdoutOutput): void {
  const workflows = program.command('workflows').description('training workflows: packages trained in a sandbox, their runs and retraining (docs/workflows.md)');

  withCommonOptions(workflows.command('push').description('upload a workflow package (.tar.gz, .zip, or a directory, packed first)').argument('<file-or-dir>', 'package file or directory with manifest.json')).action(
    async (path: string, flags: CommonOptions) => {
      const w = await pushPackage(clientOf(flags), path);
      printResult(out, flags.json === true, w, (v) => `pushed workflow ${v.name} ${v.version} (sha256 ${v.digest.slice(0, 12)})\n`);
    },
  );

  withCommonOptions(workflows.command('list').description('workflows (their newest versions)')).action(async (flags: CommonOptions) => {
    printResult(out, flags.json === true, await clientOf(flags).getJson<{ workflows: Workflow[]; network: string }>('/workflows'), listText);
  });

  withCommonOptions(workflows.command('show').description("a workflow's manifest, versions and retraining").argument('<name>', 'workflow name')).action(async (name: string, flags: CommonOptions) => {
    printResult(out, flags.json === true, await clientOf(flags).getJson<WorkflowDetail>(`/workflows/${segment(name)}`), showText);
  });

  withCommonOptions(workflows.command('delete').description('delete a workflow with its runs and retraining').argument('<name>', 'workflow name')).action(async (name: string, flags: CommonOptions) => {
    await clientOf(flags).sendJson('DELETE', `/workflows/${segment(name)}`);
    printResult(out, flags.json === true, { deleted: name }, () => `deleted workflow ${name}\n`);
  });

  withCommonOptions(
    workflows
      .command('train')
      .description("train a workflow in the sandbox; the model becomes a new version of a registry model")
      .argument('<name>', 'workflow name')
      .option('--datasource <name>', "train on this data source's stored samples")
      .option('--from <time>', 'first sample time (ISO 8601; default an hour before --to)', isoTime)
      .option('--to <time>', 'last sample time (ISO 8601; default now)', isoTime)
      .option('--dataset <name>', `train on a built-in dataset: ${BUILT_IN_DATASETS.join(', ')}`, builtInDataset)
      .option('--param <name=value>', 'a workflow parameter (repeatable)', keyValue, [])
      .option('--model <name>', 'registry model to push to (default: the workflow name)')
      .option('--release', 'release the new version (gates, then the production alias or a rollout)')
      .option('--deployment <name>', 'with --release: roll out to this deployment')
      .option('--seed <n>', 'seed handed to the workflow (default 1)', nonNegativeInt)
      .option('--wait', 'wait for the run to end; exit non-zero when it failed'),
  ).action(async (name: string, flags: TrainFlags) => {
    const client = clientOf(flags);
    const { manifest } = await client.getJson<WorkflowDetail>(`/workflows/${segment(name)}`);
    const parameters = Object.fromEntries(
      flags.param.map((item) => {
        const at = item.indexOf('=');
        const key = item.slice(0, at);
        return [key, parameterFromText(manifest, key, item.slice(at + 1))];
      }),
    );
    const body = {
      ...(flags.datasource === undefined ? {} : { datasource: flags.datasource }),
      ...(flags.dataset === undefined ? {} : { dataset: flags.dataset }),
      ...(flags.from === undefined ? {} : { from: flags.from }),
      ...(flags.to === undefined ? {} : { to: flags.to }),
      ...(flags.param.length === 0 ? {} : { parameters }),
      ...(flags.model === undefined ? {} : { model: flags.model }),
      ...(flags.release === true ? { release: flags.deployment === undefined ? {} : { deployment: flags.deployment } } : {}),
      ...(flags.seed === undefined ? {} : { seed: flags.seed }),
    };
    const started = await client.sendJson<{ id: number; status: string }>('POST', `/workflows/${segment(name)}/runs`, body);
    if (flags.wait !== true) {
      printResult(out, flags.json === true, started, (r) => `run ${r.id} of ${name} started; follow it with \`continuum workflows run ${name} ${r.id}\`\n`);
      return;
    }
    let run = await client.getJson<WorkflowRun>(`/workflows/${segment(name)}/runs/${started.id}`);
    while (run.status === 'running') {
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
      run = await client.getJson<WorkflowRun>(`/workflows/${segment(name)}/runs/${started.id}`);
    }
    printResult(out, flags.json === true, run, runText);
    if (run.status === 'failed') process.exitCode = 1;
  });

  withCommonOptions(workflows.command('runs').description("a workflow's runs, newest first").argument('<name>', 'workflow name')).action(async (name: string, flags: CommonOptions) => {
    printResult(out, flags.json === true, await clientOf(flags).getJson<{ runs: WorkflowRun[] }>(`/workflows/${segment(name)}/runs`), runsText);
  });

  withCommonOptions(workflows.command('run').description('one run: status, metrics, resources, log').argument('<name>', 'workflow name').argument('<id>', 'run id', nonNegativeInt)).action(
    async (name: string, id: number, flags: CommonOptions) => {
      printResult(out, flags.json === true, await clientOf(flags).getJson<WorkflowRun>(`/workflows/${segment(name)}/runs/${id}`), runText);
    },
  );

  withCommonOptions(
    workflows
      .command('retrain')
      .description('retrain on the latest samples on a schedule or on drift alerts, then release (or --off)')
      .argument('<name>', 'workflow name')
      .option('--datasource <name>', 'data source whose samples to train on')
      .option('--model <name>', 'registry model to push to (default: the workflow name)')
      .option('--deployment <name>', 'deployment to roll out to, whose drift alerts --on-drift follows')
      .option('--every <duration>', 'train on this schedule, e.g. 1h, 30m', durationMs)
      .option('--on-drift', "train when a drift alert fires for --deployment")
      .option('--window <duration>', 'train on the samples of this last stretch of time', durationMs, 3_600_000)
      .option('--min-gap <duration>', 'least time between two runs (default 10m, at most --every)', durationMs)
      .option('--off', 'stop retraining this workflow'),
  ).action(async (name: string, flags: RetrainFlags) => {
    const client = clientOf(flags);
    if (flags.off === true) {
      await client.sendJson('DELETE', `/workflows/${segment(name)}/retraining`);
      printResult(out, flags.json === true, { workflow: name, retraining: false }, () => `retraining of ${name} is off\n`);
      return;
    }
    if (flags.datasource === undefined) throw new InvalidArgumentError('give --datasource (or --off)');
    const body = {
      datasource: flags.datasource,
      ...(flags.model === undefined ? {} : { model: flags.model }),
      ...(flags.deployment === undefined ? {} : { deployment: flags.deployment }),
      ...(flags.every === undefined ? {} : { everyMs: flags.every }),
      ...(flags.onDrift === true ? { onDriftAlert: true } : {}),
      windowMs: flags.window,
      ...(flags.minGap === undefined ? {} : { minGapMs: flags.minGap }),
    };
    const result = await client.sendJson<{ binding: RetrainBinding; state: RetrainState }>('PUT', `/workflows/${segment(name)}/retraining`, body);
    printResult(out, flags.json === true, result, (r) => `retraining ${name}: ${retrainingText(r)}\n`);
  });
}
