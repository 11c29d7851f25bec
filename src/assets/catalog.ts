/**
 * The virtual assets by kind, each seen the same way: named numeric fields per message, a label,
 * a sequence number, a natural publishing rate; and how their samples become a training dataset
 * of the workflow-package contract (docs/workflows.md: rows windowed time-major, a window
 * labelled by its last sample).
 */
import { seededRandom } from '../onnx/build.js';
import { datasetFromSamples, type TrainingDataset } from '../training/index.js';

export type { TrainingDataset };
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

/**
 * `count` samples of a kind of asset from `seed`, as the training dataset the platform would hand a
 * workflow after storing them (windowed when `window` is given): the platform's own windowing.
 */
export function assetDataset(kind: AssetKind, seed: number, count: number, window?: SampleWindow): TrainingDataset {
  const model = ASSET_MODELS[kind];
  const stream = model.samples(seededRandom(seed));
  const rows = Array.from({ length: count }, (_, i) => {
    const sample = stream.next().value as AssetSample;
    return { ts: i, values: sample.values, label: sample.label };
  });
  return datasetFromSamples({ inputs: [...model.inputs], classes: [...model.classes], ...(window === undefined ? {} : { window }) }, { fields: [...model.inputs], rows });
}
