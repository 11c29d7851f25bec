/**
 * `continuum events`: the event log of every deployment, newest last; with `--follow`, then each
 * new event as the server records it (its server-sent event stream), until Ctrl-C. A dropped
 * stream is reopened after a pause with `Last-Event-ID`, so nothing in between is lost.
 */
import type { Command } from 'commander';
import { request } from 'undici';
import type { DeploymentEvent } from '../deploy/index.js';
import { ContinuumError } from '../errors.js';
import { SseParser } from '../observe/index.js';
import { wholeNumber } from './args.js';
import { clientOf, TOKEN_ENV, withCommonOptions } from './client.js';
import type { CommonOptions } from './client.js';
import { formatTable, printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';

interface EventsFlags extends CommonOptions {
  readonly deployment?: string;
  readonly type?: string;
  readonly limit?: number;
  readonly follow?: boolean;
}

/** Pause before a dropped stream is reopened. */
const RECONNECT_MS = 1000;

/** One event as a line of text: time, deployment, type, message. */
export function eventLine(e: DeploymentEvent): string {
  return `${e.at}  ${e.deployment}  ${e.type}  ${e.message}\n`;
}

/** Prints one followed event: a text line, or with `--json` one JSON object per line. */
function printEvent(out: Output, json: boolean, event: DeploymentEvent): void {
  out.write(json ? `${JSON.stringify(event)}\n` : eventLine(event));
}

function eventsText(events: readonly DeploymentEvent[]): string {
  return formatTable(events, [
    { header: 'ID', value: (e) => String(e.id) },
    { header: 'AT', value: (e) => e.at },
    { header: 'DEPLOYMENT', value: (e) => e.deployment },
    { header: 'TYPE', value: (e) => e.type },
    { header: 'MESSAGE', value: (e) => e.message },
  ]);
}

/** The query string of the filters (and a cursor). */
function query(filters: Readonly<Record<string, string | number | undefined>>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Reads the event stream from after `lastId`, printing each event; reopens it when it drops. Never returns on its own. */
async function follow(flags: EventsFlags, lastId: number | undefined, out: Output): Promise<never> {
  const server = clientOf(flags).server;
  const token = flags.token ?? process.env[TOKEN_ENV];
  let cursor = lastId === undefined ? undefined : String(lastId);
  for (;;) {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (token !== undefined && token !== '') headers['authorization'] = `Bearer ${token}`;
    if (cursor !== undefined) headers['last-event-id'] = cursor;
    try {
      const response = await request(`${server}/api/v1/events/stream${query({ deployment: flags.deployment, type: flags.type })}`, { headers });
      if (response.statusCode !== 200) {
        const text = await response.body.text();
        throw new ContinuumError(response.statusCode === 401 ? 'CONTINUUM_ERR_UNAUTHENTICATED' : 'CONTINUUM_ERR_INTERNAL', `the event stream answered HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
      }
      const parser = new SseParser();
      for await (const chunk of response.body) {
        for (const message of parser.push((chunk as Buffer).toString('utf8'))) {
          printEvent(out, flags.json === true, JSON.parse(message.data) as DeploymentEvent);
        }
        cursor = parser.lastEventId ?? cursor;
      }
    } catch (err) {
      if (err instanceof ContinuumError) throw err;
      process.stderr.write(`continuum: event stream lost (${err instanceof Error ? err.message : String(err)}); reconnecting\n`);
    }
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}

/** Adds `events` to the program. */
export function registerEventCommands(program: Command, out: Output = stdoutOutput): void {
  withCommonOptions(
    program
      .command('events')
      .description('the event log of every deployment, newest last; --follow prints new events as they happen')
      .option('--deployment <name>', 'only this deployment')
      .option('--type <type>', 'only events of this type (e.g. replica-lost, alert-firing)')
      .option('--limit <n>', 'how many of the newest events', wholeNumber(1), 20)
      .option('--follow', 'then print new events as they come, until Ctrl-C (with --json: one JSON object per line)'),
  ).action(async (flags: EventsFlags) => {
    const { events } = await clientOf(flags).getJson<{ events: DeploymentEvent[] }>(`/events${query({ deployment: flags.deployment, type: flags.type, limit: flags.limit })}`);
    if (flags.follow !== true) {
      printResult(out, flags.json === true, { events }, (r) => eventsText(r.events));
      return;
    }
    for (const event of events) printEvent(out, flags.json === true, event);
    await follow(flags, events.at(-1)?.id ?? 0, out);
  });
}
