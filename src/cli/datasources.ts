/**
 * `continuum datasources add|list|delete`: MQTT data sources over the management API
 * (docs/ingest.md).
 */
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { PAYLOAD_FORMATS } from '../ingest/index.js';
import type { DataSource, IngestCounters } from '../ingest/index.js';
import { clientOf, withCommonOptions } from './client.js';
import type { CommonOptions } from './client.js';
import { formatTable, printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';

/** A data source as the API lists it: its definition and, while MQTT runs, its counters. */
type ListedDataSource = DataSource & { readonly counters: IngestCounters | null };

interface AddFlags extends CommonOptions {
  readonly topic: string;
  readonly format: string;
  readonly fields: string;
  readonly input: string;
  readonly timestampField?: string;
  readonly deployment: string;
  readonly version?: string;
  readonly resultTopic?: string;
}

function format(value: string): string {
  if (!(PAYLOAD_FORMATS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${PAYLOAD_FORMATS.join(', ')}`);
  return value;
}

function refusedText(c: IngestCounters | null): string {
  if (c === null) return '-';
  const parts = Object.entries(c.refused).map(([reason, n]) => `${reason}=${n}`);
  return parts.length === 0 ? '0' : parts.join(' ');
}

function listText(list: { readonly datasources: readonly ListedDataSource[] }): string {
  return formatTable(list.datasources, [
    { header: 'NAME', value: (s) => s.name },
    { header: 'TOPIC', value: (s) => s.topic },
    { header: 'FORMAT', value: (s) => s.format },
    { header: 'DEPLOYMENT', value: (s) => s.deployment },
    { header: 'RECEIVED', value: (s) => String(s.counters?.received ?? '-') },
    { header: 'INFERRED', value: (s) => String(s.counters?.inferred ?? '-') },
    { header: 'PUBLISHED', value: (s) => String(s.counters?.published ?? '-') },
    { header: 'DROPPED', value: (s) => String(s.counters?.dropped ?? '-') },
    { header: 'REFUSED', value: (s) => refusedText(s.counters) },
  ]);
}

/** Adds `datasources ...` to the program. */
export function registerDataSourceCommands(program: Command, out: Output = stdoutOutput): void {
  const datasources = program.command('datasources').description('MQTT data sources streamed through a model');

  withCommonOptions(
    datasources
      .command('add')
      .description('stream an MQTT topic through a deployment (see docs/ingest.md)')
      .argument('<name>', 'data source name')
      .requiredOption('--topic <filter>', 'MQTT topic filter, + and # allowed')
      .requiredOption('--deployment <name>', 'the deployment (or model) to infer with')
      .requiredOption('--fields <a,b,...>', 'message fields, in the order of the model input')
      .option('--format <format>', `payload format: ${PAYLOAD_FORMATS.join(', ')}`, format, 'json')
      .option('--input <name>', 'the model input tensor', 'input')
      .option('--timestamp-field <name>', 'JSON field with the measurement time (epoch ms or ISO 8601)')
      .option('--version <v>', 'a model version (default: the deployment\'s)')
      .option('--result-topic <topic>', 'where predictions go (default: <message topic>/predictions)'),
  ).action(async (name: string, flags: AddFlags) => {
    const body = {
      name,
      topic: flags.topic,
      format: flags.format,
      mapping: { fields: flags.fields.split(',').map((f) => f.trim()), input: flags.input, ...(flags.timestampField === undefined ? {} : { timestampField: flags.timestampField }) },
      deployment: flags.deployment,
      ...(flags.version === undefined ? {} : { version: flags.version }),
      ...(flags.resultTopic === undefined ? {} : { resultTopic: flags.resultTopic }),
    };
    const source = await clientOf(flags).sendJson<ListedDataSource>('POST', '/datasources', body);
    printResult(out, flags.json === true, source, (s) => `data source ${s.name} added: ${s.topic} (${s.format}) → ${s.deployment}, predictions on ${s.resultTopic ?? '<topic>/predictions'}\n`);
  });

  withCommonOptions(datasources.command('list').description('every data source with its counters')).action(async (flags: CommonOptions) => {
    printResult(out, flags.json === true, await clientOf(flags).getJson<{ datasources: ListedDataSource[] }>('/datasources'), listText);
  });

  withCommonOptions(datasources.command('delete').description('stop streaming a data source and forget it').argument('<name>')).action(async (name: string, flags: CommonOptions) => {
    await clientOf(flags).sendJson('DELETE', `/datasources/${encodeURIComponent(name)}`);
    printResult(out, flags.json === true, { deleted: name }, () => `data source ${name} deleted\n`);
  });
}
