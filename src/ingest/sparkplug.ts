/**
 * Eclipse Sparkplug B (namespace `spBv1.0`) as an ingest payload format: protobuf payloads on
 * `spBv1.0/{group}/{message type}/{edge node}[/{device}]` (Sparkplug 3.0, section 4.1.1 "Topic
 * Namespace Elements"). Metrics are named in the BIRTH certificate (NBIRTH for the node's own
 * metrics, DBIRTH for a device's) and may come by alias alone in NDATA/DDATA (section 6.4.5
 * "Aliases"), so a data source remembers each node's and device's aliases from its latest BIRTH.
 *
 * Pure functions like ./formats.ts: protobuf decoding by the Eclipse Tahu `sparkplug-payload`
 * package, bounded by the same size limit; a payload that is not valid protobuf is refused.
 */
import sparkplug from 'sparkplug-payload';
import type { UMetric, UPayload } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import { DEFAULT_PAYLOAD_LIMITS, refuse, type Decoded, type NamedSample, type PayloadLimits } from './formats.js';

const payloads = sparkplug.get('spBv1.0');
if (payloads === null) throw new Error('sparkplug-payload does not know the spBv1.0 namespace');
const codec = payloads;

/** The message types of Sparkplug B that ingest reads: certificates (aliases) and data. */
export type SparkplugMessageType = 'NBIRTH' | 'DBIRTH' | 'NDATA' | 'DDATA';

/** The parts of a Sparkplug B topic. */
export interface SparkplugTopic {
  readonly group: string;
  readonly type: string;
  readonly node: string;
  readonly device?: string;
}

/** The parts of `topic`, or undefined when it is not in the `spBv1.0` namespace. */
export function parseSparkplugTopic(topic: string): SparkplugTopic | undefined {
  const levels = topic.split('/');
  if (levels[0] !== 'spBv1.0' || levels.length < 4 || levels.length > 5) return undefined;
  const [, group = '', type = '', node = '', device] = levels;
  return device === undefined ? { group, type, node } : { group, type, node, device };
}

/**
 * The filter of the BIRTH certificates that name the metrics of a data filter: DDATA → DBIRTH,
 * NDATA → NBIRTH. Undefined when the filter already matches them (a `+` or `#` message type) or is
 * not a Sparkplug filter.
 */
export function sparkplugBirthFilter(dataFilter: string): string | undefined {
  const levels = dataFilter.split('/');
  if (levels[0] !== 'spBv1.0') return undefined;
  const birth = levels[2] === 'DDATA' ? 'DBIRTH' : levels[2] === 'NDATA' ? 'NBIRTH' : undefined;
  return birth === undefined ? undefined : [levels[0], levels[1], birth, ...levels.slice(3)].join('/');
}

/** Metric aliases by edge node and device, from their latest BIRTH certificates. */
export interface SparkplugState {
  readonly aliases: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

/** Before any BIRTH: metrics are known by name only. */
export const EMPTY_SPARKPLUG_STATE: SparkplugState = { aliases: new Map() };

/** The most edge nodes and devices one data source remembers aliases for. */
export const MAX_SPARKPLUG_DEVICES = 10_000;

function deviceKey(topic: SparkplugTopic): string {
  return `${topic.group}/${topic.node}/${topic.device ?? ''}`;
}

/** Decodes a Sparkplug B protobuf payload within `limits`. */
export function decodeSparkplugPayload(bytes: Uint8Array, limits: PayloadLimits = DEFAULT_PAYLOAD_LIMITS): Decoded<UPayload> {
  if (bytes.byteLength > limits.maxBytes) return refuse('too_large', `the message has ${bytes.byteLength} bytes; the limit is ${limits.maxBytes}`);
  try {
    return { ok: true, value: codec.decodePayload(bytes) };
  } catch (err) {
    return refuse('malformed_payload', `the message is not a Sparkplug B payload: ${(err as Error).message}`);
  }
}

/**
 * Records the aliases of a BIRTH certificate. A new BIRTH replaces the node's (or device's) whole
 * alias map: after a rebirth old aliases may name other metrics.
 */
export function applySparkplugBirth(state: SparkplugState, topic: SparkplugTopic, payload: UPayload): Decoded<SparkplugState> {
  const key = deviceKey(topic);
  if (!state.aliases.has(key) && state.aliases.size >= MAX_SPARKPLUG_DEVICES) return refuse('too_many_series', `more than ${MAX_SPARKPLUG_DEVICES} Sparkplug nodes and devices`);
  const names = new Map<string, string>();
  for (const metric of payload.metrics ?? []) {
    if (typeof metric.name === 'string' && metric.alias !== undefined && metric.alias !== null) names.set(String(metric.alias), metric.name);
  }
  const aliases = new Map(state.aliases);
  aliases.set(key, names);
  return { ok: true, value: { aliases } };
}

/** A metric's value as a number: integers (Long included), floats and booleans (0/1); anything else is not one. */
function numberOf(metric: UMetric): number | undefined {
  const v = metric.value;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'boolean') return Number(v);
  // 64-bit integers arrive as Long; signed types are read back as signed (Sparkplug carries them unsigned on the wire).
  if (typeof v === 'object' && v !== null && 'toNumber' in v && 'toSigned' in v) return /^Int/.test(String(metric.type)) ? v.toSigned().toNumber() : v.toNumber();
  return undefined;
}

function longOrNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && v !== null && 'toNumber' in v && typeof v.toNumber === 'function') return Number(v.toNumber());
  return undefined;
}

/**
 * Names the metrics of an NDATA/DDATA payload (by name, else by the alias its BIRTH gave) and
 * takes its timestamp and sequence number (0–255, section 6.4.18 "Sequence Number").
 */
export function decodeSparkplugData(state: SparkplugState, topic: SparkplugTopic, payload: UPayload): Decoded<NamedSample> {
  const aliases = state.aliases.get(deviceKey(topic));
  const values = new Map<string, number>();
  for (const metric of payload.metrics ?? []) {
    if (metric.isNull === true) continue;
    const name = typeof metric.name === 'string' && metric.name !== '' ? metric.name : aliases?.get(String(metric.alias));
    if (name === undefined) continue;
    const value = numberOf(metric);
    if (value === undefined) return refuse('wrong_type', `Sparkplug metric "${name}" must carry a finite number or a boolean`);
    values.set(name, value);
  }
  const timestampMs = longOrNumber(payload.timestamp);
  const seq = longOrNumber(payload.seq);
  return { ok: true, value: { values, ...(timestampMs === undefined ? {} : { timestampMs }), ...(seq === undefined ? {} : { seq }) } };
}
