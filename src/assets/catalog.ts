/**
 * The virtual assets by kind, each seen the same way: named numeric fields per message, a label,
 * a sequence number, a natural publishing rate; and how their samples become a training dataset
 * of the workflow-package contract (docs/workflows.md: rows windowed time-major, a window
 * labelled by its last sample).
 */
import { seededRandom } from '../onnx/build.js';
import { IMU_ACTIVITIES, IMU_CHANNELS, IMU_RATE_HZ, imuFrames } from './imu.js';
import { PCB_CLASSES, PCB_INPUTS, pcbSample } from './pcb.js';
import type { Uniform } from './random.js';

/** The kinds of virtual asset. */
export const ASSET_KINDS = ['pcb', 'imu'] as const;

/** One kind of virtual asset. */
export type AssetKind = (typeof ASSET_KINDS)[number];

/** One message's content: the fields in the asset's `inputs` order, the label, the sequence number. */
export interface AssetSample {
  readonly seq: number;
  readonly values: readonly number[];
  readonly label: string;
}

/** What a kind of asset publishes. */
export interface AssetModel {
  readonly kind: AssetKind;
  readonly description: string;
  /** Field names of each message, in model-input order. */
  readonly inputs: readonly string[];
  /** Label values. */
  readonly classes: readonly string[];
  /** Messages per second the real asset would send. */
  readonly rateHz: number;
  /** An endless, seeded stream of samples. */
  samples(rand: Uniform): Iterator<AssetSample>;
}

function* pcbStream(rand: Uniform): Generator<AssetSample, never> {
  for (let seq = 0; ; seq++) {
    const pad = pcbSample(rand, seq);
    yield { seq, values: PCB_INPUTS.map((name) => pad.values[name]), label: pad.label };
  }
}

/** Every kind of virtual asset. */
export const ASSET_MODELS: Readonly<Record<AssetKind, AssetModel>> = {
  pcb: {
    kind: 'pcb',
    description: 'solder paste inspection: 16 measurements per pad, verdict ok / error / pseudo-error',
    inputs: PCB_INPUTS,
    classes: PCB_CLASSES,
    // An SPI machine reports the pads it flags and a sample of the rest; ten a second is a busy line.
    rateHz: 10,
    samples: pcbStream,
  },
  imu: {
    kind: 'imu',
    description: 'IMUs on both hands (accelerometer and gyroscope, 3 axes each), activity label',
    inputs: IMU_CHANNELS,
    classes: IMU_ACTIVITIES,
    rateHz: IMU_RATE_HZ,
    samples: (rand) => imuFrames(rand),
  },
};

/** Consecutive samples one model input spans, and how far the next window starts. */
export interface SampleWindow {
  readonly size: number;
  readonly hop: number;
}

/** A training dataset as a workflow's `train(dataset, …)` receives it. */
export interface TrainingDataset {
  readonly featureNames: string[];
  readonly classes: string[];
  readonly features: number[][];
  readonly labels: number[];
}

/**
 * Rows as the platform hands them to a windowed workflow: every `hop` samples, the last `size`
 * samples flattened time-major (t0 f0, t0 f1, …, t1 f0, …), labelled by the last sample.
 */
export function windowRows(samples: readonly AssetSample[], window: SampleWindow): AssetSample[] {
  const rows: AssetSample[] = [];
  for (let end = window.size; end <= samples.length; end += window.hop) {
    const last = samples[end - 1] as AssetSample;
    rows.push({ seq: last.seq, values: samples.slice(end - window.size, end).flatMap((s) => s.values), label: last.label });
  }
  return rows;
}

/** `count` samples of a kind of asset from `seed`, as a training dataset (windowed when `window` is given). */
export function assetDataset(kind: AssetKind, seed: number, count: number, window?: SampleWindow): TrainingDataset {
  const model = ASSET_MODELS[kind];
  const stream = model.samples(seededRandom(seed));
  const samples = Array.from({ length: count }, () => stream.next().value as AssetSample);
  const rows = window === undefined ? samples : windowRows(samples, window);
  return {
    featureNames: [...model.inputs],
    classes: [...model.classes],
    features: rows.map((r) => [...r.values]),
    labels: rows.map((r) => model.classes.indexOf(r.label)),
  };
}
