/**
 * Streaming inference over MQTT: each data source's messages are decoded, stored as samples,
 * inferred through the gateway's router (one message, or a window of consecutive messages for a
 * timeseries model) and the prediction published back (QoS 1 both ways).
 *
 * Durability (MQTT 3.1.1, section 4.3.2 "QoS 1: At least once delivery"): the service holds a
 * persistent session (clean session off, a client id stable per data directory), so the broker
 * keeps what arrives while it is down. A message is stored as a sample before mqtt.js acknowledges
 * it (PUBACK), and a sample whose prediction was not yet acknowledged by the broker when the
 * process stopped is inferred again at the next start, from a per-source watermark saved about
 * once a second. So nothing acknowledged is lost; a prediction may come twice around a restart.
 *
 * Backpressure: at most `maxInFlight` inferences run at once. When the limit is reached the
 * service holds back mqtt.js's per-message callback, which stops it reading the socket; the broker
 * then queues (and, for QoS 1, keeps) what follows. Window buffers are bounded too (a window's
 * samples per topic, a bounded number of topics per source). Nothing is dropped for being fast; a
 * prediction that cannot be published is counted as dropped.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { InferRequest, InferResponse, Tensor } from '../oip/types.js';
import type { InferenceService } from '../runtime/index.js';
import type { BrokerEndpoint } from './broker.js';
import { noDelay } from './socket.js';
import {
  applyDatabusMetadata,
  decodeDatabusData,
  decodeJsonSample,
  DEFAULT_PAYLOAD_LIMITS,
  EMPTY_DATABUS_STATE,
  isDatabusMetadataTopic,
  mappedValues,
  parseJsonPayload,
  toInferRequest,
  type DatabusState,
  type Decoded,
  type FieldMapping,
  type NamedSample,
  type RefusalReason,
} from './formats.js';
import type { NewSample, Sample, SampleRetention, SampleStore } from './samples.js';
import {
  applySparkplugBirth,
  decodeSparkplugData,
  decodeSparkplugPayload,
  EMPTY_SPARKPLUG_STATE,
  parseSparkplugTopic,
  sparkplugBirthFilter,
  type SparkplugState,
  type SparkplugTopic,
} from './sparkplug.js';

/** The payload formats a data source can speak. */
export const PAYLOAD_FORMATS = ['json', 'databus', 'sparkplug'] as const;

/** A payload format. */
export type PayloadFormat = (typeof PAYLOAD_FORMATS)[number];

/** Consecutive samples inferred together by a timeseries model: `size` samples, every `hop` samples. */
export interface InferenceWindow {
  readonly size: number;
  readonly hop: number;
}

/** A stream of sensor messages bound to a model or deployment. */
export interface DataSource {
  readonly name: string;
  /** MQTT topic filter; wildcards `+` and `#` allowed. */
  readonly topic: string;
  readonly format: PayloadFormat;
  readonly mapping: FieldMapping;
  /** The deployment (or model) to infer with, as in the OIP path `/v2/models/{name}`. */
  readonly deployment: string;
  readonly version?: string;
  /** Where predictions go. @default `<message topic>/predictions` */
  readonly resultTopic?: string;
  /** Infer windows of consecutive samples (per topic) instead of single messages. */
  readonly window?: InferenceWindow;
  /** How long stored samples are kept. @default kept until deleted */
  readonly retention?: SampleRetention;
}

/** What happened to a data source's messages since the service started. */
export interface IngestCounters {
  received: number;
  inferred: number;
  published: number;
  refused: Partial<Record<RefusalReason, number>>;
  dropped: number;
  /** Samples stored before a restart whose predictions were inferred again at start. */
  replayed: number;
}

/** The JSON published for each inferred message (or window). */
export interface Prediction {
  readonly source: string;
  /** The input's time: the message's, or the last sample's of a window. */
  readonly inputTimestamp: string;
  /** The input's sequence number (the last sample's of a window); null when the message has none. */
  readonly seq: number | null;
  readonly modelVersion: string;
  readonly outputs: Record<string, (number | string | boolean)[]>;
  readonly latency: { readonly ingestMs: number; readonly computeMs: number };
}

/** Options of {@link IngestService.start}. */
export interface IngestServiceOptions {
  readonly endpoint: BrokerEndpoint;
  /** The gateway's router in the server; only `infer` is used. */
  readonly inference: Pick<InferenceService, 'infer'>;
  /** Where decoded messages are stored before they are acknowledged. */
  readonly samples: SampleStore;
  /**
   * The MQTT client id of a persistent session; the broker keeps the subscriptions and queues QoS 1
   * messages while the service is away. Without it: a fresh id and a clean session.
   */
  readonly clientId?: string;
  /** Data sources to consume from the start; their unfinished samples are inferred again before any new message is read. */
  readonly sources?: readonly DataSource[];
  /** Messages inferred at once before reading pauses. @default 64 */
  readonly maxInFlight?: number;
  /** How often the replay watermark is saved. @default 1000 */
  readonly watermarkIntervalMs?: number;
  /** How often retention deletes old samples. @default 60000 */
  readonly retentionIntervalMs?: number;
  /** Hears failures of background work (saving the watermark, retention) that no caller awaits. */
  readonly onError?: (err: unknown, what: string) => void;
  /** The clock; injected so latency is testable. @default Date.now */
  readonly now?: () => number;
}

/** The most values (samples × fields) one source's window buffers hold across its topics. */
export const MAX_BUFFERED_WINDOW_VALUES = 4 * 1024 * 1024;

/** Samples read per query when replaying at start. */
const REPLAY_PAGE = 256;

/** True when an MQTT topic matches a topic filter (MQTT 5.0, section 4.7 "Topic Names and Topic Filters"). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The databus metadata topic that belongs to a data topic filter `ie/d/j/simatic/v1/{appId}/...`. */
export function databusMetadataTopicOf(dataFilter: string): string | undefined {
  const m = /^ie\/d\/j\/simatic\/v1\/([^/+#]+)\//.exec(dataFilter);
  return m === null ? undefined : `ie/m/j/simatic/v1/${m[1]}/dp`;
}

/**
 * The topic filters a data source subscribes to: its own, for the databus its app's metadata topic,
 * for Sparkplug the BIRTH certificates that name its metrics.
 */
function topicsOf(source: DataSource): string[] {
  const metadata = source.format === 'databus' ? databusMetadataTopicOf(source.topic) : source.format === 'sparkplug' ? sparkplugBirthFilter(source.topic) : undefined;
  return metadata === undefined ? [source.topic] : [source.topic, metadata];
}

/** The topic a prediction for a message on `topic` is published on. */
export function resultTopicOf(source: DataSource, topic: string): string {
  return source.resultTopic ?? `${topic}/predictions`;
}

/** Output tensors as plain JSON arrays (bigints as numbers, byte strings as UTF-8 text). */
function outputsOf(response: InferResponse): Record<string, (number | string | boolean)[]> {
  const out: Record<string, (number | string | boolean)[]> = {};
  for (const t of response.outputs) out[t.name] = valuesOf(t);
  return out;
}

function valuesOf(t: Tensor): (number | string | boolean)[] {
  if (Array.isArray(t.data)) return t.data.map((b) => new TextDecoder().decode(b));
  if (t.datatype === 'BOOL') return Array.from(t.data as Uint8Array, (b) => b !== 0);
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** A running data source: its definition, counters and the state its messages build up. */
interface Running {
  readonly source: DataSource;
  readonly counters: IngestCounters;
  databus: DatabusState;
  sparkplug: SparkplugState;
  /** Window buffers by topic: the samples since the current window's start. */
  readonly windows: Map<string, Sample[]>;
  /** How many unfinished inferences need samples from each id on (the first sample of their input). */
  readonly unfinished: Map<number, number>;
  /** The id of the newest sample stored or replayed. */
  lastId: number;
  savedResumeAfter: number;
}

/** A fresh client id for a persistent session, to keep with the data directory. */
export function newIngestClientId(): string {
  return `continuum-ingest-${randomBytes(8).toString('hex')}`;
}

/** The largest sample id below which nothing of `running` is needed again: the replay watermark. */
function resumeAfterOf(running: Running): number {
  let first = running.lastId + 1;
  for (const id of running.unfinished.keys()) first = Math.min(first, id);
  for (const buffer of running.windows.values()) first = Math.min(first, buffer[0]?.id ?? first);
  return first - 1;
}

/** True when a Sparkplug message is a BIRTH certificate naming metrics of `source`. */
function isSparkplugBirth(source: DataSource, parts: SparkplugTopic, topic: string): boolean {
  if (parts.type !== 'NBIRTH' && parts.type !== 'DBIRTH') return false;
  const birthFilter = sparkplugBirthFilter(source.topic);
  return topicMatches(source.topic, topic) || (birthFilter !== undefined && topicMatches(birthFilter, topic));
}

/** Subscribes to every data source, stores and infers each message and publishes the prediction. */
export class IngestService {
  private readonly sources = new Map<string, Running>();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private open!: () => void;
  /** Resolves once the start's replay is done; no message is read before. */
  private readonly opened = new Promise<void>((resolve) => (this.open = resolve));

  private constructor(
    private readonly client: MqttClient,
    private readonly store: SampleStore,
    private readonly inference: Pick<InferenceService, 'infer'>,
    private readonly maxInFlight: number,
    private readonly now: () => number,
    private readonly onError: (err: unknown, what: string) => void,
  ) {
    // mqtt.js reads the next packet only after this callback, and sends the PUBACK of a QoS 1
    // message in it: holding it is the backpressure, and calling it once the samples are stored
    // acknowledges only what is kept.
    client.handleMessage = (packet, callback) => {
      this.opened
        .then(() => this.accept(packet))
        .then(
          () => (this.inFlight < this.maxInFlight ? callback() : this.waiting.push(() => callback())),
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
        );
    };
  }

  /**
   * Connects to the broker, infers again what the sources left unfinished before the last stop,
   * then reads messages (a persistent session's queue arrives at once) and subscribes. Nothing
   * awaits a broker reply while reading is held: the reply would queue behind the held message.
   */
  static async start(options: IngestServiceOptions): Promise<IngestService> {
    const { url, username, password } = options.endpoint;
    const client = mqtt.connect(url, {
      clientId: options.clientId ?? newIngestClientId(),
      clean: options.clientId === undefined,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      reconnectPeriod: 1000,
    });
    // The message handler is in place before the CONNACK: a persistent session's queued messages
    // follow it at once, and mqtt.js's default handler would acknowledge them unread.
    client.on('connect', () => noDelay(client));
    const service = new IngestService(client, options.samples, options.inference, options.maxInFlight ?? 64, options.now ?? Date.now, options.onError ?? (() => {}));
    await new Promise<void>((resolve, reject) => {
      const connected = (): void => {
        client.off('error', failed);
        resolve();
      };
      const failed = (err: Error): void => {
        client.off('connect', connected);
        client.end(true);
        reject(err);
      };
      client.once('connect', connected);
      client.once('error', failed);
    });
    try {
      for (const source of options.sources ?? []) await service.replay(await service.register(source));
      service.open();
      for (const source of options.sources ?? []) await client.subscribeAsync(topicsOf(source), { qos: 1 });
    } catch (err) {
      await client.endAsync(true);
      throw err;
    }
    service.every(options.watermarkIntervalMs ?? 1000, 'saving the replay watermark', () => service.saveWatermarks());
    service.every(options.retentionIntervalMs ?? 60_000, 'deleting samples past their retention', () => service.applyRetention());
    return service;
  }

  /** Starts consuming a data source (replacing one of the same name). */
  async add(source: DataSource): Promise<void> {
    await this.register(source);
    await this.client.subscribeAsync(topicsOf(source), { qos: 1 });
  }

  private async register(source: DataSource): Promise<Running> {
    await this.store.declare(source.name, source.mapping.fields);
    const resumeAfter = await this.store.resumeAfter(source.name);
    const running: Running = {
      source,
      counters: { received: 0, inferred: 0, published: 0, refused: {}, dropped: 0, replayed: 0 },
      databus: EMPTY_DATABUS_STATE,
      sparkplug: EMPTY_SPARKPLUG_STATE,
      windows: new Map(),
      unfinished: new Map(),
      lastId: resumeAfter,
      savedResumeAfter: resumeAfter,
    };
    this.sources.set(source.name, running);
    return running;
  }

  /** Stops consuming a data source; false when there is none of that name. */
  async remove(name: string): Promise<boolean> {
    const running = this.sources.get(name);
    if (running === undefined) return false;
    this.sources.delete(name);
    const stillUsed = new Set([...this.sources.values()].flatMap((r) => topicsOf(r.source)));
    const unused = topicsOf(running.source).filter((t) => !stillUsed.has(t));
    if (unused.length > 0) await this.client.unsubscribeAsync(unused);
    return true;
  }

  /** The counters of a data source (undefined when unknown). */
  counters(name: string): IngestCounters | undefined {
    return this.sources.get(name)?.counters;
  }

  /**
   * Disconnects from the broker (the persistent session stays), then saves the watermarks: what
   * was not yet published, running inferences included, is inferred again at the next start.
   */
  async close(): Promise<void> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    for (const release of this.waiting.splice(0)) release();
    await this.client.endAsync();
    await this.saveWatermarks();
  }

  private every(intervalMs: number, what: string, work: () => Promise<void>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      work()
        .catch((err: unknown) => this.onError(err, what))
        .finally(() => (busy = false));
    }, intervalMs);
    timer.unref();
    this.timers.push(timer);
  }

  private async saveWatermarks(): Promise<void> {
    for (const running of this.sources.values()) {
      const resumeAfter = resumeAfterOf(running);
      if (resumeAfter === running.savedResumeAfter) continue;
      await this.store.saveResumeAfter(running.source.name, resumeAfter);
      running.savedResumeAfter = resumeAfter;
    }
  }

  private async applyRetention(): Promise<void> {
    for (const { source } of this.sources.values()) {
      if (source.retention !== undefined) await this.store.applyRetention(source.name, source.retention, this.now());
    }
  }

  /** Infers again the samples above the saved watermark: those whose predictions were not acknowledged before the last stop. */
  private async replay(running: Running): Promise<void> {
    for (;;) {
      const page = await this.store.after(running.source.name, running.lastId, REPLAY_PAGE);
      for (const sample of page) {
        while (this.inFlight >= this.maxInFlight) await new Promise<void>((resolve) => this.waiting.push(resolve));
        running.counters.replayed++;
        this.process(running, sample);
      }
      if (page.length < REPLAY_PAGE) return;
    }
  }

  /** Decodes and stores a message for every source it belongs to, then sets off its inferences. */
  private async accept(packet: IPublishPacket): Promise<void> {
    const topic = packet.topic;
    const payload = typeof packet.payload === 'string' ? new TextEncoder().encode(packet.payload) : packet.payload;
    const arrivedMs = this.now();
    // Parsed at most once, however many sources the message feeds.
    let parsed: Decoded<unknown> | undefined;
    const json = (): Decoded<unknown> => (parsed ??= parseJsonPayload(payload, DEFAULT_PAYLOAD_LIMITS));
    for (const running of this.sources.values()) {
      const { source } = running;
      if (source.format === 'databus' && isDatabusMetadataTopic(topic) && databusMetadataTopicOf(source.topic) === topic) {
        this.applyMetadata(running, json());
        continue;
      }
      const sparkplugTopic = source.format === 'sparkplug' ? parseSparkplugTopic(topic) : undefined;
      if (sparkplugTopic !== undefined && isSparkplugBirth(source, sparkplugTopic, topic)) {
        this.applyBirth(running, sparkplugTopic, payload);
        continue;
      }
      // Of Sparkplug's messages only data is sampled (deaths, commands and state are not measurements).
      if (source.format === 'sparkplug' && sparkplugTopic?.type !== 'NDATA' && sparkplugTopic?.type !== 'DDATA') continue;
      if (!topicMatches(source.topic, topic) || topic === source.resultTopic || (source.resultTopic === undefined && topic.endsWith('/predictions'))) continue;
      running.counters.received++;
      const sample = this.sampleOf(running, topic, payload, json, arrivedMs, sparkplugTopic);
      if (!sample.ok) {
        this.count(running, sample.reason);
        continue;
      }
      const id = await this.store.append(sample.value);
      this.process(running, { ...sample.value, id });
    }
  }

  /** The sample a message holds for a source, or why it holds none. */
  private sampleOf(running: Running, topic: string, payload: Uint8Array, json: () => Decoded<unknown>, arrivedMs: number, sparkplugTopic: SparkplugTopic | undefined): Decoded<NewSample> {
    const { source } = running;
    const named = this.named(running, topic, payload, json, sparkplugTopic);
    if (!named.ok) return named;
    const values = mappedValues(named.value, source.mapping.fields);
    if (!values.ok) return values;
    const { timestampMs, label, seq } = named.value;
    return { ok: true, value: { source: source.name, topic, ts: timestampMs ?? arrivedMs, values: values.value, label: label ?? null, seq: seq ?? null } };
  }

  /** The named values of a message in the source's payload format (Sparkplug when its topic is one). */
  private named(running: Running, topic: string, payload: Uint8Array, json: () => Decoded<unknown>, sparkplugTopic: SparkplugTopic | undefined): Decoded<NamedSample> {
    const { source } = running;
    if (sparkplugTopic !== undefined) {
      const decoded = decodeSparkplugPayload(payload, DEFAULT_PAYLOAD_LIMITS);
      return decoded.ok ? decodeSparkplugData(running.sparkplug, sparkplugTopic, decoded.value) : decoded;
    }
    const parsed = json();
    if (!parsed.ok) return parsed;
    return source.format === 'json' ? decodeJsonSample(parsed.value, source.mapping) : decodeDatabusData(running.databus, topic, parsed.value, running.source.mapping.labelField);
  }

  private applyBirth(running: Running, topic: SparkplugTopic, payload: Uint8Array): void {
    const decoded = decodeSparkplugPayload(payload, DEFAULT_PAYLOAD_LIMITS);
    const state = decoded.ok ? applySparkplugBirth(running.sparkplug, topic, decoded.value) : decoded;
    if (state.ok) running.sparkplug = state.value;
    else this.count(running, state.reason);
  }

  /** Infers a stored sample, or adds it to its topic's window and infers the window once full. */
  private process(running: Running, sample: Sample): void {
    running.lastId = Math.max(running.lastId, sample.id);
    const window = running.source.window;
    if (window === undefined) return this.startInference(running, [sample]);
    let buffer = running.windows.get(sample.topic);
    if (buffer === undefined) {
      const maxSeries = Math.max(1, Math.floor(MAX_BUFFERED_WINDOW_VALUES / (window.size * running.source.mapping.fields.length)));
      if (running.windows.size >= maxSeries) return this.count(running, 'too_many_series');
      buffer = [];
      running.windows.set(sample.topic, buffer);
    }
    buffer.push(sample);
    if (buffer.length < window.size) return;
    const full = buffer.slice();
    buffer.splice(0, window.hop);
    this.startInference(running, full);
  }

  private startInference(running: Running, rows: Sample[]): void {
    const firstId = rows[0]?.id ?? 0;
    running.unfinished.set(firstId, (running.unfinished.get(firstId) ?? 0) + 1);
    this.inFlight++;
    void this.infer(running, rows).finally(() => {
      this.inFlight--;
      this.waiting.shift()?.();
    });
  }

  private finish(running: Running, firstId: number): void {
    const left = (running.unfinished.get(firstId) ?? 1) - 1;
    if (left === 0) running.unfinished.delete(firstId);
    else running.unfinished.set(firstId, left);
  }

  private applyMetadata(running: Running, parsed: Decoded<unknown>): void {
    const state = parsed.ok ? applyDatabusMetadata(parsed.value) : parsed;
    if (state.ok) running.databus = state.value;
    else this.count(running, state.reason);
  }

  private count(running: Running, reason: RefusalReason): void {
    running.counters.refused[reason] = (running.counters.refused[reason] ?? 0) + 1;
  }

  /**
   * Infers one input (a sample or a window) and publishes its prediction. The input is finished
   * once the broker acknowledges the prediction; one that was dropped stays unfinished, so it is
   * inferred again at the next start.
   */
  private async infer(running: Running, rows: Sample[]): Promise<void> {
    const { source, counters } = running;
    const last = rows[rows.length - 1];
    const firstId = rows[0]?.id ?? 0;
    if (last === undefined) return;
    const request: InferRequest = toInferRequest(source.mapping.input, rows.map((r) => r.values));
    const startMs = this.now();
    let response: InferResponse;
    try {
      response = await this.inference.infer(source.deployment, source.version, request);
    } catch {
      // The reason is the router's to log; here the input only counts as refused.
      this.count(running, 'inference_failed');
      this.finish(running, firstId);
      return;
    }
    const computeMs = this.now() - startMs;
    counters.inferred++;
    const prediction: Prediction = {
      source: source.name,
      inputTimestamp: new Date(last.ts).toISOString(),
      seq: last.seq,
      modelVersion: response.model_version,
      outputs: outputsOf(response),
      latency: { ingestMs: Math.max(0, startMs - last.ts), computeMs },
    };
    // Not awaited: the PUBACK arrives on the same connection whose reading may be paused for
    // backpressure, so waiting for it while holding a slot could deadlock.
    this.client.publish(resultTopicOf(source, last.topic), JSON.stringify(prediction), { qos: 1 }, (err) => {
      if (err === undefined || err === null) {
        counters.published++;
        this.finish(running, firstId);
      } else counters.dropped++;
    });
  }
}
