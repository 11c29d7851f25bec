/**
 * A worker thread of the load generator: one target (an in-process ONNX Runtime session) driven by
 * its share of the closed loop, cut into windows when the main thread asks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ClosedLoop } from './closed-loop.js';
import type { ThreadData, ThreadReply, ThreadRequest } from './loadgen.js';
import { createTarget } from './targets.js';

const port = parentPort;
if (port === null) throw new Error('bench/loadgen-thread.ts runs as a worker thread of bench/loadgen.ts');
const data = workerData as ThreadData;
const reply = (m: ThreadReply): void => port.postMessage(m);

try {
  const target = await createTarget(data.target, data.loops);
  reply({ type: 'ready', probe: data.probe ? await target.probe() : undefined });
  let loop: ClosedLoop | undefined;
  port.on('message', (m: ThreadRequest) => {
    if (m.type === 'start') {
      if (data.loops > 0) loop = new ClosedLoop(() => target.send(), data.loops);
    } else if (m.type === 'cut') {
      reply({ type: 'cut', cut: loop?.cut(m.atMs) ?? { latenciesUs: [], completed: 0, errors: 0, firstError: undefined } });
    } else {
      void (async () => {
        await loop?.stop();
        await target.close();
        reply({ type: 'stopped' });
      })();
    }
  });
} catch (err) {
  reply({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
}
