/**
 * `continuum optimize MODEL[:VERSION|@ALIAS] --quantize int8|fp16`: asks the server to make a
 * smaller version of a model, measure it against the original and record it with its lineage
 * (docs/optimize.md).
 */
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { OPTIMIZATIONS } from '../optimize/index.js';
import type { OptimizationReport } from '../optimize/index.js';
import { wholeNumber } from './args.js';
import { clientOf, withCommonOptions } from './client.js';
import type { CommonOptions } from './client.js';
import { parseModelRef } from './deployments.js';
import { formatBytes, formatTable, printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';

/** A share between 0 and 1 (`0.01` = one point of accuracy). */
function share(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('give a number from 0 to 1, e.g. 0.01 for one point');
  return n;
}

const pct = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);

/** The report as the terminal shows it. */
export function reportText(r: OptimizationReport): string {
  const rows = [
    { figure: 'file size', original: formatBytes(r.originalBytes), optimized: formatBytes(r.optimizedBytes), ratio: `${r.sizeRatio.toFixed(3)}×` },
    ...r.latency.map((l) => ({ figure: `p50 latency, batch ${l.batch}`, original: `${l.originalP50Ms.toFixed(3)} ms`, optimized: `${l.optimizedP50Ms.toFixed(3)} ms`, ratio: `${l.ratio.toFixed(3)}×` })),
    {
      figure: `top-1 accuracy (${r.accuracy.rows} rows)`,
      original: pct(r.accuracy.original),
      optimized: pct(r.accuracy.optimized),
      ratio: r.accuracy.drop === null ? 'no dataset attached' : `drop ${pct(r.accuracy.drop)}`,
    },
  ];
  const table = formatTable(rows, [
    { header: 'FIGURE', value: (x) => x.figure },
    { header: 'ORIGINAL', value: (x) => x.original },
    { header: r.optimization.toUpperCase(), value: (x) => x.optimized },
    { header: 'RATIO', value: (x) => x.ratio },
  ]);
  const agreement = r.accuracy.top1Agreement === null ? '' : `, top-1 agreement ${pct(r.accuracy.top1Agreement)}`;
  const rewritten = r.optimization === 'fp16' ? `${r.rewrite.tensorsConverted} weight tensor(s) stored as float16` : `${r.rewrite.nodesRewritten} node(s) rewritten, ${r.rewrite.nodesSkipped.length} left as they were`;
  return `${table}\n${rewritten}; largest output difference ${r.maxAbsDiff.toPrecision(3)} on '${r.output}'${agreement}.\nAccuracy budget: ${r.gate.status} (${r.gate.detail}).\nRecorded ${r.model}:${r.version ?? '-'} (optimized from ${r.original}).\n`;
}

/** Adds `continuum optimize`. */
export function registerOptimizeCommand(program: Command, out: Output = stdoutOutput): void {
  withCommonOptions(
    program
      .command('optimize')
      .description('make an int8 or fp16 version of a model, measure it against the original (size, latency, accuracy) and record it with its lineage')
      .argument('<model>', 'MODEL, MODEL:VERSION or MODEL@ALIAS', parseModelRef)
      .addOption(new Option('--quantize <kind>', 'int8 (MatMul/Gemm dynamic, Conv weights) or fp16 (float16 weights)').choices(OPTIMIZATIONS).makeOptionMandatory())
      .option('--max-accuracy-drop <share>', 'refuse the result when its top-1 accuracy on the attached dataset falls more than this below the original (0.01 = one point)', share)
      .option('--as-version <version>', 'the new version (default: the next integer)')
      .option('--requests <n>', 'measured latency requests per model and batch size', wholeNumber(10))
      .option('--dynamic-dim <n>', 'size of dynamic non-batch dimensions in generated requests (e.g. image width)', wholeNumber(1)),
  ).action(
    async (
      target: { model: string; ref?: string },
      o: CommonOptions & { quantize: (typeof OPTIMIZATIONS)[number]; maxAccuracyDrop?: number; asVersion?: string; requests?: number; dynamicDim?: number },
    ) => {
      const body = {
        quantize: o.quantize,
        ...(target.ref === undefined ? {} : { ref: target.ref }),
        ...(o.maxAccuracyDrop === undefined ? {} : { maxAccuracyDrop: o.maxAccuracyDrop }),
        ...(o.asVersion === undefined ? {} : { version: o.asVersion }),
        ...(o.requests === undefined ? {} : { latencyRequests: o.requests }),
        ...(o.dynamicDim === undefined ? {} : { dynamicDimSize: o.dynamicDim }),
      };
      const report = await clientOf(o).sendJson<OptimizationReport>('POST', `/models/${encodeURIComponent(target.model)}/optimize`, body);
      printResult(out, o.json === true, report, reportText);
    },
  );
}
