/**
 * Ingest: the industrial data path. Messages from an MQTT broker are decoded (plain JSON or the
 * Industrial Edge databus), mapped to model inputs, inferred and the predictions published back.
 */
export {
  applyDatabusMetadata,
  databusDataFilter,
  databusMetadataTopic,
  decodeDatabusData,
  decodeJsonSample,
  DEFAULT_PAYLOAD_LIMITS,
  EMPTY_DATABUS_STATE,
  isDatabusMetadataTopic,
  parseJsonPayload,
  refuse,
  toInferRequest,
} from './formats.js';
export type { DatabusState, Decoded, FieldMapping, NamedSample, PayloadLimits, Refusal, RefusalReason } from './formats.js';
