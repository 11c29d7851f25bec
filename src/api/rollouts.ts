/**
 * Rollouts' management API, `/api/v1/rollouts...`: start one (the body is the rollout input of
 * src/rollout/spec.ts, validated there), list, show with the latest verdicts, and the manual
 * commands promote, pause, resume and abort.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { RolloutController } from '../rollout/index.js';
import { parse } from './validate.js';

/** Options of {@link rolloutsApiPlugin}. */
export interface RolloutsApiOptions {
  readonly rollouts: RolloutController;
}

const idParams = z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });
const commandParams = idParams.extend({ command: z.enum(['promote', 'pause', 'resume', 'abort']) });
const listQuery = z.object({ deployment: z.string().max(63).optional() });

/** The rollouts API; register with prefix `/api/v1`. */
export const rolloutsApiPlugin: FastifyPluginAsync<RolloutsApiOptions> = async (app, { rollouts }) => {
  app.post('/rollouts', async (request, reply) => reply.code(201).send(rollouts.create(request.body)));

  app.get('/rollouts', async (request) => {
    const { deployment } = parse(listQuery, request.query, 'query');
    return { rollouts: rollouts.list(deployment) };
  });

  app.get('/rollouts/:id', async (request) => {
    const { id } = parse(idParams, request.params, 'path');
    return rollouts.get(id);
  });

  app.post('/rollouts/:id/:command', async (request) => {
    const { id, command } = parse(commandParams, request.params, 'path');
    return rollouts.command(id, command);
  });
};
