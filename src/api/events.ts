/**
 * The global event log, `/api/v1/events`: every deployment's events in one list (by deployment,
 * type, and after an id for paging forward) and as a server-sent event stream
 * (`/api/v1/events/stream`) that replays what a reconnecting client missed (`Last-Event-ID`).
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { DeploymentStore } from '../deploy/index.js';
import type { EventStream } from '../observe/index.js';
import { parse } from './validate.js';

/** Options of {@link eventsApiPlugin}. */
export interface EventsApiOptions {
  readonly store: DeploymentStore;
  readonly stream: EventStream;
}

const eventId = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const filterQuery = {
  deployment: z.string().min(1).max(63).optional(),
  type: z.string().min(1).max(64).optional(),
  after: eventId.optional(),
};
const listQuery = z.object({ ...filterQuery, limit: z.coerce.number().int().min(1).max(1000).default(100) });
const streamQuery = z.object(filterQuery);

/** Drops the keys whose value is undefined. */
function given<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The event log API; register with prefix `/api/v1`. */
export const eventsApiPlugin: FastifyPluginAsync<EventsApiOptions> = async (app, { store, stream }) => {
  app.get('/events', async (request) => {
    const { limit, after, ...filter } = parse(listQuery, request.query, 'query');
    return { events: store.queryEvents({ limit, ...given(filter), ...(after === undefined ? {} : { afterId: after }) }) };
  });

  app.get('/events/stream', async (request, reply) => {
    const { after, ...filter } = parse(streamQuery, request.query, 'query');
    const header = request.headers['last-event-id'];
    // A browser's EventSource sends the last id it saw on reconnection; it wins over the query's starting point.
    const lastEventId = typeof header === 'string' && header !== '' ? parse(eventId, header, 'Last-Event-ID header') : after;
    reply.hijack();
    stream.attach(reply.raw, given(filter), lastEventId);
  });
};
