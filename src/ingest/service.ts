/**
 * Streaming inference over MQTT: each data source's messages are decoded, inferred through the
 * gateway's router and the prediction published back (QoS 1 both ways).
 *
 * Backpressure: at most `maxInFlight` messages are being inferred at once. When the limit is
 * reached the service holds back mqtt.js's per-message callback, which stops it reading the
 * socket; the broker then queues (and, for QoS 1, keeps) what follows. Nothing is dropped for
 * being fast; a prediction that cannot be published is counted as dropped.
 */
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { InferResponse, Tensor } from '../oip/types.js';
import type { InferenceService } from '../runtime/index.js';
import type { BrokerEndpoint } from './broker.js';
import {
  applyDatabusMetadata,
  decodeDatabusData,
  decodeJsonSample,
  DEFAULT_PAYLOAD_LIMITS,
  EMPTY_DATABUS_STATE,
  isDatabusMetadataTopic,
  parseJsonPayload,
  toInferRequest,
  type DatabusState,
  type Decoded,
  type FieldMapping,
  type NamedSample,
  type RefusalReason,
} from './formats.js';

/** The payload formats a data source can speak. */
export const PAYLOAD_FORMATS = ['json', 'databus'] as const;

/** A payload format. */
export type PayloadFormat = (typeof PAYLOAD_FORMATS)[number];

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
}

/** What happened to a data source's messages since the service started. */
export interface IngestCounters {
  received: number;
  inferred: number;
  published: number;
  refused: Partial<Record<RefusalReason, number>>;
  dropped: number;
}

/** The JSON published for each inferred message. */
export interface Prediction {
  readonly source: string;
  readonly inputTimestamp: string;
  readonly modelVersion: string;
  readonly outputs: Record<string, (number | string | boolean)[]>;
  readonly latency: { readonly ingestMs: number; readonly computeMs: number };
}

/** Options of {@link IngestService.start}. */
export interface IngestServiceOptions {
  readonly endpoint: BrokerEndpoint;
  /** The gateway's router in the server; only `infer` is used. */
  readonly inference: Pick<InferenceService, 'infer'>;
  /** Messages inferred at once before reading pauses. @default 64 */
  readonly maxInFlight?: number;
  /** The clock; injected so latency is testable. @default Date.now */
  readonly now?: () => number;
}

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

/** The topic filters a data source subscribes to: its own, and for the databus its app's metadata topic. */
function topicsOf(source: DataSource): string[] {
  const metadata = source.format === 'databus' ? databusMetadataTopicOf(source.topic) : undefined;
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

interface Running {
  readonly source: DataSource;
  readonly counters: IngestCounters;
  databus: DatabusState;
}

/** Subscribes to every data source, infers each message and publishes the prediction. */
export class IngestService {
  private readonly sources = new Map<string, Running>();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  private constructor(
    private readonly client: MqttClient,
    private readonly inference: Pick<InferenceService, 'infer'>,
    private readonly maxInFlight: number,
    private readonly now: () => number,
  ) {
    // mqtt.js reads the next packet only after this callback; holding it is the backpressure.
    client.handleMessage = (packet, callback) => {
      this.accept(packet);
      if (this.inFlight < this.maxInFlight) callback();
      else this.waiting.push(() => callback());
    };
  }

  /** Connects to the broker. */
  static async start(options: IngestServiceOptions): Promise<IngestService> {
    const { url, username, password } = options.endpoint;
    const client = await mqtt.connectAsync(url, {
      clientId: `continuum-ingest-${process.pid}-${Date.now().toString(36)}`,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      reconnectPeriod: 1000,
    });
    return new IngestService(client, options.inference, options.maxInFlight ?? 64, options.now ?? Date.now);
  }

  /** Starts consuming a data source (replacing one of the same name). */
  async add(source: DataSource): Promise<void> {
    this.sources.set(source.name, { source, counters: { received: 0, inferred: 0, published: 0, refused: {}, dropped: 0 }, databus: EMPTY_DATABUS_STATE });
    await this.client.subscribeAsync(topicsOf(source), { qos: 1 });
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

  /** Disconnects from the broker. */
  async close(): Promise<void> {
    for (const release of this.waiting.splice(0)) release();
    await this.client.endAsync();
  }

  private accept(packet: IPublishPacket): void {
    const topic = packet.topic;
    const payload = typeof packet.payload === 'string' ? new TextEncoder().encode(packet.payload) : packet.payload;
    const arrivedMs = this.now();
    for (const running of this.sources.values()) {
      const { source } = running;
      if (source.format === 'databus' && isDatabusMetadataTopic(topic) && databusMetadataTopicOf(source.topic) === topic) {
        this.applyMetadata(running, payload);
        continue;
      }
      if (!topicMatches(source.topic, topic) || topic === source.resultTopic || (source.resultTopic === undefined && topic.endsWith('/predictions'))) continue;
      running.counters.received++;
      const sample = this.decode(running, topic, payload);
      if (!sample.ok) {
        this.count(running, sample.reason);
        continue;
      }
      const request = toInferRequest(sample.value, source.mapping);
      if (!request.ok) {
        this.count(running, request.reason);
        continue;
      }
      this.inFlight++;
      void this.infer(running, topic, sample.value, request.value, arrivedMs).finally(() => {
        this.inFlight--;
        this.waiting.shift()?.();
      });
    }
  }

  private applyMetadata(running: Running, payload: Uint8Array): void {
    const parsed = parseJsonPayload(payload, DEFAULT_PAYLOAD_LIMITS);
    const state = parsed.ok ? applyDatabusMetadata(parsed.value) : parsed;
    if (state.ok) running.databus = state.value;
    else this.count(running, state.reason);
  }

  private decode(running: Running, topic: string, payload: Uint8Array): Decoded<NamedSample> {
    const parsed = parseJsonPayload(payload, DEFAULT_PAYLOAD_LIMITS);
    if (!parsed.ok) return parsed;
    return running.source.format === 'json' ? decodeJsonSample(parsed.value, running.source.mapping) : decodeDatabusData(running.databus, topic, parsed.value);
  }

  private count(running: Running, reason: RefusalReason): void {
    running.counters.refused[reason] = (running.counters.refused[reason] ?? 0) + 1;
  }

  private async infer(running: Running, topic: string, sample: NamedSample, request: Parameters<InferenceService['infer']>[2], arrivedMs: number): Promise<void> {
    const { source, counters } = running;
    const inputMs = sample.timestampMs ?? arrivedMs;
    const startMs = this.now();
    let response: InferResponse;
    try {
      response = await this.inference.infer(source.deployment, source.version, request);
    } catch {
      // The reason is the router's to log; here the message only counts as refused.
      this.count(running, 'inference_failed');
      return;
    }
    const computeMs = this.now() - startMs;
    counters.inferred++;
    const prediction: Prediction = {
      source: source.name,
      inputTimestamp: new Date(inputMs).toISOString(),
      modelVersion: response.model_version,
      outputs: outputsOf(response),
      latency: { ingestMs: Math.max(0, startMs - inputMs), computeMs },
    };
    // Not awaited: the PUBACK arrives on the same connection whose reading may be paused for
    // backpressure, so waiting for it while holding a slot could deadlock.
    this.client.publish(resultTopicOf(source, topic), JSON.stringify(prediction), { qos: 1 }, (err) => {
      if (err === undefined || err === null) counters.published++;
      else counters.dropped++;
    });
  }
}
