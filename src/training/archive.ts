/**
 * Unpacking a workflow package (a .tar.gz or a .zip) into its work directory without trusting it:
 * every entry's path is checked before anything is written (no absolute path, no `..`, no drive
 * letter or backslash: the "zip slip" of Snyk's 2018 advisory), only regular files and
 * directories are accepted (a symlink or hard link could point outside), and the count of entries,
 * each file's size, the total and the ratio of unpacked to packed bytes are bounded as they stream,
 * so an archive bomb stops at the bound rather than at the disk's end.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { ContinuumError } from '../errors.js';

/** Bounds of an unpacked archive. */
export interface ArchiveLimits {
  /** Entries (files and directories) at most. @default 1000 */
  readonly maxEntries: number;
  /** One file's unpacked size at most. @default 64 MiB */
  readonly maxFileBytes: number;
  /** All files' unpacked size at most. @default 256 MiB */
  readonly maxTotalBytes: number;
  /** Unpacked over packed bytes at most (deflate reaches ~1000 on zeros; real packages stay far below). @default 200 */
  readonly maxRatio: number;
}

/** The bounds a workflow package is unpacked within. */
export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = { maxEntries: 1000, maxFileBytes: 64 * 1024 * 1024, maxTotalBytes: 256 * 1024 * 1024, maxRatio: 200 };

/** What was unpacked. */
export interface UnpackedArchive {
  /** Relative paths of the files written, in archive order. */
  readonly files: readonly string[];
  readonly totalBytes: number;
}

function refuse(message: string): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `workflow package refused: ${message}`);
}

/**
 * The safe relative path of an archive entry, or a refusal (pure). Directory entries keep their
 * trailing slash off; a leading `./` is the archive's root (`''` for the root itself). An empty
 * name, an absolute path, a drive letter, a backslash, a NUL, and `.` or `..` segments elsewhere
 * are refused.
 */
export function safeEntryPath(name: string): string {
  if (name === '' || name.includes('\0')) throw refuse(`an entry has an empty or NUL-bearing name`);
  if (name.includes('\\')) throw refuse(`entry '${name}' uses a backslash; archive paths use '/'`);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw refuse(`entry '${name}' is an absolute path`);
  // `tar -C DIR .` names every entry `./…` and the root `./`: a leading `./` means the archive's root.
  const relative = name.replace(/^(\.\/)+/, '');
  if (relative === '') return '';
  const segments = relative.replace(/\/+$/, '').split('/');
  if (segments.some((s) => s === '..' || s === '.' || s === '')) throw refuse(`entry '${name}' leaves or walks around its directory (., .. or //)`);
  return segments.join('/');
}

/** Counts what an archive unpacks to, refusing what goes past the limits (state shared by every entry). */
class Budget {
  private entries = 0;
  private total = 0;
  readonly files: string[] = [];

  constructor(
    private readonly limits: ArchiveLimits,
    private readonly packedBytes: number,
  ) {}

  get totalBytes(): number {
    return this.total;
  }

  /** One file's limit, against which a zip entry's declared size is checked before it is read. */
  get maxFileBytes(): number {
    return this.limits.maxFileBytes;
  }

  entry(): void {
    this.entries += 1;
    if (this.entries > this.limits.maxEntries) throw refuse(`more than ${this.limits.maxEntries} entries`);
  }

  /** A stream stage that counts a file's bytes against the limits as they pass. */
  meter(path: string): Transform {
    let fileBytes = 0;
    return new Transform({
      transform: (chunk: Buffer, _encoding, done: TransformCallback) => {
        fileBytes += chunk.length;
        this.total += chunk.length;
        if (fileBytes > this.limits.maxFileBytes) return done(refuse(`'${path}' unpacks to more than ${this.limits.maxFileBytes} bytes`));
        if (this.total > this.limits.maxTotalBytes) return done(refuse(`the files unpack to more than ${this.limits.maxTotalBytes} bytes`));
        if (this.total > this.limits.maxRatio * Math.max(this.packedBytes, 1024)) return done(refuse(`it unpacks to more than ${this.limits.maxRatio} times its own size (an archive bomb?)`));
        done(null, chunk);
      },
    });
  }
}

/** The absolute path of `relative` under `root`, checked once more after resolution. */
function inside(root: string, relative: string): string {
  const target = resolve(root, relative);
  if (!target.startsWith(root + sep)) throw refuse(`entry '${relative}' resolves outside the work directory`);
  return target;
}

async function writeFile(root: string, path: string, source: Readable, budget: Budget): Promise<void> {
  const target = inside(root, path);
  await mkdir(dirname(target), { recursive: true });
  // `wx`: an entry never overwrites a file (two entries of one name, or a directory made earlier).
  await pipeline(source, budget.meter(path), createWriteStream(target, { flags: 'wx', mode: 0o600 }));
  budget.files.push(path);
}

async function unpackTarGz(bytes: Buffer, root: string, budget: Budget): Promise<void> {
  const extractor = tarExtract();
  const done = pipeline(Readable.from([bytes]), createGunzip(), extractor);
  // A refusal leaves the loop early and the pipeline then ends prematurely: that rejection is expected.
  done.catch(() => undefined);
  for await (const entry of extractor) {
    budget.entry();
    const { name, type } = entry.header;
    const path = safeEntryPath(name);
    if (type === 'directory') {
      await mkdir(inside(root, path), { recursive: true });
      entry.resume();
      continue;
    }
    if (type !== 'file' && type !== 'contiguous-file') throw refuse(`entry '${name}' is a ${type ?? 'special file'}; only files and directories are unpacked`);
    // The entry is the tar stream's async iterable of chunks.
    await writeFile(root, path, Readable.from(entry as AsyncIterable<Buffer>), budget);
  }
  await done;
}

function openZip(bytes: Buffer): Promise<ZipFile> {
  return new Promise((ok, fail) => yauzl.fromBuffer(bytes, { lazyEntries: true, decodeStrings: true, validateEntrySizes: true, strictFileNames: true }, (err, zip) => (err === null ? ok(zip) : fail(refuse(`not a readable zip (${err.message})`)))));
}

/** Unix mode bits of a zip entry made on Unix (external attributes' high 16 bits); 0 when unknown. */
function unixMode(entry: Entry): number {
  return (entry.versionMadeBy >> 8 === 3 ? entry.externalFileAttributes >>> 16 : 0) & 0o170000;
}

async function unpackZip(bytes: Buffer, root: string, budget: Budget): Promise<void> {
  const zip = await openZip(bytes);
  try {
    for (;;) {
      const entry = await new Promise<Entry | undefined>((ok, fail) => {
        zip.once('entry', ok);
        zip.once('end', () => ok(undefined));
        // yauzl's own refusals (strictFileNames: `..`, absolute paths) say what was wrong; keep their words.
        zip.once('error', (err: Error) => fail(refuse(err.message)));
        zip.readEntry();
      });
      if (entry === undefined) return;
      budget.entry();
      const path = safeEntryPath(entry.fileName);
      const mode = unixMode(entry);
      if (entry.fileName.endsWith('/')) {
        await mkdir(inside(root, path), { recursive: true });
        continue;
      }
      if (mode !== 0 && mode !== 0o100000) throw refuse(`entry '${entry.fileName}' is a symlink or special file; only files and directories are unpacked`);
      if (entry.uncompressedSize > budget.maxFileBytes) throw refuse(`'${path}' declares more bytes than the limits allow`);
      const stream = await new Promise<Readable>((ok, fail) => zip.openReadStream(entry, (err, s) => (err === null ? ok(s) : fail(refuse(`entry '${path}' cannot be read (${err.message})`)))));
      await writeFile(root, path, stream, budget);
    }
  } finally {
    zip.close();
  }
}

/**
 * Unpacks a .tar.gz or .zip (told apart by their magic bytes) into `root`, which must exist and be
 * empty of what the archive holds. Rejects with CONTINUUM_ERR_BAD_REQUEST naming the first entry
 * or limit at fault; what was written before the refusal stays for the caller to remove with `root`.
 */
export async function unpackArchive(archivePath: string, root: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<UnpackedArchive> {
  const bytes = await readFile(archivePath);
  const budget = new Budget(limits, bytes.length);
  const dir = resolve(root);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) await unpackTarGz(bytes, dir, budget);
  else if (bytes[0] === 0x50 && bytes[1] === 0x4b) await unpackZip(bytes, dir, budget);
  else throw refuse('it is neither a .tar.gz nor a .zip');
  return { files: budget.files, totalBytes: budget.totalBytes };
}
