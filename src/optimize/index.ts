/**
 * Model optimization: int8 quantization (dynamic for MatMul and Gemm, int8-stored weights for
 * Conv) and float16 weights as pure ONNX graph rewrites, measured against the original on the
 * real runtime and recorded as a new version with its lineage (docs/optimize.md). The only
 * public surface of src/optimize/.
 */
export { OPTIMIZATIONS, optimizeOnnx, pruneUnused } from './graph.js';
export type { Optimization, RewriteSummary } from './graph.js';
export { compareModels } from './measure.js';
export type { Comparison, LatencyFigures, MeasureOptions, ModelFigures } from './measure.js';
export { buildReport } from './report.js';
export type { LatencyRow, OptimizationReport } from './report.js';
export { OPTIMIZATION_LABEL, optimizeVersion } from './service.js';
export type { OptimizeDependencies, OptimizeRequest } from './service.js';
