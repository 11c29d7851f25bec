/** A simulation's figures as plain text, for the terminal and for notes beside a timeline. */
import { formatFields } from '../cli/output.js';
import type { SimulationResult } from './engine.js';

const ms = (v: number): string => (Number.isNaN(v) ? '-' : v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(1)} ms`);
const percent = (v: number): string => `${(v * 100).toFixed(2)}%`;
const whole = (v: number): string => Math.round(v).toLocaleString('en-US');

function duration(totalMs: number): string {
  const s = Math.round(totalMs / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min ${s % 60} s` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

/** `key:  value` lines with the run's outcome: SLO attainment, latency, replicas, cost. */
export function formatSimulationReport(result: SimulationResult): string {
  const modes = Object.entries(result.usage)
    .filter(([, u]) => u.replicaSeconds > 0)
    .map(([mode, u]) => `${mode} ${whole(u.replicaSeconds)} replica-s, ${whole(u.invocations)} requests`);
  return formatFields([
    ['policy', result.policy],
    ['model', result.model],
    ['simulated', duration(result.durationMs)],
    ['requests', `${whole(result.requests)} (${whole(result.completed)} answered, ${whole(result.failed)} failed with 503)`],
    ['SLO attainment', `${percent(result.sloAttainment)} within ${result.sloMs} ms`],
    ['latency', `p50 ${ms(result.latencyP50Ms)}, p90 ${ms(result.latencyP90Ms)}, p99 ${ms(result.latencyP99Ms)}`],
    ['replica-seconds', `${whole(result.replicaSeconds)} (${modes.length === 0 ? 'none' : modes.join('; ')})`],
    ['mean utilization', percent(result.meanUtilization)],
    ['cold starts', whole(result.coldStarts)],
    ['decisions', `${whole(result.decisions)} (${whole(result.scaleChanges)} changed the replica count)`],
    ['cost', `$${result.costUsd.toFixed(4)}`],
  ]);
}
