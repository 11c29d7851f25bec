/**
 * Deployments' management API, `/api/v1/deployments...`: create, list, show (replicas, the
 * policy's current decision and choice, cost so far, cold starts, recent events), change (each a
 * new revision), scale, revisions, events and delete. Policy parameters are validated by the
 * autoscaler's own schema when the controller compiles them.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { DeploymentController } from '../deploy/index.js';
import { parse } from './validate.js';

/** Options of {@link deploymentsApiPlugin}. */
export interface DeploymentsApiOptions {
  readonly controller: DeploymentController;
}

const nameParams = z.object({ name: z.string() });
const resources = z.strictObject({ vcpu: z.number().positive().max(256).optional(), memoryGb: z.number().positive().max(1024).optional() });
/** Policy and runtime parameters are flat records of scalars; their meaning is checked by their own compilers. */
const params = z.record(z.string().max(64), z.union([z.string().max(256), z.number(), z.boolean(), z.array(z.number()).max(16)]));
const createBody = z.strictObject({
  name: z.string().max(63).optional(),
  model: z.string().min(1).max(63),
  ref: z.string().max(64).optional(),
  policy: params.optional(),
  resources: resources.optional(),
  runtime: params.optional(),
  placement: z.strictObject({ node: z.string().min(1).max(63) }).optional(),
});
const changeBody = z.strictObject({
  ref: z.string().max(64).optional(),
  policy: params.optional(),
  resources: resources.optional(),
  runtime: params.optional(),
});
const scaleBody = z
  .strictObject({
    replicas: z.int().min(0).max(1000).optional(),
    minReplicas: z.int().min(0).max(1000).optional(),
    maxReplicas: z.int().min(0).max(1000).optional(),
  })
  .refine((b) => b.replicas !== undefined || b.minReplicas !== undefined || b.maxReplicas !== undefined, 'give replicas, or minReplicas and/or maxReplicas');
const eventsQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() });

/** Drops keys whose value is undefined (zod leaves them out already; this keeps types exact). */
function defined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

/** The deployments API; register with prefix `/api/v1`. */
export const deploymentsApiPlugin: FastifyPluginAsync<DeploymentsApiOptions> = async (app, { controller }) => {
  app.get('/deployments', async () => ({ deployments: controller.list() }));

  app.post('/deployments', async (request, reply) => {
    const body = parse(createBody, request.body, 'deployment');
    return reply.code(201).send(controller.create(defined(body)));
  });

  app.get('/deployments/:name', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    return { ...controller.status(name), events: controller.events(name, 20) };
  });

  app.patch('/deployments/:name', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    const change = defined(parse(changeBody, request.body, 'deployment change'));
    return controller.update(name, change, `changed ${Object.keys(change).join(', ') || 'nothing'}`);
  });

  app.post('/deployments/:name/scale', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    const body = parse(scaleBody, request.body, 'scale request');
    const bounds = body.replicas === undefined ? defined({ minReplicas: body.minReplicas, maxReplicas: body.maxReplicas }) : { minReplicas: body.replicas, maxReplicas: body.replicas };
    return controller.scale(name, bounds);
  });

  app.get('/deployments/:name/revisions', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    return { revisions: controller.revisions(name) };
  });

  app.get('/deployments/:name/drift', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    return controller.drift(name);
  });

  app.get('/deployments/:name/history', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    return controller.history(name);
  });

  app.get('/deployments/:name/events', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    const { limit } = parse(eventsQuery, request.query, 'query');
    return { events: controller.events(name, limit) };
  });

  app.delete('/deployments/:name', async (request, reply) => {
    const { name } = parse(nameParams, request.params, 'path');
    await controller.delete(name);
    return reply.code(204).send();
  });
};
