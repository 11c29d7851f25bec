/**
 * What a virtual asset puts on the wire, as pure functions: plain JSON (the asset's fields, its
 * label, `seq` and `ts`) or the Siemens Industrial Edge databus format, as the S7 Connector
 * publishes it (docs/ingest.md; Siemens Industrial Edge, "Databus topics and payload of the S7
 * Connector"): metadata naming each data point's id, then value messages keyed by those ids.
 */
import type { AssetModel, AssetSample } from './catalog.js';

/** The payload formats an asset speaks: those the ingest path decodes. */
export const ASSET_FORMATS = ['json', 'databus'] as const;

/** One payload format. */
export type AssetFormat = (typeof ASSET_FORMATS)[number];

/** Where a message carries its label: the field (JSON) or data point (databus) name; none for a live asset that knows no label. */
export type LabelField = string | undefined;

/** The plain JSON message of a sample: `{<input>: value, …, <labelField>?, seq, ts}` (`ts` epoch ms). */
export function jsonMessage(model: AssetModel, sample: AssetSample, tsMs: number, labelField: LabelField): string {
  const body: Record<string, number | string> = {};
  model.inputs.forEach((name, i) => {
    body[name] = sample.values[i] as number;
  });
  if (labelField !== undefined) body[labelField] = sample.label;
  body['seq'] = sample.seq;
  body['ts'] = tsMs;
  return JSON.stringify(body);
}

/** Where a databus asset publishes: its app, the PLC connection and the data point collection. */
export interface DatabusAddress {
  readonly appId: string;
  readonly connection: string;
  readonly collection: string;
}

/** The metadata topic and the data topic of an address. */
export function databusTopics(address: DatabusAddress): { readonly metadata: string; readonly data: string } {
  const { appId, connection, collection } = address;
  return { metadata: `ie/m/j/simatic/v1/${appId}/dp`, data: `ie/d/j/simatic/v1/${appId}/dp/r/${connection}/${collection}` };
}

/** Id of the i-th input's data point; the label's follows the last input's. The S7 Connector numbers from 101. */
function dataPointId(index: number): string {
  return String(101 + index);
}

/**
 * The connector's metadata: one connection with one bulk collection whose data points are the
 * asset's inputs (`Real`) and, when labelled, the label (`String`).
 */
export function databusMetadata(model: AssetModel, address: DatabusAddress, labelField: LabelField): string {
  const definitions = model.inputs.map((name, i) => ({ name, id: dataPointId(i), dataType: 'Real' }));
  if (labelField !== undefined) definitions.push({ name: labelField, id: dataPointId(model.inputs.length), dataType: 'String' });
  return JSON.stringify({
    seq: 1,
    // The connector changes hashVersion whenever its configuration does; one per data point list here.
    hashVersion: definitions.length,
    connections: [
      {
        name: address.connection,
        type: 'S7+',
        dataPoints: [{ name: address.collection, topic: databusTopics(address).data, publishType: 'bulk', dataPointDefinitions: definitions }],
      },
    ],
  });
}

/** A value message: `{"seq": n, "vals": [{"id", "val", "ts", "qc": 3}, …]}` (qc 3: good quality). */
export function databusMessage(model: AssetModel, sample: AssetSample, tsMs: number, labelField: LabelField): string {
  const ts = new Date(tsMs).toISOString();
  const vals: { id: string; val: number | string; ts: string; qc: number }[] = model.inputs.map((_, i) => ({ id: dataPointId(i), val: sample.values[i] as number, ts, qc: 3 }));
  if (labelField !== undefined) vals.push({ id: dataPointId(model.inputs.length), val: sample.label, ts, qc: 3 });
  return JSON.stringify({ seq: sample.seq, vals });
}
