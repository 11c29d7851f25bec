/**
 * The CLI's HTTP client for the management API (`/api/v1`), over undici. Errors the server
 * sends as `{"error", "code"}` come back as the same {@link ContinuumError}, so the CLI reports
 * what the server said; a server that is not there is CONTINUUM_ERR_SERVER_UNREACHABLE.
 */
import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { ContinuumError, ERROR_KINDS } from '../errors.js';
import type { ErrorCode } from '../errors.js';

/** Where the CLI looks for a server when `--server` is not given. */
export const DEFAULT_SERVER_URL = 'http://127.0.0.1:8080';

/** Environment variable holding the management token when `--token` is not given. */
export const TOKEN_ENV = 'CONTINUUM_TOKEN';

/** Options of {@link ApiClient}. */
export interface ApiClientOptions {
  /** Base URL of the server. @default DEFAULT_SERVER_URL */
  readonly server?: string;
  /** Bearer token. @default process.env.CONTINUUM_TOKEN */
  readonly token?: string;
}

/** Socket-level failures that mean no server answered at that address. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** A client of one server's management API. */
export class ApiClient {
  /** Base URL without a trailing slash. */
  readonly server: string;
  private readonly token: string | undefined;

  constructor(options: ApiClientOptions = {}) {
    this.server = (options.server ?? DEFAULT_SERVER_URL).replace(/\/+$/, '');
    const token = options.token ?? process.env[TOKEN_ENV];
    this.token = token === '' ? undefined : token;
  }

  /** GET a JSON resource under `/api/v1`. */
  getJson<T>(path: string): Promise<T> {
    return this.send<T>('GET', path);
  }

  /** Sends a JSON body (or none) and returns the JSON answer, undefined for 204. */
  sendJson<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return this.send<T>(method, path, body === undefined ? undefined : { contentType: 'application/json', body: JSON.stringify(body) });
  }

  /**
   * Uploads a local file as an `application/octet-stream` body, streamed from disk with its
   * length declared so the server can refuse an oversized file before it is sent.
   */
  async uploadFile<T>(path: string, filePath: string): Promise<T> {
    const file = await stat(filePath).catch((err: unknown) => {
      throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `cannot read ${filePath}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    if (!file.isFile()) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `${filePath} is not a file`);
    const size = file.size;
    return this.send<T>('POST', path, { contentType: 'application/octet-stream', body: createReadStream(filePath), length: size });
  }

  private async send<T>(
    method: Dispatcher.HttpMethod,
    path: string,
    payload?: { readonly contentType: string; readonly body: string | Readable; readonly length?: number },
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`;
    if (payload !== undefined) headers['content-type'] = payload.contentType;
    if (payload?.length !== undefined) headers['content-length'] = String(payload.length);
    let response: Dispatcher.ResponseData;
    try {
      response = await request(`${this.server}/api/v1${path}`, {
        method,
        headers,
        ...(payload === undefined ? {} : { body: payload.body }),
      });
    } catch (err) {
      throw this.connectionError(err);
    }
    const text = await response.body.text();
    if (response.statusCode >= 400) throw responseError(response.statusCode, text);
    // The server is Continuum's own: its JSON answers have the documented shapes.
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  private connectionError(err: unknown): ContinuumError {
    const code = socketErrorCode(err);
    if (code !== undefined && UNREACHABLE_CODES.has(code)) {
      return new ContinuumError('CONTINUUM_ERR_SERVER_UNREACHABLE', `cannot reach ${this.server} (${code}): is \`continuum serve\` running at ${this.server}?`, {
        cause: err,
        details: { server: this.server },
      });
    }
    const message = err instanceof Error ? err.message : String(err);
    return new ContinuumError('CONTINUUM_ERR_SERVER_UNREACHABLE', `request to ${this.server} failed: ${message}`, { cause: err, details: { server: this.server } });
  }
}

/** The system error code of a failed connection; undici nests it in `cause` (or an AggregateError). */
function socketErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    if (e instanceof AggregateError) {
      const inner = e.errors.map(socketErrorCode).find((c) => c !== undefined);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_KINDS, code);
}

/** Turns an error answer into the ContinuumError the server threw (same code and message). */
function responseError(status: number, text: string): ContinuumError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (typeof body === 'object' && body !== null) {
    const { error, code } = body as { error?: unknown; code?: unknown };
    if (typeof error === 'string') {
      return new ContinuumError(isErrorCode(code) ? code : 'CONTINUUM_ERR_INTERNAL', error, { details: { httpStatus: status } });
    }
  }
  return new ContinuumError('CONTINUUM_ERR_INTERNAL', `server answered HTTP ${status}: ${text.slice(0, 200)}`, { details: { httpStatus: status } });
}

/** Options every command that talks to a server takes. */
export interface CommonOptions {
  readonly server: string;
  readonly token?: string;
  readonly json?: boolean;
}

/** Adds `--server`, `--token` and `--json` to a command. */
export function withCommonOptions(command: Command): Command {
  return command
    .option('--server <url>', 'URL of the Continuum server', DEFAULT_SERVER_URL)
    .option('--token <token>', `management token (default: $${TOKEN_ENV})`)
    .option('--json', 'print the API response as JSON');
}

/** The API client for a command's options. */
export function clientOf(options: CommonOptions): ApiClient {
  return new ApiClient({ server: options.server, ...(options.token === undefined ? {} : { token: options.token }) });
}
