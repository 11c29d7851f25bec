/**
 * The trace-driven simulator: workloads (built-in profiles and CSV traces), a deterministic
 * discrete-event simulation of one deployment that runs the live system's own scaling policies
 * and batch formation, service profiles fitted from the real runtime's measured latencies, and
 * the results as text and as an SVG timeline. The only public surface of src/simulator/.
 */
export {
  compileWorkloadProfile,
  compressTime,
  generateArrivals,
  PROFILE_DEFAULTS,
  WORKLOAD_PROFILE_NAMES,
  type ArrivalTimes,
  type CompiledWorkloadProfile,
  type WorkloadProfileName,
  type WorkloadProfileSpec,
} from './workload.js';
export { parseTraceCsv, readTraceFile, type TraceReadOptions } from './trace.js';
export {
  DEFAULT_COLD_START_MS,
  fitServiceProfile,
  validateServiceProfile,
  type BatchLatencyPoint,
  type ReplicaStartup,
  type ServiceMeasurement,
  type ServiceProfile,
} from './profile.js';
export { measureServiceProfile, type MeasureServiceOptions } from './measure.js';
export {
  simulate,
  type CostFunction,
  type ModeUsage,
  type SimulationOptions,
  type SimulationPolicy,
  type SimulationResult,
  type TimelineRow,
  type UsageLedger,
} from './engine.js';
export { renderTimelineSvg, type TimelineSvgOptions } from './svg.js';
export { formatSimulationReport } from './report.js';
export { simulationCost, simulationPolicy } from './policy.js';
export { replayAndSimulate, type ReplayComparison, type ReplayOptions, type ReplayResult } from './replay.js';
