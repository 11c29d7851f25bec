/**
 * `GET /api/v1/models/{name}/versions/{version}/artifact`: the ONNX bytes of a model version, for
 * the init container of a replica pod (`continuum k8s fetch-model`), which checks the sha256 its
 * revision names. The answer names the digest too (`X-Continuum-Sha256`), so a proxy that alters
 * the bytes is caught either way. Behind the management token like every /api route.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { parse } from '../../api/validate.js';
import type { Registry } from '../../registry/index.js';

/** Options of {@link artifactApiPlugin}. */
export interface ArtifactApiOptions {
  readonly registry: Registry;
}

const params = z.object({ name: z.string().min(1).max(128), version: z.string().min(1).max(128) });

/** Registers the artifact route (mount under the `/api/v1` prefix). */
export const artifactApiPlugin: FastifyPluginAsync<ArtifactApiOptions> = async (app, { registry }) => {
  app.get('/models/:name/versions/:version/artifact', async (request, reply) => {
    const { name, version } = parse(params, request.params, 'path');
    const resolved = registry.resolve(name, version);
    const { size } = await stat(resolved.artifactPath);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', size)
      .header('x-continuum-sha256', resolved.sha256)
      .send(createReadStream(resolved.artifactPath));
  });
};
