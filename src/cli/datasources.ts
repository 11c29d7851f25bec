/**
 * `continuum datasources add|list|delete|export`: MQTT data sources and their stored samples over
 * the management API (docs/ingest.md).
 */
import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { PAYLOAD_FORMATS, samplesCsv } from '../ingest/index.js';
import type { DataSource, IngestCounters, SampleWindow } from '../ingest/index.js';
import { durationMs, wholeNumber } from './args.js';
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
  readonly labelField?: string;
  readonly seqField?: string;
  readonly windowSize?: number;
  readonly windowHop?: number;
  readonly retentionMaxAge?: number;
  readonly retentionMaxRows?: number;
  readonly deployment: string;
  readonly version?: string;
  readonly resultTopic?: string;
}

interface ExportFlags extends CommonOptions {
  readonly from?: string;
  readonly to?: string;
  readonly limit?: number;
  readonly format: 'csv' | 'json';
  readonly output?: string;
}

function isoTime(value: string): string {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new InvalidArgumentError('expected an ISO 8601 time such as 2026-11-23T17:00:00Z');
  return new Date(ms).toISOString();
}

function exportFormat(value: string): 'csv' | 'json' {
  if (value !== 'csv' && value !== 'json') throw new InvalidArgumentError('expected csv or json');
  return value;
}

/** The optional parts of a data source that `add` flags give. */
function optionalParts(flags: AddFlags): Partial<DataSource> {
  const { windowSize, windowHop, retentionMaxAge, retentionMaxRows } = flags;
  if (windowHop !== undefined && windowSize === undefined) throw new InvalidArgumentError('--window-hop needs --window-size');
  const retention = { ...(retentionMaxAge === undefined ? {} : { maxAgeMs: retentionMaxAge }), ...(retentionMaxRows === undefined ? {} : { maxRows: retentionMaxRows }) };
  return {
    ...(flags.version === undefined ? {} : { version: flags.version }),
    ...(flags.resultTopic === undefined ? {} : { resultTopic: flags.resultTopic }),
    // A hop as long as the window (no overlap) unless told otherwise.
    ...(windowSize === undefined ? {} : { window: { size: windowSize, hop: windowHop ?? windowSize } }),
    ...(Object.keys(retention).length === 0 ? {} : { retention }),
  };
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
      .option('--label-field <name>', 'JSON field with the class of a training sample')
      .option('--seq-field <name>', 'JSON field with the message sequence number (default: seq)')
      .option('--window-size <n>', 'infer windows of n consecutive messages per topic (a timeseries model)', wholeNumber(1))
      .option('--window-hop <n>', 'messages between window starts (default: the window size)', wholeNumber(1))
      .option('--retention-max-age <duration>', 'delete stored samples older than this, e.g. 168h', durationMs)
      .option('--retention-max-rows <n>', 'keep at most n stored samples', wholeNumber(1))
      .option('--version <v>', 'a model version (default: the deployment\'s)')
      .option('--result-topic <topic>', 'where predictions go (default: <message topic>/predictions)'),
  ).action(async (name: string, flags: AddFlags) => {
    const mapping = {
      fields: flags.fields.split(',').map((f) => f.trim()),
      input: flags.input,
      ...(flags.timestampField === undefined ? {} : { timestampField: flags.timestampField }),
      ...(flags.labelField === undefined ? {} : { labelField: flags.labelField }),
      ...(flags.seqField === undefined ? {} : { seqField: flags.seqField }),
    };
    const body = { name, topic: flags.topic, format: flags.format, mapping, deployment: flags.deployment, ...optionalParts(flags) };
    const source = await clientOf(flags).sendJson<ListedDataSource>('POST', '/datasources', body);
    printResult(out, flags.json === true, source, (s) => `data source ${s.name} added: ${s.topic} (${s.format}) → ${s.deployment}, predictions on ${s.resultTopic ?? '<topic>/predictions'}\n`);
  });

  withCommonOptions(datasources.command('list').description('every data source with its counters')).action(async (flags: CommonOptions) => {
    printResult(out, flags.json === true, await clientOf(flags).getJson<{ datasources: ListedDataSource[] }>('/datasources'), listText);
  });

  withCommonOptions(
    datasources
      .command('export')
      .description('a time window of the stored samples as a training dataset (CSV or JSON)')
      .argument('<name>')
      .option('--from <time>', 'first sample time, ISO 8601 (default: the oldest)', isoTime)
      .option('--to <time>', 'end of the window, ISO 8601, exclusive (default: the newest)', isoTime)
      .option('--limit <n>', 'at most n samples, oldest first (default 100000)', wholeNumber(1))
      .option('--format <format>', 'csv or json', exportFormat, 'csv')
      .option('-o, --output <file>', 'write to this file instead of stdout'),
  ).action(async (name: string, flags: ExportFlags) => {
    const query = new URLSearchParams({ format: 'json', ...(flags.from === undefined ? {} : { from: flags.from }), ...(flags.to === undefined ? {} : { to: flags.to }), ...(flags.limit === undefined ? {} : { limit: String(flags.limit) }) });
    const window = await clientOf(flags).getJson<SampleWindow & { name: string }>(`/datasources/${encodeURIComponent(name)}/samples?${query.toString()}`);
    const text = flags.format === 'csv' ? samplesCsv(window) : `${JSON.stringify(window, null, 2)}\n`;
    if (flags.output === undefined) return out.write(text);
    await writeFile(flags.output, text);
    out.write(`${window.rows.length} samples of ${name} written to ${flags.output}\n`);
  });

  withCommonOptions(datasources.command('delete').description('stop streaming a data source and forget it').argument('<name>')).action(async (name: string, flags: CommonOptions) => {
    await clientOf(flags).sendJson('DELETE', `/datasources/${encodeURIComponent(name)}`);
    printResult(out, flags.json === true, { deleted: name }, () => `data source ${name} deleted\n`);
  });
}
