/** How the console writes numbers, money, times and traffic rules. */
import type { TrafficRule } from './wire.js';

/** A number with at most `digits` decimals, '–' for none. */
export function num(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en', { maximumFractionDigits: digits });
}

/** US dollars; small amounts keep their significant digits. */
export function usd(value: number): string {
  if (value === 0) return '$0';
  return value < 0.01 ? `$${value.toPrecision(2)}` : `$${value.toFixed(2)}`;
}

/** Bytes in B, KB, MB, GB (powers of 1024). */
export function bytes(value: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let v = value;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${num(v, 1)} ${units[i] ?? 'B'}`;
}

/** A local date and time from an ISO string. */
export function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

/** Basis points as a percentage. */
function pct(bps: number): string {
  return `${num(bps / 100, 2)}%`;
}

/** A traffic rule in words. */
export function trafficRule(rule: TrafficRule): string {
  switch (rule.kind) {
    case 'baseline':
      return 'all traffic to production';
    case 'weighted':
      return `${pct(rule.candidateBps)} to the candidate${rule.controlBps > 0 ? `, ${pct(rule.controlBps)} to the control` : ''}`;
    case 'sticky':
      return `${pct(rule.candidateBps)} of keys (header ${rule.keyHeader}) to the candidate`;
    case 'header':
      return `requests with ${rule.header}: ${rule.value} to the candidate`;
    case 'mirror':
      return `${pct(rule.shareBps)} mirrored to the candidate (tolerance ${rule.tolerance})`;
  }
}
