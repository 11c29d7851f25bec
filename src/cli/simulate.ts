/**
 * `continuum simulate`: runs a deployment's scaling policy against a workload (a CSV trace or a
 * built-in profile) in the trace-driven simulator, with service times measured on the real runtime
 * for the model (or read from a service profile file), and prints cost, SLO attainment, latency,
 * replica-seconds, utilization and cold starts; `--svg` writes the timeline.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { compileCostModel, compilePolicy, parsePolicyParams } from '../autoscale/index.js';
import { buildIrisClassifier } from '../demo/iris.js';
import { ContinuumError } from '../errors.js';
import { inspectOnnx } from '../registry/index.js';
import type { ResolvedModelVersion } from '../runtime/index.js';
import {
  compressTime,
  DEFAULT_COLD_START_MS,
  fitServiceProfile,
  formatSimulationReport,
  generateArrivals,
  measureServiceProfile,
  readTraceFile,
  renderTimelineSvg,
  simulate,
  simulationCost,
  simulationPolicy,
  validateServiceProfile,
  WORKLOAD_PROFILE_NAMES,
} from '../simulator/index.js';
import type { ArrivalTimes, ServiceProfile, SimulationResult, WorkloadProfileSpec } from '../simulator/index.js';
import { collect, nonNegativeInt, numberList, positiveNumber } from './args.js';
import { stdoutOutput } from './output.js';
import { policyOf, withPolicyOptions } from './policy-flags.js';
import type { PolicyFlags } from './policy-flags.js';
import type { Output } from './output.js';

/** Largest model file `--model` measures. */
const MAX_MEASURED_MODEL_BYTES = 512 * 1024 * 1024;


/** Options of `continuum simulate`. */
interface SimulateFlags extends PolicyFlags {
  readonly trace?: string;
  readonly profile?: string;
  readonly workloadParam?: readonly string[];
  readonly sloMs: number;
  readonly speedup: number;
  readonly seed: number;
  readonly tickMs: number;
  readonly service?: string;
  readonly model?: string;
  readonly coldStartMs?: readonly number[];
  readonly vcpu: number;
  readonly memoryGb: number;
  readonly saveService?: string;
  readonly svg?: string;
  readonly json?: boolean;
}

/** The workload the flags name: a trace file or a built-in profile, time-compressed by `speedup`. */
export function workloadOf(flags: Pick<SimulateFlags, 'trace' | 'profile' | 'workloadParam' | 'speedup' | 'seed'>): ArrivalTimes {
  if ((flags.trace === undefined) === (flags.profile === undefined)) {
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `give exactly one of --trace FILE or --profile ${WORKLOAD_PROFILE_NAMES.join('|')}`);
  }
  if (flags.trace !== undefined) return readTraceFile(flags.trace, { speedup: flags.speedup });
  const spec = { profile: flags.profile, ...parsePolicyParams(flags.workloadParam ?? []) } as WorkloadProfileSpec;
  return compressTime(generateArrivals(spec, flags.seed), flags.speedup);
}

/** A model file (or the demo classifier) as a version the runtime can load for measuring. */
function measurableModel(file: string | undefined, workDir: string): ResolvedModelVersion {
  const bytes = file === undefined ? buildIrisClassifier().model : readFileSync(file);
  const { signature } = inspectOnnx(bytes, { maxModelBytes: MAX_MEASURED_MODEL_BYTES, maxTensorBytes: MAX_MEASURED_MODEL_BYTES });
  const artifactPath = join(workDir, 'model.onnx');
  writeFileSync(artifactPath, bytes);
  return { name: file === undefined ? 'iris' : basename(file, '.onnx'), version: '1', artifactPath, sha256: '', signature, runtimeOptions: {} };
}

/** The service profile: read from `--service`, else measured now on the real runtime for the model. */
export async function serviceProfileOf(flags: Pick<SimulateFlags, 'service' | 'model' | 'coldStartMs' | 'vcpu' | 'memoryGb'>): Promise<ServiceProfile> {
  if (flags.service !== undefined) return validateServiceProfile(JSON.parse(readFileSync(flags.service, 'utf8')) as ServiceProfile);
  const workDir = mkdtempSync(join(tmpdir(), 'continuum-simulate-'));
  try {
    const measured = await measureServiceProfile(measurableModel(flags.model, workDir));
    return fitServiceProfile(measured, { coldStartMs: flags.coldStartMs ?? [DEFAULT_COLD_START_MS], vcpu: flags.vcpu, memoryGb: flags.memoryGb });
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Adds `simulate` to the program. */
export function registerSimulateCommand(program: Command, out: Output = stdoutOutput): void {
  withPolicyOptions(program.command('simulate'))
    .description("simulate a scaling policy against a trace or a workload profile, using the live system's policy code")
    .option('--trace <file>', 'CSV of arrival timestamps (the Azure LLM inference traces, or any CSV whose first column is timestamps)')
    .option('--profile <name>', `built-in workload: ${WORKLOAD_PROFILE_NAMES.join(', ')}`)
    .option('--workload-param <key=value>', 'a workload profile parameter, e.g. peakRatePerS=200 (repeatable)', collect)
    .requiredOption('--slo-ms <ms>', 'latency SLO a request must meet', positiveNumber)
    .option('--speedup <n>', 'compress time by this factor', positiveNumber, 1)
    .option('--seed <n>', 'seed of the workload and cold-start draws', nonNegativeInt, 1)
    .option('--tick-ms <ms>', 'autoscaler period', positiveNumber, 1000)
    .option('--service <file>', 'service profile JSON (as --save-service writes); default: measure the model now')
    .option('--model <file>', 'ONNX model to measure (default: the demo iris classifier)')
    .option('--cold-start-ms <list>', 'measured replica cold starts, ms, comma-separated', numberList(false))
    .option('--vcpu <n>', 'vCPU per replica (cost)', positiveNumber, 1)
    .option('--memory-gb <n>', 'memory per replica in GB (cost)', positiveNumber, 2)
    .option('--save-service <file>', 'write the service profile used, to rerun with --service')
    .option('--svg <file>', 'write the timeline of load against replicas as SVG')
    .option('--json', 'print the result as JSON')
    .action(async (flags: SimulateFlags) => {
      const arrivals = workloadOf(flags);
      const policy = compilePolicy(policyOf(flags));
      const profile = await serviceProfileOf(flags);
      if (flags.saveService !== undefined) writeFileSync(flags.saveService, `${JSON.stringify(profile, null, 2)}\n`);
      const result = simulate({ arrivals, profile, policy: simulationPolicy(policy), costOf: simulationCost(compileCostModel()), sloMs: flags.sloMs, seed: flags.seed, tickMs: flags.tickMs });
      if (flags.svg !== undefined) writeFileSync(flags.svg, renderTimelineSvg(result, { title: `${policy.policy} on ${flags.trace === undefined ? flags.profile ?? '' : basename(flags.trace)}` }));
      out.write(flags.json === true ? `${JSON.stringify(withoutTimeline(result), null, 2)}\n` : formatSimulationReport(result));
    });
}

/** The JSON result keeps the timeline short enough to read: the SVG carries the full one. */
function withoutTimeline(result: SimulationResult): Omit<SimulationResult, 'timeline'> & { readonly timelineRows: number } {
  const { timeline, ...rest } = result;
  return { ...rest, timelineRows: timeline.length };
}
