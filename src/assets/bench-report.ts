/**
 * The figures of `continuum bench asset`, as pure functions: predictions matched to the messages
 * that caused them, each one's time split into ingest, compute and communication; peaks of CPU
 * and memory from readings of the server's process tree; and the report, with the published
 * figures of the testing framework this bench follows (Keusch et al., "Platform-Agnostic MLOps
 * on Edge, Fog and Cloud Platforms in Industrial IoT", §4.3–4.4, Table 1) beside ours.
 */
import { z } from 'zod';
import { quantile } from '../deploy/index.js';
import type { ProcessTreeReading } from './procfs.js';

/** p50, p95, p99 and the mean of a set of values (NaN when empty). */
export interface Spread {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly mean: number;
}

/** The spread of `values` (nearest-rank quantiles). */
export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length === 0 ? Number.NaN : sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return { n: sorted.length, p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99), mean };
}

/** A prediction as the ingest path publishes it on `<topic>/predictions` (docs/ingest.md), the parts the bench reads. */
const predictionSchema = z.object({
  seq: z.number().int().nullable().optional(),
  inputTimestamp: z.string().max(64),
  modelVersion: z.string().max(256),
  outputs: z.object({ label: z.array(z.number()).max(1024).optional() }).optional(),
  latency: z.object({ ingestMs: z.number().finite(), computeMs: z.number().finite() }),
});

/** A parsed prediction message. */
export type PredictionMessage = z.infer<typeof predictionSchema>;

/** Parses a prediction message; undefined when it is not one (the bench skips it). */
export function parsePrediction(body: string): PredictionMessage | undefined {
  if (body.length > 64 * 1024) return undefined;
  try {
    const parsed = predictionSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A message the asset sent: its sequence number, when it was stamped, and the class it truly is. */
export interface SentMessage {
  readonly seq: number;
  readonly sentAtMs: number;
  readonly label: string;
}

/** A prediction and when the bench received it (epoch ms). */
export interface ReceivedPrediction {
  readonly prediction: PredictionMessage;
  readonly receivedAtMs: number;
}

/** One prediction cycle's times, ms. */
export interface CycleTiming {
  readonly seq: number;
  /** From the asset stamping the message to the bench receiving the prediction. */
  readonly totalMs: number;
  /** The server's: from the message's time to the start of inference. */
  readonly ingestMs: number;
  /** The server's: the inference call. */
  readonly computeMs: number;
  /** Everything but compute: the trips to and from the server, and ingest queueing. */
  readonly communicationMs: number;
  /** Whether the predicted class was the sample's own; undefined when the prediction carries no label. */
  readonly correct: boolean | undefined;
}

/**
 * Matches predictions to the messages they answer, first prediction per message only, in arrival
 * order: by `seq` (a windowed prediction carries its last message's), or, from a server whose
 * predictions carry no `seq`, by `inputTimestamp` (the message's own `ts`).
 */
export function cycleTimings(sent: readonly SentMessage[], received: readonly ReceivedPrediction[], classes: readonly string[]): CycleTiming[] {
  const bySeq = new Map(sent.map((m) => [m.seq, m]));
  const byTimestamp = new Map(sent.map((m) => [m.sentAtMs, m]));
  const seen = new Set<number>();
  const timings: CycleTiming[] = [];
  for (const { prediction, receivedAtMs } of received) {
    const message = prediction.seq === null || prediction.seq === undefined ? byTimestamp.get(Date.parse(prediction.inputTimestamp)) : bySeq.get(prediction.seq);
    if (message === undefined || seen.has(message.seq)) continue;
    seen.add(message.seq);
    const totalMs = receivedAtMs - message.sentAtMs;
    const label = prediction.outputs?.label?.[0];
    timings.push({
      seq: message.seq,
      totalMs,
      ingestMs: prediction.latency.ingestMs,
      computeMs: prediction.latency.computeMs,
      communicationMs: totalMs - prediction.latency.computeMs,
      correct: label === undefined ? undefined : classes[label] === message.label,
    });
  }
  return timings;
}

/** The highest CPU use between consecutive readings (100% = one core busy, the paper's unit) and the highest resident memory. */
export interface ResourcePeaks {
  readonly peakCpuPercent: number;
  readonly peakRssBytes: number;
  readonly readings: number;
}

/** Peaks over readings of one process tree, oldest first; NaN CPU with fewer than two readings. */
export function resourcePeaks(readings: readonly ProcessTreeReading[]): ResourcePeaks {
  let peakCpuPercent = Number.NaN;
  for (let i = 1; i < readings.length; i++) {
    const a = readings[i - 1] as ProcessTreeReading;
    const b = readings[i] as ProcessTreeReading;
    const wallS = (b.atMs - a.atMs) / 1000;
    // A process that left the tree takes its CPU time with it: never count a drop as negative use.
    if (wallS > 0) peakCpuPercent = Math.max(Number.isNaN(peakCpuPercent) ? 0 : peakCpuPercent, (Math.max(0, b.cpuSeconds - a.cpuSeconds) / wallS) * 100);
  }
  return { peakCpuPercent, peakRssBytes: readings.reduce((m, r) => Math.max(m, r.rssBytes), 0), readings: readings.length };
}

/**
 * Table 1 of the paper (system measurements of the PCB workflow): communication latency from the
 * asset, peak CPU (100% = one core) and peak memory of the framework, per deployment mode. Its
 * training and prediction times and energies are given only as bar charts (Fig. 4–7), so they
 * cannot be set beside ours as numbers.
 */
export const PAPER_SYSTEM_MEASUREMENTS = [
  { platform: 'edge (SIMATIC IPC427E)', latencyMs: 8.5, cpuPercent: 313.5, memoryMiB: 1144 },
  { platform: 'fog (OpenStack VM, 8 vCPU)', latencyMs: 173.8, cpuPercent: 150.7, memoryMiB: 1138 },
  { platform: 'cloud (AWS t3a.large)', latencyMs: 241.9, cpuPercent: 146, memoryMiB: 1169 },
] as const;

/** What one `bench asset` run measured. */
export interface AssetBenchResult {
  readonly workflow: string;
  readonly asset: string;
  readonly format: string;
  readonly server: string;
  readonly training: {
    readonly samples: number;
    readonly wallMs: number;
    readonly serverDurationMs: number | null;
    readonly modelVersion: string | null;
    readonly metrics: Readonly<Record<string, number>>;
    /** The run's own account (peak RSS, CPU ms), when the server gives one. */
    readonly runResources: { readonly peakRssBytes: number; readonly cpuMs: number } | null;
    /** CPU energy of the run's CPU time at the machine's TDP per CPU (CodeCarbon's process mode); null without a local reading. */
    readonly estimatedJoules: number | null;
    readonly peaks: ResourcePeaks | null;
  };
  readonly prediction: {
    readonly cycles: number;
    readonly received: number;
    readonly accuracy: number | null;
    readonly totalMs: Spread;
    readonly ingestMs: Spread;
    readonly computeMs: Spread;
    readonly communicationMs: Spread;
    readonly peaks: ResourcePeaks | null;
    /** The deployment's energy over the cycles (the server's meter), and per inference. */
    readonly joules: number | null;
    readonly joulesPerInference: number | null;
    readonly energyMode: string | null;
  };
  /** What the asset sent over the whole run. */
  readonly messages: { readonly sent: number; readonly acked: number; readonly failed: number };
}

const ms = (v: number): string => (Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const mib = (bytes: number): string => (bytes > 0 ? (bytes / 1024 ** 2).toFixed(0) : '-');
const pct = (v: number): string => (Number.isNaN(v) ? '-' : v.toFixed(1));
const spreadText = (s: Spread): string => `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)}`;
const orDash = (v: number | null, digits: number): string => (v === null ? '-' : v.toFixed(digits));

/** The report: one row per figure, and the paper's Table 1 beside the comparable ones. */
export function formatAssetBench(r: AssetBenchResult): string {
  const p = r.prediction;
  const t = r.training;
  const paper = (pick: (row: (typeof PAPER_SYSTEM_MEASUREMENTS)[number]) => number): string => PAPER_SYSTEM_MEASUREMENTS.map(pick).join(' / ');
  const cpuPeaks = [t.peaks?.peakCpuPercent, p.peaks?.peakCpuPercent].filter((v): v is number => v !== undefined && !Number.isNaN(v));
  const peakCpu = cpuPeaks.length === 0 ? Number.NaN : Math.max(...cpuPeaks);
  const peakRss = Math.max(t.peaks?.peakRssBytes ?? 0, p.peaks?.peakRssBytes ?? 0, t.runResources?.peakRssBytes ?? 0);
  const rows: [string, string, string][] = [
    ['training samples', String(t.samples), ''],
    ['training time, ms (wall; server)', `${ms(t.wallMs)}; ${t.serverDurationMs === null ? '-' : ms(t.serverDurationMs)}`, 'Fig. 4 (chart only)'],
    ['held-out accuracy (training)', orDash(t.metrics['testAccuracy'] ?? null, 3), ''],
    ['training energy, J (estimated)', orDash(t.estimatedJoules, 2), 'Fig. 5 (chart only)'],
    [`prediction cycles (received / asked)`, `${p.received} / ${p.cycles}`, '20'],
    ['prediction accuracy (live)', orDash(p.accuracy, 3), ''],
    ['prediction total, ms p50/p95/p99', spreadText(p.totalMs), 'Fig. 6 (chart only)'],
    ['  ingest, ms p50/p95/p99', spreadText(p.ingestMs), ''],
    ['  compute, ms p50/p95/p99', spreadText(p.computeMs), ''],
    ['communication latency, ms p50/p95/p99', spreadText(p.communicationMs), `${paper((x) => x.latencyMs)} (ping)`],
    ['peak CPU, % of one core', pct(peakCpu), paper((x) => x.cpuPercent)],
    ['peak memory, MiB', mib(peakRss), paper((x) => x.memoryMiB)],
    ['prediction energy, J (per inference)', `${orDash(p.joules, 3)} (${orDash(p.joulesPerInference, 5)})${p.energyMode === null ? '' : ` ${p.energyMode}`}`, 'Fig. 7 (chart only)'],
    ['asset messages sent / acked / failed', `${r.messages.sent} / ${r.messages.acked} / ${r.messages.failed}`, ''],
  ];
  const width0 = Math.max(...rows.map((row) => row[0].length));
  const width1 = Math.max('CONTINUUM'.length, ...rows.map((row) => row[1].length));
  const line = (a: string, b: string, c: string): string => `${a.padEnd(width0)}  ${b.padEnd(width1)}  ${c}`.trimEnd();
  return [
    `bench asset: workflow ${r.workflow}, ${r.asset} asset (${r.format}), server ${r.server}`,
    line('FIGURE', 'CONTINUUM', 'PAPER (edge / fog / cloud, PCB workflow)'),
    ...rows.map(([a, b, c]) => line(a, b, c)),
    '',
  ].join('\n');
}
