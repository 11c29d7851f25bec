import { describe, expect, it } from 'vitest';
import { isContinuumError } from '../errors.js';
import { builtInDataset, datasetFromSamples, parameterFromText, parseManifest, penguinSamples, resolveParameters } from './workflow.js';
import type { WorkflowManifest } from './workflow.js';

const BASE = {
  name: 'pcb-inspection',
  version: '1.0.0',
  entry: 'train.js',
  inputs: ['m01', 'm02'],
  label: 'result',
  classes: ['ok', 'error'],
  outputs: ['probabilities', 'label'],
  parameters: {
    epochs: { type: 'number', default: 60, min: 1, max: 1000, integer: true },
    trainer: { type: 'string', default: 'mlp', enum: ['mlp', 'forest'] },
    balanced: { type: 'boolean', default: false },
  },
};

function manifest(patch: Record<string, unknown> = {}): WorkflowManifest {
  return parseManifest(JSON.stringify({ ...BASE, ...patch }));
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (isContinuumError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('no refusal');
}

describe('workflow manifests', () => {
  it('accepts the contract example and refuses each field out of bounds, naming it', () => {
    expect(manifest().parameters?.['epochs']).toMatchObject({ default: 60 });
    expect(refusal(() => manifest({ name: 'PCB Inspection' }))).toMatch(/CONTINUUM_ERR_INVALID_WORKFLOW: .*at 'name'/);
    expect(refusal(() => manifest({ entry: '../train.js' }))).toMatch(/at 'entry'/);
    expect(refusal(() => manifest({ entry: '/etc/train.js' }))).toMatch(/at 'entry'/);
    expect(refusal(() => manifest({ classes: ['ok'] }))).toMatch(/at 'classes'/);
    expect(refusal(() => manifest({ inputs: ['a', 'a'] }))).toMatch(/input names must be unique/);
    expect(refusal(() => manifest({ window: { size: 0, hop: 1 } }))).toMatch(/at 'window.size'/);
    expect(refusal(() => manifest({ parameters: { epochs: { type: 'number', default: 5, min: 10 } } }))).toMatch(/default lies outside/);
    expect(refusal(() => manifest({ parameters: { constructor: { type: 'boolean', default: true } } }))).toMatch(/at 'parameters.constructor'/);
    // zod drops a `__proto__` key of a record: it never reaches the workflow as a parameter.
    expect(Object.keys(parseManifest(JSON.stringify(BASE).replace('"epochs":', '"__proto__":')).parameters ?? {})).toEqual(['trainer', 'balanced']);
    expect(refusal(() => manifest({ extra: 1 }))).toMatch(/CONTINUUM_ERR_INVALID_WORKFLOW/);
    expect(refusal(() => parseManifest('{"name":'))).toMatch(/manifest.json is not JSON/);
    expect(refusal(() => parseManifest(' '.repeat(70 * 1024)))).toMatch(/larger than 65536 bytes/);
  });
});

describe('run parameters', () => {
  it('fills defaults and overrides them within the declared type, range and choices', () => {
    const m = manifest();
    expect(resolveParameters(m, {})).toEqual({ epochs: 60, trainer: 'mlp', balanced: false });
    expect(resolveParameters(m, { epochs: 200, trainer: 'forest', balanced: true })).toEqual({ epochs: 200, trainer: 'forest', balanced: true });
    expect(refusal(() => resolveParameters(m, { epochs: 2000 }))).toMatch(/parameter 'epochs' is 2000, above its maximum 1000/);
    expect(refusal(() => resolveParameters(m, { epochs: 1.5 }))).toMatch(/'epochs' needs a whole number/);
    expect(refusal(() => resolveParameters(m, { trainer: 'svm' }))).toMatch(/choose one of mlp, forest/);
    expect(refusal(() => resolveParameters(m, { balanced: 'yes' }))).toMatch(/needs true or false/);
    expect(refusal(() => resolveParameters(m, { lr: 0.1 }))).toMatch(/'lr' is not declared.*epochs, trainer, balanced/);
  });

  it('reads command-line values by their declared types', () => {
    const m = manifest();
    expect(parameterFromText(m, 'epochs', '30')).toBe(30);
    expect(parameterFromText(m, 'trainer', 'forest')).toBe('forest');
    expect(parameterFromText(m, 'balanced', 'true')).toBe(true);
    expect(Number.isNaN(parameterFromText(m, 'epochs', 'many'))).toBe(true);
  });
});

describe('datasets from samples', () => {
  // Field order differs from the manifest's inputs on purpose: inputs are read by name.
  const samples = {
    fields: ['m02', 'other', 'm01'],
    rows: [
      { ts: 1, values: [10, 0, 1], label: 'ok' },
      { ts: 2, values: [20, 0, 2], label: null },
      { ts: 3, values: [30, 0, 3], label: 'error' },
      { ts: 4, values: [40, 0, 4], label: 'unknown-class' },
      { ts: 5, values: [50, 0, 5], label: 'ok' },
    ],
  };

  it('makes one row per labelled sample, inputs in manifest order, labels as class indices', () => {
    expect(datasetFromSamples(manifest(), samples)).toEqual({
      featureNames: ['m01', 'm02'],
      classes: ['ok', 'error'],
      features: [
        [1, 10],
        [3, 30],
        [5, 50],
      ],
      labels: [0, 1, 0],
    });
  });

  it('flattens windows time-major, hops by the manifest, and labels each by its last sample', () => {
    const d = datasetFromSamples(manifest({ window: { size: 3, hop: 2 } }), samples);
    // Windows end at samples 3 (error) and 5 (ok); t0 f0, t0 f1, t1 f0 ...
    expect(d.features).toEqual([
      [1, 10, 2, 20, 3, 30],
      [3, 30, 4, 40, 5, 50],
    ]);
    expect(d.labels).toEqual([1, 0]);
  });

  it('says what is missing when the samples lack an input or a labelled row', () => {
    expect(refusal(() => datasetFromSamples(manifest({ inputs: ['m01', 'm03'] }), samples))).toMatch(/no field 'm03' \(they have m02, other, m01\)/);
    expect(refusal(() => datasetFromSamples(manifest(), { fields: samples.fields, rows: samples.rows.filter((r) => r.label !== 'ok' && r.label !== 'error') }))).toMatch(/makes no labelled row/);
  });
});

describe('built-in datasets', () => {
  it('gives iris as 150 rows of four measurements with the manifest classes', () => {
    const m = manifest({ inputs: ['a', 'b', 'c', 'd'], classes: ['setosa', 'versicolor', 'virginica'] });
    const d = builtInDataset(m, 'iris');
    expect(d.features).toHaveLength(150);
    expect(d.features[0]).toEqual([5.1, 3.5, 1.4, 0.2]);
    expect(new Set(d.labels)).toEqual(new Set([0, 1, 2]));
    expect(refusal(() => builtInDataset(manifest(), 'iris'))).toMatch(/iris data set has 4 measurements/);
    expect(refusal(() => builtInDataset(manifest({ inputs: ['a', 'b', 'c', 'd'] }), 'iris'))).toMatch(/lacks setosa, versicolor, virginica/);
  });

  it("reads vega-datasets' penguins rows, dropping those with a missing value", () => {
    const rows = [
      { Species: 'Adelie', Island: 'Torgersen', 'Beak Length (mm)': 39.1, 'Beak Depth (mm)': 18.7, 'Flipper Length (mm)': 181, 'Body Mass (g)': 3750, Sex: 'MALE' },
      { Species: 'Adelie', Island: 'Torgersen', 'Beak Length (mm)': null, 'Beak Depth (mm)': null, 'Flipper Length (mm)': null, 'Body Mass (g)': null, Sex: null },
      { Species: 'Gentoo', Island: 'Biscoe', 'Beak Length (mm)': 46.1, 'Beak Depth (mm)': 13.2, 'Flipper Length (mm)': 211, 'Body Mass (g)': 4500, Sex: 'FEMALE' },
    ];
    const samples = penguinSamples(rows);
    expect(samples.rows).toEqual([
      { ts: 0, values: [39.1, 18.7, 181, 3750], label: 'Adelie' },
      { ts: 1, values: [46.1, 13.2, 211, 4500], label: 'Gentoo' },
    ]);
  });
});
