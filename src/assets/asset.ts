/**
 * A virtual asset: a seeded generator (PCB inspection, IMUs) publishing over MQTT at a steady
 * rate, QoS 1, in plain JSON or the Industrial Edge databus format, counting what it sent and
 * what the broker acknowledged. The paper's testing framework "provides a virtual asset
 * corresponding to the type of asset expected by the respective ML workflow" (Keusch et al.,
 * §4.3); this is Continuum's.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { noDelay } from '../ingest/index.js';
import { seededRandom } from '../onnx/build.js';
import { ASSET_MODELS, type AssetKind, type AssetModel, type AssetSample } from './catalog.js';
import { databusMessage, databusMetadata, databusTopics, jsonMessage, type AssetFormat, type DatabusAddress, type LabelField } from './payload.js';

/** Options of a {@link VirtualAsset}. */
export interface VirtualAssetOptions {
  readonly kind: AssetKind;
  /** mqtt://host:port (or mqtts://, ws://). */
  readonly brokerUrl: string;
  /** A management token, sent as the MQTT password (docs/ingest.md). */
  readonly token?: string;
  /** Messages per second. @default the asset's own rate (PCB 10, IMU 50) */
  readonly rateHz?: number;
  /** @default 'json' */
  readonly format?: AssetFormat;
  /** The data topic. @default `continuum/assets/<kind>` (JSON), the databus data topic of `databus` */
  readonly topic?: string;
  /** Where a databus asset publishes. @default app `s7c1`, connection `PLC_<KIND>`, collection `default` */
  readonly databus?: Partial<DatabusAddress>;
  /** Seed of the generator. @default 1 */
  readonly seed?: number;
  /** The field (data point) that carries each sample's label; false leaves labels out, as a live asset knows none. @default 'label' */
  readonly labelField?: string | false;
}

/** What an asset sent so far. */
export interface AssetCounters {
  /** Messages handed to the client (metadata included). */
  sent: number;
  /** Messages the broker acknowledged (PUBACK). */
  acked: number;
  /** Messages whose publish failed. */
  failed: number;
}

/** Options of one {@link VirtualAsset.run}. */
export interface AssetRunOptions {
  /** Stop after this many messages. @default unbounded */
  readonly count?: number;
  /** Stop when aborted. */
  readonly signal?: AbortSignal;
  /** Told each sample as it is handed to the client, with the time it was stamped with (epoch ms). */
  readonly onSent?: (sample: AssetSample, sentAtMs: number) => void;
}

/** Whether a run was told to stop (a function, so the check after an await is not narrowed away). */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** The default data topic of a JSON asset of `kind`. */
export function defaultAssetTopic(kind: AssetKind): string {
  return `continuum/assets/${kind}`;
}

/** A virtual asset; see the module comment. */
export class VirtualAsset {
  /** Where data messages go. */
  readonly topic: string;
  readonly model: AssetModel;
  readonly format: AssetFormat;
  readonly rateHz: number;
  readonly counters: AssetCounters = { sent: 0, acked: 0, failed: 0 };
  private readonly samples: Iterator<AssetSample>;
  private readonly address: DatabusAddress;
  private readonly labelField: LabelField;
  private client: MqttClient | undefined;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: VirtualAssetOptions) {
    this.model = ASSET_MODELS[options.kind];
    this.format = options.format ?? 'json';
    this.rateHz = options.rateHz ?? this.model.rateHz;
    if (!(this.rateHz > 0 && this.rateHz <= 10_000)) throw new Error(`asset: rate ${this.rateHz} is not in (0, 10000] messages per second`);
    this.labelField = options.labelField === false ? undefined : (options.labelField ?? 'label');
    this.address = { appId: 's7c1', connection: `PLC_${options.kind.toUpperCase()}`, collection: 'default', ...options.databus };
    this.topic = options.topic ?? (this.format === 'databus' ? databusTopics(this.address).data : defaultAssetTopic(options.kind));
    this.samples = this.model.samples(seededRandom(options.seed ?? 1));
  }

  /** The databus metadata topic (the databus format only). */
  get metadataTopic(): string {
    return databusTopics(this.address).metadata;
  }

  /** Connects; a databus asset then publishes its metadata, retained, as the S7 Connector does. */
  async connect(): Promise<void> {
    this.client = await mqtt.connectAsync(this.options.brokerUrl, {
      clientId: `continuum-asset-${this.options.kind}-${process.pid}-${Date.now()}`,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(this.options.token === undefined ? {} : { username: 'continuum-asset', password: this.options.token }),
    });
    noDelay(this.client);
    if (this.format === 'databus') this.publish(this.metadataTopic, databusMetadata(this.model, this.address, this.labelField), true);
  }

  /**
   * Publishes samples at `rateHz` until `count` are sent or `signal` aborts, then waits for the
   * broker to acknowledge them. Each send is scheduled from the run's start, so a late timer does
   * not slow the rate down. Consecutive runs continue the same stream (sequence numbers go on).
   */
  async run(options: AssetRunOptions = {}): Promise<AssetCounters> {
    const periodMs = 1000 / this.rateHz;
    const startMs = performance.now();
    for (let i = 0; options.count === undefined || i < options.count; i++) {
      if (isAborted(options.signal)) break;
      const waitMs = startMs + i * periodMs - performance.now();
      if (waitMs > 0) await sleep(waitMs, undefined, options.signal === undefined ? {} : { signal: options.signal }).catch(() => undefined);
      if (isAborted(options.signal)) break;
      const sample = this.samples.next().value as AssetSample;
      const nowMs = Date.now();
      const body = this.format === 'json' ? jsonMessage(this.model, sample, nowMs, this.labelField) : databusMessage(this.model, sample, nowMs, this.labelField);
      this.publish(this.topic, body, false);
      options.onSent?.(sample, nowMs);
    }
    await Promise.all(this.pending);
    return { ...this.counters };
  }

  /** Waits for outstanding acknowledgements, then disconnects. */
  async close(): Promise<void> {
    await Promise.all(this.pending);
    await this.client?.endAsync();
    this.client = undefined;
  }

  private publish(topic: string, body: string, retain: boolean): void {
    const client = this.client;
    if (client === undefined) throw new Error('asset: not connected; call connect() first');
    this.counters.sent += 1;
    const done = client.publishAsync(topic, body, { qos: 1, retain }).then(
      () => {
        this.counters.acked += 1;
      },
      () => {
        this.counters.failed += 1;
      },
    );
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }
}
