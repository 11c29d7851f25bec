/**
 * Webhook delivery of alert notifications: each an HTTP POST of JSON in Alertmanager's webhook
 * format (version 4), so receivers written for Alertmanager read it unchanged. Each attempt has a
 * timeout; failures are retried with exponential backoff and "equal jitter" (AWS Architecture
 * Blog, "Exponential Backoff And Jitter"), as Alertmanager retries 5xx and 429 but not other 4xx
 * answers. Deliveries wait in a bounded queue: beyond it a notification is dropped, counted and
 * reported, never held in unbounded memory.
 */
import { request } from 'undici';
import { ContinuumError } from '../errors.js';

/** A notification to send: the alert's payload to one URL. */
export interface WebhookDelivery {
  /** The delivery's id (its record in the alerts store). */
  readonly id: number;
  readonly url: string;
  readonly payload: AlertmanagerPayload;
}

/** Where a delivery stands. */
export type DeliveryState = 'pending' | 'delivered' | 'failed' | 'dropped';

/** A delivery's outcome so far, reported after every attempt. */
export interface DeliveryOutcome {
  readonly state: DeliveryState;
  readonly attempts: number;
  /** HTTP status of the last answer; null when there was none (refused, timed out). */
  readonly lastStatus: number | null;
  readonly lastError: string | null;
}

/** One alert in the payload. */
export interface AlertmanagerAlert {
  readonly status: 'firing' | 'resolved';
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: string;
  /** Alertmanager's zero time while firing. */
  readonly endsAt: string;
  readonly generatorURL: string;
  readonly fingerprint: string;
  /** The value that decided and the rule's threshold (Continuum's additions). */
  readonly value: number | null;
  readonly threshold: number;
}

/** Alertmanager's webhook body (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
export interface AlertmanagerPayload {
  readonly version: '4';
  readonly groupKey: string;
  readonly truncatedAlerts: number;
  readonly status: 'firing' | 'resolved';
  readonly receiver: string;
  readonly groupLabels: Readonly<Record<string, string>>;
  readonly commonLabels: Readonly<Record<string, string>>;
  readonly commonAnnotations: Readonly<Record<string, string>>;
  readonly externalURL: string;
  readonly alerts: readonly AlertmanagerAlert[];
}

/** Alertmanager's "not ended" time. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Why a delivery cut short by shutdown failed. */
const STOPPED = 'the server stopped before the delivery succeeded';

/** Longest webhook URL taken. */
const MAX_URL_LENGTH = 2048;

/** Checks a webhook URL: absolute http or https, without credentials in it; CONTINUUM_ERR_INVALID_ALERT_RULE otherwise. */
export function checkWebhookUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ContinuumError('CONTINUUM_ERR_INVALID_ALERT_RULE', `webhook '${value.slice(0, 100)}' is not a URL; give an absolute http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ContinuumError('CONTINUUM_ERR_INVALID_ALERT_RULE', `webhook '${value.slice(0, 100)}' uses ${url.protocol}; only http:// and https:// are delivered to`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ContinuumError('CONTINUUM_ERR_INVALID_ALERT_RULE', 'a webhook URL must not carry credentials (they would be stored and shown in clear); put a token in the path or query instead');
  }
  if (value.length > MAX_URL_LENGTH) throw new ContinuumError('CONTINUUM_ERR_INVALID_ALERT_RULE', `a webhook URL is at most ${MAX_URL_LENGTH} characters`);
  return url.toString();
}

/** Retry timing of {@link backoffDelayMs}. */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter. @default 500 */
  readonly baseDelayMs: number;
  /** Longest delay. @default 30000 */
  readonly maxDelayMs: number;
}

/**
 * The wait before retry number `retry` (1 = after the first failed attempt): the base doubled per
 * retry up to the maximum, of which a random half is taken off ("equal jitter": at least half the
 * delay, so retries still back off, spread so many senders do not retry in step). `random` is in [0, 1).
 */
export function backoffDelayMs(retry: number, options: BackoffOptions, random: number): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retry - 1));
  return ceiling / 2 + (ceiling / 2) * random;
}

/** Whether an HTTP status is worth a retry: 5xx, 408 and 429 (Alertmanager's rule). */
export function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Options of a {@link WebhookNotifier}. */
export interface WebhookNotifierOptions {
  /** Timeout of one attempt (connect to answer). @default 5000 */
  readonly timeoutMs?: number;
  /** Attempts per delivery at most. @default 6 */
  readonly maxAttempts?: number;
  /** @default 500 */
  readonly baseDelayMs?: number;
  /** @default 30000 */
  readonly maxDelayMs?: number;
  /** Deliveries waiting at most; beyond, new ones are dropped. @default 1000 */
  readonly maxQueued?: number;
  /** Deliveries in progress at once. @default 4 */
  readonly concurrency?: number;
  /** Told after every attempt, and when a delivery is dropped. */
  readonly onOutcome: (delivery: WebhookDelivery, outcome: DeliveryOutcome) => void;
  /** Reports a dropped delivery. */
  readonly logWarning: (message: string, details: Readonly<Record<string, unknown>>) => void;
  /** Waits `ms` or until `signal` aborts (tests pass one that records the delays). @default a timer */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** @default Math.random */
  readonly random?: () => number;
}

function timerSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Delivers webhooks from a bounded queue; see the module comment. */
export class WebhookNotifier {
  private readonly queue: WebhookDelivery[] = [];
  private active = 0;
  private droppedCount = 0;
  private readonly idle = new Set<() => void>();
  private readonly stopping = new AbortController();
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoff: BackoffOptions;
  private readonly maxQueued: number;
  private readonly concurrency: number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly options: WebhookNotifierOptions) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.maxAttempts = options.maxAttempts ?? 6;
    this.backoff = { baseDelayMs: options.baseDelayMs ?? 500, maxDelayMs: options.maxDelayMs ?? 30_000 };
    this.maxQueued = options.maxQueued ?? 1000;
    this.concurrency = options.concurrency ?? 4;
    this.sleep = options.sleep ?? timerSleep;
    this.random = options.random ?? Math.random;
  }

  /** Deliveries dropped because the queue was full (or the notifier closed). */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Deliveries waiting to start. */
  get queued(): number {
    return this.queue.length;
  }

  /** Queues a delivery; drops it (counted, reported) when the queue is full or the notifier is closed. */
  enqueue(delivery: WebhookDelivery): void {
    const refusal = this.stopping.signal.aborted ? STOPPED : this.queue.length >= this.maxQueued ? 'the delivery queue was full' : undefined;
    if (refusal !== undefined) {
      this.droppedCount += 1;
      this.options.logWarning(`webhook delivery dropped: ${refusal}`, { url: delivery.url, queued: this.queue.length, dropped: this.droppedCount });
      this.options.onOutcome(delivery, { state: 'dropped', attempts: 0, lastStatus: null, lastError: refusal });
      return;
    }
    this.queue.push(delivery);
    this.pump();
  }

  /** Resolves once nothing is queued or in progress. */
  settled(): Promise<void> {
    if (this.active === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.add(resolve));
  }

  /** Stops retrying: waits cut short, queued deliveries recorded as failed; resolves when the attempts in progress end. */
  async close(): Promise<void> {
    this.stopping.abort();
    for (const delivery of this.queue.splice(0)) this.options.onOutcome(delivery, { state: 'failed', attempts: 0, lastStatus: null, lastError: STOPPED });
    await this.settled();
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) {
      const next = this.queue.shift() as WebhookDelivery;
      this.active += 1;
      void this.deliver(next).finally(() => {
        this.active -= 1;
        this.pump();
        if (this.active > 0 || this.queue.length > 0) return;
        for (const resolve of this.idle) resolve();
        this.idle.clear();
      });
    }
  }

  /** Attempts until delivered, refused for good, out of attempts, or stopped. */
  private async deliver(delivery: WebhookDelivery): Promise<void> {
    const body = JSON.stringify(delivery.payload);
    for (let attempt = 1; ; attempt++) {
      const { status, error } = await this.attempt(delivery.url, body);
      const delivered = status !== null && status >= 200 && status < 300;
      const again = !delivered && (status === null || retryable(status)) && attempt < this.maxAttempts && !this.stopping.signal.aborted;
      const state: DeliveryState = delivered ? 'delivered' : again ? 'pending' : 'failed';
      this.options.onOutcome(delivery, { state, attempts: attempt, lastStatus: status, lastError: error });
      if (!again) return;
      await this.sleep(backoffDelayMs(attempt, this.backoff, this.random()), this.stopping.signal);
      if (this.stopping.signal.aborted) {
        this.options.onOutcome(delivery, { state: 'failed', attempts: attempt, lastStatus: status, lastError: STOPPED });
        return;
      }
    }
  }

  private async attempt(url: string, body: string): Promise<{ status: number | null; error: string | null }> {
    try {
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'continuum-alerts' },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.stopping.signal]),
      });
      // The answer's body is not needed; reading it frees the connection for reuse.
      await response.body.dump();
      return { status: response.statusCode, error: response.statusCode >= 300 ? `HTTP ${response.statusCode}` : null };
    } catch (err) {
      return { status: null, error: err instanceof Error ? err.message : String(err) };
    }
  }
}
