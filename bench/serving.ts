/**
 * `npm run bench:serving [-- --quick] [-- --only mlp|ocr]`: Continuum's serving benchmark, with
 * perf_analyzer's method and its peers side by side in one run on the same models:
 *
 * - raw onnxruntime-node in-process (no network: the limit);
 * - a hand-written Fastify + onnxruntime-node server (what a user writes instead);
 * - FastAPI + uvicorn + torch with the same weights (MLP only: PP-OCRv4 has no torch port here);
 * - a bare node:http server answering a constant JSON (the I/O ceiling);
 * - Continuum over REST JSON, REST binary tensors and gRPC.
 *
 * Writes bench/results/serving-<date>.json and the "Serving" section of docs/benchmarks.md (a
 * --quick run writes its JSON to the temp directory only), and prints PASS/FAIL against the
 * issue's targets. Every process it starts is ended when it finishes, fails or is interrupted.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ModelStatistics } from '../src/oip/types.js';
import { modelStats, OIP_PROTO_PATH, prepareContinuum, pushModel, ROOT, startContinuum, timeLoads, tuneModel, unloadModel } from './continuum.js';
import type { ContinuumServer } from './continuum.js';
import { driveLoadgen } from './drive.js';
import type { LoadgenConfig } from './loadgen.js';
import { checkTarget, median, PERF_ANALYZER_STABILITY, probeDistance, serverSplit, summarize } from './method.js';
import type { Probe, ServerSplit, TargetCheck, Window } from './method.js';
import { mlpWeightsFromOnnx, ocrRecognizer, writeMlp } from './models.js';
import type { BenchModel } from './models.js';
import { freePort, processSetForRun, treeRssMb, waitForHttp } from './processes.js';
import type { BenchProcess, ProcessSet } from './processes.js';
import { renderServingSection, withServingSection } from './report.js';
import type { Row, ServingResult } from './report.js';
import { gitCommit, machineInfo, resultStamp } from './run-info.js';
import type { TargetSpec } from './targets.js';

type ModelKey = 'mlp' | 'ocr';

/** Timing of the measurements of one model. */
interface Timing {
  readonly concurrencies: readonly number[];
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly maxWindows: number;
  /** Time limit of one measurement's warm-up and windows (windows stretch until each client answered). */
  readonly maxMeasureMs: number;
  /** A shorter `continuum tune` grid than its defaults (the smoke run's). */
  readonly tune?: { readonly measureMs: number; readonly concurrencies: readonly number[] };
}

/**
 * The full run: the issue's sweep (1, 4, 16, 64). MLP windows of 1 s hold thousands of requests;
 * recognizer windows of 1.5 s hold ~50 even at concurrency 1. The window cap bounds a run that
 * never settles (a busy machine) to about ten minutes.
 */
const FULL: Readonly<Record<ModelKey, Timing>> = {
  mlp: { concurrencies: [1, 4, 16, 64], warmupMs: 1000, windowMs: 1000, maxWindows: 5, maxMeasureMs: 20_000 },
  ocr: { concurrencies: [1, 4, 16, 64], warmupMs: 1500, windowMs: 1500, maxWindows: 4, maxMeasureMs: 40_000 },
};
/** The smoke run: everything once, short windows, a minute or two. */
const QUICK: Readonly<Record<ModelKey, Timing>> = {
  mlp: { concurrencies: [1, 16], warmupMs: 300, windowMs: 250, maxWindows: 3, maxMeasureMs: 5_000 },
  ocr: { concurrencies: [4], warmupMs: 500, windowMs: 500, maxWindows: 3, maxMeasureMs: 10_000, tune: { measureMs: 300, concurrencies: [4] } },
};

/**
 * The first measurement of a server also warms it (JIT, connection set-up, allocator): its warm-up
 * is this many times longer, so the first concurrency is not measured on a cold server.
 */
const FIRST_WARMUP_FACTOR = 3;

/** Load-to-ready repetitions (the median is the figure). */
const LOAD_REPEATS = 3;
/** Answers agree when no value differs by more than this from raw ONNX Runtime's (FP32, torch vs ORT kernels). */
const ANSWER_TOLERANCE = 1e-4;

/** A system under test: how the load generator reaches it. */
interface System {
  readonly id: string;
  readonly label: string;
  readonly target: (model: BenchModel) => TargetSpec;
  /** In-process only: worker threads. */
  readonly threads?: number;
  /** Whether its answer can be decoded and compared (the bare server answers a constant). */
  readonly probe: boolean;
  /** The Continuum server, for statistics and RSS. */
  readonly continuum?: ContinuumServer;
}

interface Context {
  readonly processes: ProcessSet;
  readonly rows: Row[];
  readonly notes: string[];
  readonly failures: string[];
  readonly reference: Map<string, Probe>;
}

const TSX = import.meta.resolve('tsx');

function input(model: BenchModel): { name: string; shape: number[]; seed: number } {
  return { name: model.inputName, shape: [...model.requestShape], seed: 11 };
}

function rawSystem(id: string, label: string, intraOpThreads: number, threads: number): System {
  return {
    id,
    label,
    threads,
    probe: true,
    target: (m) => ({ protocol: 'in-process', modelPath: m.path, intraOpThreads, input: input(m), outputName: m.outputName }),
  };
}

function httpSystem(id: string, label: string, protocol: 'rest-json' | 'rest-binary', origin: string, probe: boolean, continuum?: ContinuumServer): System {
  return {
    id,
    label,
    probe,
    ...(continuum === undefined ? {} : { continuum }),
    target: (m) => ({ protocol, origin, model: m.name, input: input(m), outputName: m.outputName }),
  };
}

function continuumSystems(server: ContinuumServer, id: string, label: string): System[] {
  return [
    httpSystem(id, label, 'rest-json', server.origin, true, server),
    httpSystem(id, label, 'rest-binary', server.origin, true, server),
    {
      id,
      label,
      probe: true,
      continuum: server,
      target: (m) => ({ protocol: 'grpc', address: server.grpcAddress, protoPath: OIP_PROTO_PATH, model: m.name, input: input(m), outputName: m.outputName }),
    },
  ];
}

/** What one load-generator run gave, with the server's split and peak memory when it is Continuum. */
interface ServingRun {
  readonly probe: Probe | undefined;
  readonly sessionCreateMs: readonly number[] | undefined;
  readonly windows: Window[];
  readonly server: ServerSplit | undefined;
  readonly peakRssMb: number | undefined;
}

/** Runs the load generator once; reads statistics at the warm-up's end and at every window's end. */
async function runLoadgen(ctx: Context, config: LoadgenConfig, continuum: ContinuumServer | undefined, modelName: string): Promise<ServingRun> {
  let peakRssMb: number | undefined;
  const sampler =
    continuum === undefined
      ? undefined
      : setInterval(() => {
          peakRssMb = Math.max(peakRssMb ?? 0, treeRssMb(continuum.process.pid));
          // Once a second: memory moves slowly, and the scan of /proc competes with the server.
        }, 1000);
  try {
    const run = await driveLoadgen(ctx.processes, config, continuum === undefined ? undefined : () => modelStats(continuum, modelName));
    for (const e of run.errors) ctx.failures.push(`${modelName} c${config.concurrency}: ${e}`);
    return { ...run, server: run.kept === undefined ? undefined : serverSplit(run.kept.before, run.kept.after), peakRssMb };
  } finally {
    if (sampler !== undefined) clearInterval(sampler);
  }
}

/** Measures one system at one concurrency and records the row. */
async function measure(ctx: Context, modelKey: ModelKey, model: BenchModel, system: System, concurrency: number, timing: Timing, sessionCreateRepeats = 0): Promise<ServingRun | undefined> {
  const target = system.target(model);
  const label = `${model.name} ${system.label} ${target.protocol} c${concurrency}`;
  const config: LoadgenConfig = {
    target,
    concurrency,
    threads: system.threads ?? 0,
    warmupMs: timing.warmupMs * (concurrency === timing.concurrencies[0] ? FIRST_WARMUP_FACTOR : 1),
    windowMs: timing.windowMs,
    maxWindows: timing.maxWindows,
    maxMeasureMs: timing.maxMeasureMs,
    stability: PERF_ANALYZER_STABILITY,
    probe: system.probe,
    sessionCreateRepeats,
  };
  let run: ServingRun;
  try {
    run = await runLoadgen(ctx, config, system.continuum, model.name);
  } catch (err) {
    ctx.failures.push(`${label}: ${err instanceof Error ? err.message : String(err)}`);
    process.stdout.write(`  ${label}: FAILED\n`);
    return undefined;
  }
  const m = summarize(run.windows);
  const itemsPerRequest = model.requestShape[0] ?? 1;
  let answerDistance: number | undefined;
  if (run.probe !== undefined) {
    const reference = ctx.reference.get(model.name);
    if (reference === undefined) ctx.reference.set(model.name, run.probe);
    else {
      answerDistance = probeDistance(reference, run.probe);
      if (!(answerDistance <= ANSWER_TOLERANCE)) ctx.failures.push(`${label}: the answer differs from raw ONNX Runtime's by ${answerDistance}`);
    }
  }
  ctx.rows.push({
    model: modelKey,
    systemId: system.id,
    system: system.label,
    protocol: target.protocol,
    concurrency,
    itemsPerRequest,
    itemsPerSecond: m.throughput * itemsPerRequest,
    measurement: m,
    ...(run.server === undefined ? {} : { server: run.server }),
    ...(run.peakRssMb === undefined ? {} : { peakRssMb: run.peakRssMb }),
    ...(answerDistance === undefined ? {} : { answerDistance }),
  });
  const split = run.server === undefined ? '' : ` | server queue ${run.server.queueMs.toFixed(3)} ms compute ${run.server.computeMs.toFixed(3)} ms batch ${run.server.meanBatchSize.toFixed(1)}`;
  process.stdout.write(
    `  ${label.padEnd(58)} ${Math.round(m.throughput * itemsPerRequest).toString().padStart(7)} items/s  p50 ${m.p50Ms.toFixed(3)}  p99 ${m.p99Ms.toFixed(3)} ms  ${m.windowsMeasured} windows${m.stable ? '' : ' (unstable)'}${split}\n`,
  );
  return run;
}

/** Starts a peer server and waits until it answers its readiness route. */
async function startPeer(ctx: Context, name: string, command: string, args: readonly string[], port: number): Promise<BenchProcess> {
  const proc = ctx.processes.start(name, command, args);
  await waitForHttp(`http://127.0.0.1:${port}/v2/health/ready`, proc);
  return proc;
}

function pythonPeerAvailable(): string | undefined {
  try {
    return execFileSync('/usr/bin/python3', ['-c', 'import fastapi, uvicorn, torch; print(torch.__version__)'], { stdio: 'pipe' }).toString('utf8').trim();
  } catch {
    return undefined;
  }
}

/** Systems shared by both models: raw ONNX Runtime on the main thread and on two worker threads. */
function rawSystems(quick: boolean, mainIntraOpThreads: number): System[] {
  const mainLabel = `raw ORT (1 thread, intra-op ${mainIntraOpThreads === 0 ? 'default' : mainIntraOpThreads})`;
  const systems = [rawSystem('raw-main', mainLabel, mainIntraOpThreads, 0)];
  if (!quick) systems.push(rawSystem('raw-workers', 'raw ORT (2 worker threads, intra-op 1)', 1, 2));
  return systems;
}

async function mlpPhase(ctx: Context, dir: string, timing: Timing, quick: boolean, continuum: ContinuumServer | undefined, python: boolean): Promise<number | undefined> {
  const model = writeMlp(dir);
  const weightsPath = join(dir, 'mlp-weights.json');
  writeFileSync(weightsPath, JSON.stringify(mlpWeightsFromOnnx(readFileSync(model.path), model.outputName)));
  const [fastifyPort, pythonPort, barePort] = [await freePort(), await freePort(), await freePort()];
  const peers: BenchProcess[] = [];
  let loadedIdleMb: number | undefined;
  try {
    peers.push(await startPeer(ctx, 'fastify peer', process.execPath, ['--import', TSX, join(ROOT, 'bench', 'peers', 'fastify-peer.ts'), '--model', model.path, '--name', model.name, '--port', String(fastifyPort)], fastifyPort));
    peers.push(await startPeer(ctx, 'bare http', process.execPath, ['--import', TSX, join(ROOT, 'bench', 'peers', 'bare-http.ts'), '--port', String(barePort)], barePort));
    if (python) {
      peers.push(await startPeer(ctx, 'python peer', '/usr/bin/python3', [join(ROOT, 'bench', 'peers', 'torch_peer.py'), '--weights', weightsPath, '--name', model.name, '--port', String(pythonPort)], pythonPort));
    }
    // Raw ORT on one thread with one intra-op thread: the fastest layout for a model this small.
    const systems: System[] = [...rawSystems(quick, 1)];
    if (continuum !== undefined) {
      try {
        await pushModel(continuum, model);
        await new Promise((r) => setTimeout(r, 500));
        loadedIdleMb = treeRssMb(continuum.process.pid);
        systems.push(...continuumSystems(continuum, 'continuum', 'Continuum'));
      } catch (err) {
        ctx.failures.push(`pushing the MLP to Continuum: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    systems.push(httpSystem('fastify', 'Fastify + ORT peer', 'rest-json', `http://127.0.0.1:${fastifyPort}`, true));
    if (python) systems.push(httpSystem('python', 'FastAPI + torch peer', 'rest-json', `http://127.0.0.1:${pythonPort}`, true));
    systems.push(httpSystem('bare', 'bare node:http (constant)', 'rest-json', `http://127.0.0.1:${barePort}`, false));
    process.stdout.write(`MLP (${model.path}):\n`);
    // Concurrency outermost: every system sees the machine in the same state at each level.
    for (const c of timing.concurrencies) for (const s of systems) await measure(ctx, 'mlp', model, s, c, timing);
    // Unloaded so the recognizer's measurements run without the MLP beside it.
    if (continuum !== undefined && ctx.rows.some((r) => r.model === 'mlp' && r.systemId === 'continuum')) await unloadModel(continuum, model.name);
  } finally {
    await Promise.all(peers.map((p) => ctx.processes.end(p)));
  }
  return loadedIdleMb;
}

function bestRow(rows: readonly Row[]): Row | undefined {
  return rows.reduce<Row | undefined>((best, r) => (best === undefined || r.itemsPerSecond > best.itemsPerSecond ? r : best), undefined);
}

async function ocrPhase(
  ctx: Context,
  timing: Timing,
  quick: boolean,
  continuum: ContinuumServer | undefined,
): Promise<{ readonly continuumLoadMs: number[]; readonly rawCreateMs: number[]; readonly tuned: ServingResult['tuned'] }> {
  const model = ocrRecognizer();
  const fastifyPort = await freePort();
  const peers: BenchProcess[] = [];
  let continuumLoadMs: number[] = [];
  let rawCreateMs: number[] = [];
  let tuned: ServingResult['tuned'];
  try {
    peers.push(await startPeer(ctx, 'fastify peer', process.execPath, ['--import', TSX, join(ROOT, 'bench', 'peers', 'fastify-peer.ts'), '--model', model.path, '--name', model.name, '--port', String(fastifyPort)], fastifyPort));
    // Raw ORT on one thread with ONNX Runtime's default intra-op threads (one per core) is the
    // fastest single-session layout for this convolutional model; two worker threads is the other.
    const raw = rawSystems(quick, 0);
    const systems: System[] = [...raw];
    if (continuum !== undefined) {
      try {
        await pushModel(continuum, model);
        continuumLoadMs = await timeLoads(continuum, model.name, LOAD_REPEATS);
        systems.push(...continuumSystems(continuum, 'continuum', 'Continuum (default options)'));
      } catch (err) {
        ctx.failures.push(`pushing the recognizer to Continuum: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    systems.push(httpSystem('fastify', 'Fastify + ORT peer', 'rest-json', `http://127.0.0.1:${fastifyPort}`, true));
    process.stdout.write(`PP-OCRv4 recognizer (${model.path}):\n`);
    for (const c of timing.concurrencies) {
      for (const s of systems) {
        // The first raw run also times session creation: the raw side of load to ready.
        const first = s === raw[0] && c === timing.concurrencies[0];
        const run = await measure(ctx, 'ocr', model, s, c, timing, first ? LOAD_REPEATS + 1 : 0);
        // The first creation also sets up ONNX Runtime's environment, which a running server has done.
        if (first && run?.sessionCreateMs !== undefined) rawCreateMs = run.sessionCreateMs.slice(1);
      }
    }
    if (continuum !== undefined && continuumLoadMs.length > 0) {
      const bestProtocol = bestRow(ctx.rows.filter((r) => r.model === 'ocr' && r.systemId === 'continuum'))?.protocol ?? 'grpc';
      process.stdout.write(`  continuum tune ${model.name} (POST /api/v1/models/${model.name}/tune) ...\n`);
      try {
        // The tuner's requests carry the bench's text-line width in the dynamic dimension.
        const answer = await tuneModel(continuum, model.name, { dynamicDimSize: model.requestShape[3] ?? 1, ...timing.tune });
        const t = answer.best_trial;
        tuned = {
          options: { ...answer.best },
          how: `picked by \`continuum tune\` (POST /api/v1/models/${model.name}/tune) from ${answer.trials.length} in-process trials and ${answer.confirmations.length} confirmation trials of the best, ${t.throughput.toFixed(1)} items/s at concurrency ${t.concurrency}; measured over ${bestProtocol}`,
        };
      } catch (err) {
        ctx.failures.push(`tuning the recognizer: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (tuned !== undefined) {
        const tunedSystems = continuumSystems(continuum, 'continuum-tuned', 'Continuum (tuned)');
        const over = (protocol: string): System | undefined => tunedSystems.find((s) => s.target(model).protocol === protocol);
        const main = over(bestProtocol);
        if (main !== undefined) for (const c of timing.concurrencies) await measure(ctx, 'ocr', model, main, c, timing);
        // Added latency is judged over REST binary at concurrency 1 (the issue's measure).
        const binary = over('rest-binary');
        if (bestProtocol !== 'rest-binary' && binary !== undefined && timing.concurrencies.includes(1)) await measure(ctx, 'ocr', model, binary, 1, timing);
      }
    }
  } finally {
    await Promise.all(peers.map((p) => ctx.processes.end(p)));
  }
  return { continuumLoadMs, rawCreateMs, tuned };
}

/** The line of an error's message that says what went wrong (a child's stderr carries a stack). */
function errorLine(err: unknown): string {
  const lines = (err instanceof Error ? err.message : String(err)).split('\n').map((l) => l.trim());
  return lines.find((l) => /Error|error:/.test(l)) ?? lines[0] ?? '';
}

function find(rows: readonly Row[], model: ModelKey, systemId: string, protocol: Row['protocol'], concurrency: number): Row | undefined {
  return rows.find((r) => r.model === model && r.systemId === systemId && r.protocol === protocol && r.concurrency === concurrency);
}

const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined || b === 0 ? undefined : a / b);

/** The issue's targets, from the rows (at the sweep's top concurrency where a concurrency is named). */
function evaluateTargets(result: Omit<ServingResult, 'targets' | 'ioCeilingShare'>, mlpTop: number): { targets: TargetCheck[]; ioCeilingShare: number | undefined } {
  const rows = result.rows;
  const json = find(rows, 'mlp', 'continuum', 'rest-json', mlpTop);
  const grpcRow = find(rows, 'mlp', 'continuum', 'grpc', mlpTop);
  const fastify = find(rows, 'mlp', 'fastify', 'rest-json', mlpTop);
  const python = find(rows, 'mlp', 'python', 'rest-json', mlpTop);
  const bare = find(rows, 'mlp', 'bare', 'rest-json', mlpTop);
  // Added latency: the recognizer over REST binary at concurrency 1 with the tuned options, against
  // raw ONNX Runtime running one request with the same intra-op threads (so only serving differs).
  const binary1 = find(rows, 'ocr', 'continuum-tuned', 'rest-binary', 1);
  const rawLayout = result.tuned?.options['intraOpThreads'] === 1 ? 'raw-workers' : 'raw-main';
  const raw1 = find(rows, 'ocr', rawLayout, 'in-process', 1);
  const ocrRows = rows.filter((r) => r.model === 'ocr');
  const bestRaw = bestRow(ocrRows.filter((r) => r.protocol === 'in-process'));
  const bestTuned = bestRow(ocrRows.filter((r) => r.systemId === 'continuum-tuned'));
  const c = `c${mlpTop}`;
  const targets = [
    checkTarget('MLP REST JSON throughput vs Fastify peer', ratio(json?.itemsPerSecond, fastify?.itemsPerSecond), '>=', 1.5, 'x', `${c}, items/s`),
    checkTarget('MLP REST JSON p99 vs Fastify peer', ratio(json?.measurement.p99Ms, fastify?.measurement.p99Ms), '<=', 1, 'x', `${c}, p99 (no worse)`),
    checkTarget('MLP gRPC vs REST JSON throughput', ratio(grpcRow?.itemsPerSecond, json?.itemsPerSecond), '>=', 1, 'x', `${c}, items/s`),
    checkTarget('MLP REST JSON vs Python peer throughput', ratio(json?.itemsPerSecond, python?.itemsPerSecond), '>=', 10, 'x', `${c}, items/s`),
    checkTarget(
      'OCR Continuum tuned vs best raw in-process',
      ratio(bestTuned?.itemsPerSecond, bestRaw?.itemsPerSecond),
      '>=',
      0.95,
      'x',
      `best items/s over the sweep: tuned ${bestTuned === undefined ? '–' : `${bestTuned.protocol} c${bestTuned.concurrency}`}, raw ${bestRaw === undefined ? '–' : `${bestRaw.system} c${bestRaw.concurrency}`}`,
    ),
    checkTarget(
      'added latency at concurrency 1 (p50)',
      binary1 === undefined || raw1 === undefined ? undefined : binary1.measurement.p50Ms - raw1.measurement.p50Ms,
      '<=',
      0.3,
      'ms',
      `recognizer, Continuum (tuned) REST binary p50 − ${raw1?.system ?? 'raw in-process'} p50`,
    ),
    checkTarget('recognizer load to ready', median(result.loadToReady.continuumMs), '<=', 200, 'ms', `median of ${result.loadToReady.continuumMs.length} repository loads`),
    checkTarget('RSS idle', result.memory.idleMb, '<=', 100, 'MB', 'server process tree after start, no models'),
    checkTarget('RSS serving the MLP', result.memory.servingMlpPeakMb, '<=', 250, 'MB', 'peak during the MLP measurements'),
  ];
  return { targets, ioCeilingShare: ratio(json?.itemsPerSecond, bare?.itemsPerSecond) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
  if (values.only !== undefined && values.only !== 'mlp' && values.only !== 'ocr') throw new Error('--only takes mlp or ocr');
  const quick = values.quick === true;
  const only = values.only as ModelKey | undefined;
  const plan = quick ? QUICK : FULL;
  const command = `npm run bench:serving${quick || only !== undefined ? ' --' : ''}${quick ? ' --quick' : ''}${only === undefined ? '' : ` --only ${only}`}`;
  const started = new Date();
  const processes = processSetForRun();
  const ctx: Context = { processes, rows: [], notes: [], failures: [], reference: new Map() };
  const dir = mkdtempSync(join(tmpdir(), 'continuum-bench-'));
  try {
    const torch = pythonPeerAvailable();
    const machine = machineInfo(torch);
    process.stdout.write(`${command}: ${machine.cpus} cores (${machine.cpuModel}), Node ${machine.node}, onnxruntime-node ${machine.onnxruntimeNode}, load average ${machine.loadAverageAtStart.toFixed(2)}\n`);
    if (torch === undefined) ctx.notes.push('The Python peer did not run: /usr/bin/python3 cannot import fastapi, uvicorn and torch (Debian python3-fastapi, python3-uvicorn, python3-torch).');
    ctx.notes.push('The Python peer (FastAPI + uvicorn + torch) serves the MLP only: PP-OCRv4 has no torch implementation here (no onnx2torch), so the recognizer is compared with raw ONNX Runtime and the Fastify peer.');
    ctx.notes.push(`The machine has ${machine.cpus} cores; the load generator runs on them too, competing with the server — the same for every system.`);
    ctx.notes.push('Every answer is checked against raw ONNX Runtime\'s before it is measured (same input, first 64 output values within 1e-4).');
    const why = prepareContinuum();
    let continuum: ContinuumServer | undefined;
    let idleMb: number | undefined;
    if (why === undefined) {
      try {
        continuum = await startContinuum(processes, join(dir, 'continuum-data'));
        await new Promise((r) => setTimeout(r, 1000));
        idleMb = treeRssMb(continuum.process.pid);
      } catch (err) {
        ctx.notes.push(`Continuum did not start (${errorLine(err)}): peers only.`);
      }
    } else {
      ctx.notes.push(`Continuum did not run: ${why}. Peers only.`);
    }
    let loadedIdleMb: number | undefined;
    if (only !== 'ocr') loadedIdleMb = await mlpPhase(ctx, dir, plan.mlp, quick, continuum, torch !== undefined);
    const ocr = only !== 'mlp' ? await ocrPhase(ctx, plan.ocr, quick, continuum) : { continuumLoadMs: [], rawCreateMs: [], tuned: undefined };
    const servingMlp = ctx.rows.filter((r) => r.model === 'mlp' && r.peakRssMb !== undefined).map((r) => r.peakRssMb as number);
    const partial = {
      date: started.toISOString(),
      command,
      commit: gitCommit(),
      quick,
      machine,
      method: {
        concurrencies: { mlp: plan.mlp.concurrencies, ocr: plan.ocr.concurrencies },
        warmupMs: { mlp: plan.mlp.warmupMs, ocr: plan.ocr.warmupMs },
        windowMs: { mlp: plan.mlp.windowMs, ocr: plan.ocr.windowMs },
        maxWindows: { mlp: plan.mlp.maxWindows, ocr: plan.ocr.maxWindows },
        stability: `the last ${PERF_ANALYZER_STABILITY.windows} windows agree within ${PERF_ANALYZER_STABILITY.tolerance * 100}% (max/min of throughput and of mean latency; at most ${plan.mlp.maxWindows} windows for the MLP, ${plan.ocr.maxWindows} for the recognizer)`,
      },
      rows: ctx.rows,
      loadToReady: { continuumMs: ocr.continuumLoadMs, rawSessionCreateMs: ocr.rawCreateMs },
      memory: { idleMb, modelsLoadedIdleMb: loadedIdleMb, servingMlpPeakMb: servingMlp.length > 0 ? Math.max(...servingMlp) : undefined },
      tuned: ocr.tuned,
      notes: ctx.notes,
      failures: ctx.failures,
    };
    const { targets, ioCeilingShare } = evaluateTargets(partial, Math.max(...plan.mlp.concurrencies));
    const result: ServingResult = { ...partial, targets, ioCeilingShare };
    // A smoke run's numbers are rough: they stay out of the repository.
    const resultsDir = quick ? tmpdir() : join(ROOT, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const resultPath = join(resultsDir, `serving-${resultStamp(started)}${quick ? '-quick' : ''}.json`);
    writeFileSync(resultPath, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write('\nTargets:\n');
    for (const t of targets) process.stdout.write(`  ${t.verdict.padEnd(7)} ${t.name}: ${Number.isNaN(t.value) ? '–' : t.value.toFixed(3)} ${t.unit} (${t.direction} ${t.bound}; ${t.basis})\n`);
    if (ioCeilingShare !== undefined) process.stdout.write(`  info    Continuum REST JSON / bare node:http ceiling: ${(ioCeilingShare * 100).toFixed(0)}%\n`);
    for (const note of ctx.notes) process.stdout.write(`  note: ${note}\n`);
    for (const failure of ctx.failures) process.stdout.write(`  failure: ${failure}\n`);
    process.stdout.write(`\nResults: ${resultPath}\n`);
    if (!quick) {
      const docPath = join(ROOT, 'docs', 'benchmarks.md');
      writeFileSync(docPath, withServingSection(existsSync(docPath) ? readFileSync(docPath, 'utf8') : '', renderServingSection(result)));
      process.stdout.write(`Table: ${docPath} (section "Serving")\n`);
    }
  } finally {
    await processes.endAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:serving failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
