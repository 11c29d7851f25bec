/**
 * What a replica pod runs (the image's `continuum k8s fetch-model` and `continuum k8s replica`):
 * the init container fetches the revision's artifact from the control plane and refuses it unless
 * its sha256 is the one the revision names; the runtime container checks the digest of the file
 * once more, loads it and serves OIP REST with the health endpoints the probes call.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Fastify from 'fastify';
import { request } from 'undici';
import { ContinuumError } from '../../errors.js';
import { compileRequestLimits, httpErrorHandler, oipRestPlugin } from '../../gateway/index.js';
import { DEFAULT_MAX_ARTIFACT_BYTES, inspectOnnx } from '../../registry/index.js';
import { compileRuntimeOptions, Runtime } from '../../runtime/index.js';
import type { ModelRuntimeOptions, ResolvedModelVersion } from '../../runtime/index.js';

/** What `fetch-model` fetches and where it puts it. */
export interface FetchModelOptions {
  readonly url: string;
  readonly sha256: string;
  readonly out: string;
  /** A management token, when the control plane asks for one. */
  readonly token?: string;
  /** Longest the whole download may take. @default 600000 */
  readonly timeoutMs?: number;
}

/** Longest an artifact may be (the registry's own limit). */
const MAX_ARTIFACT_BYTES = DEFAULT_MAX_ARTIFACT_BYTES;

function mismatch(what: string, expected: string, actual: string): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_DIGEST_MISMATCH', `${what} has sha256 ${actual}, not ${expected} as its revision names; the replica does not start (re-push the model or check what serves it)`, {
    details: { expected, actual },
  });
}

/**
 * Downloads the artifact to `out` (through a temporary file, renamed once its digest is right).
 * Throws CONTINUUM_ERR_DIGEST_MISMATCH on a wrong digest, CONTINUUM_ERR_MODEL_TOO_LARGE past the
 * registry's size limit, CONTINUUM_ERR_SERVER_UNREACHABLE when the control plane does not answer 200.
 */
export async function fetchModel(o: FetchModelOptions): Promise<{ readonly bytes: number }> {
  const response = await request(o.url, {
    headers: o.token === undefined ? {} : { authorization: `Bearer ${o.token}` },
    bodyTimeout: o.timeoutMs ?? 600_000,
    headersTimeout: o.timeoutMs ?? 600_000,
  }).catch((err: unknown) => {
    throw new ContinuumError('CONTINUUM_ERR_SERVER_UNREACHABLE', `cannot reach the control plane at ${o.url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  });
  if (response.statusCode !== 200) {
    const text = (await response.body.text()).slice(0, 300);
    throw new ContinuumError('CONTINUUM_ERR_SERVER_UNREACHABLE', `the control plane answered ${response.statusCode} for ${o.url}: ${text}`);
  }
  const hash = createHash('sha256');
  let bytes = 0;
  const partial = `${o.out}.partial`;
  const counter = new Writable({
    write(chunk: Buffer, _encoding, done) {
      bytes += chunk.byteLength;
      if (bytes > MAX_ARTIFACT_BYTES) {
        done(new ContinuumError('CONTINUUM_ERR_MODEL_TOO_LARGE', `the artifact at ${o.url} exceeds ${MAX_ARTIFACT_BYTES} bytes`));
        return;
      }
      hash.update(chunk);
      file.write(chunk, done);
    },
    final(done) {
      file.end(done);
    },
  });
  const file = createWriteStream(partial, { mode: 0o644 });
  try {
    await pipeline(response.body, counter);
    const actual = hash.digest('hex');
    if (actual !== o.sha256) throw mismatch(`the artifact at ${o.url}`, o.sha256, actual);
    await rename(partial, o.out);
  } catch (err) {
    file.destroy();
    await rm(partial, { force: true });
    throw err;
  }
  return { bytes };
}

/** The sha256 of a file, streamed. */
async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** What `replica` serves. */
export interface PodReplicaOptions {
  readonly modelFile: string;
  readonly model: string;
  readonly version: string;
  readonly sha256: string;
  readonly host: string;
  readonly port: number;
  /** The revision's runtime options. */
  readonly runtime: ModelRuntimeOptions;
}

/** A serving pod replica. */
export interface PodReplica {
  readonly url: string;
  /** Drains (readiness turns 503, accepted requests finish), then closes. */
  close(): Promise<void>;
}

/**
 * Checks the model file's digest, loads it into the runtime and serves OIP REST on `host:port`.
 * Readiness (/v2/health/ready) turns 200 only once the model is loaded and warmed up.
 */
export async function startPodReplica(o: PodReplicaOptions): Promise<PodReplica> {
  const actual = await fileSha256(o.modelFile);
  if (actual !== o.sha256) throw mismatch(o.modelFile, o.sha256, actual);
  const bytes = await readFile(o.modelFile);
  const { signature } = inspectOnnx(bytes, { maxModelBytes: MAX_ARTIFACT_BYTES, maxTensorBytes: MAX_ARTIFACT_BYTES });
  const resolved: ResolvedModelVersion = { name: o.model, version: o.version, artifactPath: o.modelFile, sha256: o.sha256, signature, runtimeOptions: compileRuntimeOptions(o.runtime) };
  const runtime = new Runtime({
    source: {
      resolve(name, version) {
        if (name !== resolved.name || (version !== undefined && version !== resolved.version)) {
          throw new ContinuumError('CONTINUUM_ERR_MODEL_NOT_FOUND', `this replica serves ${resolved.name} version ${resolved.version}, not ${name}${version === undefined ? '' : ` version ${version}`}`);
        }
        return resolved;
      },
      listDefaults: () => [{ name: resolved.name, version: resolved.version }],
    },
  });
  const app = Fastify({ logger: false, forceCloseConnections: 'idle' });
  app.setErrorHandler(httpErrorHandler);
  await app.register(oipRestPlugin, { service: runtime, limits: compileRequestLimits() });
  // Listen first, so the startup probe sees 503 (loading) rather than a refused connection.
  const url = await app.listen({ host: o.host, port: o.port });
  try {
    await runtime.loadModel(o.model, o.version);
  } catch (err) {
    await app.close();
    throw err;
  }
  return {
    url,
    async close() {
      await runtime.drain();
      await app.close();
      await runtime.close();
    },
  };
}
