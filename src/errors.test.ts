import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ContinuumError, ERROR_KINDS, errorBody, toContinuumError } from './errors.js';
import type { ErrorCode } from './errors.js';

describe('error module', () => {
  it('gives each code its HTTP and gRPC status from the one table', () => {
    const err = new ContinuumError('CONTINUUM_ERR_QUEUE_FULL', 'queue of model m is full (1024 waiting); retry later', { retryAfterS: 1 });
    expect(err.httpStatus).toBe(429);
    expect(err.grpcStatus).toBe(8);
    expect(errorBody(err)).toEqual({ error: 'queue of model m is full (1024 waiting); retry later', code: 'CONTINUUM_ERR_QUEUE_FULL' });
  });

  it('wraps unknown throwables as internal errors and keeps the cause', () => {
    const cause = new TypeError('boom');
    const err = toContinuumError(cause);
    expect(err.code).toBe('CONTINUUM_ERR_INTERNAL');
    expect(err.httpStatus).toBe(500);
    expect(err.cause).toBe(cause);
  });

  it('catalogues every code with its statuses in docs/errors.md', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    for (const [code, kind] of Object.entries(ERROR_KINDS) as [ErrorCode, (typeof ERROR_KINDS)[ErrorCode]][]) {
      const row = doc.split('\n').find((line) => line.includes(`\`${code}\``));
      expect(row, `docs/errors.md lacks ${code}`).toBeDefined();
      expect(row).toContain(`| ${kind.httpStatus} |`);
    }
  });
});
