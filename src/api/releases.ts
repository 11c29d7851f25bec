/**
 * Releases' management API: `/api/v1/releases` (start a release of a model version through the
 * validation gates, list, show), a model's labelled dataset for the accuracy gate
 * (`/api/v1/models/{name}/dataset`) and its release policy (`/api/v1/models/{name}/release-policy`,
 * which starts a release on every push).
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { DATASET_LIMITS, datasetSchema, gateOptionsSchema } from '../release/index.js';
import type { GateOptions, ReleasePipeline, ReleasePolicyInput } from '../release/index.js';
import { parse } from './validate.js';

/** Options of {@link releasesApiPlugin}. */
export interface ReleasesApiOptions {
  readonly pipeline: ReleasePipeline;
}

/** Largest strategy input, as JSON text: it is handed to the rollout as given. */
const MAX_STRATEGY_JSON_BYTES = 16 * 1024;

const nameParams = z.object({ name: z.string() });
const idParams = z.object({ id: z.coerce.number().int().positive() });
const listQuery = z.object({ model: z.string().max(63).optional(), version: z.string().max(63).optional(), limit: z.coerce.number().int().min(1).max(1000).optional() });
const strategy = z.record(z.string().max(64), z.json()).refine((s) => JSON.stringify(s).length <= MAX_STRATEGY_JSON_BYTES, `at most ${MAX_STRATEGY_JSON_BYTES} bytes of JSON`);
const policyFields = {
  deployment: z.string().min(1).max(63).optional(),
  strategy: strategy.optional(),
  gates: gateOptionsSchema.optional(),
  breaking: z.boolean().optional(),
};
const releaseBody = z
  .strictObject({ model: z.string().min(1).max(63), version: z.string().min(1).max(64).optional(), ref: z.string().min(1).max(64).optional(), ...policyFields })
  .refine((b) => b.version === undefined || b.ref === undefined, 'give version or ref, not both');
const policyBody = z.strictObject(policyFields);

/** The fields a release and a policy share, with `breaking` folded into the gate options. */
function policyInput(body: z.infer<typeof policyBody>): ReleasePolicyInput {
  const gates: GateOptions = { ...body.gates, ...(body.breaking === undefined ? {} : { breaking: body.breaking }) };
  return {
    ...(body.deployment === undefined ? {} : { deployment: body.deployment }),
    ...(body.strategy === undefined ? {} : { strategy: body.strategy }),
    gates,
  };
}

/** The releases API; register with prefix `/api/v1`. */
export const releasesApiPlugin: FastifyPluginAsync<ReleasesApiOptions> = async (app, { pipeline }) => {
  app.post('/releases', async (request, reply) => {
    const { model, version, ref, ...rest } = parse(releaseBody, request.body, 'release');
    const target = version ?? ref;
    return reply.code(202).send(pipeline.start({ model, ...(target === undefined ? {} : { ref: target }), ...policyInput(rest) }));
  });

  app.get('/releases', async (request) => {
    const query = parse(listQuery, request.query, 'query');
    return { releases: pipeline.list(query) };
  });

  app.get('/releases/:id', async (request) => pipeline.get(parse(idParams, request.params, 'path').id));

  app.put('/models/:name/dataset', { bodyLimit: DATASET_LIMITS.maxBytes }, async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    return pipeline.attachDataset(name, parse(datasetSchema, request.body, 'dataset'));
  });

  app.get('/models/:name/dataset', async (request) => pipeline.datasetSummary(parse(nameParams, request.params, 'path').name));

  app.put('/models/:name/release-policy', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    return pipeline.setPolicy(name, policyInput(parse(policyBody, request.body, 'release policy')));
  });

  app.get('/models/:name/release-policy', async (request) => pipeline.policy(parse(nameParams, request.params, 'path').name));

  app.delete('/models/:name/release-policy', async (request, reply) => {
    pipeline.deletePolicy(parse(nameParams, request.params, 'path').name);
    return reply.code(204).send();
  });
};
