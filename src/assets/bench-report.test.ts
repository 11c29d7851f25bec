import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { unpackArchive } from '../training/index.js';
import { assetFor } from './bench.js';
import { cycleTimings, formatAssetBench, parsePrediction, resourcePeaks, spread, type AssetBenchResult, type PredictionMessage } from './bench-report.js';
import { packWorkflow, readWorkflowManifest } from './package.js';
import { usageFromMetrics } from './server-usage.js';

const WORKFLOWS = fileURLToPath(new URL('../../workflows/', import.meta.url));

function prediction(fields: Partial<PredictionMessage>): PredictionMessage {
  return { inputTimestamp: '2026-11-23T17:00:00.000Z', modelVersion: '1', latency: { ingestMs: 2, computeMs: 1 }, ...fields };
}

describe('spread', () => {
  it('gives nearest-rank p50, p95, p99 and the mean', () => {
    const s = spread(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(s).toEqual({ n: 100, p50: 50, p95: 95, p99: 99, mean: 50.5 });
    expect(Number.isNaN(spread([]).p50)).toBe(true);
  });
});

describe('cycleTimings', () => {
  const classes = ['ok', 'error', 'pseudo-error'];
  const sent = [
    { seq: 10, sentAtMs: 1_000, label: 'ok' },
    { seq: 11, sentAtMs: 1_100, label: 'error' },
  ];

  it('splits each cycle into ingest, compute and communication, and judges the label', () => {
    const timings = cycleTimings(sent, [{ prediction: prediction({ seq: 11, outputs: { label: [1] }, latency: { ingestMs: 4, computeMs: 3 } }), receivedAtMs: 1_112 }], classes);
    expect(timings).toEqual([{ seq: 11, totalMs: 12, ingestMs: 4, computeMs: 3, communicationMs: 9, correct: true }]);
  });

  it('counts the first prediction of a message once, skips strangers, and matches by timestamp without seq', () => {
    const timings = cycleTimings(
      sent,
      [
        { prediction: prediction({ seq: 10, outputs: { label: [2] } }), receivedAtMs: 1_010 },
        { prediction: prediction({ seq: 10, outputs: { label: [0] } }), receivedAtMs: 1_020 },
        { prediction: prediction({ seq: 99 }), receivedAtMs: 1_030 },
        { prediction: prediction({ inputTimestamp: new Date(1_100).toISOString() }), receivedAtMs: 1_150 },
      ],
      classes,
    );
    expect(timings.map((t) => [t.seq, t.totalMs, t.correct])).toEqual([
      [10, 10, false],
      [11, 50, undefined],
    ]);
  });
});

describe('parsePrediction', () => {
  it('reads the ingest path’s prediction and refuses anything else', () => {
    const body = { source: 's', inputTimestamp: '2026-11-23T17:00:00.000Z', modelVersion: '3', seq: 7, outputs: { probabilities: [0.9, 0.1], label: [0] }, latency: { ingestMs: 3, computeMs: 1 } };
    expect(parsePrediction(JSON.stringify(body))).toMatchObject({ seq: 7, modelVersion: '3', outputs: { label: [0] } });
    expect(parsePrediction('not json')).toBeUndefined();
    expect(parsePrediction(JSON.stringify({ ...body, latency: { ingestMs: 'soon' } }))).toBeUndefined();
  });
});

describe('resourcePeaks', () => {
  it('takes the busiest interval in % of one core and the largest resident memory', () => {
    const peaks = resourcePeaks([
      { atMs: 0, cpuSeconds: 10, rssBytes: 100 },
      { atMs: 500, cpuSeconds: 10.25, rssBytes: 300 },
      { atMs: 1000, cpuSeconds: 11.25, rssBytes: 200 },
      // A replica left the tree: its CPU time went with it, never a negative use.
      { atMs: 1500, cpuSeconds: 5, rssBytes: 50 },
    ]);
    expect(peaks).toEqual({ peakCpuPercent: 200, peakRssBytes: 300, readings: 4 });
  });
});

describe('formatAssetBench', () => {
  it('prints our figures beside the paper’s Table 1', () => {
    const s = spread([1, 2, 3]);
    const result: AssetBenchResult = {
      workflow: 'pcb-inspection 1.0.0',
      asset: 'pcb',
      format: 'json',
      server: 'http://127.0.0.1:8080',
      training: { samples: 2000, wallMs: 812, serverDurationMs: 640, modelVersion: '1', metrics: { testAccuracy: 0.9 }, runResources: { peakRssBytes: 90 * 1024 ** 2, cpuMs: 700 }, estimatedJoules: 1.5, peaks: { peakCpuPercent: 101.5, peakRssBytes: 200 * 1024 ** 2, readings: 5 } },
      prediction: { cycles: 20, received: 20, accuracy: 0.95, totalMs: s, ingestMs: s, computeMs: s, communicationMs: s, peaks: null, joules: 0.4, joulesPerInference: 0.02, energyMode: 'cpu_load' },
      messages: { sent: 2020, acked: 2020, failed: 0 },
    };
    const text = formatAssetBench(result);
    expect(text).toMatch(/communication latency, ms p50\/p95\/p99\s+2\.00 \/ 3\.00 \/ 3\.00\s+8\.5 \/ 173\.8 \/ 241\.9/);
    expect(text).toMatch(/peak CPU, % of one core\s+101\.5\s+313\.5 \/ 150\.7 \/ 146/);
    expect(text).toMatch(/peak memory, MiB\s+200\s+1144 \/ 1138 \/ 1169/);
    expect(text).toMatch(/held-out accuracy \(training\)\s+0\.900/);
  });
});

describe('workflow packages', () => {
  it('pack into a .tar.gz the platform’s own unpacker accepts, manifest at the root', async () => {
    const archiveDir = mkdtempSync(join(tmpdir(), 'continuum-pack-'));
    try {
      const archive = join(archiveDir, 'pcb.tar.gz');
      writeFileSync(archive, await packWorkflow(join(WORKFLOWS, 'pcb-inspection')));
      const root = join(archiveDir, 'unpacked');
      await unpackArchive(archive, root);
      for (const file of ['manifest.json', 'train.js', 'README.md']) {
        expect(readFileSync(join(root, file), 'utf8')).toBe(readFileSync(join(WORKFLOWS, 'pcb-inspection', file), 'utf8'));
      }
      expect(Buffer.compare(await packWorkflow(join(WORKFLOWS, 'pcb-inspection')), readFileSync(archive))).toBe(0);
    } finally {
      rmSync(archiveDir, { recursive: true, force: true });
    }
  });

  it('find the virtual asset whose fields are their inputs', () => {
    expect(assetFor(readWorkflowManifest(join(WORKFLOWS, 'pcb-inspection'))).kind).toBe('pcb');
    expect(assetFor(readWorkflowManifest(join(WORKFLOWS, 'imu-activity'))).kind).toBe('imu');
    expect(() => assetFor(readWorkflowManifest(join(WORKFLOWS, 'iris')))).toThrow(/match no virtual asset/);
  });
});

describe('usageFromMetrics', () => {
  it('adds the server process and every replica, CPU and resident memory', () => {
    const text = [
      '# HELP continuum_process_cpu_seconds_total Total user and system CPU time spent in seconds.',
      '# TYPE continuum_process_cpu_seconds_total counter',
      'continuum_process_cpu_seconds_total 12.5',
      'continuum_process_cpu_user_seconds_total 10',
      'continuum_process_resident_memory_bytes 100000000',
      'continuum_replica_cpu_seconds_total{deployment="pcb",revision="1",replica="r1"} 2.25',
      'continuum_replica_resident_memory_bytes{deployment="pcb",revision="1",replica="r1"} 50000000',
      'continuum_replica_resident_memory_bytes{deployment="pcb",revision="1",replica="r2"} NaN',
    ].join('\n');
    expect(usageFromMetrics(text, 7)).toEqual({ atMs: 7, cpuSeconds: 14.75, rssBytes: 150_000_000 });
    expect(usageFromMetrics('up 1\n', 7)).toBeUndefined();
  });
});
