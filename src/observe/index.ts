/**
 * Observability: the event log's live stream, alert rules evaluated on every autoscaler tick
 * (pure), and their webhook notifications.
 */
export { EventStream, formatSseComment, formatSseEvent, matchesFilter, SseParser } from './events.js';
export type { EventFilter, EventLog, EventStreamOptions, SseMessage } from './events.js';
export { ALERT_KINDS, ALERT_SEVERITIES, ANY_DEPLOYMENT, compileAlertRule, DEFAULT_WINDOW_MS, evaluateAlerts, INITIAL_ALERT_STATE } from './alerts.js';
export type { AlertKind, AlertObservation, AlertRule, AlertRuleInput, AlertSeverity, AlertState, AlertTransition } from './alerts.js';
export { AlertEngine, alertPayload, describeRule, formatAlertValue } from './alerts-engine.js';
export type { AlertEngineOptions, AlertList } from './alerts-engine.js';
export { AlertStore } from './alerts-store.js';
export type { AlertRecord, DeliveryRecord } from './alerts-store.js';
export { backoffDelayMs, checkWebhookUrl, WebhookNotifier } from './webhooks.js';
export type { AlertmanagerPayload, DeliveryOutcome, DeliveryState, WebhookDelivery, WebhookNotifierOptions } from './webhooks.js';
