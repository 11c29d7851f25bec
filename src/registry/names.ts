/**
 * What a model name, version, alias and label may look like. They end up in URLs, in SQL rows
 * and in log lines, never in filesystem paths (artifacts are addressed by digest), but a strict
 * pattern keeps them readable and refuses anything path-like (`..`, `/`, `\`) at the edge.
 */
import { ContinuumError } from '../errors.js';

/** Model names, versions, aliases and label keys: lower-case, starts with a letter or digit, at most 63 characters. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Label values: no spaces, commas or `=` so `k=v,k2=v2` stays unambiguous; at most 128 characters. */
export const LABEL_VALUE_PATTERN = /^[A-Za-z0-9._:/@+-]{0,128}$/;

/** Most labels one model or version may carry. */
export const MAX_LABELS = 64;

/** String-to-string labels on a model or a version (e.g. `dataset=iris`, `owner=ml-team`). */
export type Labels = Readonly<Record<string, string>>;

/** What kind of identifier is checked, for the error message. */
export type NameKind = 'model name' | 'version' | 'alias' | 'label key' | 'deployment name';

/** Returns `value` when it is a valid identifier of `kind`; throws CONTINUUM_ERR_BAD_REQUEST otherwise. */
export function checkName(kind: NameKind, value: string): string {
  if (!NAME_PATTERN.test(value)) {
    throw new ContinuumError(
      'CONTINUUM_ERR_BAD_REQUEST',
      `invalid ${kind} ${JSON.stringify(value.slice(0, 80))}: use 1-63 characters a-z, 0-9, '.', '_', '-', starting with a letter or digit`,
      { details: { kind, value: value.slice(0, 80) } },
    );
  }
  return value;
}

/** Returns `labels` when every key and value is valid and there are at most {@link MAX_LABELS}; throws CONTINUUM_ERR_BAD_REQUEST otherwise. */
export function checkLabels(labels: Readonly<Record<string, string>>): Labels {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) {
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `too many labels: ${entries.length} (at most ${MAX_LABELS})`);
  }
  for (const [key, value] of entries) {
    checkName('label key', key);
    if (!LABEL_VALUE_PATTERN.test(value)) {
      throw new ContinuumError(
        'CONTINUUM_ERR_BAD_REQUEST',
        `invalid value of label '${key}': use at most 128 characters A-Z, a-z, 0-9 and . _ : / @ + -`,
      );
    }
  }
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Parses labels written as `k=v,k2=v2` (a query parameter) or as separate `k=v` items (repeated
 * CLI flags) and validates them. The value is everything after the first `=`.
 */
export function parseLabelList(items: readonly string[]): Labels {
  const labels: Record<string, string> = {};
  for (const item of items.flatMap((s) => s.split(','))) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `invalid label ${JSON.stringify(item.slice(0, 80))}: write key=value`);
    labels[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return checkLabels(labels);
}

/**
 * The next version number the registry assigns: one more than the highest integer version the
 * model has ever had (`highWater`), so a deleted version number is never handed out again
 * (as MLflow does), keeping caches keyed by version honest.
 */
export function nextIntegerVersion(highWater: number): string {
  return String(highWater + 1);
}

/** The integer value of a version like "7", or undefined for versions such as "1.2.0" or "v2". */
export function integerVersion(version: string): number | undefined {
  return /^(0|[1-9][0-9]{0,14})$/.test(version) ? Number(version) : undefined;
}

/** The refusal of an artifact over the size limit, wherever the limit is noticed (declared length, stream, decode). */
export function modelTooLarge(limitBytes: number): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_MODEL_TOO_LARGE', `model artifact is larger than the limit of ${limitBytes} bytes`, {
    details: { limitBytes },
  });
}
