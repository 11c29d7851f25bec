/**
 * `continuum bench replay`: drives a real server (real replica processes, real requests) with a
 * time-compressed trace or workload profile, then simulates the same workload, and prints the two
 * side by side: the simulator checked against reality.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { compilePolicy } from '../autoscale/index.js';
import { buildIrisClassifier } from '../demo/iris.js';
import { inspectOnnx } from '../registry/index.js';
import { replayAndSimulate, WORKLOAD_PROFILE_NAMES } from '../simulator/index.js';
import type { ReplayComparison } from '../simulator/index.js';
import { collect, nonNegativeInt, positiveNumber } from './args.js';
import { formatTable, stdoutOutput } from './output.js';
import type { Output } from './output.js';
import { policyOf, withPolicyOptions } from './policy-flags.js';
import type { PolicyFlags } from './policy-flags.js';
import { workloadOf } from './simulate.js';

/** Largest model file `--model` takes. */
const MAX_MODEL_BYTES = 512 * 1024 * 1024;

interface ReplayFlags extends PolicyFlags {
  readonly trace?: string;
  readonly profile?: string;
  readonly workloadParam?: readonly string[];
  readonly speedup: number;
  readonly seed: number;
  readonly sloMs: number;
  readonly model?: string;
  readonly vcpu: number;
  readonly memoryGb: number;
  readonly tickMs: number;
  readonly json?: boolean;
}

const pct = (v: number): string => (Number.isNaN(v) ? '-' : `${(v * 100).toFixed(2)}%`);
const signedPct = (v: number): string => (Number.isNaN(v) ? '-' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`);
const num = (v: number, digits = 1): string => (Number.isNaN(v) ? '-' : v.toFixed(digits));

/** The comparison as a table: one row per figure, live against simulated. */
export function formatReplayComparison(c: ReplayComparison): string {
  const { live, simulated: sim } = c;
  const rows: (readonly [string, string, string, string])[] = [
    ['requests', String(live.requests), String(sim.requests), ''],
    ['failed (503)', String(live.failed), String(sim.failed), ''],
    [`SLO attainment (<= ${live.sloMs} ms)`, pct(live.sloAttainment), pct(sim.sloAttainment), signedPct(c.sloDifference)],
    ['cost (USD)', `$${live.costUsd.toFixed(6)}`, `$${sim.costUsd.toFixed(6)}`, signedPct(c.costDifference)],
    ['replica-seconds', num(live.replicaSeconds), num(sim.replicaSeconds), ''],
    ['latency p50 (ms)', num(live.latencyP50Ms, 2), num(sim.latencyP50Ms, 2), ''],
    ['latency p99 (ms)', num(live.latencyP99Ms, 2), num(sim.latencyP99Ms, 2), ''],
    ['cold starts', String(live.coldStarts), String(sim.coldStarts), ''],
  ];
  return (
    formatTable(rows, [
      { header: 'FIGURE', value: (r) => r[0] },
      { header: 'LIVE', value: (r) => r[1] },
      { header: 'SIMULATED', value: (r) => r[2] },
      { header: 'SIM VS LIVE', value: (r) => r[3] },
    ]) + `(live sends lagged their schedule by at most ${num(live.maxSendLagMs)} ms)\n`
  );
}

/** Adds `bench replay` to the program. */
export function registerBenchCommands(program: Command, out: Output = stdoutOutput): void {
  const bench = program.command('bench').description('measure the platform');
  withPolicyOptions(bench.command('replay'))
    .description('replay a time-compressed workload against a real server and against the simulator, side by side')
    .option('--trace <file>', 'CSV of arrival timestamps (e.g. the Azure LLM inference traces)')
    .option('--profile <name>', `built-in workload: ${WORKLOAD_PROFILE_NAMES.join(', ')}`)
    .option('--workload-param <key=value>', 'a workload profile parameter (repeatable)', collect)
    .option('--speedup <n>', 'compress time by this factor', positiveNumber, 1)
    .option('--seed <n>', 'seed of the workload and the simulation', nonNegativeInt, 1)
    .requiredOption('--slo-ms <ms>', 'latency SLO a request must meet', positiveNumber)
    .option('--model <file>', 'ONNX model to deploy (default: the demo iris classifier)')
    .option('--vcpu <n>', 'vCPU per replica (cost)', positiveNumber, 1)
    .option('--memory-gb <n>', 'memory per replica in GB (cost)', positiveNumber, 2)
    .option('--tick-ms <ms>', 'autoscaler period of the server and the simulation', positiveNumber, 1000)
    .option('--json', 'print the comparison as JSON')
    .action(async (flags: ReplayFlags) => {
      const arrivals = workloadOf(flags);
      const policy = policyOf(flags);
      compilePolicy(policy);
      const model = flags.model === undefined ? buildIrisClassifier().model : readFileSync(flags.model);
      const { signature } = inspectOnnx(model, { maxModelBytes: MAX_MODEL_BYTES, maxTensorBytes: MAX_MODEL_BYTES });
      const comparison = await replayAndSimulate({
        arrivals,
        policy,
        sloMs: flags.sloMs,
        model,
        signature,
        seed: flags.seed,
        resources: { vcpu: flags.vcpu, memoryGb: flags.memoryGb },
        tickMs: flags.tickMs,
        log: (line) => void process.stderr.write(`${line}\n`),
      });
      if (flags.json === true) {
        const { timeline: _timeline, ...simulated } = comparison.simulated;
        out.write(`${JSON.stringify({ ...comparison, simulated }, null, 2)}\n`);
      } else out.write(formatReplayComparison(comparison));
    });
}
