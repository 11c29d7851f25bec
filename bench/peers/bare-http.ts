/**
 * The I/O ceiling: a bare node:http server that reads each request body and answers a constant tiny
 * JSON. No parsing, no model — what one Node.js process on this machine can answer at most.
 *
 *   node --import tsx bench/peers/bare-http.ts --port 8092
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string' } } });
if (values.port === undefined) throw new Error('usage: bare-http.ts --port PORT');

const answer = Buffer.from('{"ok":true}');
const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
    res.end(answer);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1', () => process.stdout.write(`bare http listening on ${values.port}\n`));
