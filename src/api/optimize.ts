/**
 * `POST /api/v1/models/{name}/optimize`: makes an int8 or fp16 version of a model version,
 * measures it against the original and records it with its lineage (src/optimize,
 * docs/optimize.md). Answers 201 with the report; 422 CONTINUUM_ERR_ACCURACY_BUDGET (the report in
 * `details`) when the accuracy budget refused it.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { OPTIMIZATIONS, optimizeVersion } from '../optimize/index.js';
import type { OptimizeDependencies } from '../optimize/index.js';
import { parse } from './validate.js';

/** Options of {@link optimizeApiPlugin}. */
export interface OptimizeApiOptions extends OptimizeDependencies {
  /** Told of each recorded version, as a push is (a release policy then releases it against its original). */
  readonly onVersionRecorded?: (name: string, version: string) => Promise<void> | void;
}

const nameParams = z.object({ name: z.string() });
/** Bounds keep one call to a few minutes of measuring, whatever a client asks for. */
const optimizeBody = z.strictObject({
  ref: z.string().min(1).max(64).optional(),
  quantize: z.enum(OPTIMIZATIONS),
  version: z.string().min(1).max(63).optional(),
  maxAccuracyDrop: z.number().min(0).max(1).optional(),
  latencyRequests: z.int().min(10).max(10_000).optional(),
  dynamicDimSize: z.int().min(1).max(4096).optional(),
});

/** The optimize route; register with prefix `/api/v1`. */
export const optimizeApiPlugin: FastifyPluginAsync<OptimizeApiOptions> = async (app, options) => {
  app.post('/models/:name/optimize', async (request, reply) => {
    const { name } = parse(nameParams, request.params, 'path');
    const { quantize, ...body } = parse(optimizeBody, request.body ?? {}, 'optimize request');
    const report = await optimizeVersion(options, { model: name, optimization: quantize, ...body });
    if (report.version !== null) await options.onVersionRecorded?.(name, report.version);
    return reply.code(201).send(report);
  });
};
