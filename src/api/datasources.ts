/**
 * The data sources API: `/api/v1/datasources` (add, list with counters, delete). A definition is
 * checked here, stored, then consumed by the ingest service; see docs/ingest.md.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import { PAYLOAD_FORMATS } from '../ingest/index.js';
import type { DataSource, DataSourceStore, IngestService } from '../ingest/index.js';
import { parse } from './validate.js';

/** Options of {@link dataSourcesApiPlugin}. */
export interface DataSourcesApiOptions {
  readonly store: DataSourceStore;
  /** The running ingest service; undefined when the server runs without MQTT (definitions are still kept) or before it started. */
  readonly ingest: () => IngestService | undefined;
}

/** An MQTT topic filter: `+` fills a whole level, `#` only the last (MQTT 5.0, section 4.7.1). */
const topicFilter = z
  .string()
  .min(1)
  .max(512)
  .refine((t) => t.split('/').every((level, i, all) => (level.includes('+') ? level === '+' : true) && (level.includes('#') ? level === '#' && i === all.length - 1 : true)), 'not a valid MQTT topic filter');
const topicName = z.string().min(1).max(512).refine((t) => !/[+#]/.test(t), 'a result topic takes no wildcards');

const dataSourceBody = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63'),
  topic: topicFilter,
  format: z.enum(PAYLOAD_FORMATS),
  mapping: z.strictObject({
    fields: z.array(z.string().min(1).max(256)).min(1).max(4096),
    input: z.string().min(1).max(256),
    timestampField: z.string().min(1).max(256).optional(),
  }),
  deployment: z.string().min(1).max(63),
  version: z.string().min(1).max(63).optional(),
  resultTopic: topicName.optional(),
});
const nameParams = z.object({ name: z.string() });

/** The data sources API; register with prefix `/api/v1`. */
export const dataSourcesApiPlugin: FastifyPluginAsync<DataSourcesApiOptions> = async (app, { store, ingest }) => {
  const withCounters = (source: DataSource): DataSource & { counters: unknown } => ({ ...source, counters: ingest()?.counters(source.name) ?? null });

  app.get('/datasources', async () => ({ datasources: store.list().map(withCounters) }));

  app.get('/datasources/:name', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    const source = store.find(name);
    if (source === undefined) throw new ContinuumError('CONTINUUM_ERR_DATASOURCE_NOT_FOUND', `no data source "${name}"; list them with continuum datasources list`);
    return withCounters(source);
  });

  app.post('/datasources', async (request, reply) => {
    const body = parse(dataSourceBody, request.body, 'data source');
    const source: DataSource = body;
    if (!store.insert(source, new Date().toISOString())) {
      throw new ContinuumError('CONTINUUM_ERR_DATASOURCE_EXISTS', `a data source "${source.name}" exists; delete it first to replace it`);
    }
    await ingest()?.add(source);
    return reply.code(201).send(withCounters(source));
  });

  app.delete('/datasources/:name', async (request, reply) => {
    const { name } = parse(nameParams, request.params, 'path');
    if (!store.delete(name)) throw new ContinuumError('CONTINUUM_ERR_DATASOURCE_NOT_FOUND', `no data source "${name}"; list them with continuum datasources list`);
    await ingest()?.remove(name);
    return reply.code(204).send();
  });
};
