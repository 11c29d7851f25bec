/**
 * `POST /api/v1/models/{name}/tune` measures runtime configurations of a model version on this
 * machine (instances × threads × batch size, as Triton's model analyzer does) and keeps the best;
 * `GET|PUT /api/v1/models/{name}/runtime-options` read and set them by hand. A loaded model is
 * reloaded with the new options (the swap drains the old sessions first, so nothing is dropped).
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { Registry } from '../registry/index.js';
import { compileRuntimeOptions, tuneModel } from '../runtime/index.js';
import type { ModelRuntimeOptions, Runtime } from '../runtime/index.js';
import { parse } from './validate.js';

/** Options of {@link tuneApiPlugin}. */
export interface TuneApiOptions {
  readonly registry: Registry;
  readonly runtime: Runtime;
  /**
   * Makes new runtime options of a model take effect; resolves whether anything serving it was
   * reloaded. @default reloads the model in the runtime when it is loaded there
   */
  readonly reload?: (name: string) => Promise<boolean>;
}

const nameParams = z.object({ name: z.string() });
const small = (max: number): z.ZodArray<z.ZodInt> => z.array(z.int().min(0).max(max)).min(1).max(8);
/** Bounds keep one tune call under a few minutes, whatever a client asks for. */
const tuneBody = z
  .strictObject({
    version: z.string().max(64).optional(),
    instances: small(16).optional(),
    intraOpThreads: small(64).optional(),
    maxBatchSizes: small(1024).optional(),
    concurrencies: small(256).optional(),
    executors: z.array(z.enum(['inline', 'worker'])).min(1).max(2).optional(),
    measureMs: z.int().min(100).max(10_000).optional(),
    dynamicDimSize: z.int().min(1).max(4096).optional(),
  })
  .default({});

/** Reloads a model when it is serving in the runtime, so new runtime options take effect at once. */
export async function reloadIfLoaded(runtime: Runtime, name: string): Promise<boolean> {
  if (!runtime.modelReady(name)) return false;
  await runtime.loadModel(name);
  return true;
}

/** Tune and runtime-options routes; register with prefix `/api/v1`. */
export const tuneApiPlugin: FastifyPluginAsync<TuneApiOptions> = async (app, { registry, runtime, reload = (name) => reloadIfLoaded(runtime, name) }) => {
  app.post('/models/:name/tune', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    const { version, ...grid } = parse(tuneBody, request.body ?? {}, 'tune request');
    const resolved = registry.resolve(name, version);
    const result = await tuneModel(resolved, grid);
    registry.setRuntimeOptions(name, result.best);
    const reloaded = await reload(name);
    return { model: name, version: resolved.version, best: result.best, best_trial: result.bestTrial, trials: result.trials, confirmations: result.confirmations, reloaded };
  });

  app.get('/models/:name/runtime-options', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    const options = registry.getRuntimeOptions(name);
    return { model: name, options, effective: compileRuntimeOptions(options) };
  });

  app.put('/models/:name/runtime-options', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    const options = (request.body ?? {}) as ModelRuntimeOptions;
    // compileRuntimeOptions is the one validator of runtime options (ranges, unknown keys).
    const effective = compileRuntimeOptions(options);
    registry.setRuntimeOptions(name, options);
    const reloaded = await reload(name);
    return { model: name, options, effective, reloaded };
  });
};
