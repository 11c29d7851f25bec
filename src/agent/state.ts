/**
 * What an agent keeps on disk (its state directory), so that it serves after a restart with the
 * control plane unreachable (the edge autonomy of KubeEdge's edge core, and of Azure IoT Edge,
 * which runs its last deployment offline once it has synced once):
 *
 * ```
 * identity.json          the control plane's URL, the node's name and credential (mode 0600)
 * desired.json           the last desired state pulled, written before it is acted on
 * artifacts/sha256/<hex> model artifacts, verified against their digest before they are kept
 * spool.db               telemetry waiting for upload (src/agent/spool.ts)
 * ```
 *
 * Files are replaced atomically (write a temporary file, fsync, rename, fsync the folder), so a
 * crash leaves the old or the new content, never half of one.
 */
import { createHash } from 'node:crypto';
import { closeSync, createWriteStream, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import { desiredStateSchema } from './protocol.js';
import type { DesiredState } from './protocol.js';

/** Who the agent is to its control plane. */
export const identitySchema = z.strictObject({
  server: z.url().max(512),
  /** The control plane's pinned certificate fingerprint (https); absent for plain HTTP. */
  fingerprint: z.string().max(128).optional(),
  node: z.string().min(1).max(63),
  credential: z.string().min(1).max(256),
});
/** The agent's identity. */
export type AgentIdentity = z.infer<typeof identitySchema>;

/** Writes `text` to `path` atomically (see the module comment). */
export function writeFileAtomic(path: string, text: string, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  fsyncSync(dir);
  closeSync(dir);
}

/** Reads and validates a JSON file; undefined when it does not exist. */
function readJson<T>(path: string, schema: z.ZodType<T>, what: string): T | undefined {
  if (!existsSync(path)) return undefined;
  const parsed = schema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new ContinuumError('CONTINUUM_ERR_INTERNAL', `${path} is not a valid ${what}: ${parsed.error.message}; remove it to start over`);
  return parsed.data;
}

/** The agent's state directory; see the module comment. */
export class AgentStateDir {
  constructor(readonly root: string) {
    mkdirSync(join(root, 'artifacts', 'sha256'), { recursive: true, mode: 0o700 });
  }

  /** The stored identity, if the node has joined. */
  identity(): AgentIdentity | undefined {
    return readJson(join(this.root, 'identity.json'), identitySchema, 'agent identity');
  }

  /** Stores the identity (a join, a rotated credential). */
  saveIdentity(identity: AgentIdentity): void {
    writeFileAtomic(join(this.root, 'identity.json'), JSON.stringify(identity, null, 2));
  }

  /** The last desired state pulled, if any. */
  desired(): DesiredState | undefined {
    return readJson(join(this.root, 'desired.json'), desiredStateSchema, 'desired state');
  }

  /** Stores a desired state before the agent acts on it. */
  saveDesired(state: DesiredState): void {
    writeFileAtomic(join(this.root, 'desired.json'), JSON.stringify(state));
  }

  /** Forgets the identity and the desired state (the node was revoked); cached artifacts stay. */
  forget(): void {
    rmSync(join(this.root, 'identity.json'), { force: true });
    rmSync(join(this.root, 'desired.json'), { force: true });
  }

  /** The path of the spool database. */
  get spoolPath(): string {
    return join(this.root, 'spool.db');
  }

  /** Where the artifact with digest `sha256` is cached. */
  artifactPath(sha256: string): string {
    return join(this.root, 'artifacts', 'sha256', sha256);
  }

  /** Whether the artifact is cached (it was verified when stored). */
  hasArtifact(sha256: string): boolean {
    return existsSync(this.artifactPath(sha256));
  }

  /**
   * Streams an artifact into the cache, hashing it on the way; keeps it only when it hashes to
   * `sha256` (CONTINUUM_ERR_ARTIFACT_CORRUPT otherwise). Returns its size in bytes.
   */
  async storeArtifact(sha256: string, body: Readable): Promise<number> {
    const tmp = `${this.artifactPath(sha256)}.${process.pid}.partial`;
    const hash = createHash('sha256');
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    try {
      await pipeline(body, createWriteStream(tmp, { mode: 0o600 }));
      const got = hash.digest('hex');
      if (got !== sha256) throw new ContinuumError('CONTINUUM_ERR_ARTIFACT_CORRUPT', `the artifact fetched as sha256:${sha256} hashes to sha256:${got}; it was discarded and will be fetched again`, { details: { sha256 } });
      const fd = openSync(tmp, 'r');
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, this.artifactPath(sha256));
      return bytes;
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  /** Removes cached artifacts `keep` does not name; returns how many went. */
  pruneArtifacts(keep: ReadonlySet<string>): number {
    const dir = join(this.root, 'artifacts', 'sha256');
    let removed = 0;
    for (const name of readdirSync(dir)) {
      if (keep.has(name)) continue;
      rmSync(join(dir, name), { force: true });
      removed += 1;
    }
    return removed;
  }
}
