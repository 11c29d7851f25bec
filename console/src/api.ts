/**
 * Calls to the server: the management API (`/api/v1`) and OIP (`/v2`), with the management token
 * the API demands off loopback. A 401 asks the user for a token (kept in localStorage) and every
 * later call sends it as `Authorization: Bearer`.
 */
import type { DeploymentEvent } from './wire.js';

const TOKEN_KEY = 'continuum.token';

/** A non-2xx answer: the server's `{error, code}` and the status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** Whether the last call was refused for want of a valid token; the token dialog shows while it holds. */
let tokenWanted = false;
const listeners = new Set<() => void>();

function setTokenWanted(value: boolean): void {
  if (tokenWanted === value) return;
  tokenWanted = value;
  for (const l of listeners) l();
}

/** Subscribes to changes of {@link isTokenWanted} (for useSyncExternalStore). */
export function subscribeToken(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Whether the server asked for a token the console does not have. */
export function isTokenWanted(): boolean {
  return tokenWanted;
}

/** Stores the token the user gave; the next calls send it. */
export function saveToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token.trim());
  setTokenWanted(false);
}

function authHeaders(): Record<string, string> {
  const token = localStorage.getItem(TOKEN_KEY);
  return token === null || token === '' ? {} : { authorization: `Bearer ${token}` };
}

/** Body of a call: JSON, or raw bytes (a model upload). */
export type Body = { readonly json: unknown } | { readonly bytes: Blob };

/** Sends a request to the server's own origin; resolves with the parsed JSON answer (undefined when empty). */
export async function request<T>(method: string, path: string, body?: Body, extraHeaders: Readonly<Record<string, string>> = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders(), ...extraHeaders };
  let payload: BodyInit | undefined;
  if (body !== undefined && 'json' in body) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body.json);
  } else if (body !== undefined) {
    headers['content-type'] ??= 'application/octet-stream';
    payload = body.bytes;
  }
  const res = await fetch(path, { method, headers, body: payload });
  if (res.status === 401) setTokenWanted(true);
  const text = await res.text();
  const parsed: unknown = text === '' ? undefined : JSON.parse(text);
  if (!res.ok) {
    const err = (parsed ?? {}) as { error?: string; code?: string };
    throw new ApiError(res.status, err.error ?? `${method} ${path} answered ${res.status}`, err.code);
  }
  return parsed as T;
}

/** A management API call: `path` is below `/api/v1`. */
export function api<T>(method: string, path: string, body?: Body): Promise<T> {
  return request<T>(method, `/api/v1${path}`, body);
}

/**
 * Downloads a management API answer as a file: fetched with the token (a plain link could not
 * send it), then handed to the browser through an object URL.
 */
export async function download(path: string, fileName: string): Promise<void> {
  const res = await fetch(`/api/v1${path}`, { headers: authHeaders() });
  if (res.status === 401) setTokenWanted(true);
  if (!res.ok) {
    const err = (await res.json().catch(() => ({}))) as { error?: string; code?: string };
    throw new ApiError(res.status, err.error ?? `GET ${path} answered ${res.status}`, err.code);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.click();
  URL.revokeObjectURL(url);
}

/** Path segment encoding for names taken from the server or the user. */
export function seg(value: string | number): string {
  return encodeURIComponent(String(value));
}

/**
 * Follows `GET /api/v1/events/stream` (server-sent events) until `signal` aborts or the stream
 * ends. Read with fetch rather than EventSource, which cannot send the Authorization header.
 * Resolves to 'missing' when the server has no such endpoint (404), else 'ended'.
 */
export async function followEvents(lastId: number | undefined, onEvent: (e: DeploymentEvent) => void, signal: AbortSignal): Promise<'missing' | 'ended'> {
  const headers: Record<string, string> = { accept: 'text/event-stream', ...authHeaders() };
  if (lastId !== undefined) headers['last-event-id'] = String(lastId);
  const res = await fetch('/api/v1/events/stream', { headers, signal });
  if (res.status === 404) return 'missing';
  if (res.status === 401) setTokenWanted(true);
  if (!res.ok || res.body === null) throw new ApiError(res.status, `the event stream answered ${res.status}`, undefined);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return 'ended';
    buffered += value.replace(/\r\n?/g, '\n');
    // Per the HTML Living Standard's event stream format, a blank line ends an event; its data lines join with newlines.
    let end = buffered.indexOf('\n\n');
    while (end >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data !== '') onEvent(JSON.parse(data) as DeploymentEvent);
      end = buffered.indexOf('\n\n');
    }
  }
}
