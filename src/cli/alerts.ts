/**
 * `continuum alerts list` (firing and recently resolved alerts, with their webhook deliveries) and
 * `continuum alerts rules add|list|delete`, over the management API.
 */
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import type { AlertList, AlertRecord, AlertRule } from '../observe/index.js';
import { ALERT_KINDS, ALERT_SEVERITIES, describeRule, formatAlertValue } from '../observe/index.js';
import { collect, durationMs, wholeNumber } from './args.js';
import { clientOf, withCommonOptions } from './client.js';
import type { CommonOptions } from './client.js';
import { formatTable, printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';

const segment = encodeURIComponent;

interface RuleFlags extends CommonOptions {
  readonly kind: string;
  readonly threshold: number;
  readonly deployment?: string;
  readonly severity?: string;
  readonly for?: number;
  readonly window?: number;
  readonly webhook?: readonly string[];
}

/** One of `choices`, else commander's error naming them. */
function oneOf(choices: readonly string[]): (value: string) => string {
  return (value) => {
    if (!choices.includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}`);
    return value;
  };
}

/** A number >= 0 (thresholds: ms, a share, a count, a score, USD). */
function threshold(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0');
  return n;
}

function rulesText(list: { readonly rules: readonly AlertRule[] }): string {
  return formatTable(list.rules, [
    { header: 'NAME', value: (r) => r.name },
    { header: 'DEPLOYMENT', value: (r) => r.deployment },
    { header: 'SEVERITY', value: (r) => r.severity },
    { header: 'RULE', value: describeRule },
    { header: 'WEBHOOKS', value: (r) => String(r.webhooks.length) },
  ]);
}

function deliveries(a: AlertRecord): string {
  if (a.deliveries.length === 0) return '-';
  return a.deliveries.map((d) => `${d.notification} ${d.state} after ${d.attempts} attempt(s)${d.lastStatus === null ? '' : ` (HTTP ${d.lastStatus})`}`).join('; ');
}

function alertsTable(alerts: readonly AlertRecord[]): string {
  return formatTable(alerts, [
    { header: 'ID', value: (a) => String(a.id) },
    { header: 'RULE', value: (a) => a.rule },
    { header: 'DEPLOYMENT', value: (a) => a.deployment },
    { header: 'SEVERITY', value: (a) => a.severity },
    { header: 'VALUE', value: (a) => formatAlertValue(a.kind, a.status === 'firing' ? a.value : a.resolvedValue) },
    { header: 'SINCE', value: (a) => a.startsAt },
    { header: 'ENDED', value: (a) => a.endsAt ?? '-' },
    { header: 'DELIVERIES', value: deliveries },
  ]);
}

function alertsText(list: AlertList): string {
  return `Firing:\n${alertsTable(list.active)}\nResolved recently:\n${alertsTable(list.recent)}`;
}

/** Adds `alerts ...` to the program. */
export function registerAlertCommands(program: Command, out: Output = stdoutOutput): void {
  const alerts = program.command('alerts').description('alerts firing and resolved, and the rules that raise them');

  withCommonOptions(alerts.command('list').description('alerts firing now and recently resolved, with their webhook deliveries').option('--limit <n>', 'resolved alerts shown at most', wholeNumber(1))).action(
    async (flags: CommonOptions & { limit?: number }) => {
      const result = await clientOf(flags).getJson<AlertList>(`/alerts${flags.limit === undefined ? '' : `?limit=${flags.limit}`}`);
      printResult(out, flags.json === true, result, alertsText);
    },
  );

  const rules = alerts.command('rules').description('add, list and delete alert rules');

  withCommonOptions(
    rules
      .command('add')
      .description('add an alert rule (see docs/alerts.md)')
      .argument('<name>', 'rule name, the alert\'s alertname')
      .requiredOption('--kind <kind>', `what it watches: ${ALERT_KINDS.join(', ')}`, oneOf(ALERT_KINDS))
      .requiredOption('--threshold <x>', 'p99: ms; error-rate: share 0..1; crash-loop: losses; drift: score; cost: USD', threshold)
      .option('--deployment <name>', "a deployment, or '*' for every one (default *)")
      .option('--severity <level>', `${ALERT_SEVERITIES.join(', ')} (default warning)`, oneOf(ALERT_SEVERITIES))
      .option('--for <duration>', 'how long the condition must hold before it fires, e.g. 30s, 5m', durationMs)
      .option('--window <duration>', 'error-rate, crash-loop: the window counted over; cost: the window accrued over', durationMs)
      .option('--webhook <url>', 'POST notifications to this http(s) URL (repeatable)', collect),
  ).action(async (name: string, flags: RuleFlags) => {
    const body = {
      name,
      kind: flags.kind,
      threshold: flags.threshold,
      ...(flags.deployment === undefined ? {} : { deployment: flags.deployment }),
      ...(flags.severity === undefined ? {} : { severity: flags.severity }),
      ...(flags.for === undefined ? {} : { forMs: flags.for }),
      ...(flags.window === undefined ? {} : { windowMs: flags.window }),
      ...(flags.webhook === undefined ? {} : { webhooks: flags.webhook }),
    };
    const rule = await clientOf(flags).sendJson<AlertRule>('POST', '/alerts/rules', body);
    printResult(out, flags.json === true, rule, (r) => `alert rule ${r.name} added: ${r.deployment === '*' ? 'every deployment' : `deployment ${r.deployment}`}, ${describeRule(r)} (${r.severity})\n`);
  });

  withCommonOptions(rules.command('list').description('every alert rule')).action(async (flags: CommonOptions) => {
    printResult(out, flags.json === true, await clientOf(flags).getJson<{ rules: AlertRule[] }>('/alerts/rules'), rulesText);
  });

  withCommonOptions(rules.command('delete').description('delete a rule; its firing alerts resolve').argument('<name>')).action(async (name: string, flags: CommonOptions) => {
    await clientOf(flags).sendJson('DELETE', `/alerts/rules/${segment(name)}`);
    printResult(out, flags.json === true, { deleted: name }, () => `alert rule ${name} deleted\n`);
  });
}
