/**
 * The program of a replica process (`node dist/targets/local/replica-main.js`), started by
 * {@link LocalTarget}. It talks to its parent over the socket pair it inherits as file descriptor
 * 3, imports the runtime and ONNX Runtime, initializes ONNX Runtime's environment, reports
 * `imported`, and then waits for the model to load. A spare process of the warm pool stops there until a replica is asked of it.
 *
 * The process lives exactly as long as the channel: when the parent exits (however it dies, the
 * kernel closes its end of the pair) the replica exits too, so no replica outlives its server.
 */
import { Socket } from 'node:net';
import { FrameKind, FrameReader, FrameWriter } from './frames.js';
import type { Frame } from './frames.js';
import type { ReplicaMessage } from './messages.js';

const epochMs = (): number => performance.timeOrigin + performance.now();
const mainStartEpochMs = epochMs();

/** File descriptor of the channel: the parent spawns with stdio [ignore, ignore, pipe, pipe]. */
const CHANNEL_FD = 3;

const fail = (what: string, err: unknown): never => {
  process.stderr.write(`replica ${process.pid}: ${what}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
};

const socket = new Socket({ fd: CHANNEL_FD, readable: true, writable: true });
const writer = new FrameWriter(socket, 'callback');
let handler: ((frame: Frame) => void) | undefined;
/** Frames that arrive while the runtime is being imported (the load request of a cold start). */
const early: Frame[] = [];
const reader = new FrameReader((frame) => {
  if (handler === undefined) early.push(frame);
  else handler(frame);
});
socket.on('data', (chunk: Buffer) => {
  try {
    reader.push(chunk);
  } catch (err) {
    fail('bad frame from the parent', err);
  }
});
// The parent is gone (or closed the channel): nothing can reach this replica any more.
socket.on('end', () => process.exit(0));
socket.on('close', () => process.exit(0));
socket.on('error', () => process.exit(1));

try {
  const { createReplicaHandler, prepareRuntime } = await import('./replica-server.js');
  await prepareRuntime();
  const imported: ReplicaMessage = { op: 'imported', mainStartEpochMs, importedEpochMs: epochMs() };
  writer.writeJson(FrameKind.Control, 0, imported);
  handler = createReplicaHandler(writer);
  for (const frame of early.splice(0)) handler(frame);
} catch (err) {
  fail('starting failed', err);
}
