/**
 * A model source for suites that test the runtime or the front ends, not the registry: ONNX
 * bytes built in code are written to a folder and resolved by name and version. The default
 * version is the newest added, as the registry's is when no `production` alias is set.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContinuumError } from '../../src/errors.js';
import type { Signature } from '../../src/oip/types.js';
import type { ModelRuntimeOptions, ModelSource, ResolvedModelVersion } from '../../src/runtime/index.js';

/** Model files in a folder, served as a {@link ModelSource}. */
export class TempDirModelSource implements ModelSource {
  private readonly models = new Map<string, Map<string, ResolvedModelVersion>>();

  constructor(private readonly dir: string) {}

  /** Writes a model version's file and makes it resolvable; returns this for chaining. */
  add(name: string, version: string, bytes: Uint8Array, signature: Signature, runtimeOptions: ModelRuntimeOptions = {}): this {
    const artifactPath = join(this.dir, `${name}-${version}.onnx`);
    writeFileSync(artifactPath, bytes);
    const versions = this.models.get(name) ?? new Map<string, ResolvedModelVersion>();
    versions.delete(version);
    versions.set(version, { name, version, artifactPath, sha256: `${name}-${version}`, signature, runtimeOptions });
    this.models.set(name, versions);
    return this;
  }

  resolve(name: string, version?: string): ResolvedModelVersion {
    const versions = this.models.get(name);
    if (versions === undefined) throw new ContinuumError('CONTINUUM_ERR_MODEL_NOT_FOUND', `model '${name}' not found`);
    const found = version === undefined ? [...versions.values()].at(-1) : versions.get(version);
    if (found === undefined) throw new ContinuumError('CONTINUUM_ERR_VERSION_NOT_FOUND', `model '${name}' has no version '${version}'`);
    return found;
  }

  listDefaults(): readonly { readonly name: string; readonly version: string }[] {
    return [...this.models.keys()].map((name) => ({ name, version: this.resolve(name).version }));
  }
}
