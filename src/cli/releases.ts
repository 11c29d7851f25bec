/**
 * `continuum release MODEL (FILE|VERSION)`, `continuum releases list|show`, and the model
 * subcommands `models dataset` and `models release-policy`, over the management API. Every
 * command takes `--server`, `--token` and `--json`.
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { ContinuumError } from '../errors.js';
import type { ModelVersion } from '../registry/index.js';
import { FINAL_RELEASE_STATUSES, GATE_NAMES } from '../release/index.js';
import type { DatasetSummary, GateName, Release, ReleasePolicy } from '../release/index.js';
import { nonNegativeInt, positiveNumber } from './args.js';
import { clientOf, withCommonOptions } from './client.js';
import type { ApiClient, CommonOptions } from './client.js';
import { formatFields, formatTable, printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';
import { rolloutOf, withRolloutOptions } from './rollout-flags.js';
import type { RolloutFlags } from './rollout-flags.js';

const segment = encodeURIComponent;

/** How often `release --wait` asks for the release's state. */
const WAIT_POLL_MS = 500;

/** Statuses after which `release --wait` exits non-zero. */
const UNSUCCESSFUL: readonly string[] = ['failed', 'rolled-back', 'aborted'];

function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a number from 0 to 1 (0.9 = 90%)');
  return n;
}

function gateList(value: string): GateName[] {
  const names = value.split(',').map((g) => g.trim());
  const unknown = names.filter((g) => !(GATE_NAMES as readonly string[]).includes(g));
  if (unknown.length > 0) throw new InvalidArgumentError(`unknown gate(s) ${unknown.join(', ')}: choose from ${GATE_NAMES.join(',')}`);
  return names as GateName[];
}

/** The flags `release` and `models release-policy` share. */
interface ReleaseFlags extends CommonOptions, RolloutFlags {
  readonly deployment?: string;
  readonly gates?: GateName[];
  readonly minAccuracy?: number;
  readonly maxAccuracyDrop?: number;
  readonly maxP99Ms?: number;
  readonly maxLatencyFactor?: number;
  readonly breaking?: boolean;
}

function withReleaseOptions(command: Command): Command {
  return withCommonOptions(
    withRolloutOptions(command)
      .option('--deployment <name>', 'roll out to this deployment after the gates (default: move the production alias)')
      .option('--gates <names>', `gates to run (default all): ${GATE_NAMES.join(',')}`, gateList)
      .option('--min-accuracy <fraction>', 'accuracy gate: lowest top-1 accuracy on the dataset, e.g. 0.9', fraction)
      .option('--max-accuracy-drop <fraction>', "accuracy gate: largest drop below production's accuracy, e.g. 0.02", fraction)
      .option('--max-p99-ms <ms>', 'latency gate: highest p99 in ms', positiveNumber)
      .option('--max-latency-factor <x>', "latency gate: highest p99 as a multiple of production's (default 2)", positiveNumber)
      .option('--breaking', 'let an incompatible signature through (a breaking change)'),
  );
}

/** The API body the flags describe (deployment, strategy input, gate options). */
function releaseBody(flags: ReleaseFlags): Record<string, unknown> {
  const strategy = rolloutOf(flags);
  const gates = {
    ...(flags.gates === undefined ? {} : { run: flags.gates }),
    ...(flags.minAccuracy === undefined ? {} : { minAccuracy: flags.minAccuracy }),
    ...(flags.maxAccuracyDrop === undefined ? {} : { maxAccuracyDrop: flags.maxAccuracyDrop }),
    ...(flags.maxP99Ms === undefined ? {} : { maxP99Ms: flags.maxP99Ms }),
    ...(flags.maxLatencyFactor === undefined ? {} : { maxLatencyFactor: flags.maxLatencyFactor }),
  };
  return {
    ...(flags.deployment === undefined ? {} : { deployment: flags.deployment }),
    ...(Object.keys(strategy).length === 0 ? {} : { strategy }),
    gates,
    ...(flags.breaking === true ? { breaking: true } : {}),
  };
}

function ms(value: number): string {
  return value < 10 ? `${value.toFixed(1)} ms` : `${value.toFixed(0)} ms`;
}

function evidenceValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function listText(list: { readonly releases: readonly Release[] }): string {
  return formatTable(list.releases, [
    { header: 'ID', value: (r) => String(r.id) },
    { header: 'MODEL', value: (r) => `${r.model}:${r.version}` },
    { header: 'BASELINE', value: (r) => r.baselineVersion ?? '-' },
    { header: 'TARGET', value: (r) => r.deployment ?? '@production' },
    { header: 'STATUS', value: (r) => r.status },
    { header: 'GATES', value: (r) => r.steps.map((s) => `${s.name}:${s.status}`).join(' ') || '-' },
    { header: 'CREATED', value: (r) => r.createdAt },
  ]);
}

function showText(r: Release): string {
  const evidence = r.steps
    .filter((s) => s.status !== 'skipped')
    .map((s) => `\n${s.name}:\n${Object.entries(s.evidence).map(([key, value]) => `  ${key}: ${evidenceValue(value)}`).join('\n')}\n`)
    .join('');
  return (
    formatFields([
      ['Release', String(r.id)],
      ['Model', `${r.model}:${r.version}`],
      ['Baseline', r.baselineVersion ?? '- (first version)'],
      ['Target', r.deployment === null ? 'production alias' : `deployment ${r.deployment}${r.strategy === null ? '' : ` ${JSON.stringify(r.strategy)}`}`],
      ['Status', r.status],
      ['Rollout', r.rolloutId === null ? '-' : String(r.rolloutId)],
      ['Error', r.error ?? '-'],
      ['Created', r.createdAt],
      ['Finished', r.finishedAt ?? '-'],
    ]) +
    '\n' +
    formatTable(r.steps, [
      { header: 'GATE', value: (s) => s.name },
      { header: 'STATUS', value: (s) => s.status },
      { header: 'STARTED', value: (s) => s.startedAt },
      { header: 'DURATION', value: (s) => ms(s.durationMs) },
      { header: 'DETAIL', value: (s) => String(s.evidence['detail'] ?? '') },
    ]) +
    evidence
  );
}

/** Polls the release until it reaches a final status. */
async function waitForFinal(client: ApiClient, id: number): Promise<Release> {
  for (;;) {
    const r = await client.getJson<Release>(`/releases/${id}`);
    if (FINAL_RELEASE_STATUSES.includes(r.status)) return r;
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Adds `release` and `releases list|show` to the program. */
export function registerReleaseCommands(program: Command, out: Output = stdoutOutput): void {
  withReleaseOptions(
    program
      .command('release')
      .description('take a model version through the validation gates, then move the production alias or roll it out to a deployment')
      .argument('<model>', 'model name')
      .argument('<file-or-version>', 'an .onnx file to push first, or a version (or @alias) already pushed')
      .option('--wait', 'wait until the release is final; exit non-zero when it failed, rolled back or was aborted'),
  ).action(async (model: string, fileOrVersion: string, flags: ReleaseFlags & { wait?: boolean }) => {
    const client = clientOf(flags);
    let version = fileOrVersion;
    let started: Release | undefined;
    if (isFile(fileOrVersion)) {
      version = (await client.uploadFile<ModelVersion>(`/models/${segment(model)}/versions`, fileOrVersion)).version;
      // A release policy starts the release on push; follow that one rather than start a second.
      started = (await client.getJson<{ releases: Release[] }>(`/releases?model=${segment(model)}&version=${segment(version)}`)).releases[0];
    }
    started ??= await client.sendJson<Release>('POST', '/releases', { model, version, ...releaseBody(flags) });
    const result = flags.wait === true ? await waitForFinal(client, started.id) : started;
    printResult(out, flags.json === true, result, flags.wait === true ? showText : (r) => `release ${r.id} of ${r.model}:${r.version} started; follow it with \`continuum releases show ${r.id}\`\n`);
    if (UNSUCCESSFUL.includes(result.status)) process.exitCode = 1;
  });

  const releases = program.command('releases').description('list and show releases');

  withCommonOptions(releases.command('list').description('releases, newest first').option('--model <name>', 'only this model').option('--limit <n>', 'how many', nonNegativeInt)).action(
    async (flags: CommonOptions & { model?: string; limit?: number }) => {
      const query = new URLSearchParams();
      if (flags.model !== undefined) query.set('model', flags.model);
      if (flags.limit !== undefined) query.set('limit', String(flags.limit));
      const qs = query.size === 0 ? '' : `?${query.toString()}`;
      printResult(out, flags.json === true, await clientOf(flags).getJson<{ releases: Release[] }>(`/releases${qs}`), listText);
    },
  );

  withCommonOptions(releases.command('show').description("a release's gates with their timing and evidence").argument('<id>', 'release id', nonNegativeInt)).action(
    async (id: number, flags: CommonOptions) => {
      printResult(out, flags.json === true, await clientOf(flags).getJson<Release>(`/releases/${id}`), showText);
    },
  );
}

function datasetText(d: DatasetSummary): string {
  return formatFields([
    ['Model', d.model],
    ['Rows', `${d.rows} × ${d.rowWidth} features into input '${d.input}'`],
    ['Output', d.output ?? '(the first output)'],
    ['Classes', d.classes === null ? '-' : d.classes.join(',')],
    ['SHA-256', d.sha256],
    ['Attached', d.attachedAt],
  ]);
}

function policyText(p: ReleasePolicy): string {
  return formatFields([
    ['Model', p.model],
    ['Target', p.deployment === null ? 'production alias' : `deployment ${p.deployment}`],
    ['Strategy', p.strategy === null ? '-' : JSON.stringify(p.strategy)],
    ['Gates', JSON.stringify(p.gates)],
    ['Updated', p.updatedAt],
  ]);
}

/** Adds `dataset` and `release-policy` to the `models` command. */
export function registerModelReleaseCommands(models: Command, out: Output = stdoutOutput): void {
  withCommonOptions(
    models
      .command('dataset')
      .description("attach a labelled dataset (JSON) to a model for its releases' accuracy gate, or show the attached one")
      .argument('<name>', 'model name')
      .argument('[file]', 'JSON: {"input", "features": [[...]], "labels": [...], "output"?, "classes"?}'),
  ).action(async (name: string, file: string | undefined, flags: CommonOptions) => {
    const client = clientOf(flags);
    const path = `/models/${segment(name)}/dataset`;
    if (file === undefined) {
      printResult(out, flags.json === true, await client.getJson<DatasetSummary>(path), datasetText);
      return;
    }
    const text = await readFile(file, 'utf8').catch((err: unknown) => {
      throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new ContinuumError('CONTINUUM_ERR_INVALID_JSON', `${file} is not JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    printResult(out, flags.json === true, await client.sendJson<DatasetSummary>('PUT', path, body), (d) => `Attached ${d.rows} rows to ${d.model}\n\n${datasetText(d)}`);
  });

  withReleaseOptions(
    models
      .command('release-policy')
      .description('release every version pushed to the model through the gates (and a rollout with --deployment)')
      .argument('<name>', 'model name')
      .option('--show', 'show the policy')
      .option('--delete', 'delete the policy'),
  ).action(async (name: string, flags: ReleaseFlags & { show?: boolean; delete?: boolean }) => {
    const client = clientOf(flags);
    const path = `/models/${segment(name)}/release-policy`;
    if (flags.delete === true) {
      await client.sendJson('DELETE', path);
      printResult(out, flags.json === true, { model: name, deleted: true }, () => `Deleted the release policy of ${name}\n`);
      return;
    }
    const policy = flags.show === true ? await client.getJson<ReleasePolicy>(path) : await client.sendJson<ReleasePolicy>('PUT', path, releaseBody(flags));
    printResult(out, flags.json === true, policy, policyText);
  });
}
