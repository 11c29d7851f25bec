/**
 * A workflow package directory as the bench uses it: its manifest, read with the platform's own
 * schema, and the .tar.gz the workflows API takes (`POST /api/v1/workflows`), packed by the
 * platform's own packer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packWorkflowDirectory, parseManifest, type WorkflowManifest } from '../training/index.js';

export type { WorkflowManifest };

/** Reads and checks `<dir>/manifest.json`. */
export function readWorkflowManifest(dir: string): WorkflowManifest {
  const path = join(dir, 'manifest.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the workflow manifest ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return parseManifest(text);
}

/** `dir` as a .tar.gz: every regular file, paths relative to `dir`, reproducible byte for byte. */
export const packWorkflow = packWorkflowDirectory;
