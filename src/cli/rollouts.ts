/**
 * `continuum rollouts start|list|show|promote|pause|resume|abort`, over the management API. A
 * rollout takes a deployment from its revision to a candidate version by canary, blue-green,
 * shadow or A/B steps, judged at each step; `--wait` follows it to its end and exits non-zero when
 * it was rolled back or aborted.
 */
import type { Command } from 'commander';
import type { Rollout, RolloutDetail } from '../rollout/index.js';
import { ContinuumError } from '../errors.js';
import { clientOf, withCommonOptions } from './client.js';
import type { ApiClient, CommonOptions } from './client.js';
import { formatFields, formatTable, printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';
import { rolloutOf, withRolloutOptions } from './rollout-flags.js';
import type { RolloutFlags } from './rollout-flags.js';

/** How often `--wait` polls. */
const WAIT_POLL_MS = 500;

function listText(list: { readonly rollouts: readonly Rollout[] }): string {
  return formatTable(list.rollouts, [
    { header: 'ID', value: (r) => String(r.id) },
    { header: 'DEPLOYMENT', value: (r) => r.deployment },
    { header: 'STRATEGY', value: (r) => r.strategy },
    { header: 'VERSIONS', value: (r) => `${r.baselineVersion} → ${r.candidateVersion}` },
    { header: 'STATUS', value: (r) => r.state.status },
    { header: 'REASON', value: (r) => r.state.reason },
    { header: 'UPDATED', value: (r) => r.updatedAt },
  ]);
}

/** A rollout with its latest verdicts and their checks. */
export function rolloutText(r: RolloutDetail): string {
  const verdicts = r.verdicts.map((v) => `  ${v.at} step ${v.step}: ${v.verdict.outcome.toUpperCase()}\n${v.verdict.checks.map((c) => `    ${c.name}: ${c.outcome} — ${c.detail}`).join('\n')}`);
  return (
    formatFields([
      ['Rollout', `${r.id} (${r.strategy}) of deployment ${r.deployment}`],
      ['Versions', `baseline ${r.baselineVersion} (revision ${r.baselineRevision}) → candidate ${r.candidateVersion} (revision ${r.candidateRevision})`],
      ['Status', `${r.state.status}: ${r.state.reason}`],
      ['Step', r.step],
      ['Started', r.createdAt],
      ['Updated', r.updatedAt],
    ]) + (verdicts.length === 0 ? '' : `\nVerdicts (newest last):\n${verdicts.join('\n')}\n`)
  );
}

/** Polls a rollout until it ends; rejects when it ended without promoting the candidate. */
async function waitForEnd(client: ApiClient, id: number): Promise<RolloutDetail> {
  for (;;) {
    const r = await client.getJson<RolloutDetail>(`/rollouts/${id}`);
    if (r.state.status === 'succeeded') return r;
    if (r.state.status === 'rolled-back' || r.state.status === 'aborted') {
      throw new ContinuumError('CONTINUUM_ERR_ROLLOUT_FINISHED', `rollout ${id} ${r.state.status}: ${r.state.reason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
}

/** Adds `rollouts ...` to the program. */
export function registerRolloutCommands(program: Command, out: Output = stdoutOutput): void {
  const rollouts = program.command('rollouts').description('progressive delivery: start, follow, promote, pause, resume or abort rollouts');

  withCommonOptions(
    withRolloutOptions(
      rollouts
        .command('start')
        .description('roll a deployment out to another version of its model (canary by default)')
        .argument('<deployment>')
        .argument('<ref>', 'the candidate: a version (3) or an alias (@staging)')
        .option('--wait', 'follow the rollout to its end; exit non-zero when it is rolled back or aborted'),
    ),
  ).action(async (deployment: string, ref: string, flags: CommonOptions & RolloutFlags & { wait?: boolean }) => {
    const client = clientOf(flags);
    const started = await client.sendJson<RolloutDetail>('POST', '/rollouts', { deployment, ref, ...rolloutOf(flags) });
    const result = flags.wait === true ? await waitForEnd(client, started.id) : started;
    printResult(out, flags.json === true, result, rolloutText);
  });

  withCommonOptions(rollouts.command('list').description('rollouts, newest first').option('--deployment <name>', 'only this deployment')).action(
    async (flags: CommonOptions & { deployment?: string }) => {
      const query = flags.deployment === undefined ? '' : `?deployment=${encodeURIComponent(flags.deployment)}`;
      printResult(out, flags.json === true, await clientOf(flags).getJson<{ rollouts: Rollout[] }>(`/rollouts${query}`), listText);
    },
  );

  withCommonOptions(rollouts.command('show').description('a rollout, its step and its latest verdicts with their evidence').argument('<id>')).action(async (id: string, flags: CommonOptions) => {
    printResult(out, flags.json === true, await clientOf(flags).getJson<RolloutDetail>(`/rollouts/${encodeURIComponent(id)}`), rolloutText);
  });

  const commands = {
    promote: 'skip the remaining steps: size the candidate like production and promote it',
    pause: 'hold the rollout where it is (traffic stays as it is, no verdicts)',
    resume: 'go on from where the rollout was paused (the step bakes again)',
    abort: 'roll back: all traffic to production, the candidate drains',
  } as const;
  for (const [command, description] of Object.entries(commands)) {
    withCommonOptions(rollouts.command(command).description(description).argument('<id>')).action(async (id: string, flags: CommonOptions) => {
      printResult(out, flags.json === true, await clientOf(flags).sendJson<RolloutDetail>('POST', `/rollouts/${encodeURIComponent(id)}/${command}`), rolloutText);
    });
  }
}
