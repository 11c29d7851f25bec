/**
 * The data sources API: `/api/v1/datasources` (add, list with counters, delete) and a source's
 * stored samples as a training dataset (`/datasources/{name}/samples`, JSON or CSV). A definition
 * is checked here, stored, then consumed by the ingest service; see docs/ingest.md.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import { MAX_WINDOW_ROWS, PAYLOAD_FORMATS, samplesCsv } from '../ingest/index.js';
import type { DataSource, DataSourceStore, IngestService, SampleStore } from '../ingest/index.js';
import { parse } from './validate.js';

/** Options of {@link dataSourcesApiPlugin}. */
export interface DataSourcesApiOptions {
  readonly store: DataSourceStore;
  /** Where the ingested samples are kept. */
  readonly samples: SampleStore;
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

const fieldName = z.string().min(1).max(256);
/** The largest window one inference takes, in samples (and in values: 4 MiB of FP32). */
const MAX_WINDOW_SIZE = 4096;
const MAX_WINDOW_VALUES = 1024 * 1024;
const DAY_MS = 86_400_000;

const dataSourceBody = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63'),
    topic: topicFilter,
    format: z.enum(PAYLOAD_FORMATS),
    mapping: z.strictObject({
      fields: z.array(fieldName).min(1).max(4096),
      input: z.string().min(1).max(256),
      timestampField: fieldName.optional(),
      labelField: fieldName.optional(),
      seqField: fieldName.optional(),
    }),
    deployment: z.string().min(1).max(63),
    version: z.string().min(1).max(63).optional(),
    resultTopic: topicName.optional(),
    window: z
      .strictObject({ size: z.number().int().min(1).max(MAX_WINDOW_SIZE), hop: z.number().int().min(1) })
      .refine((w) => w.hop <= w.size, { message: 'hop must be at most size', path: ['hop'] })
      .optional(),
    retention: z
      .strictObject({ maxAgeMs: z.number().int().min(1000).max(3650 * DAY_MS).optional(), maxRows: z.number().int().min(1).max(1e12).optional() })
      .optional(),
  })
  .refine((s) => s.window === undefined || s.window.size * s.mapping.fields.length <= MAX_WINDOW_VALUES, {
    message: `a window holds at most ${MAX_WINDOW_VALUES} values (size × fields)`,
    path: ['window', 'size'],
  })
  .refine((s) => s.format !== 'sparkplug' || /^spBv1\.0\/[^/]+\/[^/]+\/[^/]+(\/[^/]+|\/#)?$/.test(s.topic), {
    message: 'a sparkplug topic is spBv1.0/{group}/{NDATA|DDATA}/{edge node}[/{device}]',
    path: ['topic'],
  });
const nameParams = z.object({ name: z.string() });
const samplesQuery = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_WINDOW_ROWS).default(100_000),
  format: z.enum(['json', 'csv']).default('json'),
});

function notFound(name: string): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_DATASOURCE_NOT_FOUND', `no data source "${name}"; list them with continuum datasources list`);
}

/** The data sources API; register with prefix `/api/v1`. */
export const dataSourcesApiPlugin: FastifyPluginAsync<DataSourcesApiOptions> = async (app, { store, samples, ingest }) => {
  const withCounters = (source: DataSource): DataSource & { counters: unknown } => ({ ...source, counters: ingest()?.counters(source.name) ?? null });

  app.get('/datasources', async () => ({ datasources: store.list().map(withCounters) }));

  app.get('/datasources/:name', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    const source = store.find(name);
    if (source === undefined) throw notFound(name);
    return withCounters(source);
  });

  // A time window of stored samples, oldest first: `ts` in epoch ms (JSON) or ISO 8601 (CSV).
  app.get('/datasources/:name/samples', async (request, reply) => {
    const { name } = parse(nameParams, request.params, 'path');
    const query = parse(samplesQuery, request.query, 'query');
    if (store.find(name) === undefined) throw notFound(name);
    const window = await samples.window(name, {
      ...(query.from === undefined ? {} : { fromMs: Date.parse(query.from) }),
      ...(query.to === undefined ? {} : { toMs: Date.parse(query.to) }),
      limit: query.limit,
    });
    if (query.format === 'json') return { name, ...window };
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`).send(samplesCsv(window));
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
    if (!store.delete(name)) throw notFound(name);
    await ingest()?.remove(name);
    return reply.code(204).send();
  });
};
