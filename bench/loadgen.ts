/**
 * The load generator of `npm run bench:serving`, run in its own process:
 *
 *   node --import tsx bench/loadgen.ts '<config JSON>'
 *
 * It drives one target (OIP REST JSON, REST binary, gRPC, or an in-process ONNX Runtime session)
 * with a closed loop of `concurrency` workers, warms up, then measures windows until the last
 * three agree within 10% or the window cap is reached (perf_analyzer's method), and prints one
 * JSON object per line on stdout:
 *
 *   {"type":"ready","setupMs":…,"probe":{…},"sessionCreateMs":[…]}
 *   {"type":"warm"}                                                      (warm-up over)
 *   {"type":"window","index":0,"durationMs":…,"completed":…,"errors":…,"latenciesUs":[…]}  (repeated)
 *   {"type":"done","stable":true}
 *
 * In-process targets may run on `threads` worker threads, each with its own session, since
 * onnxruntime-node runs a session on the calling thread.
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { ClosedLoop, sharedClockMs } from './closed-loop.js';
import type { WindowCut } from './closed-loop.js';
import { isStable } from './method.js';
import type { Probe, Window } from './method.js';
import { createTarget, measureSessionCreate, TargetSpecSchema } from './targets.js';
import type { TargetSpec } from './targets.js';

/** The load generator's configuration (its only argument, as JSON). */
export const LoadgenConfigSchema = z.object({
  target: TargetSpecSchema,
  concurrency: z.number().int().min(1).max(1024),
  /** In-process targets only: worker threads, each with its own session; 0 = the main thread. */
  threads: z.number().int().min(0).max(16).default(0),
  warmupMs: z.number().int().min(0).max(60_000),
  windowMs: z.number().int().min(50).max(60_000),
  maxWindows: z.number().int().min(1).max(100),
  /** Time limit of warm-up and windows together; the windows measured by then are reported. */
  maxMeasureMs: z.number().int().min(100).max(600_000).default(60_000),
  stability: z.object({ windows: z.number().int().min(1).max(10), tolerance: z.number().min(0).max(1) }),
  /** Decode one answer first and print it, to check it against the other targets. */
  probe: z.boolean(),
  /** In-process targets only: time this many session creations first (load-to-ready). */
  sessionCreateRepeats: z.number().int().min(0).max(20).default(0),
});

/** The load generator's configuration. */
export type LoadgenConfig = z.input<typeof LoadgenConfigSchema>;

/** A line the load generator prints. */
export type LoadgenLine =
  | { readonly type: 'ready'; readonly setupMs: number; readonly probe?: Probe; readonly sessionCreateMs?: readonly number[] }
  | { readonly type: 'warm' }
  | ({ readonly type: 'window'; readonly index: number; readonly firstError?: string } & Window)
  | { readonly type: 'done'; readonly stable: boolean };

/** Closed loops on this thread or on worker threads, cut into windows together. */
interface Engine {
  readonly probe: Probe | undefined;
  start(): void;
  cut(atMs: number): Promise<WindowCut>;
  stop(): Promise<void>;
}

async function mainThreadEngine(spec: TargetSpec, concurrency: number, probe: boolean): Promise<Engine> {
  const target = await createTarget(spec, concurrency);
  const answer = probe ? await target.probe() : undefined;
  let loop: ClosedLoop | undefined;
  return {
    probe: answer,
    start() {
      loop = new ClosedLoop(() => target.send(), concurrency);
    },
    async cut(atMs) {
      return loop?.cut(atMs) ?? { latenciesUs: [], completed: 0, errors: 0, firstError: undefined };
    },
    async stop() {
      await loop?.stop();
      await target.close();
    },
  };
}

/** Messages between the load generator and its worker threads (bench/loadgen-thread.ts). */
export type ThreadRequest = { readonly type: 'start' } | { readonly type: 'cut'; readonly atMs: number } | { readonly type: 'stop' };
/** What a worker thread answers. */
export type ThreadReply =
  | { readonly type: 'ready'; readonly probe: Probe | undefined }
  | { readonly type: 'cut'; readonly cut: WindowCut }
  | { readonly type: 'stopped' }
  | { readonly type: 'failed'; readonly message: string };

/** What a worker thread is given. */
export interface ThreadData {
  readonly target: TargetSpec;
  readonly loops: number;
  readonly probe: boolean;
}

function threadWorker(data: ThreadData): Worker {
  // Worker threads do not inherit tsx's loader on Node 20: register it, then load the entry.
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./loadgen-thread.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { eval: true, workerData: data });
}

function nextReply(worker: Worker, type: ThreadReply['type']): Promise<ThreadReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: ThreadReply): void => {
      if (m.type === 'failed') {
        done();
        reject(new Error(m.message));
      } else if (m.type === type) {
        done();
        resolve(m);
      }
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    const done = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
  });
}

async function threadsEngine(spec: TargetSpec, concurrency: number, threads: number, probe: boolean): Promise<Engine> {
  const workers = Array.from({ length: threads }, (_, i) =>
    threadWorker({ target: spec, loops: Math.floor(concurrency / threads) + (i < concurrency % threads ? 1 : 0), probe: probe && i === 0 }),
  );
  const ready = await Promise.all(workers.map((w) => nextReply(w, 'ready')));
  const first = ready[0];
  return {
    probe: first?.type === 'ready' ? first.probe : undefined,
    start() {
      for (const w of workers) w.postMessage({ type: 'start' } satisfies ThreadRequest);
    },
    async cut(atMs) {
      const replies = workers.map((w) => nextReply(w, 'cut'));
      for (const w of workers) w.postMessage({ type: 'cut', atMs } satisfies ThreadRequest);
      const cuts = (await Promise.all(replies)).flatMap((r) => (r.type === 'cut' ? [r.cut] : []));
      return {
        latenciesUs: cuts.flatMap((c) => c.latenciesUs),
        completed: cuts.reduce((s, c) => s + c.completed, 0),
        errors: cuts.reduce((s, c) => s + c.errors, 0),
        firstError: cuts.find((c) => c.firstError !== undefined)?.firstError,
      };
    },
    async stop() {
      const stopped = workers.map((w) => nextReply(w, 'stopped'));
      for (const w of workers) w.postMessage({ type: 'stop' } satisfies ThreadRequest);
      await Promise.all(stopped);
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

function print(line: LoadgenLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const sleepUntil = (atMs: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, atMs - sharedClockMs())));

/** Runs one measurement as configured and prints its lines. */
export async function runLoadgen(input: LoadgenConfig): Promise<void> {
  const config = LoadgenConfigSchema.parse(input);
  const { target } = config;
  const setupStart = sharedClockMs();
  const sessionCreateMs =
    target.protocol === 'in-process' && config.sessionCreateRepeats > 0 ? await measureSessionCreate(target, config.sessionCreateRepeats) : undefined;
  const engine =
    target.protocol === 'in-process' && config.threads > 0
      ? await threadsEngine(target, config.concurrency, config.threads, config.probe)
      : await mainThreadEngine(target, config.concurrency, config.probe);
  print({
    type: 'ready',
    setupMs: sharedClockMs() - setupStart,
    ...(engine.probe === undefined ? {} : { probe: engine.probe }),
    ...(sessionCreateMs === undefined ? {} : { sessionCreateMs }),
  });
  let stopping = false;
  process.stdin.on('end', () => {
    stopping = true;
  });
  process.stdin.resume();
  try {
    engine.start();
    const deadline = sharedClockMs() + config.maxMeasureMs;
    // A window must hold at least one answer per client: with slow answers (seconds each under a
    // deep closed loop) a fixed-length window would hold none. Warm-up and windows are stretched in
    // window-length steps until they do, up to the measurement's deadline.
    const untilFull = async (from: number, minimumMs: number): Promise<{ readonly end: number; readonly cut: WindowCut }> => {
      let end = from + minimumMs;
      let total: WindowCut = { latenciesUs: [], completed: 0, errors: 0, firstError: undefined };
      for (;;) {
        await sleepUntil(end);
        const cut = await engine.cut(end);
        total = {
          latenciesUs: total.latenciesUs.length === 0 ? cut.latenciesUs : total.latenciesUs.concat(cut.latenciesUs),
          completed: total.completed + cut.completed,
          errors: total.errors + cut.errors,
          firstError: total.firstError ?? cut.firstError,
        };
        if (total.completed + total.errors >= config.concurrency || stopping || end >= deadline) return { end, cut: total };
        end += config.windowMs;
      }
    };
    let boundary = (await untilFull(sharedClockMs(), config.warmupMs)).end;
    print({ type: 'warm' });
    const windows: Window[] = [];
    while (!stopping && sharedClockMs() < deadline && windows.length < config.maxWindows && !isStable(windows, config.stability)) {
      const start = boundary;
      const { end, cut } = await untilFull(start, config.windowMs);
      boundary = end;
      const window: Window = { durationMs: end - start, completed: cut.completed, errors: cut.errors, latenciesUs: cut.latenciesUs };
      windows.push(window);
      print({ type: 'window', index: windows.length - 1, ...window, ...(cut.firstError === undefined ? {} : { firstError: cut.firstError }) });
    }
    print({ type: 'done', stable: isStable(windows, config.stability) });
  } finally {
    await engine.stop();
  }
}

const arg = process.argv[2];
if (arg !== undefined && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // Writes to a pipe are asynchronous on POSIX: exit only once every line has left, or the last
  // (largest) one arrives cut.
  const exitAfterFlush = (code: number): void => {
    process.stdout.write('', () => process.exit(code));
  };
  runLoadgen(JSON.parse(arg) as LoadgenConfig).then(
    () => exitAfterFlush(0),
    (err: unknown) => {
      process.stderr.write(`loadgen: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      exitAfterFlush(1);
    },
  );
}
