/**
 * Measuring a model for partitioning and placement on the real onnxruntime-node: the types of its
 * intermediate tensors (ONNX Runtime infers them; graph outputs need no declared type), and per
 * candidate cut the head's and the tail's run times and the bytes that cross, as Neurosurgeon
 * profiles each layer (Kang et al., ASPLOS 2017). Times are medians of the CPU time of
 * single-request runs on this machine, which is therefore speed score 1, on one intra-op thread: a replica computes on
 * one core (src/placement), and on a shared machine more threads measure contention, not the model.
 */
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { ContinuumError } from '../errors.js';
import type { Datatype } from '../oip/types.js';
import { ORT_TYPE_OF } from '../runtime/tensors.js';
import type { ModelProfile } from '../placement/index.js';
import { ONNX_ELEM_TYPE_OF, seededRandom } from './build.js';
import { cutCandidates, decodeForCut, DEFAULT_MAX_CUT_TENSORS, splitModel } from './partition.js';
import type { Cut, CutTiming, SplitModel, TensorType } from './partition.js';

const { onnx } = onnxProto;

/** ONNX Runtime's tensor type name → ONNX element type number. */
const ELEM_TYPE_OF_ORT: ReadonlyMap<string, number> = new Map(Object.entries(ORT_TYPE_OF).map(([datatype, ortType]) => [ortType, ONNX_ELEM_TYPE_OF[datatype as Datatype]]));

/** Runs each measurement is the median of. @default 30 */
export const DEFAULT_PROFILE_RUNS = 30;

/** Session options of every measurement: one request at a time on one core. */
export const PROFILE_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };

/** Runs before measuring, so first-run allocations are not counted. */
const WARMUP_RUNS = 3;

/** Types of intermediate tensors, read from ONNX Runtime by loading the model with them as extra outputs. */
export async function tensorTypes(bytes: Uint8Array, names: readonly string[]): Promise<Map<string, TensorType>> {
  const model = decodeForCut(bytes);
  const declared = new Set((model.graph.output ?? []).map((o) => o.name ?? ''));
  const probe = onnx.ModelProto.encode(onnx.ModelProto.create({ ...model, graph: { ...model.graph, output: [...(model.graph.output ?? []), ...names.filter((n) => !declared.has(n)).map((name) => ({ name }))] } })).finish();
  const session = await ort.InferenceSession.create(probe, PROFILE_SESSION_OPTIONS);
  try {
    const types = new Map<string, TensorType>();
    for (const meta of session.outputMetadata) {
      if (!meta.isTensor || !names.includes(meta.name)) continue;
      const elemType = ELEM_TYPE_OF_ORT.get(meta.type);
      if (elemType === undefined) throw new ContinuumError('CONTINUUM_ERR_INVALID_CUT', `tensor ${meta.name} is of type ${meta.type}, which a cut cannot carry`);
      types.set(meta.name, { elemType, shape: meta.shape });
    }
    return types;
  } finally {
    await session.release();
  }
}

/** One request's inputs for a session: FP32 values drawn from a fixed seed, dynamic dimensions 1. */
export function sampleInputs(session: ort.InferenceSession, seed = 7): Record<string, ort.Tensor> {
  const rand = seededRandom(seed);
  const feeds: Record<string, ort.Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor || meta.type !== 'float32') throw new ContinuumError('CONTINUUM_ERR_INVALID_CUT', `input ${meta.name} is not an FP32 tensor; only models with FP32 inputs can be profiled`);
    const dims = meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    feeds[meta.name] = new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1), dims);
  }
  return feeds;
}

/**
 * The compute time of one `session.run`, ms: the CPU time this process spends on it (with one
 * intra-op thread, the run's own thread), so time other processes hold the core is not counted —
 * on a shared machine wall times measure the neighbours as much as the model.
 */
export async function runCpuMs(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<number> {
  const before = process.cpuUsage();
  await session.run(feeds);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/** Median compute time ({@link runCpuMs}) of one `session.run`, ms, after a warm-up. */
export async function medianRunMs(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, runs = DEFAULT_PROFILE_RUNS): Promise<number> {
  for (let i = 0; i < WARMUP_RUNS; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await runCpuMs(session, feeds));
  return medianOf(times);
}

/** The median (upper middle for an even count). */
function medianOf(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
}

/** Bytes of the tensors in a map (a request's inputs, outputs or crossing tensors). */
export function tensorBytes(tensors: Readonly<Record<string, ort.Tensor>>): number {
  return Object.values(tensors).reduce((sum, t) => sum + (t.data as ArrayBufferView).byteLength, 0);
}

/** A cut (or all-edge, all-cloud) as measured: its timing and the bytes that cross the link. */
export interface ProfiledCut extends CutTiming {
  /** The cut (undefined for all-edge and all-cloud). */
  readonly cut: Cut | undefined;
  /** Bytes sent across the link: the crossing tensors (the raw input for all-cloud, 0 for all-edge). */
  readonly bytes: number;
}

/** A model measured for partitioning. */
export interface CutProfile {
  /** All-cloud first, then each cut in order, then all-edge. */
  readonly cuts: readonly ProfiledCut[];
  readonly inputBytes: number;
  readonly outputBytes: number;
  readonly wholeMs: number;
}

/** The split models at every cut a model offers, their crossing tensors typed by ONNX Runtime. */
export async function splitsOf(bytes: Uint8Array, maxTensors = DEFAULT_MAX_CUT_TENSORS): Promise<SplitModel[]> {
  const cuts = cutCandidates(bytes, maxTensors);
  const types = await tensorTypes(bytes, [...new Set(cuts.flatMap((c) => c.tensors))]);
  return cuts.map((cut) => splitModel(bytes, cut, types));
}

/** A model loaded for measuring or serving split: the whole model, and head and tail at every cut. */
export interface LoadedCuts {
  readonly whole: ort.InferenceSession;
  /** One request's inputs. */
  readonly feeds: Record<string, ort.Tensor>;
  readonly splits: readonly { readonly split: SplitModel; readonly head: ort.InferenceSession; readonly tail: ort.InferenceSession; readonly label: string }[];
  release(): Promise<void>;
}

/** Loads the whole model and every cut's head and tail into ONNX Runtime sessions. */
export async function loadCuts(bytes: Uint8Array, maxTensors = DEFAULT_MAX_CUT_TENSORS): Promise<LoadedCuts> {
  const sessions: ort.InferenceSession[] = [];
  const open = async (model: Uint8Array): Promise<ort.InferenceSession> => {
    const session = await ort.InferenceSession.create(model, PROFILE_SESSION_OPTIONS);
    sessions.push(session);
    return session;
  };
  const release = async (): Promise<void> => void (await Promise.all(sessions.map((s) => s.release())));
  try {
    const whole = await open(bytes);
    const splits: LoadedCuts['splits'][number][] = [];
    for (const split of await splitsOf(bytes, maxTensors)) {
      splits.push({ split, head: await open(split.head), tail: await open(split.tail), label: `after ${split.cut.lastHeadNode} (${split.cut.tensors.join(', ')})` });
    }
    return { whole, feeds: sampleInputs(whole), splits, release };
  } catch (err) {
    await release();
    throw err;
  }
}

/**
 * Measures the compute time of the whole model and of the head and tail at every cut, one request
 * at a time. The sessions take turns run by run, so a change in the machine's load weighs on all
 * of them alike.
 */
export async function profileLoaded(loaded: LoadedCuts, runs = DEFAULT_PROFILE_RUNS): Promise<CutProfile> {
  const { whole, feeds, splits } = loaded;
  const outputs = await whole.run(feeds);
  const crossings = await Promise.all(splits.map((s) => s.head.run(feeds)));
  const timed: { readonly session: ort.InferenceSession; readonly feeds: Record<string, ort.Tensor> }[] = [
    { session: whole, feeds },
    ...splits.flatMap((s, i) => [{ session: s.head, feeds }, { session: s.tail, feeds: crossings[i] as Record<string, ort.Tensor> }]),
  ];
  const times = timed.map(() => [] as number[]);
  for (let round = -WARMUP_RUNS; round < runs; round++) {
    for (const [i, t] of timed.entries()) {
      const ms = await runCpuMs(t.session, t.feeds);
      if (round >= 0) times[i]?.push(ms);
    }
  }
  const medianMs = (i: number): number => medianOf(times[i] as number[]);
  const wholeMs = medianMs(0);
  const inputBytes = tensorBytes(feeds);
  return {
    cuts: [
      { label: 'all-cloud', kind: 'all-cloud', cut: undefined, headMs: 0, tailMs: wholeMs, bytes: inputBytes },
      ...splits.map((s, i): ProfiledCut => ({ label: s.label, kind: 'split', cut: s.split.cut, headMs: medianMs(1 + 2 * i), tailMs: medianMs(2 + 2 * i), bytes: tensorBytes(crossings[i] as Record<string, ort.Tensor>) })),
      { label: 'all-edge', kind: 'all-edge', cut: undefined, headMs: wholeMs, tailMs: 0, bytes: 0 },
    ],
    inputBytes,
    outputBytes: tensorBytes(outputs),
    wholeMs,
  };
}

/** Loads a model's cuts, measures them ({@link profileLoaded}) and releases the sessions. */
export async function profileCuts(bytes: Uint8Array, opts: { readonly runs?: number; readonly maxTensors?: number } = {}): Promise<CutProfile> {
  const loaded = await loadCuts(bytes, opts.maxTensors);
  try {
    return await profileLoaded(loaded, opts.runs);
  } finally {
    await loaded.release();
  }
}

/**
 * A model's placement profile measured here (speed score 1): median compute time of one request,
 * its input and output bytes, and the memory a replica holds (the growth of this process's
 * resident set over loading and running it, at least the model's size).
 */
export async function measureModelProfile(bytes: Uint8Array, runs = DEFAULT_PROFILE_RUNS): Promise<ModelProfile> {
  const rssBefore = process.memoryUsage().rss;
  const session = await ort.InferenceSession.create(bytes, PROFILE_SESSION_OPTIONS);
  try {
    const feeds = sampleInputs(session);
    const outputs = await session.run(feeds);
    const computeMsAtSpeed1 = await medianRunMs(session, feeds, runs);
    return { computeMsAtSpeed1, inputBytes: tensorBytes(feeds), outputBytes: tensorBytes(outputs), memoryBytes: Math.max(bytes.byteLength, process.memoryUsage().rss - rssBefore) };
  } finally {
    await session.release();
  }
}
