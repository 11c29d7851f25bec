/**
 * `npm run bench:ingest [-- --quick]`: the industrial data path end to end. A real `continuum serve`
 * (compiled CLI) serves the benchmark MLP (bench/models.ts) on one replica; a JSON data source
 * binds `bench/+/data` to it; mqtt.js clients publish sensor messages (QoS 1) and a subscriber
 * receives the predictions. Each message carries a unique timestamp (`ts`), which the prediction
 * echoes as `inputTimestamp`, so every prediction is matched to its message.
 *
 * (a) throughput: a closed loop keeps a window of messages whose prediction has not arrived yet;
 *     predictions received per second, and every one accounted for;
 * (b) latency: an open loop at 1,000 messages/s, publish → prediction received, p50/p99;
 * (c) a restart: messages at a steady rate, SIGTERM to the server mid-stream, the server started
 *     again on the same data directory, publishing going on; a persistent (clean: false)
 *     prediction subscriber counts which messages got a prediction;
 * (d) peak resident memory of the server's process tree (/proc) over (a)–(c).
 * (a) and (b) run again with Debian's mosquitto as an external broker (`--mqtt-url`), and the
 * ratios are printed. Every process it starts is ended when it finishes, fails or is interrupted.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { noDelay } from '../src/ingest/index.js';
import { deployModel, prepareContinuum, pushModel, startContinuum, type ContinuumServer } from './continuum.js';
import { percentile } from './method.js';
import { MLP_OPTIONS, writeMlp } from './models.js';
import { freePort, processSetForRun, processTicks, CLOCK_TICKS_PER_S, treeRssMb, type BenchProcess, type ProcessSet } from './processes.js';
import { machineLine } from './report.js';
import { gitCommit, machineInfo, runBenchMain, saveRun } from './run-info.js';

const QUICK = process.argv.includes('--quick');

/** An MQTT client with Nagle's algorithm off on every connection, like the platform's own clients. */
async function connectClient(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, options);
  noDelay(client);
  client.on('connect', () => noDelay(client));
  return client;
}

/** How long the closed loop of (a) runs. */
const THROUGHPUT_MS = QUICK ? 4000 : 15_000;
/** Messages awaiting their prediction in the closed loop of (a). */
const WINDOW = 2000;
/** The open-loop rate of (b), messages/s, and how long it runs. */
const LATENCY_RATE = 1000;
const LATENCY_MS = QUICK ? 4000 : 15_000;
/** The steady rate of (c), messages/s; how many it publishes; after how many it stops the server. */
const RESTART_RATE = 1000;
const RESTART_TOTAL = QUICK ? 6000 : 20_000;
const RESTART_AT = Math.floor(RESTART_TOTAL / 3);
/** Once publishing is over, the run waits for the last predictions until none came for this long. */
const STALL_MS = 10_000;
const DEPLOYMENT = 'mlp';

/** A sensor message: the MLP's 16 features and a timestamp unique to the message. */
function payloadOf(tsMs: number): string {
  const fields = Array.from({ length: MLP_OPTIONS.inputSize }, (_, i) => `"f${i}":${((tsMs * 7 + i * 13) % 97) / 97}`);
  return `{${fields.join(',')},"ts":${tsMs}}`;
}

/** The predictions of one phase: message i has timestamp `baseMs + i`; latency from its publish to its prediction. */
class PhaseTracker {
  private readonly sentAt: Float64Array;
  private readonly latencyMs: Float64Array;
  private readonly seen: Uint8Array;
  received = 0;
  duplicates = 0;

  constructor(
    readonly baseMs: number,
    readonly capacity: number,
  ) {
    this.sentAt = new Float64Array(capacity);
    this.latencyMs = new Float64Array(capacity).fill(Number.NaN);
    this.seen = new Uint8Array(capacity);
  }

  sent(i: number): void {
    this.sentAt[i] = performance.now();
  }

  /** Records a prediction; false when it is not one of this phase's. */
  predicted(inputTimestamp: string, nowMs: number): boolean {
    const i = Date.parse(inputTimestamp) - this.baseMs;
    if (!(i >= 0 && i < this.capacity)) return false;
    if (this.seen[i] === 1) {
      this.duplicates++;
      return true;
    }
    this.seen[i] = 1;
    this.received++;
    this.latencyMs[i] = nowMs - (this.sentAt[i] ?? nowMs);
    return true;
  }

  /** Message numbers below `count` without a prediction. */
  missing(count: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < count; i++) if (this.seen[i] !== 1) out.push(i);
    return out;
  }

  /** Sorted latencies of messages numbered [from, to). */
  latencies(from: number, to: number): number[] {
    return Array.from(this.latencyMs.subarray(from, to)).filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  }
}

/** The prediction subscriber: hands each prediction to the current phase. */
class PredictionSubscriber {
  phase: PhaseTracker | undefined;
  stray = 0;

  private constructor(readonly client: MqttClient) {
    client.on('message', (_topic, payload) => {
      const now = performance.now();
      const prediction = JSON.parse(payload.toString('utf8')) as { inputTimestamp: string };
      if (this.phase?.predicted(prediction.inputTimestamp, now) !== true) this.stray++;
    });
  }

  static async connect(url: string, options: mqtt.IClientOptions): Promise<PredictionSubscriber> {
    const client = await connectClient(url, options);
    const subscriber = new PredictionSubscriber(client);
    await client.subscribeAsync('bench/+/data/predictions', { qos: 1 });
    return subscriber;
  }
}

async function api(server: ContinuumServer, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${server.origin}/api/v1${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

/** Deploys the MLP on one replica and binds the data source to it. */
async function prepare(server: ContinuumServer, dataDir: string): Promise<void> {
  await pushModel(server, writeMlp(dataDir));
  await deployModel(server, DEPLOYMENT, DEPLOYMENT, { policy: 'fixed', replicas: 1 }, 1);
  await api(server, 'POST', '/datasources', {
    name: 'bench',
    topic: 'bench/+/data',
    format: 'json',
    mapping: { fields: Array.from({ length: MLP_OPTIONS.inputSize }, (_, i) => `f${i}`), input: 'input', timestampField: 'ts' },
    deployment: DEPLOYMENT,
  });
}

/** The data source's counters (GET /api/v1/datasources/bench). */
async function counters(server: ContinuumServer): Promise<unknown> {
  return ((await api(server, 'GET', '/datasources/bench')) as { counters: unknown }).counters;
}

/** Waits until `expected` predictions of the phase arrived, or none arrived for STALL_MS. */
async function settle(phase: PhaseTracker, expected: number): Promise<void> {
  let last = phase.received;
  let lastChangeMs = Date.now();
  while (phase.received < expected && Date.now() - lastChangeMs < STALL_MS) {
    await sleep(20);
    if (phase.received !== last) {
      last = phase.received;
      lastChangeMs = Date.now();
    }
  }
}

/** CPU seconds used by the bench process and by the server's tree over a phase. */
interface CpuSplit {
  readonly benchCpuS: number;
  readonly serverCpuS: number;
}

function cpuMeter(serverPids: () => number[]): () => CpuSplit {
  const bench0 = process.cpuUsage();
  const server0 = serverPids().reduce((s, p) => s + processTicks(p), 0);
  return () => {
    const bench = process.cpuUsage(bench0);
    return { benchCpuS: (bench.user + bench.system) / 1e6, serverCpuS: (serverPids().reduce((s, p) => s + processTicks(p), 0) - server0) / CLOCK_TICKS_PER_S };
  };
}

/** (a)'s result. */
interface ThroughputResult {
  readonly messages: number;
  readonly predictionsPerS: number;
  readonly lost: number;
  readonly cpu: CpuSplit;
}

/** (a): a closed loop of WINDOW messages in flight for THROUGHPUT_MS. */
async function throughput(url: string, subscriber: PredictionSubscriber, pids: () => number[]): Promise<ThroughputResult> {
  const capacity = 2_000_000;
  const phase = new PhaseTracker(1_000_000_000_000, capacity);
  subscriber.phase = phase;
  const publisher = await connectClient(url, { reconnectPeriod: 0 });
  let sent = 0;
  let stop = false;
  const meter = cpuMeter(pids);
  const startMs = performance.now();
  const pump = async (): Promise<void> => {
    while (!stop) {
      while (sent - phase.received < WINDOW && !stop) {
        const i = sent++;
        phase.sent(i);
        publisher.publish('bench/tput/data', payloadOf(phase.baseMs + i), { qos: 1 });
        if (i % 256 === 255) await new Promise((r) => setImmediate(r));
      }
      await sleep(1);
    }
  };
  const pumping = pump();
  await sleep(THROUGHPUT_MS);
  stop = true;
  await pumping;
  await settle(phase, sent);
  const elapsedS = (performance.now() - startMs) / 1000;
  const cpu = meter();
  await publisher.endAsync();
  return { messages: sent, predictionsPerS: phase.received / elapsedS, lost: sent - phase.received, cpu };
}

/** (b)'s result. */
interface LatencyResult {
  readonly messages: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly lost: number;
}

/** Publishes at `rate` messages/s on a schedule (open loop): message i goes out at i/rate s. */
async function publishAtRate(publisher: MqttClient, topic: string, phase: PhaseTracker, rate: number, count: number, onSent?: (i: number) => Promise<void>): Promise<void> {
  const startMs = performance.now();
  for (let i = 0; i < count; ) {
    const due = Math.min(count, Math.floor(((performance.now() - startMs) * rate) / 1000) + 1);
    for (; i < due; i++) {
      phase.sent(i);
      publisher.publish(topic, payloadOf(phase.baseMs + i), { qos: 1 });
      await onSent?.(i);
    }
    await sleep(1);
  }
}

/** (b): an open loop at LATENCY_RATE for LATENCY_MS; the first second is warm-up. */
async function latency(url: string, subscriber: PredictionSubscriber): Promise<LatencyResult> {
  const count = Math.round((LATENCY_RATE * LATENCY_MS) / 1000);
  const phase = new PhaseTracker(2_000_000_000_000, count);
  subscriber.phase = phase;
  const publisher = await connectClient(url, { reconnectPeriod: 0 });
  await publishAtRate(publisher, 'bench/lat/data', phase, LATENCY_RATE, count);
  await settle(phase, count);
  await publisher.endAsync();
  const sorted = phase.latencies(LATENCY_RATE, count);
  return { messages: count, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), maxMs: sorted.at(-1) ?? Number.NaN, lost: count - phase.received };
}

/** (c)'s result. */
interface RestartResult {
  readonly messages: number;
  readonly lost: number;
  /** The message numbers without a prediction, as ranges. */
  readonly missing: string;
  readonly duplicates: number;
  readonly downMs: number;
  readonly countersBeforeStop: unknown;
  readonly countersAfter: unknown;
}

/** VmRSS of one process, MB (0 when it is gone). */
function processRssMb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) / 1024;
  } catch {
    return 0;
  }
}

/** Resident memory peaks of the server's tree, sampled every 100 ms, with the server process's own share at the peak. */
class RssSampler {
  peakMb = 0;
  serverAtPeakMb = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(pid: () => number | undefined) {
    this.timer = setInterval(() => {
      const p = pid();
      if (p === undefined) return;
      const tree = treeRssMb(p);
      if (tree > this.peakMb) {
        this.peakMb = tree;
        this.serverAtPeakMb = processRssMb(p);
      }
    }, 100);
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/** The whole embedded run: (a), (b), then (c) with a restart, RSS sampled throughout. */
async function embeddedRun(processes: ProcessSet): Promise<{ a: ThroughputResult; b: LatencyResult; c: RestartResult; peakRssMb: number; serverAtPeakMb: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'continuum-bench-ingest-'));
  const mqttPort = await freePort();
  const args = ['--mqtt-port', String(mqttPort)];
  let server = await startContinuum(processes, dataDir, args);
  const rss = new RssSampler(() => server.process.pid);
  try {
    await prepare(server, dataDir);
    const url = `mqtt://127.0.0.1:${mqttPort}`;
    const pids = (): number[] => [server.process.pid, ...childPids(server.process.pid)];
    const subscriber = await PredictionSubscriber.connect(url, { reconnectPeriod: 0 });
    const a = await throughput(url, subscriber, pids);
    console.log(`embedded (a): ${a.predictionsPerS.toFixed(0)} predictions/s, ${a.lost} lost of ${a.messages}; CPU s: bench ${a.cpu.benchCpuS.toFixed(1)}, server tree ${a.cpu.serverCpuS.toFixed(1)}`);
    const b = await latency(url, subscriber);
    console.log(`embedded (b): p50 ${b.p50Ms.toFixed(2)} ms, p99 ${b.p99Ms.toFixed(2)} ms, max ${b.maxMs.toFixed(1)} ms, ${b.lost} lost`);

    await subscriber.client.endAsync();
    const durable = await PredictionSubscriber.connect(url, { clientId: 'bench-predictions', clean: false, reconnectPeriod: 100 });
    const phase = new PhaseTracker(3_000_000_000_000, RESTART_TOTAL);
    durable.phase = phase;
    const publisher = await connectClient(url, { clientId: 'bench-plc', reconnectPeriod: 100 });
    let countersBeforeStop: unknown;
    let downMs = 0;
    let restarted: Promise<void> | undefined;
    await publishAtRate(publisher, 'bench/restart/data', phase, RESTART_RATE, RESTART_TOTAL, async (i) => {
      if (i !== RESTART_AT) return;
      countersBeforeStop = await counters(server);
      restarted = (async () => {
        const stoppedAt = performance.now();
        const old = server.process;
        old.child.kill('SIGTERM');
        await old.exited;
        server = await startContinuum(processes, dataDir, args);
        downMs = performance.now() - stoppedAt;
        console.log(`embedded (c): server down for ${downMs.toFixed(0)} ms`);
      })();
    });
    await restarted;
    await settle(phase, RESTART_TOTAL);
    const missing = phase.missing(RESTART_TOTAL);
    const c: RestartResult = { messages: RESTART_TOTAL, lost: missing.length, missing: rangesOf(missing), duplicates: phase.duplicates, downMs, countersBeforeStop, countersAfter: await counters(server) };
    console.log(`embedded (c): ${c.lost} of ${c.messages} lost across the restart (stopped at message ${RESTART_AT}), ${c.duplicates} duplicates; missing ${rangesOf(missing)}`);
    console.log(`embedded (c): data source counters before the stop ${JSON.stringify(countersBeforeStop)}, after the restart ${JSON.stringify(c.countersAfter)}`);
    await publisher.endAsync();
    await durable.client.endAsync();
    rss.stop();
    return { a, b, c, peakRssMb: rss.peakMb, serverAtPeakMb: rss.serverAtPeakMb };
  } finally {
    rss.stop();
    await processes.end(server.process, 10_000);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Sorted message numbers as ranges, "3-7, 9". */
function rangesOf(sorted: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] ?? 0) + 1) j++;
    out.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.length === 0 ? 'none' : out.join(', ');
}

function childPids(pid: number): number[] {
  const out = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return out.stdout.split('\n').filter((l) => l !== '').map(Number);
}

/** (a) and (b) with Debian's mosquitto as the external broker. */
async function mosquittoRun(processes: ProcessSet): Promise<{ a: ThroughputResult; b: LatencyResult } | string> {
  if (spawnSync('mosquitto', ['-h']).error !== undefined) return 'mosquitto is not installed (apt-get install mosquitto)';
  const dataDir = mkdtempSync(join(tmpdir(), 'continuum-bench-ingest-mosquitto-'));
  const port = await freePort();
  // mosquitto.conf(5): max_queued_messages defaults to 1000 per client, beyond which QoS 1 messages
  // are dropped; unlimited, like the embedded broker, so that backpressure loses nothing.
  const config = join(dataDir, 'mosquitto.conf');
  writeFileSync(config, `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n`);
  const broker: BenchProcess = processes.start('mosquitto', 'mosquitto', ['-c', config]);
  let server: ContinuumServer | undefined;
  try {
    await sleep(300);
    const url = `mqtt://127.0.0.1:${port}`;
    server = await startContinuum(processes, dataDir, ['--mqtt-url', url]);
    await prepare(server, dataDir);
    console.log(`mosquitto: continuum serve --mqtt-url ${url} serves the MLP`);
    const serverPid = server.process.pid;
    const pids = (): number[] => [serverPid, ...childPids(serverPid), broker.pid];
    const subscriber = await PredictionSubscriber.connect(url, { reconnectPeriod: 0 });
    const a = await throughput(url, subscriber, pids);
    console.log(`mosquitto (a): ${a.predictionsPerS.toFixed(0)} predictions/s, ${a.lost} lost of ${a.messages}; CPU s: bench ${a.cpu.benchCpuS.toFixed(1)}, server tree + mosquitto ${a.cpu.serverCpuS.toFixed(1)}`);
    const b = await latency(url, subscriber);
    console.log(`mosquitto (b): p50 ${b.p50Ms.toFixed(2)} ms, p99 ${b.p99Ms.toFixed(2)} ms, max ${b.maxMs.toFixed(1)} ms, ${b.lost} lost`);
    await subscriber.client.endAsync();
    return { a, b };
  } finally {
    if (server !== undefined) await processes.end(server.process, 10_000);
    await processes.end(broker);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const problem = prepareContinuum();
  if (problem !== undefined) throw new Error(problem);
  const processes = processSetForRun();
  const started = new Date();
  const machine = machineInfo(undefined);
  const command = `npm run bench:ingest${QUICK ? ' -- --quick' : ''}`;
  console.log(`machine: ${machineLine(machine)}; commit ${gitCommit()}; ${command}`);
  const embedded = await embeddedRun(processes);
  const mosquitto = await mosquittoRun(processes);
  const fmt = (v: number, d = 0): string => v.toFixed(d);
  const lines = [
    '',
    '| measure | embedded (aedes, durable) | mosquitto (external) | ratio | target |',
    '|---|---|---|---|---|',
  ];
  if (typeof mosquitto === 'string') console.log(`mosquitto skipped: ${mosquitto}`);
  const m = typeof mosquitto === 'string' ? undefined : mosquitto;
  lines.push(`| (a) predictions/s, closed loop of ${WINDOW} | ${fmt(embedded.a.predictionsPerS)} (${embedded.a.lost} lost) | ${m === undefined ? '-' : `${fmt(m.a.predictionsPerS)} (${m.a.lost} lost)`} | ${m === undefined ? '-' : fmt(embedded.a.predictionsPerS / m.a.predictionsPerS, 2)} | >= 20,000, 0 lost |`);
  lines.push(`| (b) p50 ms at ${LATENCY_RATE}/s | ${fmt(embedded.b.p50Ms, 2)} | ${m === undefined ? '-' : fmt(m.b.p50Ms, 2)} | ${m === undefined ? '-' : fmt(embedded.b.p50Ms / m.b.p50Ms, 2)} | |`);
  lines.push(`| (b) p99 ms at ${LATENCY_RATE}/s | ${fmt(embedded.b.p99Ms, 2)} | ${m === undefined ? '-' : fmt(m.b.p99Ms, 2)} | ${m === undefined ? '-' : fmt(embedded.b.p99Ms / m.b.p99Ms, 2)} | <= 10 |`);
  lines.push(`| (c) lost across a restart (QoS 1, ${RESTART_TOTAL} at ${RESTART_RATE}/s) | ${embedded.c.lost} (${embedded.c.duplicates} duplicates, down ${fmt(embedded.c.downMs)} ms) | | | 0 |`);
  lines.push(`| (d) peak RSS of the server tree, MB | ${fmt(embedded.peakRssMb)} (server process ${fmt(embedded.serverAtPeakMb)}, its replica ${fmt(embedded.peakRssMb - embedded.serverAtPeakMb)}) | | | <= 300 |`);
  console.log(lines.join('\n'));
  const markdown = [
    '## MQTT ingest (issue 6)',
    '',
    `Run: \`${command}\` on ${started.toISOString().slice(0, 10)} (commit ${gitCommit()}).`,
    '',
    machineLine(machine),
    '',
    `A real \`continuum serve\` serves the benchmark MLP on one replica; a JSON data source feeds it from \`bench/+/data\`; mqtt.js clients publish at QoS 1 and a subscriber receives every prediction. (a) a closed loop of ${WINDOW} messages awaiting their prediction; (b) an open loop at ${LATENCY_RATE} messages/s, publish → prediction received; (c) SIGTERM to the server mid-stream at ${RESTART_RATE}/s and a start on the same data directory, a persistent prediction subscriber checking every message; (d) the server's process tree over (a)–(c). Mosquitto runs (a) and (b) as the external broker beside it.`,
    ...lines,
  ].join('\n');
  const saved = saveRun('ingest', started, QUICK, { command, machine, embedded, mosquitto }, { begin: '<!-- ingest:begin -->', end: '<!-- ingest:end -->', markdown });
  console.log(`results: ${saved.resultPath}${saved.docPath === undefined ? '' : `; ${saved.docPath}`}`);
  await processes.endAll();
}

runBenchMain('bench:ingest', main);
