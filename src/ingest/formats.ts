/**
 * Payload formats of the industrial data path: bytes from an MQTT message in, either a named
 * sample (field name → number, with the time it was measured) or a refusal with a reason out.
 * Pure functions: no I/O, no clock reads, so a hostile message can only ever cost a refusal.
 *
 * Two formats:
 * - plain JSON, `{"temp": 21.5, "pressure": 1.01, "ts": "2026-11-23T17:00:00Z"}`;
 * - the Siemens Industrial Edge databus ("SIMATIC S7 Connector" JSON): metadata on
 *   `ie/m/j/simatic/v1/{appId}/dp`, values on `ie/d/j/simatic/v1/{appId}/dp/r/{connection}/{collection}`
 *   keyed by ids that are only meaningful under the latest metadata (Siemens Industrial Edge,
 *   "Databus topics and payload of the S7 Connector"). Quality code 0 means "bad" and is never used.
 *
 * A {@link FieldMapping} then picks the sample's values in model-input order; one sample (or a
 * window of consecutive ones, time-major) becomes an OIP request of shape [1, n] FP32.
 */
import type { InferRequest } from '../oip/types.js';

/** Why a message was refused; the keys of the `refused` counter. */
export type RefusalReason =
  | 'too_large'
  | 'too_deep'
  | 'malformed_json'
  | 'malformed_payload'
  | 'not_an_object'
  | 'missing_field'
  | 'wrong_type'
  | 'bad_timestamp'
  | 'invalid_metadata'
  | 'no_metadata'
  | 'too_many_series'
  | 'inference_failed';

/** A refused message: the reason (counted) and a sentence saying what was wrong. */
export interface Refusal {
  readonly ok: false;
  readonly reason: RefusalReason;
  readonly detail: string;
}

/** The result of decoding: a value, or a refusal. */
export type Decoded<T> = { readonly ok: true; readonly value: T } | Refusal;

/** Bounds on one message, checked before parsing. */
export interface PayloadLimits {
  /** @default 65536 */
  readonly maxBytes: number;
  /** Deepest nesting of objects and arrays. @default 16 */
  readonly maxDepth: number;
}

/** The bounds used when a data source names none: a sensor message is small and flat. */
export const DEFAULT_PAYLOAD_LIMITS: PayloadLimits = { maxBytes: 64 * 1024, maxDepth: 16 };

/** Which fields of a sample feed which model input, in order. */
export interface FieldMapping {
  /** Field names, in the order the model expects them along the last axis. */
  readonly fields: readonly string[];
  /** The model input tensor's name. */
  readonly input: string;
  /** The JSON field that carries the measurement time (epoch ms or an ISO 8601 string). */
  readonly timestampField?: string;
  /** The JSON field that carries the class of a training sample (a string or a number). */
  readonly labelField?: string;
  /** The JSON field that carries the message's sequence number. @default 'seq' */
  readonly seqField?: string;
}

/**
 * Named numeric values with the time they were measured, the label and the sequence number (each
 * absent when the message says nothing).
 */
export interface NamedSample {
  readonly values: ReadonlyMap<string, number>;
  readonly timestampMs?: number;
  readonly label?: string;
  readonly seq?: number;
}

/** A refusal value. */
export function refuse(reason: RefusalReason, detail: string): Refusal {
  return { ok: false, reason, detail };
}

/**
 * Parses a JSON payload within `limits`. Nesting is measured on the raw text before `JSON.parse`
 * so a deeply nested message is refused without building it.
 */
export function parseJsonPayload(bytes: Uint8Array, limits: PayloadLimits = DEFAULT_PAYLOAD_LIMITS): Decoded<unknown> {
  if (bytes.byteLength > limits.maxBytes) return refuse('too_large', `the message has ${bytes.byteLength} bytes; the limit is ${limits.maxBytes}`);
  const text = new TextDecoder().decode(bytes);
  const depth = nestingDepth(text);
  if (depth > limits.maxDepth) return refuse('too_deep', `the message nests ${depth} levels deep; the limit is ${limits.maxDepth}`);
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return refuse('malformed_json', `the message is not JSON: ${(err as Error).message}`);
  }
}

/** The deepest bracket nesting of JSON text, ignoring brackets inside strings. */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') deepest = Math.max(deepest, ++depth);
    else if (c === '}' || c === ']') depth--;
  }
  return deepest;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A timestamp as epoch milliseconds: a finite number is taken as ms, a string is parsed as ISO 8601. */
function timestampMs(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    if (Number.isFinite(ms)) return ms;
  }
  return undefined;
}

/** Decodes a plain JSON object into the sample `mapping` asks for. */
export function decodeJsonSample(value: unknown, mapping: FieldMapping): Decoded<NamedSample> {
  if (!isRecord(value)) return refuse('not_an_object', 'the message must be a JSON object of field values');
  const values = new Map<string, number>();
  for (const field of mapping.fields) {
    const v = value[field];
    if (v === undefined) return refuse('missing_field', `the message has no field "${field}"`);
    if (typeof v !== 'number' || !Number.isFinite(v)) return refuse('wrong_type', `field "${field}" must be a finite number`);
    values.set(field, v);
  }
  let sample: NamedSample = { values };
  if (mapping.timestampField !== undefined && value[mapping.timestampField] !== undefined) {
    const ts = timestampMs(value[mapping.timestampField]);
    if (ts === undefined) return refuse('bad_timestamp', `field "${mapping.timestampField}" must be epoch milliseconds or an ISO 8601 time`);
    sample = { ...sample, timestampMs: ts };
  }
  if (mapping.labelField !== undefined && value[mapping.labelField] !== undefined) {
    const label = labelOf(value[mapping.labelField], mapping.labelField);
    if (!label.ok) return label;
    sample = { ...sample, label: label.value };
  }
  // An explicitly named sequence field must hold a number; the default `seq` is only used when it does.
  const seq = value[mapping.seqField ?? 'seq'];
  if (isSequenceNumber(seq)) sample = { ...sample, seq };
  else if (mapping.seqField !== undefined && seq !== undefined) return refuse('wrong_type', `field "${mapping.seqField}" (the sequence number) must be a non-negative integer`);
  return { ok: true, value: sample };
}

/** The longest label kept: a class name, not a document. */
export const MAX_LABEL_LENGTH = 256;

/** A label value (a class name or number) as text, or a refusal naming the field it came from. */
function labelOf(label: unknown, field: string): Decoded<string> {
  if (typeof label !== 'string' && (typeof label !== 'number' || !Number.isFinite(label))) return refuse('wrong_type', `field "${field}" (the label) must be a string or a number`);
  if (String(label).length > MAX_LABEL_LENGTH) return refuse('wrong_type', `field "${field}" (the label) is longer than ${MAX_LABEL_LENGTH} characters`);
  return { ok: true, value: String(label) };
}

function isSequenceNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** The values of `sample` in the order of `fields` (the model input's last axis). */
export function mappedValues(sample: NamedSample, fields: readonly string[]): Decoded<number[]> {
  const values = new Array<number>(fields.length);
  for (const [i, field] of fields.entries()) {
    const v = sample.values.get(field);
    if (v === undefined) return refuse('missing_field', `the message has no usable value for "${field}"`);
    values[i] = v;
  }
  return { ok: true, value: values };
}

/**
 * The OIP request that feeds `rows` (one sample, or a window of consecutive samples oldest first)
 * to the model input `input` as one FP32 tensor [1, rows × fields], time-major: t0 f0, t0 f1, …,
 * t1 f0 …
 */
export function toInferRequest(input: string, rows: readonly (readonly number[])[]): InferRequest {
  const width = rows[0]?.length ?? 0;
  const data = new Float32Array(rows.length * width);
  for (const [t, row] of rows.entries()) data.set(row, t * width);
  return { inputs: [{ name: input, datatype: 'FP32', shape: [1, data.length], data }] };
}

// ---------------------------------------------------------------------------------------------
// Siemens Industrial Edge databus

/** The databus metadata topic of an app: `ie/m/j/simatic/v1/{appId}/dp`. */
export function databusMetadataTopic(appId: string): string {
  return `ie/m/j/simatic/v1/${appId}/dp`;
}

/** The topic filter that matches every data message of an app. */
export function databusDataFilter(appId: string): string {
  return `ie/d/j/simatic/v1/${appId}/dp/r/#`;
}

/** True when `topic` carries databus metadata. */
export function isDatabusMetadataTopic(topic: string): boolean {
  return /^ie\/m\/j\/simatic\/v1\/[^/]+\/dp$/.test(topic);
}

/** What the latest databus metadata says: for each data topic, data point id → name. */
export interface DatabusState {
  readonly hashVersion?: number | string;
  readonly namesByTopic: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

/** The state before any metadata arrived: every data message is refused (`no_metadata`). */
export const EMPTY_DATABUS_STATE: DatabusState = { namesByTopic: new Map() };

/**
 * Replaces the id map with the one in a metadata message. The whole map is replaced, never
 * merged: a connector restart renumbers ids, and an id from the old map would name the wrong
 * signal.
 */
export function applyDatabusMetadata(value: unknown): Decoded<DatabusState> {
  if (!isRecord(value) || !Array.isArray(value['connections'])) return refuse('invalid_metadata', 'databus metadata must have a "connections" array');
  const namesByTopic = new Map<string, Map<string, string>>();
  for (const connection of value['connections']) {
    const dataPoints = isRecord(connection) ? connection['dataPoints'] : undefined;
    if (!Array.isArray(dataPoints)) return refuse('invalid_metadata', 'each databus connection must have a "dataPoints" array');
    for (const collection of dataPoints) {
      if (!isRecord(collection) || typeof collection['topic'] !== 'string' || !Array.isArray(collection['dataPointDefinitions'])) {
        return refuse('invalid_metadata', 'each databus data point collection must have a "topic" and "dataPointDefinitions"');
      }
      const names = namesByTopic.get(collection['topic']) ?? new Map<string, string>();
      for (const def of collection['dataPointDefinitions']) {
        if (!isRecord(def) || typeof def['name'] !== 'string' || (typeof def['id'] !== 'string' && typeof def['id'] !== 'number')) {
          return refuse('invalid_metadata', 'each databus data point definition must have a "name" and an "id"');
        }
        names.set(String(def['id']), def['name']);
      }
      namesByTopic.set(collection['topic'], names);
    }
  }
  const hash = value['hashVersion'];
  const hashVersion = typeof hash === 'number' || typeof hash === 'string' ? hash : undefined;
  return { ok: true, value: hashVersion === undefined ? { namesByTopic } : { hashVersion, namesByTopic } };
}

/**
 * Decodes a databus data message on `topic` into named values. Values with quality code 0 (bad)
 * and ids the latest metadata does not know are left out; the sample's time is the oldest
 * timestamp among the values kept, so ingest latency counts from the stalest input. The data
 * point named `labelField` is the sample's label (an S7 String or a number), not a value.
 */
export function decodeDatabusData(state: DatabusState, topic: string, value: unknown, labelField?: string): Decoded<NamedSample> {
  const names = state.namesByTopic.get(topic);
  if (names === undefined) return refuse('no_metadata', `no databus metadata names the data points of topic "${topic}"; publish metadata first`);
  if (!isRecord(value) || !Array.isArray(value['vals'])) return refuse('not_an_object', 'a databus data message must have a "vals" array');
  const values = new Map<string, number>();
  let oldestMs: number | undefined;
  let label: string | undefined;
  const seq = value['seq'];
  for (const item of value['vals']) {
    if (!isRecord(item) || (typeof item['id'] !== 'string' && typeof item['id'] !== 'number')) return refuse('wrong_type', 'each databus value must have an "id"');
    if (item['qc'] === 0) continue;
    const name = names.get(String(item['id']));
    if (name === undefined) continue;
    const v = item['val'];
    if (name === labelField) {
      const decoded = labelOf(v, name);
      if (!decoded.ok) return decoded;
      label = decoded.value;
      continue;
    }
    const numeric = typeof v === 'boolean' ? Number(v) : v;
    if (typeof numeric !== 'number' || !Number.isFinite(numeric)) return refuse('wrong_type', `data point "${name}" must carry a finite number`);
    values.set(name, numeric);
    const ts = timestampMs(item['ts']);
    if (ts !== undefined) oldestMs = oldestMs === undefined ? ts : Math.min(oldestMs, ts);
  }
  return { ok: true, value: { values, ...(oldestMs === undefined ? {} : { timestampMs: oldestMs }), ...(label === undefined ? {} : { label }), ...(isSequenceNumber(seq) ? { seq } : {}) } };
}
