/**
 * The registry's management API, `/api/v1/models...` (JSON, versioned). Artifacts are uploaded as
 * the raw request body (`application/octet-stream`) or as the `file` field of a multipart form,
 * and stream to disk under the size limit; nothing buffers a whole upload in memory. The API never
 * takes a filesystem path or a URL from a client: bytes come in, names are validated identifiers.
 *
 * Raw upload: `POST /api/v1/models/{name}/versions?version=3&labels=dataset=iris,owner=ml`
 * Multipart: fields `version` (string), `labels` (a JSON object) and the `file` part, in any order.
 */
import multipart from '@fastify/multipart';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { parse } from './validate.js';
import { ContinuumError } from '../errors.js';
import { checkLabels, checkName, modelTooLarge, parseLabelList } from '../registry/index.js';
import type { Labels, ModelVersion, Registry, StagedArtifact } from '../registry/index.js';

/** Options of {@link modelsApiPlugin}. */
export interface ModelsApiOptions {
  readonly registry: Registry;
  /** Largest artifact accepted by a push, in bytes. */
  readonly maxArtifactBytes: number;
  /**
   * Called after a version is recorded (e.g. to load it). When it throws, the version is removed
   * again and the push fails with that error, so a model the runtime cannot load never lands.
   */
  readonly onVersionPushed?: (name: string, version: string) => Promise<void> | void;
}

/** Multipart form limits: one file, a few small fields. */
const MAX_FORM_FIELDS = 8;
const MAX_FORM_FIELD_BYTES = 64 * 1024;

const nameParams = z.object({ name: z.string() });
const versionParams = z.object({ name: z.string(), version: z.string() });
const aliasParams = z.object({ name: z.string(), alias: z.string() });
const pushQuery = z.object({ version: z.string().max(63).optional(), labels: z.string().max(16 * 1024).optional() });
const aliasBody = z.strictObject({ version: z.string().min(1).max(63) });
const labelsBody = z.strictObject({ labels: z.record(z.string().max(63), z.string().max(128).nullable()) });
const formLabels = z.record(z.string().max(63), z.string().max(128));

/** The management API of the model registry; register with prefix `/api/v1`. */
export const modelsApiPlugin: FastifyPluginAsync<ModelsApiOptions> = async (app, options) => {
  const { registry, maxArtifactBytes } = options;

  // The raw body reaches the handler as the request stream, so a push streams to disk.
  if (app.hasContentTypeParser('application/octet-stream')) app.removeContentTypeParser('application/octet-stream');
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
  await app.register(multipart, {
    limits: {
      files: 1,
      fields: MAX_FORM_FIELDS,
      parts: MAX_FORM_FIELDS + 1,
      fieldSize: MAX_FORM_FIELD_BYTES,
      // One byte over the limit reaches the registry, which refuses it with its own error.
      fileSize: maxArtifactBytes + 1,
    },
  });

  /** Runs the pushed-version hook; a failure takes the version back out. */
  const afterPush = async (version: ModelVersion): Promise<ModelVersion> => {
    if (options.onVersionPushed === undefined) return version;
    try {
      await options.onVersionPushed(version.name, version.version);
    } catch (err) {
      try {
        registry.deleteVersion(version.name, version.version);
      } catch {
        // A use check may keep it (the hook got as far as loading it); the hook's error is the one to report.
      }
      throw err;
    }
    return registry.getVersion(version.name, version.version);
  };

  /** Reads a push in either form; the body streams straight into the registry. */
  const pushFromRequest = async (request: FastifyRequest): Promise<ModelVersion> => {
    // Checked before a byte of the body is read (a multipart push otherwise learns it at commit).
    const name = checkName('model name', parse(nameParams, request.params, 'path').name);
    const query = parse(pushQuery, request.query, 'query');
    const labels = query.labels === undefined ? undefined : parseLabelList([query.labels]);
    const multipartForm = request.isMultipart();
    // Refuse a declared oversize body before reading a byte of it (form fields may add their limit).
    const declared = Number(request.headers['content-length'] ?? Number.NaN);
    if (declared > maxArtifactBytes + (multipartForm ? MAX_FORM_FIELDS * MAX_FORM_FIELD_BYTES : 0)) throw modelTooLarge(maxArtifactBytes);
    if (multipartForm) return pushMultipart(registry, request, name, { version: query.version, labels }, maxArtifactBytes);
    if (request.body instanceof Readable) {
      return registry.pushVersion(name, request.body, { version: query.version, labels, maxBytes: maxArtifactBytes });
    }
    throw new ContinuumError(
      'CONTINUUM_ERR_UNSUPPORTED_MEDIA_TYPE',
      'send the ONNX file as the raw body with Content-Type: application/octet-stream, or as the `file` field of a multipart/form-data form',
    );
  };

  app.post('/models/:name/versions', async (request, reply) => {
    let version: ModelVersion;
    try {
      version = await pushFromRequest(request);
    } catch (err) {
      closeUnreadRequest(request, reply);
      throw err;
    }
    return reply.code(201).send(await afterPush(version));
  });

  app.get('/models', async () => ({ models: registry.listModels() }));

  app.get('/models/:name', async (request) => registry.getModel(parse(nameParams, request.params, 'path').name));

  app.patch('/models/:name', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    return registry.updateModelLabels(name, parse(labelsBody, request.body, 'body').labels);
  });

  app.delete('/models/:name', async (request, reply) => {
    registry.deleteModel(parse(nameParams, request.params, 'path').name);
    return reply.code(204).send();
  });

  // `version` may be an exact version or `@alias`.
  app.get('/models/:name/versions/:version', async (request) => {
    const { name, version } = parse(versionParams, request.params, 'path');
    return registry.resolveRef(name, version);
  });

  app.patch('/models/:name/versions/:version', async (request) => {
    const { name, version } = parse(versionParams, request.params, 'path');
    return registry.updateVersionLabels(name, version, parse(labelsBody, request.body, 'body').labels);
  });

  app.delete('/models/:name/versions/:version', async (request, reply) => {
    const { name, version } = parse(versionParams, request.params, 'path');
    registry.deleteVersion(name, version);
    return reply.code(204).send();
  });

  app.put('/models/:name/aliases/:alias', async (request) => {
    const { name, alias } = parse(aliasParams, request.params, 'path');
    const { version } = parse(aliasBody, request.body, 'body');
    return registry.setAlias(name, alias, version);
  });

  app.delete('/models/:name/aliases/:alias', async (request, reply) => {
    const { name, alias } = parse(aliasParams, request.params, 'path');
    registry.deleteAlias(name, alias);
    return reply.code(204).send();
  });
};

/**
 * After a refused upload the rest of the body is still on the wire; the error response asks the
 * client to close the connection (RFC 9112 §9.6) instead of the server reading the remainder.
 */
function closeUnreadRequest(request: FastifyRequest, reply: FastifyReply): void {
  if (!request.raw.complete) reply.header('connection', 'close');
}

/**
 * Reads a multipart push: `version` and `labels` fields in any order around one `file` part.
 * The file is staged (streamed and inspected) when it arrives and committed once the form ends.
 */
async function pushMultipart(
  registry: Registry,
  request: FastifyRequest,
  name: string,
  defaults: { readonly version: string | undefined; readonly labels: Labels | undefined },
  maxArtifactBytes: number,
): Promise<ModelVersion> {
  let version = defaults.version;
  let labels = defaults.labels;
  let staged: StagedArtifact | undefined;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || staged !== undefined) {
          part.file.resume();
          throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `unexpected file field '${part.fieldname}': send exactly one file, in the field 'file'`);
        }
        staged = await registry.stageArtifact(part.file, maxArtifactBytes);
      } else if (part.fieldname === 'version') {
        version = String(part.value);
      } else if (part.fieldname === 'labels') {
        labels = checkLabels(parse(formLabels, parseJsonField(String(part.value)), "form field 'labels'"));
      } else {
        throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `unknown form field '${part.fieldname}': expected 'file', 'version', 'labels'`);
      }
    }
    if (staged === undefined) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', "the form has no 'file' field with the ONNX model");
  } catch (err) {
    if (staged !== undefined) registry.discardStaged(staged);
    throw formError(err);
  }
  return registry.commitVersion(name, staged, { version, labels });
}

/**
 * Errors of the multipart reader (busboy's "Unexpected end of form", @fastify/multipart's part
 * limits) are the client's malformed form; system errors (disk full) stay what they are.
 */
function formError(err: unknown): unknown {
  if (err instanceof ContinuumError || !(err instanceof Error) || 'syscall' in err) return err;
  return new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `malformed multipart form: ${err.message}`, { cause: err });
}

function parseJsonField(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `form field 'labels' must be a JSON object such as {"dataset":"iris"}`);
  }
}
