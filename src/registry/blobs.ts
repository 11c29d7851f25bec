/**
 * The content-addressed artifact store: every artifact is a file named by the sha256 of its bytes,
 * `<root>/blobs/sha256/<2 hex>/<64 hex>` (the layout OCI image layouts and Git use), so the same
 * bytes pushed twice are stored once and a file's name proves its content.
 *
 * An upload streams into `<root>/tmp/`, hashed while written, cut off at the size limit, fsynced,
 * and only then renamed into place: a crash leaves at most a temp file, never a torn blob.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { modelTooLarge } from './names.js';

/** An upload written to a temp file and hashed, not yet placed in the store. */
export interface StagedBlob {
  readonly sha256: string;
  readonly sizeBytes: number;
  /** The temp file holding the bytes. */
  readonly tempPath: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The blob folder of one data directory. */
export class BlobStore {
  private readonly blobRoot: string;
  private readonly tempRoot: string;
  /** Temp files of uploads in flight; {@link sweep} leaves them alone. */
  private readonly activeTemps = new Set<string>();

  constructor(dataDir: string) {
    this.blobRoot = join(dataDir, 'blobs', 'sha256');
    this.tempRoot = join(dataDir, 'tmp');
    mkdirSync(this.blobRoot, { recursive: true });
    mkdirSync(this.tempRoot, { recursive: true });
  }

  /** Absolute path of the blob with this digest. */
  pathOf(sha256: string): string {
    return join(this.blobRoot, sha256.slice(0, 2), sha256);
  }

  /**
   * Streams `source` into a temp file, hashing it, and refuses it with
   * CONTINUUM_ERR_MODEL_TOO_LARGE as soon as it passes `maxBytes`. A Readable is read up to
   * the limit and then left alone: the caller owns it (an HTTP request may still need draining).
   */
  async stage(source: Readable | Uint8Array, maxBytes: number): Promise<StagedBlob> {
    const tempPath = join(this.tempRoot, `upload-${randomBytes(12).toString('hex')}`);
    this.activeTemps.add(tempPath);
    const hash = createHash('sha256');
    let sizeBytes = 0;
    const file = await open(tempPath, 'wx', 0o600);
    try {
      const chunks: AsyncIterable<unknown> | Iterable<unknown> =
        source instanceof Uint8Array ? [source] : source.iterator({ destroyOnReturn: false });
      for await (const chunk of chunks) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
        sizeBytes += bytes.byteLength;
        if (sizeBytes > maxBytes) {
          throw modelTooLarge(maxBytes);
        }
        hash.update(bytes);
        await file.write(bytes);
      }
      await file.sync();
      await file.close();
    } catch (err) {
      await file.close().catch(() => undefined);
      this.discard(tempPath);
      throw err;
    }
    return { sha256: hash.digest('hex'), sizeBytes, tempPath };
  }

  /** Reads a staged upload back (bounded by the limit it was staged with). */
  readStaged(staged: StagedBlob): Promise<Buffer> {
    return readFile(staged.tempPath);
  }

  /**
   * Moves a staged upload into place. Synchronous on purpose: the registry places the blob and
   * records its version in one turn of the event loop, so {@link sweep} never sees one without the other.
   */
  place(staged: StagedBlob): string {
    const target = this.pathOf(staged.sha256);
    const dir = join(this.blobRoot, staged.sha256.slice(0, 2));
    mkdirSync(dir, { recursive: true });
    // Same digest, same bytes: an existing blob is kept and the upload dropped.
    if (exists(target)) this.discard(staged.tempPath);
    else {
      renameSync(staged.tempPath, target);
      this.activeTemps.delete(staged.tempPath);
      fsyncDir(dir);
    }
    return target;
  }

  /** Deletes a staged upload that will not be placed. */
  discard(tempPath: string): void {
    rmSync(tempPath, { force: true });
    this.activeTemps.delete(tempPath);
  }

  /** Deletes one blob. */
  remove(sha256: string): void {
    rmSync(this.pathOf(sha256), { force: true });
  }

  /**
   * Deletes every blob `isReferenced` says no version uses, and temp files of uploads that are not
   * in flight (left by a crash). Synchronous, so no push interleaves. Returns what it removed.
   */
  sweep(isReferenced: (sha256: string) => boolean): { readonly blobs: number; readonly tempFiles: number } {
    let blobs = 0;
    let tempFiles = 0;
    for (const prefix of readdirSync(this.blobRoot)) {
      const dir = join(this.blobRoot, prefix);
      for (const name of readdirSync(dir)) {
        if (SHA256_HEX.test(name) && isReferenced(name)) continue;
        unlinkSync(join(dir, name));
        blobs += 1;
      }
    }
    for (const name of readdirSync(this.tempRoot)) {
      const path = join(this.tempRoot, name);
      if (this.activeTemps.has(path)) continue;
      rmSync(path, { force: true, recursive: true });
      tempFiles += 1;
    }
    return { blobs, tempFiles };
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Makes a rename durable: the directory entry is fsynced too (POSIX rename semantics). */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
