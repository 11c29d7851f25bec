/**
 * Management API tokens. A token is shown once, when it is created; only its SHA-256 digest is
 * stored (as GitHub and Kubernetes bootstrap tokens do), so a stolen data directory does not
 * reveal a usable credential. Verification compares digests in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ContinuumError } from '../errors.js';

/** Prefix that makes Continuum tokens recognisable to secret scanners and to people. */
export const TOKEN_PREFIX = 'ctm_';

/** A stored token: its digest and when it was made; never the token itself. */
export interface StoredToken {
  readonly id: string;
  readonly sha256: string;
  readonly createdAt: string;
}

/** The file holding token digests, inside the data directory (mode 0600). */
export function tokenFilePath(dataDir: string): string {
  return join(dataDir, 'auth', 'tokens.json');
}

function digest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Digests of the management tokens, and the check every protected request runs. */
export class TokenStore {
  private constructor(
    private readonly path: string,
    private tokens: StoredToken[],
  ) {}

  /** Opens the store of a data directory (empty when the file does not exist yet). */
  static open(dataDir: string): TokenStore {
    const path = tokenFilePath(dataDir);
    let tokens: StoredToken[] = [];
    try {
      tokens = JSON.parse(readFileSync(path, 'utf8')) as StoredToken[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new ContinuumError('CONTINUUM_ERR_INTERNAL', `cannot read the token file ${path}: ${(err as Error).message}`, { cause: err });
      }
    }
    return new TokenStore(path, tokens);
  }

  /** How many tokens exist. */
  get size(): number {
    return this.tokens.length;
  }

  /** Creates a token, stores its digest and returns the token (the only time it is visible). */
  create(): string {
    const id = randomBytes(4).toString('hex');
    const token = `${TOKEN_PREFIX}${id}_${randomBytes(24).toString('base64url')}`;
    this.tokens = [...this.tokens, { id, sha256: digest(token), createdAt: new Date().toISOString() }];
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.tokens, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
    return token;
  }

  /** True when `token` is one of the stored tokens (constant-time digest comparison). */
  verify(token: string): boolean {
    const given = Buffer.from(digest(token), 'hex');
    let match = false;
    for (const t of this.tokens) {
      // Compare against every token so timing does not reveal which one matched.
      if (timingSafeEqual(given, Buffer.from(t.sha256, 'hex'))) match = true;
    }
    return match;
  }
}

/**
 * Reads a bearer token from an `Authorization` header value (RFC 6750 section 2.1), or undefined.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/** True when a host name or address only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
