/**
 * Alert rules, alerts (each firing, until it resolves) and their webhook deliveries in the data
 * directory's database, with their own migrations.
 */
import { ContinuumError } from '../errors.js';
import { openDatabase } from '../store/index.js';
import type { Migration, SqliteDatabase } from '../store/index.js';
import type { AlertKind, AlertRule, AlertSeverity, AlertTransition } from './alerts.js';
import type { DeliveryOutcome, DeliveryState } from './webhooks.js';

/** A webhook delivery of one notification (firing or resolved) of an alert. */
export interface DeliveryRecord {
  readonly id: number;
  /** Which notification: the alert firing or resolving. */
  readonly notification: 'firing' | 'resolved';
  readonly url: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly updatedAt: string;
}

/** An alert: a rule broken by a deployment, from firing to resolved. */
export interface AlertRecord {
  readonly id: number;
  readonly rule: string;
  readonly kind: AlertKind;
  readonly deployment: string;
  readonly severity: AlertSeverity;
  readonly status: 'firing' | 'resolved';
  /** The value when it fired. */
  readonly value: number | null;
  /** The value when it resolved. */
  readonly resolvedValue: number | null;
  readonly threshold: number;
  readonly startsAt: string;
  readonly endsAt: string | null;
  readonly deliveries: readonly DeliveryRecord[];
}

const ALERTS_MIGRATIONS_TABLE = 'observe_alerts_schema_migrations';

/** Resolved alerts kept; older ones are pruned with their deliveries. */
const MAX_RESOLVED_ALERTS = 1000;

const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'alert rules, alerts, webhook deliveries',
    sql: `
      CREATE TABLE alert_rules (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        deployment TEXT NOT NULL,
        severity TEXT NOT NULL,
        threshold REAL NOT NULL,
        for_ms INTEGER NOT NULL,
        window_ms INTEGER NOT NULL,
        webhooks TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        rule TEXT NOT NULL,
        kind TEXT NOT NULL,
        deployment TEXT NOT NULL,
        severity TEXT NOT NULL,
        status TEXT NOT NULL,
        value REAL,
        resolved_value REAL,
        threshold REAL NOT NULL,
        starts_at TEXT NOT NULL,
        ends_at TEXT
      );
      CREATE INDEX alerts_status ON alerts(status, id);
      CREATE TABLE alert_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
        notification TEXT NOT NULL,
        url TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_status INTEGER,
        last_error TEXT,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX alert_deliveries_alert ON alert_deliveries(alert_id);
    `,
  },
];

interface RuleRow {
  name: string;
  kind: string;
  deployment: string;
  severity: string;
  threshold: number;
  for_ms: number;
  window_ms: number;
  webhooks: string;
  created_at: string;
}

interface AlertRow {
  id: number;
  rule: string;
  kind: string;
  deployment: string;
  severity: string;
  status: string;
  value: number | null;
  resolved_value: number | null;
  threshold: number;
  starts_at: string;
  ends_at: string | null;
}

interface DeliveryRow {
  id: number;
  alert_id: number;
  notification: string;
  url: string;
  state: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  updated_at: string;
}

// Rows hold only what this module wrote, so their text columns have the union types' values.
function ruleOf(row: RuleRow): AlertRule {
  return {
    name: row.name,
    kind: row.kind as AlertKind,
    deployment: row.deployment,
    severity: row.severity as AlertSeverity,
    threshold: row.threshold,
    forMs: row.for_ms,
    windowMs: row.window_ms,
    webhooks: JSON.parse(row.webhooks) as string[],
    createdAt: row.created_at,
  };
}

function deliveryOf(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    notification: row.notification as DeliveryRecord['notification'],
    url: row.url,
    state: row.state as DeliveryState,
    attempts: row.attempts,
    lastStatus: row.last_status,
    lastError: row.last_error,
    updatedAt: row.updated_at,
  };
}

/** Rules, alerts and deliveries of one data directory. */
export class AlertStore {
  private constructor(private readonly db: SqliteDatabase) {}

  /** Opens the store in `dataDir`, applying pending migrations. */
  static open(dataDir: string): AlertStore {
    return new AlertStore(openDatabase(dataDir, MIGRATIONS, ALERTS_MIGRATIONS_TABLE));
  }

  /** Closes the database connection. */
  close(): void {
    this.db.close();
  }

  /** Every rule, by name. */
  rules(): AlertRule[] {
    return (this.db.prepare('SELECT * FROM alert_rules ORDER BY name').all() as RuleRow[]).map(ruleOf);
  }

  /** Stores a new rule; CONTINUUM_ERR_ALERT_RULE_EXISTS when the name is taken. */
  addRule(rule: AlertRule): void {
    const taken = this.db.prepare('SELECT 1 FROM alert_rules WHERE name = ?').get(rule.name) !== undefined;
    if (taken) throw new ContinuumError('CONTINUUM_ERR_ALERT_RULE_EXISTS', `an alert rule named '${rule.name}' exists; delete it first to replace it`, { details: { rule: rule.name } });
    this.db
      .prepare('INSERT INTO alert_rules (name, kind, deployment, severity, threshold, for_ms, window_ms, webhooks, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(rule.name, rule.kind, rule.deployment, rule.severity, rule.threshold, rule.forMs, rule.windowMs, JSON.stringify(rule.webhooks), rule.createdAt);
  }

  /** Deletes a rule; CONTINUUM_ERR_ALERT_RULE_NOT_FOUND when there is none of that name. */
  deleteRule(name: string): void {
    const { changes } = this.db.prepare('DELETE FROM alert_rules WHERE name = ?').run(name);
    if (changes === 0) throw new ContinuumError('CONTINUUM_ERR_ALERT_RULE_NOT_FOUND', `no alert rule named '${name}' (see \`continuum alerts rules list\`)`, { details: { rule: name } });
  }

  /** Records a transition: a firing one makes a new alert, a resolved one ends the rule's firing alert for the deployment. Returns the alert's id. */
  recordTransition(t: AlertTransition): number {
    if (t.status === 'firing') {
      const { lastInsertRowid } = this.db
        .prepare('INSERT INTO alerts (rule, kind, deployment, severity, status, value, threshold, starts_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(t.rule.name, t.rule.kind, t.deployment, t.rule.severity, 'firing', t.value, t.threshold, new Date(t.startsAtMs).toISOString());
      return Number(lastInsertRowid);
    }
    const row = this.db.prepare("SELECT id FROM alerts WHERE rule = ? AND deployment = ? AND status = 'firing' ORDER BY id DESC LIMIT 1").get(t.rule.name, t.deployment) as { id: number } | undefined;
    if (row === undefined) return 0;
    this.db.prepare("UPDATE alerts SET status = 'resolved', resolved_value = ?, ends_at = ? WHERE id = ?").run(t.value, new Date(t.endsAtMs ?? t.startsAtMs).toISOString(), row.id);
    this.db
      .prepare("DELETE FROM alerts WHERE status = 'resolved' AND id <= (SELECT id FROM alerts WHERE status = 'resolved' ORDER BY id DESC LIMIT 1 OFFSET ?)")
      .run(MAX_RESOLVED_ALERTS);
    return row.id;
  }

  /** Records a delivery about to be attempted; returns its id. */
  addDelivery(alertId: number, notification: DeliveryRecord['notification'], url: string): number {
    const { lastInsertRowid } = this.db
      .prepare("INSERT INTO alert_deliveries (alert_id, notification, url, state, attempts, updated_at) VALUES (?, ?, ?, 'pending', 0, ?)")
      .run(alertId, notification, url, new Date().toISOString());
    return Number(lastInsertRowid);
  }

  /** Records a delivery's outcome so far. */
  updateDelivery(id: number, outcome: DeliveryOutcome): void {
    this.db
      .prepare('UPDATE alert_deliveries SET state = ?, attempts = ?, last_status = ?, last_error = ?, updated_at = ? WHERE id = ?')
      .run(outcome.state, outcome.attempts, outcome.lastStatus, outcome.lastError, new Date().toISOString(), id);
  }

  /** Alerts firing now, oldest first. */
  firing(): AlertRecord[] {
    return this.withDeliveries(this.db.prepare("SELECT * FROM alerts WHERE status = 'firing' ORDER BY id").all() as AlertRow[]);
  }

  /** The newest resolved alerts, newest first. */
  resolved(limit: number): AlertRecord[] {
    return this.withDeliveries(this.db.prepare("SELECT * FROM alerts WHERE status = 'resolved' ORDER BY id DESC LIMIT ?").all(limit) as AlertRow[]);
  }

  private withDeliveries(rows: readonly AlertRow[]): AlertRecord[] {
    const byAlert = this.db.prepare('SELECT * FROM alert_deliveries WHERE alert_id = ? ORDER BY id');
    return rows.map((row) => ({
      id: row.id,
      rule: row.rule,
      kind: row.kind as AlertKind,
      deployment: row.deployment,
      severity: row.severity as AlertSeverity,
      status: row.status as AlertRecord['status'],
      value: row.value,
      resolvedValue: row.resolved_value,
      threshold: row.threshold,
      startsAt: row.starts_at,
      endsAt: row.ends_at,
      deliveries: (byAlert.all(row.id) as DeliveryRow[]).map(deliveryOf),
    }));
  }
}
