import { describe, expect, it } from 'vitest';
import { seededRandom } from '../onnx/build.js';
import { ASSET_MODELS, assetDataset } from './catalog.js';
import { IMU_ACTIVITIES, IMU_CHANNELS, IMU_RATE_HZ, imuFrames, type ImuFrame } from './imu.js';
import { PCB_CLASSES, PCB_INPUTS, pcbSample, type PcbSample } from './pcb.js';

function pads(seed: number, n: number): PcbSample[] {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, (_, seq) => pcbSample(rand, seq));
}

function frames(seed: number, n: number): ImuFrame[] {
  const stream = imuFrames(seededRandom(seed));
  return Array.from({ length: n }, () => stream.next().value);
}

const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

describe('pcbSample', () => {
  it('is reproducible from its seed and differs between seeds', () => {
    expect(pads(5, 50)).toEqual(pads(5, 50));
    expect(pads(6, 50)).not.toEqual(pads(5, 50));
  });

  it('reports all 16 measurements as finite numbers at 0.1 resolution', () => {
    for (const pad of pads(1, 300)) {
      expect(Object.keys(pad.values)).toEqual([...PCB_INPUTS]);
      for (const v of Object.values(pad.values)) {
        expect(Number.isFinite(v)).toBe(true);
        expect(Math.abs(v * 10 - Math.round(v * 10))).toBeLessThan(1e-9);
      }
    }
  });

  it('labels pads in the documented shares: 60% ok, 20% error, 20% pseudo-error', () => {
    const all = pads(2, 5000);
    for (const [i, c] of PCB_CLASSES.entries()) {
      const share = all.filter((p) => p.label === c).length / all.length;
      expect(share).toBeCloseTo([0.6, 0.2, 0.2][i] as number, 1);
    }
  });

  it('gives ok pads nominal prints, and defects the extreme volumes, bridges and offsets', () => {
    const all = pads(3, 4000);
    const ok = all.filter((p) => p.label === 'ok');
    expect(mean(ok.map((p) => p.values.volumePct))).toBeCloseTo(100, -1);
    expect(Math.max(...ok.map((p) => Math.hypot(p.values.offsetXUm, p.values.offsetYUm)))).toBeLessThan(100);
    const errors = all.filter((p) => p.label === 'error');
    const extreme = errors.filter((p) => p.values.volumePct < 70 || p.values.volumePct > 130 || p.values.bridgeGapUm < 60 || Math.hypot(p.values.offsetXUm, p.values.offsetYUm) >= 70);
    // All but the few labelled the wrong way round by an inspector.
    expect(extreme.length / errors.length).toBeGreaterThan(0.9);
  });
});

describe('imuFrames', () => {
  it('is reproducible and numbers frames consecutively', () => {
    const a = frames(4, 500);
    expect(a).toEqual(frames(4, 500));
    expect(a.map((f) => f.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    for (const f of a) expect(f.values).toHaveLength(IMU_CHANNELS.length);
  });

  it('holds an activity for 4 to 9 seconds, never the same twice in a row, and visits them all', () => {
    const all = frames(5, IMU_RATE_HZ * 600);
    const runs: { label: string; length: number }[] = [];
    for (const f of all) {
      const last = runs.at(-1);
      if (last?.label === f.label) last.length += 1;
      else runs.push({ label: f.label, length: 1 });
    }
    // The last run may be cut short by the end of the sample.
    for (const r of runs.slice(0, -1)) {
      expect(r.length).toBeGreaterThanOrEqual(4 * IMU_RATE_HZ);
      expect(r.length).toBeLessThanOrEqual(9 * IMU_RATE_HZ);
    }
    expect(new Set(runs.map((r) => r.label))).toEqual(new Set(IMU_ACTIVITIES));
  });

  it('measures about 1 g at rest, and the hammer hand’s wrist turning fast while hammering', () => {
    const all = frames(6, IMU_RATE_HZ * 300);
    const magnitude = (f: ImuFrame, hand: 0 | 6): number => Math.hypot(f.values[hand] as number, f.values[hand + 1] as number, f.values[hand + 2] as number);
    expect(mean(all.filter((f) => f.label === 'idle').map((f) => magnitude(f, 0)))).toBeCloseTo(1, 1);
    const rightGyroZ = (label: string): number => mean(all.filter((f) => f.label === label).map((f) => Math.abs(f.values[11] as number)));
    expect(rightGyroZ('hammering')).toBeGreaterThan(5 * rightGyroZ('sawing'));
  });
});

describe('assetDataset', () => {
  it('gives a training dataset of the contract: feature names, classes, rows, label indices', () => {
    const d = assetDataset('imu', 1, 200, { size: 50, hop: 25 });
    expect(d.featureNames).toEqual([...IMU_CHANNELS]);
    expect(d.features).toHaveLength(7);
    expect(d.features[0]).toHaveLength(600);
    expect(d.labels.every((l) => l >= 0 && l < ASSET_MODELS.imu.classes.length)).toBe(true);
    expect(assetDataset('pcb', 1, 10).features[0]).toHaveLength(16);
  });
});
