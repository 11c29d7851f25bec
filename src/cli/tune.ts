/**
 * `continuum tune MODEL`: asks the server to measure runtime configurations of the model on its
 * machine and keep the best (Triton's model analyzer, in small).
 */
import type { Command } from 'commander';
import type { ModelRuntimeOptions, TuneTrial } from '../runtime/index.js';
import { numberList, wholeNumber } from './args.js';
import { clientOf, withCommonOptions } from './client.js';
import type { CommonOptions } from './client.js';
import { formatTable, printResult, stdoutOutput } from './output.js';
import type { Output } from './output.js';

interface TuneAnswer {
  readonly model: string;
  readonly version: string;
  readonly best: ModelRuntimeOptions;
  readonly best_trial: TuneTrial;
  readonly trials: readonly TuneTrial[];
  readonly reloaded: boolean;
}

const intList = numberList(true);
const int = wholeNumber(1);

function optionsText(o: ModelRuntimeOptions): string {
  return `${o.executor ?? 'inline'} ×${o.instances ?? 1} threads=${o.intraOpThreads ?? 1} batch≤${o.maxBatchSize ?? 0}`;
}

function tuneText(a: TuneAnswer): string {
  const table = formatTable(a.trials, [
    { header: 'CONFIGURATION', value: (t) => optionsText(t.options) },
    { header: 'CONCURRENCY', value: (t) => String(t.concurrency) },
    { header: 'ITEMS/S', value: (t) => t.throughput.toFixed(0) },
    { header: 'P50 MS', value: (t) => t.p50Ms.toFixed(2) },
    { header: 'P99 MS', value: (t) => t.p99Ms.toFixed(2) },
    { header: 'ERRORS', value: (t) => String(t.errors) },
  ]);
  return `${table}\nBest for ${a.model} version ${a.version}: ${optionsText(a.best)} (${a.best_trial.throughput.toFixed(0)} items/s at concurrency ${a.best_trial.concurrency}); stored${a.reloaded ? ' and reloaded' : ''}.\n`;
}

/** Adds `continuum tune`. */
export function registerTuneCommand(program: Command, out: Output = stdoutOutput): void {
  withCommonOptions(
    program
      .command('tune <model>')
      .description('measure instances × threads × batch size for a model on the server machine and keep the best')
      .option('--version <version>', 'model version (default: the production alias, else the newest)')
      .option('--instances <list>', 'instance counts to try, e.g. 1,2', intList)
      .option('--threads <list>', 'intra-op thread counts to try', intList)
      .option('--batch <list>', 'max batch sizes to try (0 = no batching)', intList)
      .option('--concurrency <list>', 'client concurrencies to measure at', intList)
      .option('--measure-ms <ms>', 'measured window per trial', int)
      .option('--dynamic-dim <n>', 'size of dynamic non-batch dimensions in generated requests (e.g. image width)', int),
  ).action(
    async (
      model: string,
      o: CommonOptions & { version?: string; instances?: number[]; threads?: number[]; batch?: number[]; concurrency?: number[]; measureMs?: number; dynamicDim?: number },
    ) => {
      const body = {
        ...(o.version === undefined ? {} : { version: o.version }),
        ...(o.instances === undefined ? {} : { instances: o.instances }),
        ...(o.threads === undefined ? {} : { intraOpThreads: o.threads }),
        ...(o.batch === undefined ? {} : { maxBatchSizes: o.batch }),
        ...(o.concurrency === undefined ? {} : { concurrencies: o.concurrency }),
        ...(o.measureMs === undefined ? {} : { measureMs: o.measureMs }),
        ...(o.dynamicDim === undefined ? {} : { dynamicDimSize: o.dynamicDim }),
      };
      const answer = await clientOf(o).sendJson<TuneAnswer>('POST', `/models/${encodeURIComponent(model)}/tune`, body);
      printResult(out, o.json === true, answer, tuneText);
    },
  );
}
