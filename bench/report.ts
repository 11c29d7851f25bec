/**
 * What a serving benchmark run found, and its rendering as the "Serving" section of
 * docs/benchmarks.md (pure: the result in, markdown out).
 */
import type { Measurement, ServerSplit, TargetCheck } from './method.js';

/** The machine and software a run measured on. */
export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly onnxruntimeNode: string;
  readonly torch: string | undefined;
  readonly os: string;
  /** 1-minute load average when the run started (other work on the machine skews results). */
  readonly loadAverageAtStart: number;
}

/** One measurement of one system at one concurrency. */
export interface Row {
  readonly model: string;
  /** Stable identifier of the system, e.g. `continuum`, `fastify`, `raw-main`. */
  readonly systemId: string;
  /** What the system is, for a reader. */
  readonly system: string;
  readonly protocol: 'in-process' | 'rest-json' | 'rest-binary' | 'grpc';
  readonly concurrency: number;
  readonly itemsPerRequest: number;
  readonly itemsPerSecond: number;
  readonly measurement: Measurement;
  /** Queue/compute split from the statistics extension (Continuum only). */
  readonly server?: ServerSplit;
  /** Peak resident memory of the server's process tree during the measurement, MB. */
  readonly peakRssMb?: number;
  /** Largest difference of its answer from raw ONNX Runtime's (undefined: not checked). */
  readonly answerDistance?: number;
}

/** A whole run. */
export interface ServingResult {
  readonly date: string;
  readonly command: string;
  readonly commit: string;
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly method: {
    readonly concurrencies: Readonly<Record<string, readonly number[]>>;
    readonly warmupMs: Readonly<Record<string, number>>;
    readonly windowMs: Readonly<Record<string, number>>;
    readonly maxWindows: Readonly<Record<string, number>>;
    readonly stability: string;
  };
  readonly rows: readonly Row[];
  readonly loadToReady: {
    readonly continuumMs: readonly number[];
    readonly rawSessionCreateMs: readonly number[];
  };
  readonly memory: {
    readonly idleMb: number | undefined;
    readonly modelsLoadedIdleMb: number | undefined;
    readonly servingMlpPeakMb: number | undefined;
  };
  /** The runtime options Continuum ran the recognizer with for the "tuned" rows, and how they were chosen. */
  readonly tuned: { readonly options: Readonly<Record<string, unknown>>; readonly how: string } | undefined;
  readonly targets: readonly TargetCheck[];
  /** Continuum REST JSON throughput at the top concurrency over the bare node:http ceiling's. */
  readonly ioCeilingShare: number | undefined;
  readonly notes: readonly string[];
  readonly failures: readonly string[];
}

const f = (v: number | undefined, digits = 2): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));
const thousands = (v: number): string => (Number.isNaN(v) ? '–' : Math.round(v).toLocaleString('en-US'));

function rowsTable(rows: readonly Row[]): string {
  const lines = [
    '| system | protocol | c | items/s | p50 ms | p90 ms | p99 ms | server queue ms | server compute ms | batch | windows |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of rows) {
    const m = r.measurement;
    lines.push(
      `| ${r.system} | ${r.protocol} | ${r.concurrency} | ${thousands(r.itemsPerSecond)} | ${f(m.p50Ms, 3)} | ${f(m.p90Ms, 3)} | ${f(m.p99Ms, 3)} | ${f(r.server?.queueMs, 3)} | ${f(r.server?.computeMs, 3)} | ${f(r.server?.meanBatchSize, 1)} | ${m.windowsMeasured}${m.stable ? '' : ' (unstable)'} |`,
    );
  }
  return lines.join('\n');
}

/** A markdown table of targets: measured value, bound, verdict and what the value is computed from. */
export function targetsTable(targets: readonly TargetCheck[]): string {
  const lines = ['| target | measured | bound | verdict | from |', '|---|--:|--:|---|---|'];
  for (const t of targets) lines.push(`| ${t.name} | ${f(t.value)} ${t.unit} | ${t.direction} ${t.bound} ${t.unit} | **${t.verdict}** | ${t.basis} |`);
  return lines.join('\n');
}

/** The line of a section that says what machine and software a run measured on. */
export function machineLine(m: MachineInfo): string {
  return `Machine: ${m.cpus} cores (${m.cpuModel}), ${f(m.memoryGiB, 1)} GiB memory, ${m.os}; Node ${m.node}, onnxruntime-node ${m.onnxruntimeNode}${m.torch === undefined ? '' : `, torch ${m.torch}`}; load average ${f(m.loadAverageAtStart)} at start.`;
}

/** The "Serving" section of docs/benchmarks.md for a run. */
export function renderServingSection(r: ServingResult): string {
  const models = [...new Set(r.rows.map((row) => row.model))];
  const parts = [
    '## Serving',
    '',
    `Run: \`${r.command}\` on ${r.date.slice(0, 10)} (commit ${r.commit}${r.quick ? ', quick smoke run: short windows, numbers are rough' : ''}).`,
    '',
    machineLine(r.machine),
    '',
    "Method (perf_analyzer's): a closed loop of c concurrent clients in a separate load-generator process " +
      '(undici Pool, one connection per client and one request in flight on each, for HTTP; for gRPC, ModelInfer requests encoded once ' +
      'by @grpc/proto-loader and sent over a small HTTP/2 client, bench/h2-client.ts, one connection per 16 concurrent calls), ' +
      `a warm-up, then measurement windows repeated until ${r.method.stability}; throughput and latency are pooled over those three windows. ` +
      'The server-side queue/compute split is the difference of two reads of the statistics extension around them. ' +
      'The load generator runs on the same cores as the server — equally for every system measured.',
    '',
    '### Targets',
    '',
    targetsTable(r.targets),
    '',
  ];
  if (r.ioCeilingShare !== undefined) {
    parts.push(`Continuum REST JSON reaches ${f(r.ioCeilingShare * 100, 0)}% of the I/O ceiling (a bare node:http server answering a constant JSON, same load).`, '');
  }
  parts.push(
    '### Load and memory',
    '',
    `- Recognizer load to ready: Continuum \`POST /v2/repository/models/ocr-rec/load\` ${r.loadToReady.continuumMs.map((v) => f(v, 0)).join(', ') || '–'} ms; raw \`InferenceSession.create\` ${r.loadToReady.rawSessionCreateMs.map((v) => f(v, 0)).join(', ') || '–'} ms.`,
    `- Continuum RSS (server process tree, VmRSS): idle ${f(r.memory.idleMb, 0)} MB; MLP loaded, idle ${f(r.memory.modelsLoadedIdleMb, 0)} MB; peak while serving the MLP ${f(r.memory.servingMlpPeakMb, 0)} MB.`,
  );
  if (r.tuned !== undefined) parts.push(`- "Tuned" recognizer options: \`${JSON.stringify(r.tuned.options)}\` (${r.tuned.how}).`);
  parts.push('');
  for (const model of models) {
    parts.push(`### ${model === 'mlp' ? 'MLP 16→64→64→4 (I/O-bound), batch 1 per request' : 'PP-OCRv4 recognizer, one 3×48×320 line per request (items/s = lines/s)'}`, '');
    parts.push(rowsTable(r.rows.filter((row) => row.model === model)), '');
  }
  if (r.notes.length > 0) parts.push('### Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  if (r.failures.length > 0) parts.push('### Failures', '', ...r.failures.map((n) => `- ${n}`), '');
  parts.push(`Raw results: \`bench/results/\` (JSON, every window's throughput). Reproduce: \`${r.command}\`.`);
  return parts.join('\n');
}

const BEGIN = '<!-- serving:begin (written by npm run bench:serving) -->';
const END = '<!-- serving:end -->';

/**
 * docs/benchmarks.md with the block between the `begin` and `end` markers replaced by `section`
 * (added at the end when the markers are missing; the page is started when there is none).
 */
export function withMarkedSection(doc: string, begin: string, end: string, section: string): string {
  const block = `${begin}\n${section}\n${end}`;
  const start = doc.indexOf(begin);
  const stop = doc.indexOf(end);
  if (start >= 0 && stop > start) return doc.slice(0, start) + block + doc.slice(stop + end.length);
  const base = doc.trim() === '' ? '# Benchmarks\n\nPrograms under bench/; each run writes its section here.\n' : doc;
  return `${base.trimEnd()}\n\n${block}\n`;
}

/** docs/benchmarks.md with its serving section replaced (or added at the end). */
export function withServingSection(doc: string, section: string): string {
  return withMarkedSection(doc, BEGIN, END, section);
}
