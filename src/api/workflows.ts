/**
 * Workflows' management API (docs/api.md#workflows): `/api/v1/workflows` — push a package (the
 * archive bytes as the body, `application/gzip` or `application/zip`), list, show, delete; runs
 * (`/workflows/{name}/runs`) and retraining (`/workflows/{name}/retraining`).
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import { retrainBindingSchema, runRequestSchema } from '../training/index.js';
import type { WorkflowService } from '../training/index.js';
import { parse } from './validate.js';

/** Options of {@link workflowsApiPlugin}. */
export interface WorkflowsApiOptions {
  readonly workflows: WorkflowService;
}

/** Body types a package is sent as; the bytes' magic decides how it is unpacked. */
const PACKAGE_TYPES = ['application/gzip', 'application/x-gzip', 'application/zip', 'application/octet-stream'];

const nameParams = z.object({ name: z.string().max(63) });
const runParams = z.object({ name: z.string().max(63), id: z.coerce.number().int().positive() });
const runsQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).optional() });

/** The workflows API; register with prefix `/api/v1`. */
export const workflowsApiPlugin: FastifyPluginAsync<WorkflowsApiOptions> = async (app, { workflows }) => {
  // Scoped to this plugin: the package arrives whole (bounded by the route's bodyLimit) as bytes.
  for (const type of PACKAGE_TYPES) if (app.hasContentTypeParser(type)) app.removeContentTypeParser(type);
  app.addContentTypeParser(PACKAGE_TYPES, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.post('/workflows', { bodyLimit: workflows.maxPackageBytes }, async (request, reply) => {
    const body = request.body;
    if (!Buffer.isBuffer(body)) throw new ContinuumError('CONTINUUM_ERR_UNSUPPORTED_MEDIA_TYPE', `send the package's bytes as the body with Content-Type ${PACKAGE_TYPES.slice(0, 3).join(' or ')}`);
    const { name, version, digest, manifest } = await workflows.push(body);
    return reply.code(201).send({ name, version, digest, manifest });
  });

  app.get('/workflows', async () => ({ workflows: workflows.list(), network: workflows.networkIsolation() }));

  app.get('/workflows/:name', async (request) => workflows.get(parse(nameParams, request.params, 'path').name));

  app.delete('/workflows/:name', async (request, reply) => {
    workflows.delete(parse(nameParams, request.params, 'path').name);
    return reply.code(204).send();
  });

  app.post('/workflows/:name/runs', async (request, reply) => {
    const { name } = parse(nameParams, request.params, 'path');
    const run = workflows.startRun(name, parse(runRequestSchema, request.body ?? {}, 'run'));
    return reply.code(202).send({ id: run.id, status: run.status });
  });

  app.get('/workflows/:name/runs', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    return { runs: workflows.runs(name, parse(runsQuery, request.query, 'query').limit) };
  });

  app.get('/workflows/:name/runs/:id', async (request) => {
    const { name, id } = parse(runParams, request.params, 'path');
    return workflows.run(name, id);
  });

  app.put('/workflows/:name/retraining', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    return workflows.setRetraining(name, parse(retrainBindingSchema, request.body, 'retraining'));
  });

  app.delete('/workflows/:name/retraining', async (request, reply) => {
    workflows.deleteRetraining(parse(nameParams, request.params, 'path').name);
    return reply.code(204).send();
  });
};
