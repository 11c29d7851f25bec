/**
 * The candidate family against real ONNX Runtime sessions, created with the options Continuum's
 * runtime uses by default (one intra-op thread, sequential, every graph optimization on), so
 * what the optimizer could fold away is folded here too.
 */
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCandidateFamily, FLAGGED_INPUT_THRESHOLD, type CandidateFamily, type CandidateFamilyOptions } from './candidates.js';
import { seededRandom } from './build.js';

const IRIS: CandidateFamilyOptions = { inputSize: 4, hiddenSizes: [16], outputSize: 3, seed: 11 };
const WIDE: CandidateFamilyOptions = { inputSize: 64, hiddenSizes: [256, 256], outputSize: 10, seed: 12 };

const sessions: ort.InferenceSession[] = [];
afterAll(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.release()));
});

/** A session as the runtime makes one; `logSeverityLevel` 4 (fatal only) keeps an expected failure out of the log. */
async function session(bytes: Uint8Array, logSeverityLevel: 2 | 4 = 2): Promise<ort.InferenceSession> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel });
  sessions.push(s);
  return s;
}

/** `rows` rows of features uniform in [-2, 2), the first feature replaced where `firstFeature` says. */
function batch(opts: CandidateFamilyOptions, rows: number, seed: number, firstFeature?: (row: number) => number | undefined): ort.Tensor {
  const rand = seededRandom(seed);
  const data = Float32Array.from({ length: rows * opts.inputSize }, () => rand() * 4 - 2);
  for (let r = 0; r < rows; r++) data[r * opts.inputSize] = firstFeature?.(r) ?? (data[r * opts.inputSize] as number);
  return new ort.Tensor('float32', data, [rows, opts.inputSize]);
}

async function outputOf(s: ort.InferenceSession, input: ort.Tensor): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const out = (await s.run({ input }))['output'];
  if (out === undefined) throw new Error('no output');
  return { data: out.data as Float32Array, dims: out.dims };
}

/** Largest absolute difference per row of two [rows, width] outputs. */
function rowDifferences(a: Float32Array, b: Float32Array, width: number): number[] {
  expect(a.length).toBe(b.length);
  return Array.from({ length: a.length / width }, (_, r) => Math.max(...Array.from({ length: width }, (_, j) => Math.abs((a[r * width + j] as number) - (b[r * width + j] as number)))));
}

async function differences(family: CandidateFamily, member: keyof CandidateFamily, opts: CandidateFamilyOptions, input: ort.Tensor): Promise<number[]> {
  const [good, other] = await Promise.all([session(family.good), session(family[member])]);
  return rowDifferences((await outputOf(good, input)).data, (await outputOf(other, input)).data, opts.outputSize);
}

/**
 * Median over interleaved blocks of each session's CPU time per run, µs. CPU time, not wall time:
 * with one intra-op thread a run computes on this process's thread alone, and other processes on
 * a shared machine then delay it without being counted; interleaving spreads drift over both.
 */
async function medianRunTimes(a: ort.InferenceSession, b: ort.InferenceSession, input: ort.Tensor): Promise<[number, number]> {
  const block = async (s: ort.InferenceSession, runs: number): Promise<number> => {
    const start = process.cpuUsage();
    for (let i = 0; i < runs; i++) await s.run({ input });
    const used = process.cpuUsage(start);
    return (used.user + used.system) / runs;
  };
  await block(a, 200);
  await block(b, 200);
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < 21; i++) {
    ta.push(await block(a, 100));
    tb.push(await block(b, 100));
  }
  const median = (xs: number[]): number => xs.sort((x, y) => x - y)[10] as number;
  return [median(ta), median(tb)];
}

describe('buildCandidateFamily', () => {
  const family = buildCandidateFamily(IRIS);

  it('gives every member the baseline signature, and each member other bytes', async () => {
    for (const bytes of Object.values(family)) {
      const s = await session(bytes);
      expect(s.inputNames).toEqual(['input']);
      expect(s.outputNames).toEqual(['output']);
      expect((await outputOf(s, batch(IRIS, 5, 1))).dims).toEqual([5, IRIS.outputSize]);
    }
    expect(new Set(Object.values(family).map((b) => Buffer.from(b).toString('base64'))).size).toBe(5);
  });

  it('builds the same bytes from the same options', () => {
    const again = buildCandidateFamily(IRIS);
    for (const member of Object.keys(family) as (keyof CandidateFamily)[]) expect(Buffer.compare(again[member], family[member])).toBe(0);
  });

  it('makes goodRetrained answer as good does, within 1e-5', async () => {
    expect(Math.max(...(await differences(family, 'goodRetrained', IRIS, batch(IRIS, 64, 2))))).toBeLessThanOrEqual(1e-5);
  });

  it('makes disagreeing differ from good by more than 1e-3 on every row', async () => {
    expect(Math.min(...(await differences(family, 'disagreeing', IRIS, batch(IRIS, 64, 3))))).toBeGreaterThan(1e-3);
  });

  it('makes faulty answer as good does below the flag, the threshold itself included', async () => {
    const input = batch(IRIS, 64, 4, (r) => (r === 0 ? FLAGGED_INPUT_THRESHOLD : undefined));
    expect(Math.max(...(await differences(family, 'faulty', IRIS, input)))).toBeLessThanOrEqual(1e-5);
  });

  it('makes faulty fail inside ONNX Runtime for a batch holding one flagged row', async () => {
    const faulty = await session(family.faulty, 4);
    const good = await session(family.good);
    const input = batch(IRIS, 8, 5, (r) => (r === 6 ? FLAGGED_INPUT_THRESHOLD + 1 : undefined));
    await expect(faulty.run({ input })).rejects.toThrow(/out of data bounds/);
    await expect(good.run({ input })).resolves.toHaveProperty('output');
  });

  it('refuses a slowdown that is not an integer of at least 2', () => {
    expect(() => buildCandidateFamily({ ...IRIS, slowdown: 1 })).toThrow(/slowdown/);
    expect(() => buildCandidateFamily({ ...IRIS, slowdown: 2.5 })).toThrow(/slowdown/);
  });

  // A property of the graph (the extra work is really done), checked with generous margins on a
  // shared machine; the bench measures how slow.
  describe.each([
    ['iris-sized', IRIS],
    ['wide', WIDE],
  ])('slow (%s)', (_, opts) => {
    const members = buildCandidateFamily(opts);

    it('answers as good does, within 1e-4', async () => {
      expect(Math.max(...(await differences(members, 'slow', opts, batch(opts, 64, 6))))).toBeLessThanOrEqual(1e-4);
    });

    it.each([1, 8])('takes more than 1.8 times good’s run time at batch %i', async (rows) => {
      const [good, slow] = await Promise.all([session(members.good), session(members.slow)]);
      const [goodUs, slowUs] = await medianRunTimes(good, slow, batch(opts, rows, 7));
      expect(slowUs / goodUs).toBeGreaterThan(1.8);
    });
  });
});
