/**
 * The load generator's HTTP/2 client against node:http2's server (nghttp2): Huffman-coded and
 * dynamically indexed headers decode to what the server sent, bodies larger than the default
 * flow-control windows go both ways, and trailers and Trailers-Only answers are told apart.
 */
import { createServer } from 'node:http2';
import type { Http2Server } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { H2Connection } from './h2-client.js';
import { encodeLiteralHeaders, huffmanDecode } from './hpack.js';

let server: Http2Server;
let port: number;

/** Every byte a header value may hold (RFC 9113 §8.2.1: no controls). */
const VALUE_BYTES = Array.from({ length: 256 }, (_, b) => b).filter((b) => b >= 0x20 && b !== 0x7f);
const ALL_BYTES = Buffer.from(VALUE_BYTES).toString('latin1');
/**
 * One header per byte, each behind 120 'a's (5-bit code): Huffman is then shorter than raw, so
 * nghttp2 codes every byte with Huffman; 224 such headers need CONTINUATION frames.
 */
const HUFFMAN_HEADERS = Object.fromEntries(VALUE_BYTES.map((b) => [`x-${b}`, `${'a'.repeat(120)}${String.fromCharCode(b)}`]));

beforeAll(async () => {
  server = createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      if (headers[':path'] === '/huffman') {
        stream.respond({ ':status': 200, ...HUFFMAN_HEADERS }, { endStream: true });
        return;
      }
      if (headers[':path'] === '/fail') {
        stream.respond({ ':status': 200, 'grpc-status': '5', 'grpc-message': 'not found' }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'x-all': ALL_BYTES, 'x-text': 'content-type application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      // Echo the body twice: an answer larger than the request.
      const body = Buffer.concat(chunks);
      stream.end(Buffer.concat([body, body]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  port = typeof address === 'object' && address !== null ? address.port : 0;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const block = (path: string): Buffer =>
  encodeLiteralHeaders([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', `127.0.0.1:${port}`],
  ]);

describe('HTTP/2 client', () => {
  it('decodes Huffman-coded and indexed headers, and trailers, on many concurrent streams', async () => {
    const c = await H2Connection.open('127.0.0.1', port);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => c.request(block('/echo'), Buffer.from(`call ${i}`), true)));
    answers.forEach((a, i) => {
      expect(a.headers).toContainEqual(['x-all', ALL_BYTES]);
      expect(a.headers).toContainEqual(['x-text', 'content-type application/grpc']);
      expect(a.trailers).toEqual([['grpc-status', '0']]);
      expect(Buffer.concat(a.data).toString()).toBe(`call ${i}call ${i}`);
    });
    await c.close();
  });

  it('decodes every byte from Huffman codes, in a block split over CONTINUATION frames', async () => {
    const c = await H2Connection.open('127.0.0.1', port);
    const a = await c.request(block('/huffman'), Buffer.alloc(0), true);
    expect(Object.fromEntries(a.headers.filter(([name]) => name.startsWith('x-')))).toEqual(HUFFMAN_HEADERS);
    await c.close();
  });

  it('sends and receives bodies larger than the default windows', async () => {
    const c = await H2Connection.open('127.0.0.1', port);
    const body = Buffer.alloc(700_000, 7);
    body.writeUInt32BE(123456789, 350_000);
    const answers = await Promise.all([c.request(block('/echo'), body, true), c.request(block('/echo'), body, true)]);
    for (const a of answers) expect(Buffer.compare(Buffer.concat(a.data), Buffer.concat([body, body]))).toBe(0);
    await c.close();
  });

  it('reads a Trailers-Only answer', async () => {
    const c = await H2Connection.open('127.0.0.1', port);
    const a = await c.request(block('/fail'), Buffer.from('x'), true);
    expect(a.headers).toContainEqual(['grpc-status', '5']);
    expect(a.data).toHaveLength(0);
    await c.close();
  });

  it('refuses Huffman strings with bad padding', () => {
    // '0' is 00000 (5 bits); padding must be ones.
    expect(Buffer.from(huffmanDecode(Uint8Array.of(0b00000111))).toString()).toBe('0');
    expect(() => huffmanDecode(Uint8Array.of(0b00000101))).toThrow(/padding/);
  });
});
