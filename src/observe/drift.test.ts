import { describe, expect, it } from 'vitest';
import type { InferRequest, Tensor } from '../oip/types.js';
import { DriftMonitor, driftLevel, driftScore, featureDrift, kolmogorovSurvival, ksTwoSample, psi, quantileEdges } from './drift.js';

/** Deterministic standard normal draws (mulberry32 and Box–Muller), so the tests do not flake. */
function normals(n: number, seed: number, mean = 0): number[] {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: n }, () => mean + Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()));
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function request(rows: readonly (readonly number[])[], datatype: Tensor['datatype'] = 'FP32'): InferRequest {
  const width = rows[0]?.length ?? 0;
  const flat = rows.flat();
  const data = datatype === 'INT64' ? BigInt64Array.from(flat.map((v) => BigInt(v))) : datatype === 'FP64' ? Float64Array.from(flat) : Float32Array.from(flat);
  return { inputs: [{ name: 'input', datatype, shape: [rows.length, width], data }] };
}

describe('psi', () => {
  it('matches a hand computation: bins cut at the reference median, 30% / 70% live against 50% / 50%', () => {
    // Reference 1..10: the median 5.5 cuts two bins of five. Live: 3 values <= 5.5, 7 above.
    // PSI = (0.3 − 0.5) ln(0.3/0.5) + (0.7 − 0.5) ln(0.7/0.5) = 0.169460
    expect(psi(range(1, 10), [1, 2, 3, 6, 7, 8, 9, 10, 9, 10], 2)).toBeCloseTo(0.16945957, 7);
  });

  it('gives an empty bin the floor share instead of an infinite term', () => {
    // Live all in the lower bin: (1 − 0.5) ln 2 + (1e-4 − 0.5) ln(1e-4 / 0.5)
    expect(psi(range(1, 10), [1, 2, 3, 4, 5], 2)).toBeCloseTo(4.60431847, 6);
  });

  it('is near 0 for two samples of one distribution and beyond 0.25 for a shifted mean', () => {
    const reference = normals(2000, 1);
    expect(psi(reference, normals(2000, 2))).toBeLessThan(0.1);
    expect(psi(reference, normals(2000, 3, 1))).toBeGreaterThan(0.25);
    expect(psi(reference, reference)).toBe(0);
  });

  it('cuts bins at the reference quantiles and merges repeated edges of a discrete feature', () => {
    expect(quantileEdges(range(1, 11), 4)).toEqual([3.5, 6, 8.5]);
    const edges = quantileEdges([0, 0, 0, 0, 1], 10);
    expect(edges).toHaveLength(3);
    [0, 0.2, 0.6].forEach((edge, i) => expect(edges[i]).toBeCloseTo(edge, 12));
    expect(quantileEdges([7, 7, 7], 10)).toEqual([7]);
  });

  it('refuses an empty window', () => {
    expect(() => psi([], [1])).toThrow(/at least one value/);
    expect(() => psi([1], [])).toThrow(/at least one value/);
  });
});

describe('ksTwoSample', () => {
  it('finds the textbook D on small hand-made samples', () => {
    // F_a − F_b is 0.4 at x = 2, 3, 4 and 5.
    expect(ksTwoSample([1, 2, 3, 4, 5], [3, 4, 5, 6, 7]).d).toBeCloseTo(0.4, 12);
    // Disjoint samples: D = 1.
    expect(ksTwoSample([1, 2, 3, 4], [5, 6, 7, 8]).d).toBe(1);
    // Ties move both functions at once: at x = 2 both are 0.75, so D = 0.25 (at x = 1 and x = 3).
    expect(ksTwoSample([1, 2, 2, 3], [2, 2, 2, 4]).d).toBeCloseTo(0.25, 12);
    expect(ksTwoSample([3, 1, 2], [2, 3, 1])).toEqual({ d: 0, p: 1 });
  });

  it('gives the asymptotic p-value of scipy.stats.kstwobign.sf(√(nm/(n+m)) · D)', () => {
    // scipy 1.17: kstwobign.sf(sqrt(2.5) * 0.4) = 0.8186211744710058
    expect(ksTwoSample([1, 2, 3, 4, 5], [3, 4, 5, 6, 7]).p).toBeCloseTo(0.81862117, 7);
    const a = [0.61, 0.29, 0.06, 0.59, -1.73, -0.74, 0.51, -0.56, 0.39, 1.64, 0.05, -0.06, 0.64, -0.82, 0.37, 1.77, 1.09, -1.28, 2.36, 1.31, 1.05, -0.32, -0.4, 1.06, -2.47];
    const b = [2.2, 1.66, 1.38, 0.2, 0.36, 0, 0.96, 1.56, 0.44, 1.5, -0.3, 0.66, 2.31, 3.29, -0.27, -0.37, 0.38, 0.7, 0.52, -0.71];
    const result = ksTwoSample(a, b);
    expect(result.d).toBeCloseTo(0.23, 12);
    // scipy 1.17: kstwobign.sf(sqrt(25·20/45) · 0.23) = 0.5991955719698889
    expect(result.p).toBeCloseTo(0.59919557, 7);
  });

  it('reproduces the Kolmogorov critical values 1.358 (5%) and 1.628 (1%) on both branches of the series', () => {
    expect(kolmogorovSurvival(1.3581)).toBeCloseTo(0.05, 4);
    expect(kolmogorovSurvival(1.6276)).toBeCloseTo(0.01, 4);
    // Either side of the switch between the two series (scipy: 0.12345963, 0.12345381, 0.11774229).
    expect(kolmogorovSurvival(1.17999)).toBeCloseTo(0.12345963, 7);
    expect(kolmogorovSurvival(1.18)).toBeCloseTo(0.12345381, 7);
    expect(kolmogorovSurvival(1.19)).toBeCloseTo(0.11774229, 7);
    expect(kolmogorovSurvival(0.5)).toBeCloseTo(0.96394524, 7);
    expect(kolmogorovSurvival(0.8)).toBeCloseTo(0.54414241, 7);
    expect(kolmogorovSurvival(0)).toBe(1);
  });

  it('gives a large p for one distribution and a tiny p for a shifted mean', () => {
    const reference = normals(1000, 11);
    expect(ksTwoSample(reference, normals(1000, 12)).p).toBeGreaterThan(0.1);
    const shifted = ksTwoSample(reference, normals(1000, 13, 0.5));
    expect(shifted.p).toBeLessThan(1e-10);
    expect(shifted.d).toBeGreaterThan(0.15);
  });
});

describe('featureDrift', () => {
  it('compares each feature on its finite values and scores a deployment by its worst PSI', () => {
    const reference = [normals(500, 21), normals(500, 22)];
    const live = [normals(500, 23), [...normals(499, 24, 2), Number.NaN]];
    const drift = featureDrift(reference, live);
    expect(drift.map((f) => f.feature)).toEqual([0, 1]);
    expect(drift[0]).toMatchObject({ referenceN: 500, liveN: 500 });
    expect(drift[1]).toMatchObject({ referenceN: 500, liveN: 499 });
    expect(drift[0]?.psi).toBeLessThan(0.1);
    expect(drift[1]?.psi).toBeGreaterThan(0.25);
    expect(driftScore(drift)).toBe(drift[1]?.psi);
    expect(driftScore([])).toBeNull();
    expect(driftLevel(0.05)).toBe('stable');
    expect(driftLevel(0.1)).toBe('moderate');
    expect(driftLevel(0.3)).toBe('significant');
  });
});

describe('DriftMonitor', () => {
  it('fills the reference with the first rows, then keeps only the newest rows live', () => {
    const monitor = new DriftMonitor({ referenceRows: 10, liveRows: 20, minLiveRows: 20, sampleShare: 1 });
    for (let i = 0; i < 10; i++) monitor.observe(request([[i]]));
    expect(monitor.report()).toMatchObject({ referenceRows: 10, liveRows: 0, score: null, drift: [] });
    // Fifty far-away rows, then twenty like the reference: only these twenty are in the live window.
    for (let i = 0; i < 50; i++) monitor.observe(request([[1000 + i]]));
    expect(monitor.report().level).toBe('significant');
    for (let i = 0; i < 20; i++) monitor.observe(request([[i % 10]]));
    const report = monitor.report();
    expect(report).toMatchObject({ referenceRows: 10, liveRows: 20, features: 1, requests: 80, sampledRequests: 80, level: 'stable' });
    expect(report.drift[0]).toMatchObject({ feature: 0, referenceN: 10, liveN: 20, ks: 0 });
  });

  it('compares a reference given in doubles with FP32 inputs of the same values as no drift, ties included', () => {
    // 0.2 is not a float; an FP32 input of 0.2 is 0.2000000030. Rounded alike, the tied values stay in one bin.
    const values = [0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.4, 0.4, 1.3, 1.5, 1.8, 2.3];
    const monitor = new DriftMonitor({ sampleShare: 1, liveRows: 48, minLiveRows: 48, reference: values.map((v) => [v]) });
    for (let i = 0; i < 48; i++) monitor.observe({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1], data: Float32Array.of(values[i % values.length] as number) }] });
    expect(monitor.report().score).toBeLessThan(0.01);
  });

  it('samples one request in ⌈1/share⌉ and copies at most maxRowsPerRequest rows of maxFeatures elements', () => {
    const monitor = new DriftMonitor({ sampleShare: 0.25, maxRowsPerRequest: 2, maxFeatures: 5, referenceRows: 1000 });
    const image: Tensor = { name: 'input', datatype: 'FP32', shape: [4, 3, 4], data: new Float32Array(48) };
    for (let i = 0; i < 100; i++) monitor.observe({ inputs: [image] });
    expect(monitor.report()).toMatchObject({ requests: 100, sampledRequests: 25, referenceRows: 50, features: 5 });
  });

  it('reads integer inputs (INT64 included) and skips BYTES, BOOL and rows of another width', () => {
    const monitor = new DriftMonitor({ sampleShare: 1, referenceRows: 3, liveRows: 3, minLiveRows: 3 });
    monitor.observe({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: [new Uint8Array([104])] }] });
    monitor.observe({ inputs: [{ name: 'mask', datatype: 'BOOL', shape: [1, 2], data: new Uint8Array([1, 0]) }] });
    expect(monitor.report().referenceRows).toBe(0);
    monitor.observe(request([[1, 2], [3, 4], [5, 6]], 'INT64'));
    monitor.observe(request([[1, 2, 3]]));
    monitor.observe(request([[1, 2], [3, 4], [5, 6]], 'FP64'));
    const report = monitor.report();
    expect(report).toMatchObject({ referenceRows: 3, liveRows: 3, features: 2, sampledRequests: 2, score: 0 });
  });

  it('watches the named input when told which', () => {
    const monitor = new DriftMonitor({ sampleShare: 1, input: 'b' });
    monitor.observe({
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [1, 3], data: new Float32Array(3) },
        { name: 'b', datatype: 'FP32', shape: [1, 2], data: new Float32Array(2) },
      ],
    });
    expect(monitor.report().features).toBe(2);
  });

  it('starts over when a request of a new revision arrives', () => {
    const monitor = new DriftMonitor({ sampleShare: 1, referenceRows: 5 });
    for (let i = 0; i < 8; i++) monitor.observe(request([[i]]), 1);
    expect(monitor.report()).toMatchObject({ revision: 1, requests: 8, referenceRows: 5, liveRows: 3 });
    monitor.observe(request([[0]]), 2);
    expect(monitor.report()).toMatchObject({ revision: 2, requests: 1, referenceRows: 1, liveRows: 0 });
  });

  it('compares against a given reference (a dataset’s features), taken evenly when it is larger than the window', () => {
    const rows = normals(400, 31).map((v, i) => [v, i < 200 ? 0 : 1]);
    const monitor = new DriftMonitor({ sampleShare: 1, referenceRows: 100, minLiveRows: 50, reference: rows });
    expect(monitor.report()).toMatchObject({ referenceSource: 'given', referenceRows: 100, features: 2 });
    const shifted = normals(60, 32, 3);
    for (let i = 0; i < 60; i++) monitor.observe(request([[shifted[i] ?? 0, i % 2]]));
    const report = monitor.report();
    expect(report.liveRows).toBe(60);
    expect(report.drift[0]?.psi).toBeGreaterThan(0.25);
    // The second feature is half 0, half 1 in both: the stride kept both halves of the sorted dataset.
    expect(report.drift[1]?.psi).toBeLessThan(0.1);
    monitor.setReference(undefined);
    expect(monitor.report()).toMatchObject({ referenceSource: 'sampled', referenceRows: 0 });
  });

  it('refuses options that cannot work', () => {
    expect(() => new DriftMonitor({ sampleShare: 0 })).toThrow(/sample share/);
    expect(() => new DriftMonitor({ liveRows: 10, minLiveRows: 20 })).toThrow(/minLiveRows/);
    expect(() => new DriftMonitor({ bins: 1.5 })).toThrow(/bins/);
  });
});
