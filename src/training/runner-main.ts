/**
 * The process a workflow trains in: `node --experimental-permission … dist/training/runner-main.js
 * WORKDIR`, started by src/training/sandbox.ts. It reads the run's input the platform wrote into
 * WORKDIR, imports the package's entry module, calls `preprocess` (when exported) and `train` with
 * the context of the workflow contract (the built-in trainers, a seed, a log), checks what train
 * returned (ONNX bytes that decode, within the size limit; metrics that are finite numbers) and
 * writes it to WORKDIR/out. Everything the workflow does happens under the permission model the
 * parent started this process with; this file only shapes the calls and the answer.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import onnxProto from 'onnx-proto';
import { splitTrainTest } from './dataset.js';
import { trainRandomForest } from './forest.js';
import { trainLogisticRegression } from './logistic.js';
import { trainMlp } from './mlp.js';
import { RUNNER_FILES } from './runner-protocol.js';
import type { RunnerInput, RunnerResult } from './runner-protocol.js';

const MAX_LOG_LINE = 2000;

/** Says what the sandbox refused, when a failure is a permission denial. */
function explain(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const { code, permission, resource } = err as Error & { code?: unknown; permission?: unknown; resource?: unknown };
  if (code === 'ERR_ACCESS_DENIED') {
    const what = typeof resource === 'string' ? ` ${resource}` : '';
    return `denied by the sandbox: ${typeof permission === 'string' ? permission : 'access'}${what} (a workflow may read and write only its work directory and may not start processes or threads)`;
  }
  if (typeof code === 'string' && ['ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND', 'EADDRNOTAVAIL'].includes(code)) {
    return `${err.message} (the sandbox has no network)`;
  }
  return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
}

function fail(workdir: string, message: string): never {
  writeFileSync(join(workdir, RUNNER_FILES.result), JSON.stringify({ ok: false, error: message } satisfies RunnerResult));
  process.exit(1);
}

/** The checked answer of `train`, or a message saying what is wrong with it. */
function checkResult(value: unknown, maxModelBytes: number): { model: Uint8Array; metrics: Record<string, number> } | string {
  if (typeof value !== 'object' || value === null) return 'train() must return { model, metrics }';
  const { model, metrics } = value as { model?: unknown; metrics?: unknown };
  if (!(model instanceof Uint8Array)) return 'train() returned a model that is not a Uint8Array of ONNX bytes';
  if (model.byteLength > maxModelBytes) return `train() returned a model of ${model.byteLength} bytes; the limit is ${maxModelBytes}`;
  try {
    const proto = onnxProto.onnx.ModelProto.decode(model);
    if (proto.graph === null || proto.graph === undefined) return 'train() returned ONNX bytes without a graph';
  } catch (err) {
    return `train() returned bytes that are not an ONNX model (${err instanceof Error ? err.message : String(err)})`;
  }
  if (typeof metrics !== 'object' || metrics === null) return 'train() must return metrics: an object of finite numbers';
  const entries = Object.entries(metrics);
  if (entries.length > 64) return `train() returned ${entries.length} metrics; at most 64`;
  for (const [name, v] of entries) {
    if (!/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(name)) return `metric name '${name.slice(0, 80)}' is not a letter followed by up to 63 letters, digits, _ . -`;
    if (typeof v !== 'number' || !Number.isFinite(v)) return `metric '${name}' is not a finite number`;
  }
  return { model, metrics: Object.fromEntries(entries) as Record<string, number> };
}

async function main(workdir: string): Promise<void> {
  mkdirSync(join(workdir, RUNNER_FILES.outDir), { recursive: true });
  const input = JSON.parse(readFileSync(join(workdir, RUNNER_FILES.input), 'utf8')) as RunnerInput;
  let dataset = JSON.parse(readFileSync(join(workdir, RUNNER_FILES.dataset), 'utf8')) as unknown;
  const log = (message: string): void => void process.stdout.write(`${String(message).slice(0, MAX_LOG_LINE).replace(/\n/g, ' ')}\n`);
  let module: { train?: unknown; preprocess?: unknown };
  try {
    module = (await import(pathToFileURL(join(workdir, RUNNER_FILES.packageDir, input.entry)).href)) as typeof module;
  } catch (err) {
    fail(workdir, `the entry module ${input.entry} could not be loaded: ${explain(err)}`);
  }
  const { train, preprocess } = module;
  if (typeof train !== 'function') fail(workdir, `the entry module ${input.entry} does not export a function train(dataset, params, context)`);
  try {
    if (typeof preprocess === 'function') dataset = await preprocess(dataset);
  } catch (err) {
    fail(workdir, `preprocess failed: ${explain(err)}`);
  }
  const context = {
    trainers: { logisticRegression: trainLogisticRegression, mlp: trainMlp, randomForest: trainRandomForest, splitTrainTest },
    seed: input.seed,
    log,
  };
  let answer: unknown;
  try {
    answer = await train(dataset, input.params, context);
  } catch (err) {
    fail(workdir, `train failed: ${explain(err)}`);
  }
  const checked = checkResult(answer, input.maxModelBytes);
  if (typeof checked === 'string') fail(workdir, checked);
  writeFileSync(join(workdir, RUNNER_FILES.model), checked.model);
  const usage = process.resourceUsage();
  const result: RunnerResult = { ok: true, metrics: checked.metrics, cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000), maxRssBytes: usage.maxRSS * 1024 };
  writeFileSync(join(workdir, RUNNER_FILES.result), JSON.stringify(result));
  // Whatever the workflow left running (timers, sockets) does not keep the run alive.
  process.exit(0);
}

const workdir = process.argv[2];
if (workdir === undefined) {
  process.stderr.write('usage: runner-main.js WORKDIR\n');
  process.exit(2);
}
await main(workdir);
