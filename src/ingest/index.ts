/**
 * Ingest: the industrial data path. Messages from an MQTT broker are decoded (plain JSON, the
 * Industrial Edge databus or Sparkplug B), stored as samples, mapped to model inputs (one message
 * or a window of them), inferred and the predictions published back.
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
  MAX_LABEL_LENGTH,
  mappedValues,
  parseJsonPayload,
  refuse,
  toInferRequest,
} from './formats.js';
export type { DatabusState, Decoded, FieldMapping, NamedSample, PayloadLimits, Refusal, RefusalReason } from './formats.js';
export { startIngestBroker } from './broker.js';
export type { BrokerEndpoint, BrokerOptions, IngestBroker } from './broker.js';
export { databusMetadataTopicOf, IngestService, MAX_BUFFERED_WINDOW_VALUES, newIngestClientId, PAYLOAD_FORMATS, resultTopicOf, topicMatches } from './service.js';
export type { DataSource, IngestCounters, IngestServiceOptions, InferenceWindow, PayloadFormat, Prediction } from './service.js';
export { decodeValues, encodeValues, MAX_WINDOW_ROWS, openSampleStore, PostgresSampleStore, samplesCsv, SqliteSampleStore } from './samples.js';
export type { NewSample, Sample, SampleRange, SampleRetention, SampleRow, SampleStore, SampleWindow } from './samples.js';
export {
  applySparkplugBirth,
  decodeSparkplugData,
  decodeSparkplugPayload,
  EMPTY_SPARKPLUG_STATE,
  MAX_SPARKPLUG_DEVICES,
  parseSparkplugTopic,
  sparkplugBirthFilter,
} from './sparkplug.js';
export type { SparkplugState, SparkplugTopic } from './sparkplug.js';
export { DataSourceStore } from './store.js';
export { noDelay } from './socket.js';
