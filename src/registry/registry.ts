/**
 * The model registry: models, their versions (content-addressed ONNX artifacts with the signature
 * read at push), labels, aliases and per-model runtime options, kept in SQLite (WAL) and a blob
 * folder under one data directory. It is the runtime's {@link ModelSource}.
 */
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ContinuumError } from '../errors.js';
import type { Signature } from '../oip/types.js';
import type { ModelRuntimeOptions, ModelSource, ResolvedModelVersion } from '../runtime/service.js';
import { BlobStore } from './blobs.js';
import type { StagedBlob } from './blobs.js';
import { inspectOnnx } from './inspect.js';
import type { OnnxInspection } from './inspect.js';
import { checkLabels, checkName, integerVersion, nextIntegerVersion } from './names.js';
import type { Labels } from './names.js';
import { MIGRATIONS, REGISTRY_MIGRATIONS_TABLE } from './schema.js';
import { openDatabase } from '../store/index.js';
import type { SqliteDatabase } from '../store/index.js';

/** The alias a client gets when it names no version. */
export const PRODUCTION_ALIAS = 'production';

/** The version label naming the version an optimized version was made from (its lineage); a release compares against that version. */
export const OPTIMIZED_FROM_LABEL = 'optimized-from';

/** Largest artifact by default: protobuf messages cannot exceed 2 GiB, so neither can an ONNX file. */
export const DEFAULT_MAX_ARTIFACT_BYTES = 2 ** 31 - 1;

/** One version of a model, as the API returns it. */
export interface ModelVersion {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  readonly size_bytes: number;
  readonly signature: Signature;
  readonly labels: Labels;
  /** Aliases pointing at this version, sorted. */
  readonly aliases: readonly string[];
  /** ISO 8601 time of the push. */
  readonly created_at: string;
}

/** A model in a listing. */
export interface ModelSummary {
  readonly name: string;
  readonly labels: Labels;
  readonly created_at: string;
  readonly version_count: number;
  /** The most recently pushed version, null when the model has none. */
  readonly latest_version: string | null;
  /** What a client gets without naming a version: `production` when set, else the latest. */
  readonly default_version: string | null;
  /** Alias → version. */
  readonly aliases: Readonly<Record<string, string>>;
}

/** A model with all its versions, oldest first. */
export interface ModelDetail extends ModelSummary {
  readonly versions: readonly ModelVersion[];
}

/** Options of {@link Registry.open}. */
export interface RegistryOptions {
  /** Largest artifact accepted by default. @default DEFAULT_MAX_ARTIFACT_BYTES */
  readonly maxArtifactBytes?: number;
  /** Largest size a tensor of a pushed model may declare. @default maxArtifactBytes */
  readonly maxTensorBytes?: number;
}

/** Options of {@link Registry.pushVersion}. */
export interface PushOptions {
  /** The version string; when absent the next integer ("1", "2", ...). */
  readonly version?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** Size limit of this push, at most the registry's own. */
  readonly maxBytes?: number;
}

/** An artifact streamed to disk and inspected, waiting for {@link Registry.commitVersion}. */
export interface StagedArtifact {
  readonly blob: StagedBlob;
  readonly inspection: OnnxInspection;
}

/** Says why a model version must not be deleted now (e.g. "it is loaded in the runtime"), or undefined. */
export type UseCheck = (name: string, version: string) => string | undefined;

/** A label change: a string sets a label, null removes it (JSON Merge Patch, RFC 7396). */
export type LabelPatch = Readonly<Record<string, string | null>>;

interface VersionRow {
  model_name: string;
  version: string;
  sha256: string;
  size_bytes: number;
  signature: string;
  labels: string;
  created_at: string;
}

interface ModelRow {
  name: string;
  labels: string;
  runtime_options: string;
  integer_version_high_water: number;
  created_at: string;
}

/** The model registry of one data directory. */
export class Registry implements ModelSource {
  private readonly useChecks = new Set<UseCheck>();

  private constructor(
    private readonly db: SqliteDatabase,
    private readonly blobs: BlobStore,
    private readonly maxArtifactBytes: number,
    private readonly maxTensorBytes: number,
  ) {}

  /**
   * Opens (creating when needed) the registry in `dataDir`: `<dataDir>/continuum.db` and
   * `<dataDir>/blobs/`. Applies pending schema migrations and sweeps leftovers of a crash.
   */
  static open(dataDir: string, options: RegistryOptions = {}): Registry {
    const blobs = new BlobStore(dataDir);
    const db = openDatabase(dataDir, MIGRATIONS, REGISTRY_MIGRATIONS_TABLE);
    const maxArtifactBytes = options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
    const registry = new Registry(db, blobs, maxArtifactBytes, options.maxTensorBytes ?? maxArtifactBytes);
    registry.gc();
    return registry;
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }

  /** Registers a check consulted before a version is deleted; returns a function that removes it. */
  addUseCheck(check: UseCheck): () => void {
    this.useChecks.add(check);
    return () => this.useChecks.delete(check);
  }

  /**
   * Pushes a new version: streams `source` to disk under the size limit, inspects it as ONNX and
   * records it. Throws CONTINUUM_ERR_BAD_REQUEST, CONTINUUM_ERR_VERSION_EXISTS,
   * CONTINUUM_ERR_MODEL_TOO_LARGE or CONTINUUM_ERR_INVALID_MODEL.
   */
  async pushVersion(name: string, source: Readable | Uint8Array, options: PushOptions = {}): Promise<ModelVersion> {
    checkName('model name', name);
    if (options.version !== undefined) this.checkVersionFree(name, checkName('version', options.version));
    if (options.labels !== undefined) checkLabels(options.labels);
    const staged = await this.stageArtifact(source, options.maxBytes);
    return this.commitVersion(name, staged, options);
  }

  /**
   * First half of a push: streams and inspects an artifact without recording it, for callers
   * that learn the version or labels only after the bytes (a multipart form). The caller must
   * {@link commitVersion} or {@link discardStaged} it.
   */
  async stageArtifact(source: Readable | Uint8Array, maxBytes?: number): Promise<StagedArtifact> {
    const limit = Math.min(maxBytes ?? this.maxArtifactBytes, this.maxArtifactBytes);
    const blob = await this.blobs.stage(source, limit);
    try {
      const bytes = await this.blobs.readStaged(blob);
      const inspection = inspectOnnx(bytes, { maxModelBytes: limit, maxTensorBytes: this.maxTensorBytes });
      return { blob, inspection };
    } catch (err) {
      this.blobs.discard(blob.tempPath);
      throw err;
    }
  }

  /** Drops a staged artifact that will not be committed. */
  discardStaged(staged: StagedArtifact): void {
    this.blobs.discard(staged.blob.tempPath);
  }

  /**
   * Second half of a push: records a staged artifact as a new version of `name` (creating the
   * model on its first version) and places its blob. Synchronous, so the record and the blob
   * appear together. The staged artifact is consumed either way.
   */
  commitVersion(name: string, staged: StagedArtifact, options: Omit<PushOptions, 'maxBytes'> = {}): ModelVersion {
    try {
      checkName('model name', name);
      const labels = checkLabels(options.labels ?? {});
      const now = new Date().toISOString();
      const version = this.db.transaction(() => {
        this.db.prepare('INSERT OR IGNORE INTO models (name, created_at) VALUES (?, ?)').run(name, now);
        const model = this.db.prepare('SELECT * FROM models WHERE name = ?').get(name) as ModelRow;
        const v = options.version === undefined ? nextIntegerVersion(model.integer_version_high_water) : checkName('version', options.version);
        this.checkVersionFree(name, v);
        this.db
          .prepare('INSERT INTO model_versions (model_name, version, sha256, size_bytes, signature, labels, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(name, v, staged.blob.sha256, staged.blob.sizeBytes, JSON.stringify(staged.inspection.signature), JSON.stringify(labels), now);
        const n = integerVersion(v);
        if (n !== undefined && n > model.integer_version_high_water) {
          this.db.prepare('UPDATE models SET integer_version_high_water = ? WHERE name = ?').run(n, name);
        }
        return v;
      })();
      try {
        this.blobs.place(staged.blob);
      } catch (err) {
        this.db.prepare('DELETE FROM model_versions WHERE model_name = ? AND version = ?').run(name, version);
        throw err;
      }
      return this.getVersion(name, version);
    } catch (err) {
      this.blobs.discard(staged.blob.tempPath);
      throw err;
    }
  }

  /** Every model, sorted by name. */
  listModels(): ModelSummary[] {
    const rows = this.db.prepare('SELECT * FROM models ORDER BY name').all() as ModelRow[];
    return rows.map((row) => this.summary(row));
  }

  /** A model with its versions and aliases; throws CONTINUUM_ERR_MODEL_NOT_FOUND. */
  getModel(name: string): ModelDetail {
    const row = this.modelRow(name);
    const versions = (this.db.prepare('SELECT * FROM model_versions WHERE model_name = ? ORDER BY id').all(name) as VersionRow[]).map((r) =>
      this.toVersion(r),
    );
    return { ...this.summary(row), versions };
  }

  /** One version by exact version string; throws CONTINUUM_ERR_MODEL_NOT_FOUND / CONTINUUM_ERR_VERSION_NOT_FOUND. */
  getVersion(name: string, version: string): ModelVersion {
    this.modelRow(name);
    const row = this.db.prepare('SELECT * FROM model_versions WHERE model_name = ? AND version = ?').get(name, version) as VersionRow | undefined;
    if (row === undefined) {
      throw new ContinuumError('CONTINUUM_ERR_VERSION_NOT_FOUND', `model '${name}' has no version '${version}'`, { details: { name, version } });
    }
    return this.toVersion(row);
  }

  /**
   * Resolves a reference as the CLI and API write it: a version ("3"), an alias ("@staging"), or
   * undefined for the default (the `production` alias when set, else the latest version).
   */
  resolveRef(name: string, ref?: string): ModelVersion {
    if (ref === undefined) {
      const row = this.modelRow(name);
      const version = this.defaultVersion(row.name);
      if (version === null) {
        throw new ContinuumError('CONTINUUM_ERR_VERSION_NOT_FOUND', `model '${name}' has no versions; push one with \`continuum models push\``, {
          details: { name },
        });
      }
      return this.getVersion(name, version);
    }
    if (ref.startsWith('@')) {
      const alias = ref.slice(1);
      this.modelRow(name);
      const row = this.db.prepare('SELECT version FROM model_aliases WHERE model_name = ? AND alias = ?').get(name, alias) as
        | { version: string }
        | undefined;
      if (row === undefined) {
        throw new ContinuumError('CONTINUUM_ERR_ALIAS_NOT_FOUND', `model '${name}' has no alias '${alias}'`, { details: { name, alias } });
      }
      return this.getVersion(name, row.version);
    }
    return this.getVersion(name, ref);
  }

  /** {@link ModelSource.resolve}: what the runtime loads for a version, alias (`@name`) or the default. */
  resolve(name: string, version?: string): ResolvedModelVersion {
    const v = this.resolveRef(name, version);
    return {
      name: v.name,
      version: v.version,
      artifactPath: this.blobs.pathOf(v.sha256),
      sha256: v.sha256,
      signature: v.signature,
      runtimeOptions: this.getRuntimeOptions(name),
    };
  }

  /** {@link ModelSource.listDefaults}: every model that has a version, with its default version. */
  listDefaults(): { name: string; version: string }[] {
    return this.listModels().flatMap((m) => (m.default_version === null ? [] : [{ name: m.name, version: m.default_version }]));
  }

  /**
   * Points `alias` of a model at `version`, creating or moving it in one SQL statement, so a
   * reader sees the old or the new target, never none. Returns the version it now points at.
   */
  setAlias(name: string, alias: string, version: string): ModelVersion {
    checkName('alias', alias);
    this.getVersion(name, version);
    this.db
      .prepare('INSERT INTO model_aliases (model_name, alias, version) VALUES (?, ?, ?) ON CONFLICT (model_name, alias) DO UPDATE SET version = excluded.version')
      .run(name, alias, version);
    return this.getVersion(name, version);
  }

  /** Removes an alias; throws CONTINUUM_ERR_ALIAS_NOT_FOUND when it does not exist. */
  deleteAlias(name: string, alias: string): void {
    this.modelRow(name);
    const result = this.db.prepare('DELETE FROM model_aliases WHERE model_name = ? AND alias = ?').run(name, alias);
    if (result.changes === 0) throw new ContinuumError('CONTINUUM_ERR_ALIAS_NOT_FOUND', `model '${name}' has no alias '${alias}'`, { details: { name, alias } });
  }

  /** Changes a model's labels (null removes one); returns the model. */
  updateModelLabels(name: string, patch: LabelPatch): ModelDetail {
    const row = this.modelRow(name);
    this.db.prepare('UPDATE models SET labels = ? WHERE name = ?').run(JSON.stringify(applyLabelPatch(parseJson(row.labels), patch)), name);
    return this.getModel(name);
  }

  /** Changes a version's labels (null removes one); returns the version. */
  updateVersionLabels(name: string, version: string, patch: LabelPatch): ModelVersion {
    const current = this.getVersion(name, version);
    this.db
      .prepare('UPDATE model_versions SET labels = ? WHERE model_name = ? AND version = ?')
      .run(JSON.stringify(applyLabelPatch(current.labels, patch)), name, version);
    return this.getVersion(name, version);
  }

  /**
   * Deletes a version, the aliases pointing at it, and its blob when no other version shares it.
   * Throws CONTINUUM_ERR_VERSION_IN_USE when a use check objects.
   */
  deleteVersion(name: string, version: string): void {
    const v = this.getVersion(name, version);
    this.refuseIfInUse(name, [version]);
    this.db.prepare('DELETE FROM model_versions WHERE model_name = ? AND version = ?').run(name, version);
    this.removeBlobIfUnreferenced(v.sha256);
  }

  /** Deletes a model with every version; refused as a whole when a use check objects to any version. */
  deleteModel(name: string): void {
    const model = this.getModel(name);
    this.refuseIfInUse(
      name,
      model.versions.map((v) => v.version),
    );
    this.db.prepare('DELETE FROM models WHERE name = ?').run(name);
    for (const sha256 of new Set(model.versions.map((v) => v.sha256))) this.removeBlobIfUnreferenced(sha256);
  }

  /** A model's stored runtime options ({} when none were set). */
  getRuntimeOptions(name: string): ModelRuntimeOptions {
    return parseJson(this.modelRow(name).runtime_options) as ModelRuntimeOptions;
  }

  /** Replaces a model's runtime options (validated by the caller at its edge). */
  setRuntimeOptions(name: string, options: ModelRuntimeOptions): void {
    this.modelRow(name);
    this.db.prepare('UPDATE models SET runtime_options = ? WHERE name = ?').run(JSON.stringify(options), name);
  }

  /** Deletes blobs no version references and temp files of uploads not in flight; returns the counts. */
  gc(): { readonly blobs: number; readonly tempFiles: number } {
    const referenced = this.db.prepare('SELECT 1 FROM model_versions WHERE sha256 = ? LIMIT 1');
    return this.blobs.sweep((sha256) => referenced.get(sha256) !== undefined);
  }

  private removeBlobIfUnreferenced(sha256: string): void {
    if (this.db.prepare('SELECT 1 FROM model_versions WHERE sha256 = ? LIMIT 1').get(sha256) === undefined) this.blobs.remove(sha256);
  }

  private refuseIfInUse(name: string, versions: readonly string[]): void {
    for (const version of versions) {
      for (const check of this.useChecks) {
        const reason = check(name, version);
        if (reason !== undefined) {
          throw new ContinuumError('CONTINUUM_ERR_VERSION_IN_USE', `version '${version}' of model '${name}' is in use: ${reason}`, {
            details: { name, version, reason },
          });
        }
      }
    }
  }

  private checkVersionFree(name: string, version: string): void {
    if (this.db.prepare('SELECT 1 FROM model_versions WHERE model_name = ? AND version = ?').get(name, version) !== undefined) {
      throw new ContinuumError('CONTINUUM_ERR_VERSION_EXISTS', `model '${name}' already has version '${version}'; versions are immutable, push a new one`, {
        details: { name, version },
      });
    }
  }

  private modelRow(name: string): ModelRow {
    const row = this.db.prepare('SELECT * FROM models WHERE name = ?').get(name) as ModelRow | undefined;
    if (row === undefined) {
      throw new ContinuumError('CONTINUUM_ERR_MODEL_NOT_FOUND', `model '${name}' is not in the registry; push it with \`continuum models push\``, {
        details: { name },
      });
    }
    return row;
  }

  private defaultVersion(name: string): string | null {
    const production = this.db.prepare('SELECT version FROM model_aliases WHERE model_name = ? AND alias = ?').get(name, PRODUCTION_ALIAS) as
      | { version: string }
      | undefined;
    if (production !== undefined) return production.version;
    const latest = this.db.prepare('SELECT version FROM model_versions WHERE model_name = ? ORDER BY id DESC LIMIT 1').get(name) as
      | { version: string }
      | undefined;
    return latest?.version ?? null;
  }

  private summary(row: ModelRow): ModelSummary {
    const stats = this.db
      .prepare('SELECT COUNT(*) AS n, (SELECT version FROM model_versions WHERE model_name = ? ORDER BY id DESC LIMIT 1) AS latest FROM model_versions WHERE model_name = ?')
      .get(row.name, row.name) as { n: number; latest: string | null };
    const aliases = this.db.prepare('SELECT alias, version FROM model_aliases WHERE model_name = ? ORDER BY alias').all(row.name) as {
      alias: string;
      version: string;
    }[];
    return {
      name: row.name,
      labels: parseJson(row.labels),
      created_at: row.created_at,
      version_count: stats.n,
      latest_version: stats.latest,
      default_version: this.defaultVersion(row.name),
      aliases: Object.fromEntries(aliases.map((a) => [a.alias, a.version])),
    };
  }

  private toVersion(row: VersionRow): ModelVersion {
    const aliases = this.db.prepare('SELECT alias FROM model_aliases WHERE model_name = ? AND version = ? ORDER BY alias').all(row.model_name, row.version) as {
      alias: string;
    }[];
    return {
      name: row.model_name,
      version: row.version,
      sha256: row.sha256,
      size_bytes: row.size_bytes,
      signature: JSON.parse(row.signature) as Signature,
      labels: parseJson(row.labels),
      aliases: aliases.map((a) => a.alias),
      created_at: row.created_at,
    };
  }
}

/** Applies a label patch: strings set, null removes (RFC 7396); the result is validated. */
export function applyLabelPatch(labels: Labels, patch: LabelPatch): Labels {
  const next: Record<string, string> = { ...labels };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return checkLabels(next);
}

/** Parses a JSON object column the registry itself wrote. */
function parseJson(text: string): Record<string, string> {
  return JSON.parse(text) as Record<string, string>;
}
