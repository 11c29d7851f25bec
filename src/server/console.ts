/**
 * Serving the web console (console/, built by Vite into dist/console) at `/`: index.html for every
 * client route (the History API routes of a single-page app), the hashed assets with a year-long
 * immutable cache (their names change with their content), gzip when the client accepts it. The
 * files are read once at start into a table, so a request can only ever get a file of that table:
 * no path from a client reaches the filesystem. The API prefixes keep their own 404.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ContinuumError } from '../errors.js';

/** Where `npm run build:console` puts the console: dist/console of the package, from src/ or dist/ alike. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

/** Options of {@link consolePlugin}. */
export interface ConsoleOptions {
  /** The built console (index.html and assets/). @default CONSOLE_DIR */
  readonly root?: string;
}

/** One file of the built console, ready to send. */
interface ConsoleFile {
  readonly body: Buffer;
  /** The gzip encoding, when it is smaller. */
  readonly gzipped: Buffer | undefined;
  readonly contentType: string;
  readonly etag: string;
  readonly cacheControl: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Kinds worth compressing (images and fonts already are). */
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.json', '.svg', '.txt']);

/** Vite names every built asset by its content hash, so a cached copy can never be stale (RFC 8246 `immutable`). */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** index.html names the current assets: revalidated on every load (its ETag makes that a 304). */
const REVALIDATE = 'no-cache';

/**
 * The console talks only to its own origin and runs no inline script; uPlot and React set styles
 * from script, hence 'unsafe-inline' for styles alone. `frame-ancestors` refuses framing (clickjacking).
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/** Paths the console never answers: the management API, OIP and metrics keep their own not-found. */
const SERVER_PREFIXES = ['/api/', '/v2/', '/metrics/'];

/** Reads every file below `root` into the table, keyed by its URL path; empty when the console is not built. */
function loadFiles(root: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true, recursive: true });
  } catch {
    return files;
  }
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const urlPath = `/${relative(root, path).split(sep).join('/')}`;
    const ext = extname(entry.name).toLowerCase();
    const body = readFileSync(path);
    const gzipped = COMPRESSIBLE.has(ext) ? gzipSync(body, { level: 9 }) : undefined;
    files.set(urlPath, {
      body,
      gzipped: gzipped !== undefined && gzipped.length < body.length ? gzipped : undefined,
      contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      cacheControl: urlPath.startsWith('/assets/') ? IMMUTABLE : REVALIDATE,
    });
  }
  return files;
}

/** A path that tries to leave the console's folder or smuggle a separator. */
function isTraversal(path: string): boolean {
  return path.includes('\\') || path.includes('\0') || path.split('/').some((s) => s === '..' || s === '.');
}

function send(request: FastifyRequest, reply: FastifyReply, file: ConsoleFile): FastifyReply {
  reply.header('cache-control', file.cacheControl).header('etag', file.etag).header('x-content-type-options', 'nosniff').header('vary', 'accept-encoding');
  if (file.contentType.startsWith('text/html')) reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  reply.type(file.contentType);
  const acceptsGzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
  if (file.gzipped !== undefined && acceptsGzip) return reply.header('content-encoding', 'gzip').send(file.gzipped);
  return reply.send(file.body);
}

/** Hands the request to the server's not-found handler (the same 404 as any unknown route). */
function notFound(reply: FastifyReply): FastifyReply {
  reply.callNotFound();
  return reply;
}

/** Serves the built console at `/`; register without a prefix, after the API and OIP routes. */
export const consolePlugin: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const files = loadFiles(options.root ?? CONSOLE_DIR);
  const index = files.get('/index.html');

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const path = request.url.split('?')[0] ?? '/';
    if (SERVER_PREFIXES.some((p) => `${path}/`.startsWith(p))) return notFound(reply);
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `the path ${path.slice(0, 200)} is not valid percent-encoding`);
    }
    if (isTraversal(decoded)) return notFound(reply);
    const file = files.get(decoded);
    if (file !== undefined) return send(request, reply, file);
    if (index === undefined) throw new ContinuumError('CONTINUUM_ERR_ROUTE_NOT_FOUND', 'the web console is not built: run `npm run build:console` (or start the server with --no-console)');
    // A path naming a file (it has an extension) that is not there is a 404; any other path is a
    // client route of the single-page app and gets index.html.
    if (extname(decoded) !== '') return notFound(reply);
    return send(request, reply, index);
  };
  app.get('/', handler);
  app.get('/*', handler);
};
