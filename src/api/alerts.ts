/**
 * Alerts' management API: `/api/v1/alerts/rules` (add, list, delete) and `/api/v1/alerts` (firing
 * and recently resolved alerts with their webhook deliveries). Shapes are checked here; what a
 * rule means (kinds, thresholds, windows, URLs) by the rule compiler.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ALERT_KINDS, ALERT_SEVERITIES } from '../observe/index.js';
import type { AlertEngine } from '../observe/index.js';
import { parse } from './validate.js';

/** Options of {@link alertsApiPlugin}. */
export interface AlertsApiOptions {
  readonly engine: AlertEngine;
}

const duration = z.int().min(0);
const ruleBody = z.strictObject({
  name: z.string().min(1).max(63),
  kind: z.enum(ALERT_KINDS),
  deployment: z.string().min(1).max(63).optional(),
  severity: z.enum(ALERT_SEVERITIES).optional(),
  threshold: z.number().min(0),
  forMs: duration.optional(),
  windowMs: duration.optional(),
  webhooks: z.array(z.string().max(2048)).max(8).optional(),
});
const nameParams = z.object({ name: z.string() });
const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(50) });

/** The alerts API; register with prefix `/api/v1`. */
export const alertsApiPlugin: FastifyPluginAsync<AlertsApiOptions> = async (app, { engine }) => {
  app.get('/alerts/rules', async () => ({ rules: engine.rules() }));

  app.post('/alerts/rules', async (request, reply) => {
    const body = parse(ruleBody, request.body, 'alert rule');
    return reply.code(201).send(engine.addRule(body));
  });

  app.delete('/alerts/rules/:name', async (request, reply) => {
    const { name } = parse(nameParams, request.params, 'path');
    engine.deleteRule(name);
    return reply.code(204).send();
  });

  app.get('/alerts', async (request) => {
    const { limit } = parse(listQuery, request.query, 'query');
    return engine.alerts(limit);
  });
};
