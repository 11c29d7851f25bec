/**
 * Validation at the management API's edge: untrusted JSON, params and queries become typed
 * values or a CONTINUUM_ERR_BAD_REQUEST that names the field.
 */
import type { z } from 'zod';
import { ContinuumError } from '../errors.js';

/** Validates untrusted input against a zod schema; a mismatch is CONTINUUM_ERR_BAD_REQUEST naming the field. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue === undefined || issue.path.length === 0 ? '' : ` at '${issue.path.join('.')}'`;
  throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `invalid ${what}${path}: ${issue?.message ?? 'malformed'}`);
}

