/**
 * The alert engine: holds the rules and the evaluation state, feeds each tick's observation to the
 * pure {@link evaluateAlerts}, and carries out what it decides: each alert that fires or resolves
 * is stored, recorded as a deployment event (`alert-firing`, `alert-resolved`) and sent to the
 * rule's webhooks.
 */
import { createHash } from 'node:crypto';
import { compileAlertRule, evaluateAlerts, stateWithFiring } from './alerts.js';
import type { AlertKind, AlertObservation, AlertRule, AlertRuleInput, AlertState, AlertTransition } from './alerts.js';
import type { AlertRecord, AlertStore } from './alerts-store.js';
import { WebhookNotifier, ZERO_TIME } from './webhooks.js';
import type { AlertmanagerPayload, WebhookNotifierOptions } from './webhooks.js';

/** Options of an {@link AlertEngine}. */
export interface AlertEngineOptions {
  readonly store: AlertStore;
  /** Records a deployment event (the event log). */
  readonly recordEvent: (deployment: string, type: string, message: string, data: Readonly<Record<string, unknown>>) => void;
  readonly logWarning: (message: string, details: Readonly<Record<string, unknown>>) => void;
  /** The server's URL, for links in notifications (known once it listens). */
  readonly externalUrl: () => string;
  /** Delivery timing and bounds. @default WebhookNotifier's defaults */
  readonly webhooks?: Omit<WebhookNotifierOptions, 'onOutcome' | 'logWarning'>;
  /** The clock (epoch ms). @default Date.now */
  readonly nowMs?: () => number;
}

/** Alerts as the API lists them. */
export interface AlertList {
  /** Firing now, oldest first. */
  readonly active: readonly AlertRecord[];
  /** Resolved, newest first. */
  readonly recent: readonly AlertRecord[];
}

/** A value in the rule's unit, for messages. */
export function formatAlertValue(kind: AlertKind, value: number | null): string {
  if (value === null) return 'no value';
  switch (kind) {
    case 'p99':
      return `${value.toFixed(0)} ms`;
    case 'error-rate':
      return `${(value * 100).toFixed(2)}%`;
    case 'crash-loop':
      return `${value} replica loss${value === 1 ? '' : 'es'}`;
    case 'drift':
      return value.toFixed(3);
    case 'cost':
      return `$${value.toFixed(4)}`;
  }
}

/** What a rule watches, in words, for messages and the `description` annotation. */
export function describeRule(rule: AlertRule): string {
  const seconds = (ms: number): string => `${ms / 1000} s`;
  const window = rule.windowMs > 0 ? ` within ${seconds(rule.windowMs)}` : '';
  const holding = rule.forMs > 0 ? ` for ${seconds(rule.forMs)}` : '';
  switch (rule.kind) {
    case 'p99':
      return `latency p99 above ${formatAlertValue('p99', rule.threshold)}${holding}`;
    case 'error-rate':
      return `failed requests above ${formatAlertValue('error-rate', rule.threshold)}${window}${holding}`;
    case 'crash-loop':
      return `${formatAlertValue('crash-loop', rule.threshold)} or more${window}${holding}`;
    case 'drift':
      return `drift score above ${formatAlertValue('drift', rule.threshold)}${holding}`;
    case 'cost':
      return `cost above ${formatAlertValue('cost', rule.threshold)}${rule.windowMs > 0 ? window : ' since the server started'}${holding}`;
  }
}

/** The Alertmanager webhook body of one transition (labels: alertname, deployment, severity, kind). */
export function alertPayload(t: AlertTransition, externalUrl: string): AlertmanagerPayload {
  const labels = { alertname: t.rule.name, deployment: t.deployment, severity: t.rule.severity, kind: t.rule.kind };
  const annotations = {
    summary: `${t.rule.name} on ${t.deployment}: ${formatAlertValue(t.rule.kind, t.value)} (threshold ${formatAlertValue(t.rule.kind, t.threshold)})`,
    description: `Deployment ${t.deployment}: ${describeRule(t.rule)}.`,
  };
  // Alertmanager identifies an alert by a hash of its labels.
  const fingerprint = createHash('sha256').update(JSON.stringify(labels)).digest('hex').slice(0, 16);
  return {
    version: '4',
    groupKey: JSON.stringify({ alertname: t.rule.name, deployment: t.deployment }),
    truncatedAlerts: 0,
    status: t.status,
    receiver: 'continuum',
    groupLabels: { alertname: t.rule.name, deployment: t.deployment },
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: externalUrl,
    alerts: [
      {
        status: t.status,
        labels,
        annotations,
        startsAt: new Date(t.startsAtMs).toISOString(),
        endsAt: t.endsAtMs === null ? ZERO_TIME : new Date(t.endsAtMs).toISOString(),
        generatorURL: `${externalUrl}/api/v1/alerts`,
        fingerprint,
        value: t.value,
        threshold: t.threshold,
      },
    ],
  };
}

/** Evaluates alert rules on each tick's observations and notifies; see the module comment. */
export class AlertEngine {
  private rulesNow: AlertRule[];
  private state: AlertState;
  private readonly notifier: WebhookNotifier;
  private readonly nowMs: () => number;

  constructor(private readonly options: AlertEngineOptions) {
    const { store } = options;
    this.nowMs = options.nowMs ?? Date.now;
    this.rulesNow = store.rules();
    // Alerts firing when the server stopped go on firing, so they resolve once instead of firing again.
    this.state = stateWithFiring(store.firing().map((a) => ({ rule: a.rule, deployment: a.deployment, startsAtMs: Date.parse(a.startsAt) })));
    this.notifier = new WebhookNotifier({
      ...options.webhooks,
      onOutcome: (delivery, outcome) => store.updateDelivery(delivery.id, outcome),
      logWarning: options.logWarning,
    });
  }

  /** Every rule, by name. */
  rules(): readonly AlertRule[] {
    return this.rulesNow;
  }

  /** Adds a rule (validated; its defaults filled in). */
  addRule(input: AlertRuleInput): AlertRule {
    const rule = compileAlertRule(input, new Date(this.nowMs()).toISOString());
    this.options.store.addRule(rule);
    this.rulesNow = this.options.store.rules();
    return rule;
  }

  /** Deletes a rule; its firing alerts resolve (and are notified as resolved). */
  deleteRule(name: string): void {
    this.options.store.deleteRule(name);
    const rule = this.rulesNow.find((r) => r.name === name);
    this.rulesNow = this.options.store.rules();
    if (rule === undefined) return;
    const nowMs = this.nowMs();
    for (const alert of this.options.store.firing().filter((a) => a.rule === name)) {
      this.apply({ status: 'resolved', rule, deployment: alert.deployment, value: null, threshold: rule.threshold, startsAtMs: Date.parse(alert.startsAt), endsAtMs: nowMs });
    }
  }

  /** Evaluates one deployment's tick; returns the alerts that fired or resolved (already stored, recorded and queued for delivery). */
  observe(observation: AlertObservation): AlertTransition[] {
    if (this.rulesNow.length === 0) return [];
    const { state, transitions } = evaluateAlerts(this.rulesNow, this.state, observation);
    this.state = state;
    for (const t of transitions) this.apply(t);
    return transitions;
  }

  /** Firing alerts and the newest `limit` resolved ones, with their deliveries. */
  alerts(limit = 50): AlertList {
    return { active: this.options.store.firing(), recent: this.options.store.resolved(limit) };
  }

  /** Deliveries dropped because the queue was full. */
  get droppedDeliveries(): number {
    return this.notifier.dropped;
  }

  /** Resolves once every queued delivery has ended. */
  settled(): Promise<void> {
    return this.notifier.settled();
  }

  /** Stops delivering (attempts in progress end; waits for retries are cut short). */
  close(): Promise<void> {
    return this.notifier.close();
  }

  private apply(t: AlertTransition): void {
    const { store } = this.options;
    const alertId = store.recordTransition(t);
    const value = formatAlertValue(t.rule.kind, t.value);
    this.options.recordEvent(t.deployment, `alert-${t.status}`, `alert ${t.rule.name} (${t.rule.severity}) ${t.status}: ${value}; rule: ${describeRule(t.rule)}`, {
      rule: t.rule.name,
      kind: t.rule.kind,
      severity: t.rule.severity,
      value: t.value,
      threshold: t.threshold,
      alert: alertId,
    });
    if (t.rule.webhooks.length === 0) return;
    const payload = alertPayload(t, this.options.externalUrl());
    for (const url of t.rule.webhooks) this.notifier.enqueue({ id: store.addDelivery(alertId, t.status, url), url, payload });
  }
}
