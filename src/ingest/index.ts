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
export { startIngestBroker } from './broker.js';
export type { BrokerEndpoint, BrokerOptions, IngestBroker } from './broker.js';
export { databusMetadataTopicOf, IngestService, PAYLOAD_FORMATS, resultTopicOf, topicMatches } from './service.js';
export type { DataSource, IngestCounters, IngestServiceOptions, PayloadFormat, Prediction } from './service.js';
export { DataSourceStore } from './store.js';
