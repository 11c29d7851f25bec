/**
 * One replica process as the parent sees it: the child process, its channel (frames over the
 * socket pair on its fd 3) and its end. A process starts as a spare of the warm pool or for a
 * replica at once; {@link LocalReplica} takes it over once a model is to be loaded.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { FrameKind, FrameReader, FrameWriter, jsonHeader } from './frames.js';
import type { Frame } from './frames.js';
import { parseReplicaMessage } from './messages.js';

/**
 * The replica program, compiled. Resolved against the package root so that it is the same file
 * whether this module runs from dist/ or from src/ (tests, benchmarks): replicas always run the
 * build, never TypeScript through a loader.
 */
const REPLICA_ENTRY = fileURLToPath(new URL('../../../dist/targets/local/replica-main.js', import.meta.url));

/** How much of a replica's stderr is kept to explain its end. */
const STDERR_TAIL_CHARS = 4000;

/** How long a replica whose channel closed may take to exit by itself before it is killed. */
const EXIT_GRACE_MS = 1000;

/** Milliseconds since epoch on the clock both sides compare (performance.timeOrigin based). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** When the replica's program started and finished importing, ms since epoch. */
export interface ImportedTimes {
  readonly mainStartEpochMs: number;
  readonly importedEpochMs: number;
}

/** How the process ended. */
export interface ProcessEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last part of what it wrote on stderr. */
  readonly stderr: string;
}

/** What the owner of a process is told. */
export interface ProcessHandlers {
  /** Every frame but `imported` (which the process records itself). */
  readonly onFrame: (frame: Frame) => void;
  /** Called once, as soon as the channel closes or the process exits, whichever comes first. */
  readonly onGone: (reason: string) => void;
}

/** A spawned replica process and its channel. */
export class ReplicaProcess {
  readonly pid: number;
  /** Set once the program has imported the runtime. */
  imported: ImportedTimes | undefined;
  /** Resolves when the runtime is imported; never rejects (a process that dies first just never resolves it). */
  readonly whenImported: Promise<ImportedTimes>;
  /** Resolves when the process has exited. */
  readonly ended: Promise<ProcessEnd>;
  private readonly writer: FrameWriter;
  private handlers: ProcessHandlers | undefined;
  private goneReason: string | undefined;
  private stderrTail = '';
  private referenced = true;

  private constructor(
    private readonly child: ChildProcess,
    private readonly channel: Socket,
  ) {
    this.pid = child.pid as number;
    this.writer = new FrameWriter(channel, 'turn');
    let onImported: (times: ImportedTimes) => void = () => undefined;
    this.whenImported = new Promise((resolve) => (onImported = resolve));
    const reader = new FrameReader((frame) => {
      if (this.imported === undefined && frame.kind === FrameKind.Control) {
        // The first control frame of every replica is `imported`; it is the process's own business.
        const message = parseReplicaMessage(jsonHeader(frame));
        if (message.op === 'imported') {
          this.imported = { mainStartEpochMs: message.mainStartEpochMs, importedEpochMs: message.importedEpochMs };
          onImported(this.imported);
          return;
        }
      }
      this.handlers?.onFrame(frame);
    });
    channel.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        this.kill();
        this.gone(`it sent a malformed frame (${err instanceof Error ? err.message : String(err)})`);
      }
    });
    channel.on('close', () => this.gone('its channel closed'));
    // 'close' follows every socket error; the error itself says nothing the exit does not.
    channel.on('error', () => undefined);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_CHARS);
    });
    this.ended = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.gone(signal === null ? `it exited with code ${code}` : `it was killed by ${signal}`);
        // stderr may still hold the last words of a crash: let it flush before reporting.
        const report = (): void => resolve({ code, signal, stderr: this.stderrTail });
        if (child.stderr === null || child.stderr.readableEnded) report();
        else child.stderr.once('close', report);
      });
    });
    child.on('error', (err) => this.gone(`its process failed (${err.message})`));
    this.unref();
  }

  /**
   * Spawns the replica program. Its own process group (detached), so a Ctrl-C meant for the
   * server does not kill replicas before the server has drained them; they end with the channel.
   */
  static spawn(nodeArgs: readonly string[]): ReplicaProcess {
    const child = spawn(process.execPath, [...nodeArgs, REPLICA_ENTRY], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid === undefined) {
      child.kill('SIGKILL');
      throw new Error('could not spawn a replica process');
    }
    return new ReplicaProcess(child, child.stdio[3] as Socket);
  }

  /** Whether the channel closed or the process exited. */
  get isGone(): boolean {
    return this.goneReason !== undefined;
  }

  /** Hands the process to its owner; calls onGone at once when it is already gone. */
  attach(handlers: ProcessHandlers): void {
    this.handlers = handlers;
    if (this.goneReason !== undefined) handlers.onGone(this.goneReason);
  }

  /** Queues a frame to the replica. */
  send(kind: FrameKind, id: number, header: Uint8Array, payload?: readonly Uint8Array[]): void {
    this.writer.write(kind, id, header, payload);
  }

  /** Queues a control frame (JSON header) to the replica. */
  sendJson(kind: FrameKind, id: number, message: unknown): void {
    this.writer.writeJson(kind, id, message);
  }

  /** Keeps the parent's event loop alive while the replica owes it answers. */
  ref(): void {
    if (this.referenced) return;
    this.referenced = true;
    this.child.ref();
    this.channel.ref();
    (this.child.stderr as Socket | null)?.ref();
  }

  /** Lets the parent exit while the replica is idle (the replica then exits with the channel). */
  unref(): void {
    if (!this.referenced) return;
    this.referenced = false;
    this.child.unref();
    this.channel.unref();
    (this.child.stderr as Socket | null)?.unref();
  }

  /** SIGKILL; the end is reported through onGone and {@link ended}. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private gone(reason: string): void {
    if (this.goneReason !== undefined) return;
    this.goneReason = reason;
    // A replica whose channel is gone can never be reached again: it exits by itself (it watches
    // the channel); if it has not after a grace, it is killed so that it is never left running.
    const killTimer = setTimeout(() => this.kill(), EXIT_GRACE_MS);
    this.ref();
    void this.ended.then(() => {
      clearTimeout(killTimer);
      this.unref();
    });
    this.handlers?.onGone(reason);
  }
}
