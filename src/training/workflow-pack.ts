/**
 * Packing a workflow directory into the .tar.gz the platform takes (what `continuum workflows push
 * DIR` uploads): regular files only, paths relative to the directory without a `./` prefix, hidden
 * files and node_modules left out, within the limits a package is unpacked under.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import { ContinuumError } from '../errors.js';
import { DEFAULT_ARCHIVE_LIMITS } from './archive.js';

/** The files of `dir` a package holds, relative, sorted (so the same folder packs to the same entries). */
function packageFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.push(relative(dir, path).split(sep).join('/'));
      if (files.length > DEFAULT_ARCHIVE_LIMITS.maxEntries) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `${dir} holds more than ${DEFAULT_ARCHIVE_LIMITS.maxEntries} files; a workflow package holds at most that many`);
    }
  };
  walk(dir);
  return files.sort();
}

/** Packs the workflow in `dir` (manifest.json at its root) into .tar.gz bytes. */
export async function packWorkflowDirectory(dir: string): Promise<Buffer> {
  const files = packageFiles(dir);
  if (!files.includes('manifest.json')) throw new ContinuumError('CONTINUUM_ERR_INVALID_WORKFLOW', `${dir} has no manifest.json at its root; see docs/workflows.md for the package format`);
  const tar = pack();
  const gzipped = buffer(Readable.from(tar).pipe(createGzip()));
  let total = 0;
  for (const name of files) {
    const path = join(dir, name);
    total += statSync(path).size;
    if (total > DEFAULT_ARCHIVE_LIMITS.maxTotalBytes) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `${dir} holds more than ${DEFAULT_ARCHIVE_LIMITS.maxTotalBytes} bytes; a workflow package holds at most that much`);
    tar.entry({ name, mode: 0o644, mtime: new Date(0) }, readFileSync(path));
  }
  tar.finalize();
  return gzipped;
}
