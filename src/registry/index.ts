/**
 * The model registry: versioned, content-addressed ONNX artifacts with signatures, labels,
 * aliases and runtime options, in SQLite plus a blob folder. The only public surface of
 * src/registry/.
 */
export { Registry, PRODUCTION_ALIAS, OPTIMIZED_FROM_LABEL, DEFAULT_MAX_ARTIFACT_BYTES, applyLabelPatch } from './registry.js';
export type {
  LabelPatch,
  ModelDetail,
  ModelSummary,
  ModelVersion,
  PushOptions,
  RegistryOptions,
  StagedArtifact,
  UseCheck,
} from './registry.js';
export { inspectOnnx, escapesModelFolder, ALLOWED_OPSET_DOMAINS } from './inspect.js';
export type { InspectLimits, OnnxInspection } from './inspect.js';
export { checkName, checkLabels, parseLabelList, modelTooLarge, NAME_PATTERN, LABEL_VALUE_PATTERN, MAX_LABELS } from './names.js';
export type { Labels, NameKind } from './names.js';
