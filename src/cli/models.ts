/**
 * `continuum models ...`: push, list, show, alias and remove registry models over the
 * management API. Every command takes `--server`, `--token` and `--json`.
 */
import type { Command } from 'commander';
import { ContinuumError } from '../errors.js';
import type { TensorSpec } from '../oip/types.js';
import { parseLabelList } from '../registry/index.js';
import type { ModelDetail, ModelSummary, ModelVersion } from '../registry/index.js';
import { clientOf, withCommonOptions } from './client.js';
import type { CommonOptions } from './client.js';
import { registerModelReleaseCommands } from './releases.js';
import { formatBytes, formatFields, formatLabels, formatTable, printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';

const segment = encodeURIComponent;

function aliasesText(aliases: Readonly<Record<string, string>>): string {
  const entries = Object.entries(aliases);
  return entries.length === 0 ? '-' : entries.map(([alias, version]) => `${alias}→${version}`).join(',');
}

function signatureTable(version: ModelVersion): string {
  const rows = [
    ...version.signature.inputs.map((t) => ({ role: 'input', t })),
    ...version.signature.outputs.map((t) => ({ role: 'output', t })),
  ];
  const shape = (t: TensorSpec): string => `[${t.shape.join(', ')}]`;
  return formatTable(rows, [
    { header: 'ROLE', value: (r) => r.role },
    { header: 'NAME', value: (r) => r.t.name },
    { header: 'DATATYPE', value: (r) => r.t.datatype },
    { header: 'SHAPE', value: (r) => shape(r.t) },
  ]);
}

function versionText(v: ModelVersion): string {
  return (
    formatFields([
      ['Model', v.name],
      ['Version', v.version],
      ['SHA-256', v.sha256],
      ['Size', formatBytes(v.size_bytes)],
      ['Aliases', v.aliases.length === 0 ? '-' : v.aliases.join(',')],
      ['Labels', formatLabels(v.labels)],
      ['Created', v.created_at],
    ]) +
    '\n' +
    signatureTable(v)
  );
}

function modelText(m: ModelDetail): string {
  return (
    formatFields([
      ['Model', m.name],
      ['Default version', m.default_version ?? '-'],
      ['Aliases', aliasesText(m.aliases)],
      ['Labels', formatLabels(m.labels)],
      ['Created', m.created_at],
    ]) +
    '\n' +
    formatTable(m.versions, [
      { header: 'VERSION', value: (v) => v.version },
      { header: 'SHA-256', value: (v) => v.sha256.slice(0, 12) },
      { header: 'SIZE', value: (v) => formatBytes(v.size_bytes) },
      { header: 'ALIASES', value: (v) => (v.aliases.length === 0 ? '-' : v.aliases.join(',')) },
      { header: 'LABELS', value: (v) => formatLabels(v.labels) },
      { header: 'CREATED', value: (v) => v.created_at },
    ])
  );
}

function listText(list: { readonly models: readonly ModelSummary[] }): string {
  return formatTable(list.models, [
    { header: 'NAME', value: (m) => m.name },
    { header: 'VERSIONS', value: (m) => String(m.version_count) },
    { header: 'LATEST', value: (m) => m.latest_version ?? '-' },
    { header: 'DEFAULT', value: (m) => m.default_version ?? '-' },
    { header: 'ALIASES', value: (m) => aliasesText(m.aliases) },
    { header: 'LABELS', value: (m) => formatLabels(m.labels) },
  ]);
}

/**
 * Adds `continuum models push|list|show|alias|rm` to the program; results go to `out`. Turns on
 * commander's positional options for the program, so the program's own `--version` is read only
 * before a subcommand and `models push --version 3` reaches the push command.
 */
export function registerModelCommands(program: Command, out: Output = stdoutOutput): void {
  program.enablePositionalOptions();
  const models = program.command('models').description('manage models in the registry');

  withCommonOptions(
    models
      .command('push')
      .description('upload an ONNX file as a new model version (its signature is read and checked)')
      .argument('<file>', 'the .onnx file')
      .requiredOption('--name <name>', 'model name')
      .option('--version <version>', 'version string (default: the next integer)')
      .option('--label <key=value>', 'label of the version (repeatable)', (value: string, previous: string[]) => [...previous, value], [] as string[]),
  ).action(async (file: string, options: CommonOptions & { name: string; version?: string; label: string[] }) => {
    const query = new URLSearchParams();
    if (options.version !== undefined) query.set('version', options.version);
    const labels = formatLabels(parseLabelList(options.label));
    if (labels !== '-') query.set('labels', labels);
    const qs = query.size === 0 ? '' : `?${query.toString()}`;
    const version = await clientOf(options).uploadFile<ModelVersion>(`/models/${segment(options.name)}/versions${qs}`, file);
    printResult(out, options.json === true, version, (v) => `Pushed ${v.name} version ${v.version}\n\n${versionText(v)}`);
  });

  withCommonOptions(models.command('list').description('list models')).action(async (options: CommonOptions) => {
    const list = await clientOf(options).getJson<{ models: ModelSummary[] }>('/models');
    printResult(out, options.json === true, list, listText);
  });

  withCommonOptions(
    models
      .command('show')
      .description('show a model and its versions, or one version with its signature')
      .argument('<name>', 'model name')
      .option('--version <version>', 'a version, or @alias'),
  ).action(async (name: string, options: CommonOptions & { version?: string }) => {
    const client = clientOf(options);
    if (options.version === undefined) {
      printResult(out, options.json === true, await client.getJson<ModelDetail>(`/models/${segment(name)}`), modelText);
    } else {
      const path = `/models/${segment(name)}/versions/${segment(options.version)}`;
      printResult(out, options.json === true, await client.getJson<ModelVersion>(path), versionText);
    }
  });

  withCommonOptions(
    models
      .command('alias')
      .description('point an alias (production, staging, ...) at a version, or delete it with --delete')
      .argument('<name>', 'model name')
      .argument('<alias>', 'alias name')
      .argument('[version]', 'version the alias points at')
      .option('--delete', 'delete the alias'),
  ).action(async (name: string, alias: string, version: string | undefined, options: CommonOptions & { delete?: boolean }) => {
    const client = clientOf(options);
    const path = `/models/${segment(name)}/aliases/${segment(alias)}`;
    if (options.delete === true) {
      await client.sendJson('DELETE', path);
      printResult(out, options.json === true, { name, alias, deleted: true }, () => `Deleted alias ${alias} of ${name}\n`);
      return;
    }
    if (version === undefined) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'give the version the alias points at, or --delete');
    const target = await client.sendJson<ModelVersion>('PUT', path, { version });
    printResult(out, options.json === true, target, (v) => `${name}@${alias} → version ${v.version}\n`);
  });

  withCommonOptions(
    models
      .command('rm')
      .description('delete a model with all its versions, or one version')
      .argument('<name>', 'model name')
      .option('--version <version>', 'delete only this version'),
  ).action(async (name: string, options: CommonOptions & { version?: string }) => {
    const path = options.version === undefined ? `/models/${segment(name)}` : `/models/${segment(name)}/versions/${segment(options.version)}`;
    await clientOf(options).sendJson('DELETE', path);
    const what = options.version === undefined ? `model ${name}` : `version ${options.version} of ${name}`;
    printResult(out, options.json === true, { name, version: options.version ?? null, deleted: true }, () => `Deleted ${what}\n`);
  });

  registerModelReleaseCommands(models, out);
}
