/**
 * Alert rules and their evaluation as a pure function: rules, the evaluation state and one
 * deployment's observation of one autoscaler tick in; the new state and the alerts that started
 * or stopped firing out. No I/O and no clock: the engine around it stores, records and notifies.
 *
 * Semantics follow Prometheus alerting rules: a condition that starts to hold makes the alert
 * pending; it fires once the condition has held at every evaluation for the rule's `for` duration;
 * it resolves at the first evaluation where the condition no longer holds (a missing value, e.g.
 * no request completed in the tick, does not hold, as an absent series resolves a Prometheus
 * alert). Counts over a window (`rate(...[5m])` in PromQL) are kept in 60 buckets per window, so
 * memory stays bounded whatever the tick rate, at a resolution of 1/60 of the window.
 */
import { ContinuumError } from '../errors.js';
import { NAME_PATTERN } from '../registry/index.js';
import { checkWebhookUrl } from './webhooks.js';

/** What a rule watches. */
export type AlertKind = 'p99' | 'error-rate' | 'crash-loop' | 'drift' | 'cost';

/** Every {@link AlertKind}. */
export const ALERT_KINDS: readonly AlertKind[] = ['p99', 'error-rate', 'crash-loop', 'drift', 'cost'];

/** How urgent an alert is (Prometheus' and Alertmanager's customary `severity` label). */
export type AlertSeverity = 'info' | 'warning' | 'critical';

/** Every {@link AlertSeverity}. */
export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['info', 'warning', 'critical'];

/** A deployment name, or this for every deployment (each evaluated on its own). */
export const ANY_DEPLOYMENT = '*';

/** An alert rule, compiled (units in the names). */
export interface AlertRule {
  /** Unique name; the alert's `alertname` label. */
  readonly name: string;
  readonly kind: AlertKind;
  /** A deployment name or {@link ANY_DEPLOYMENT}. */
  readonly deployment: string;
  readonly severity: AlertSeverity;
  /**
   * p99: ms; error-rate: a share of requests in [0, 1]; crash-loop: losses (fires at this many);
   * drift: a drift score; cost: USD.
   */
  readonly threshold: number;
  /** How long the condition must hold before the alert fires (Prometheus' `for:`). */
  readonly forMs: number;
  /** error-rate and crash-loop: the window counted over; cost: the window accrued over (0 = since the server started). */
  readonly windowMs: number;
  /** Where notifications go (http or https URLs). */
  readonly webhooks: readonly string[];
  readonly createdAt: string;
}

/** Default window of the windowed kinds. */
export const DEFAULT_WINDOW_MS: Readonly<Record<AlertKind, number>> = {
  p99: 0,
  'error-rate': 60_000,
  // Kubernetes' CrashLoopBackOff caps its restart delay at five minutes.
  'crash-loop': 300_000,
  drift: 0,
  cost: 0,
};

/** A rule as a user gives it (API body, CLI flags); {@link compileAlertRule} fills in the defaults. */
export interface AlertRuleInput {
  readonly name: string;
  readonly kind: AlertKind;
  /** @default '*' */
  readonly deployment?: string;
  /** @default 'warning' */
  readonly severity?: AlertSeverity;
  readonly threshold: number;
  /** @default 0 (fires at the first evaluation that breaks the threshold) */
  readonly forMs?: number;
  /** @default DEFAULT_WINDOW_MS of the kind */
  readonly windowMs?: number;
  /** @default [] (the alert is recorded and listed, no one is notified) */
  readonly webhooks?: readonly string[];
}

/** Longest `for` and window: a day. */
const MAX_DURATION_MS = 86_400_000;

/** Most webhooks per rule. */
const MAX_WEBHOOKS = 8;

function invalid(message: string): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_INVALID_ALERT_RULE', message);
}

/** Validates a rule and fills in its defaults; CONTINUUM_ERR_INVALID_ALERT_RULE names what is wrong. */
export function compileAlertRule(input: AlertRuleInput, createdAt: string): AlertRule {
  const { name, kind, threshold } = input;
  if (!NAME_PATTERN.test(name)) throw invalid(`invalid rule name ${JSON.stringify(name.slice(0, 80))}: use 1-63 characters a-z, 0-9, '.', '_', '-', starting with a letter or digit`);
  if (!ALERT_KINDS.includes(kind)) throw invalid(`unknown rule kind '${String(kind)}'; use one of ${ALERT_KINDS.join(', ')}`);
  const deployment = input.deployment ?? ANY_DEPLOYMENT;
  if (deployment !== ANY_DEPLOYMENT && !NAME_PATTERN.test(deployment)) throw invalid(`invalid deployment ${JSON.stringify(deployment.slice(0, 80))}: give a deployment name or '*' for every deployment`);
  const severity = input.severity ?? 'warning';
  if (!ALERT_SEVERITIES.includes(severity)) throw invalid(`unknown severity '${String(severity)}'; use one of ${ALERT_SEVERITIES.join(', ')}`);
  if (!Number.isFinite(threshold) || threshold < 0) throw invalid(`threshold must be a number >= 0, got ${threshold}`);
  if (kind === 'error-rate' && threshold > 1) throw invalid(`an error-rate threshold is a share of requests from 0 to 1 (0.05 = 5%), got ${threshold}`);
  if (kind === 'crash-loop' && (!Number.isInteger(threshold) || threshold < 1)) throw invalid(`a crash-loop threshold is a number of replica losses >= 1, got ${threshold}`);
  const forMs = input.forMs ?? 0;
  const windowMs = input.windowMs ?? DEFAULT_WINDOW_MS[kind];
  for (const [field, value] of [['forMs', forMs], ['windowMs', windowMs]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > MAX_DURATION_MS) throw invalid(`${field} must be whole milliseconds from 0 to ${MAX_DURATION_MS} (a day), got ${value}`);
  }
  if ((kind === 'p99' || kind === 'drift') && windowMs !== 0) throw invalid(`a ${kind} rule judges each tick's value and takes no window; use forMs for how long it must hold`);
  if ((kind === 'error-rate' || kind === 'crash-loop') && windowMs === 0) throw invalid(`a ${kind} rule counts over a window; give windowMs > 0`);
  const webhooks = input.webhooks ?? [];
  if (webhooks.length > MAX_WEBHOOKS) throw invalid(`a rule takes at most ${MAX_WEBHOOKS} webhooks, got ${webhooks.length}`);
  return { name, kind, deployment, severity, threshold, forMs, windowMs, webhooks: webhooks.map(checkWebhookUrl), createdAt };
}

/** What one deployment showed in one autoscaler tick (fed by the controller's tick hook and the drift and energy samplers). */
export interface AlertObservation {
  readonly nowMs: number;
  readonly deployment: string;
  /** Latency p99 of the tick's requests, ms; null when none completed. */
  readonly p99Ms: number | null;
  /** Requests completed in the tick. */
  readonly requests: number;
  /** Of those, the ones the server failed (5xx). */
  readonly errors: number;
  /** Replicas that exited unexpectedly or failed to start in the tick. */
  readonly replicaLosses: number;
  /** The deployment's drift score now; null when not measured. */
  readonly driftScore: number | null;
  /** Cost accrued in the tick, USD. */
  readonly costUsd: number;
}

/** Counts of one bucket of a window. */
interface WindowBucket {
  /** Bucket number: floor(time / bucket width). */
  readonly index: number;
  readonly requests: number;
  readonly errors: number;
  readonly replicaLosses: number;
  readonly costUsd: number;
}

/** One rule's evaluation for one deployment. */
export interface AlertSeries {
  readonly rule: string;
  readonly deployment: string;
  /** When the condition began to hold without a break; null while it does not. */
  readonly pendingSinceMs: number | null;
  /** When the alert fired; null while it is not firing. */
  readonly firingSinceMs: number | null;
  readonly buckets: readonly WindowBucket[];
  /** Cost accrued since the series began, USD (cost rules without a window). */
  readonly totalCostUsd: number;
}

/** The evaluation state: one series per rule and deployment, keyed by {@link seriesKey}. Plain data. */
export interface AlertState {
  readonly series: Readonly<Record<string, AlertSeries>>;
}

/** An alert that started or stopped firing. */
export interface AlertTransition {
  readonly status: 'firing' | 'resolved';
  readonly rule: AlertRule;
  readonly deployment: string;
  /** The value that decided (null when there was none, e.g. no request in the tick). */
  readonly value: number | null;
  readonly threshold: number;
  /** When the alert fired. */
  readonly startsAtMs: number;
  /** When it resolved (resolved only). */
  readonly endsAtMs: number | null;
}

/** The state before any observation. */
export const INITIAL_ALERT_STATE: AlertState = { series: {} };

/** Buckets per window. */
const BUCKETS_PER_WINDOW = 60;

/** The key of a rule's series for a deployment. */
export function seriesKey(rule: string, deployment: string): string {
  return JSON.stringify([rule, deployment]);
}

/** Whether `rule` watches `deployment`. */
export function ruleMatches(rule: AlertRule, deployment: string): boolean {
  return rule.deployment === ANY_DEPLOYMENT || rule.deployment === deployment;
}

/** A state in which the given alerts are firing (as stored, e.g. after a restart), so they resolve rather than fire twice. */
export function stateWithFiring(firing: readonly { readonly rule: string; readonly deployment: string; readonly startsAtMs: number }[]): AlertState {
  const series: Record<string, AlertSeries> = {};
  for (const f of firing) series[seriesKey(f.rule, f.deployment)] = { ...emptySeries(f.rule, f.deployment), pendingSinceMs: f.startsAtMs, firingSinceMs: f.startsAtMs };
  return { series };
}

function emptySeries(rule: string, deployment: string): AlertSeries {
  return { rule, deployment, pendingSinceMs: null, firingSinceMs: null, buckets: [], totalCostUsd: 0 };
}

/** The bucket width of a window. */
function bucketMs(windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / BUCKETS_PER_WINDOW));
}

/** Adds the observation to its bucket and drops buckets wholly before the window. */
function slide(buckets: readonly WindowBucket[], windowMs: number, o: AlertObservation): WindowBucket[] {
  if (windowMs <= 0) return [];
  const width = bucketMs(windowMs);
  const index = Math.floor(o.nowMs / width);
  const oldest = Math.floor((o.nowMs - windowMs) / width);
  const kept = buckets.filter((b) => b.index >= oldest && b.index !== index);
  const same = buckets.find((b) => b.index === index);
  kept.push({
    index,
    requests: (same?.requests ?? 0) + o.requests,
    errors: (same?.errors ?? 0) + o.errors,
    replicaLosses: (same?.replicaLosses ?? 0) + o.replicaLosses,
    costUsd: (same?.costUsd ?? 0) + o.costUsd,
  });
  return kept;
}

function sum(buckets: readonly WindowBucket[], field: 'requests' | 'errors' | 'replicaLosses' | 'costUsd'): number {
  return buckets.reduce((total, b) => total + b[field], 0);
}

/** The rule's value for a series that has taken in the observation; null when there is none. */
export function alertValue(rule: AlertRule, series: AlertSeries, o: AlertObservation): number | null {
  switch (rule.kind) {
    case 'p99':
      return o.p99Ms;
    case 'drift':
      return o.driftScore;
    case 'error-rate': {
      const requests = sum(series.buckets, 'requests');
      return requests === 0 ? null : sum(series.buckets, 'errors') / requests;
    }
    case 'crash-loop':
      return sum(series.buckets, 'replicaLosses');
    case 'cost':
      return rule.windowMs > 0 ? sum(series.buckets, 'costUsd') : series.totalCostUsd;
  }
}

/** Whether the value breaks the rule: above the threshold, or for crash-loop at least that many losses. */
export function breaches(rule: AlertRule, value: number | null): boolean {
  if (value === null || Number.isNaN(value)) return false;
  return rule.kind === 'crash-loop' ? value >= rule.threshold : value > rule.threshold;
}

/**
 * Evaluates every rule that watches the observation's deployment (see the module comment). Series
 * of rules no longer given are dropped; other deployments' series are carried over unchanged.
 */
export function evaluateAlerts(rules: readonly AlertRule[], state: AlertState, o: AlertObservation): { state: AlertState; transitions: AlertTransition[] } {
  const names = new Set(rules.map((r) => r.name));
  const series: Record<string, AlertSeries> = {};
  for (const [key, s] of Object.entries(state.series)) if (names.has(s.rule)) series[key] = s;
  const transitions: AlertTransition[] = [];
  for (const rule of rules) {
    if (!ruleMatches(rule, o.deployment)) continue;
    const key = seriesKey(rule.name, o.deployment);
    const before = series[key] ?? emptySeries(rule.name, o.deployment);
    const observed: AlertSeries = { ...before, buckets: slide(before.buckets, rule.windowMs, o), totalCostUsd: before.totalCostUsd + o.costUsd };
    const value = alertValue(rule, observed, o);
    const base = { rule, deployment: o.deployment, value, threshold: rule.threshold };
    if (!breaches(rule, value)) {
      if (before.firingSinceMs !== null) transitions.push({ ...base, status: 'resolved', startsAtMs: before.firingSinceMs, endsAtMs: o.nowMs });
      series[key] = { ...observed, pendingSinceMs: null, firingSinceMs: null };
      continue;
    }
    const pendingSinceMs = before.pendingSinceMs ?? o.nowMs;
    let firingSinceMs = before.firingSinceMs;
    if (firingSinceMs === null && o.nowMs - pendingSinceMs >= rule.forMs) {
      firingSinceMs = o.nowMs;
      transitions.push({ ...base, status: 'firing', startsAtMs: o.nowMs, endsAtMs: null });
    }
    series[key] = { ...observed, pendingSinceMs, firingSinceMs };
  }
  return { state: { series }, transitions };
}
