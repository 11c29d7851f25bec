/**
 * A workflow package directory as the archive the workflows API takes (`POST /api/v1/workflows`,
 * `Content-Type: application/gzip`): its regular files, `manifest.json` at the root, as a
 * .tar.gz; and the parts of its manifest a virtual asset needs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { z } from 'zod';
import type { SampleWindow } from './catalog.js';

/** The manifest fields the bench reads (docs/workflows.md has the whole contract). */
const manifestSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  version: z.string().max(63),
  inputs: z.array(z.string().min(1).max(256)).min(1).max(4096),
  label: z.string().min(1).max(256),
  classes: z.array(z.string().min(1).max(256)).min(2).max(1024),
  window: z.object({ size: z.int().min(1).max(100_000), hop: z.int().min(1).max(100_000) }).optional(),
});

/** A workflow manifest, the fields the bench uses. */
export interface WorkflowManifest {
  readonly name: string;
  readonly version: string;
  readonly inputs: readonly string[];
  readonly label: string;
  readonly classes: readonly string[];
  readonly window?: SampleWindow;
}

/** Reads and checks `<dir>/manifest.json`. */
export function readWorkflowManifest(dir: string): WorkflowManifest {
  const path = join(dir, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the workflow manifest ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${path} is not a workflow manifest: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The regular files under `dir`, as archive paths with `/` separators, sorted (so the archive is reproducible). */
function packageFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/** `dir` as a .tar.gz: every regular file, paths relative to `dir` (links and devices left out). */
export async function packWorkflow(dir: string): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    tar.on('end', () => resolve());
    tar.on('error', reject);
  });
  for (const name of packageFiles(dir)) {
    const body = readFileSync(join(dir, name));
    // A fixed mtime: the same files make the same archive, and so the same digest.
    tar.entry({ name, size: body.length, mode: 0o644, mtime: new Date(0) }, body);
  }
  tar.finalize();
  await ended;
  return gzipSync(Buffer.concat(chunks));
}
