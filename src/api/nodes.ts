/**
 * Nodes (docs/agents.md). Two surfaces:
 * - the management API under `/api/v1/nodes` (management tokens, as every `/api` route): join
 *   tokens, list, show, rotate, revoke;
 * - the node API under `/agent/v1` that agents call, authenticated by each node's own credential
 *   (never a management token): join, desired state, artifacts by digest, telemetry, credential
 *   rotation. A node may fetch only the artifacts its desired state names.
 */
import { createReadStream } from 'node:fs';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { NodeStore } from '../agent/nodes.js';
import { joinRequestSchema, telemetryBatchSchema, TELEMETRY_KINDS } from '../agent/protocol.js';
import { ContinuumError } from '../errors.js';
import { bearerToken } from '../security/index.js';
import type { NodeFleet } from '../targets/agent/index.js';
import { parse } from './validate.js';

/** Options of the two node plugins. */
export interface NodesApiOptions {
  readonly store: NodeStore;
  readonly fleet: NodeFleet;
  /** The path of the artifact of a registry model version. */
  readonly artifactPath: (model: string, version: string) => string;
  /** A node that made no contact for this long shows as not ready. @default 30000 */
  readonly readyWithinMs?: number;
  /** The node API's HTTPS port and certificate fingerprint, when it is served over TLS (a join token's answer carries them). */
  readonly nodeApi?: () => { readonly port: number; readonly fingerprint: string } | undefined;
}

/** Longest a join token may live (a week, like the longest-lived Kubernetes bootstrap tokens people use). */
const MAX_JOIN_TOKEN_TTL_MS = 7 * 24 * 3600 * 1000;
/** Largest telemetry upload: a full batch of the largest records, with room for JSON framing. */
const MAX_TELEMETRY_BODY_BYTES = 9 * 1024 * 1024;
/** Largest body of every other node API call (a join's facts, an empty rotation request). */
const MAX_SMALL_BODY_BYTES = 64 * 1024;

const nameParams = z.object({ name: z.string().max(63) });
const joinTokenBody = z.strictObject({ ttlMs: z.int().min(1000).max(MAX_JOIN_TOKEN_TTL_MS).optional() }).optional();
const telemetryQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).optional(), kind: z.enum(TELEMETRY_KINDS).optional() });
const desiredQuery = z.object({ generation: z.coerce.number().int().min(0).optional() });
const artifactParams = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/, 'an artifact is named by its 64-hex-digit sha256') });

/** The management side; register with prefix `/api/v1`. */
export const nodesApiPlugin: FastifyPluginAsync<NodesApiOptions> = async (app, { store, fleet, readyWithinMs = 30_000, nodeApi }) => {
  const view = (name: string): ReturnType<NodeStore['view']> => store.view(name, Date.now(), readyWithinMs);

  app.post('/nodes/join-tokens', async (request, reply) => {
    const body = parse(joinTokenBody, request.body ?? undefined, 'join token request');
    const tls = nodeApi?.();
    return reply.code(201).send({ ...store.createJoinToken(body?.ttlMs ?? 3600_000, Date.now()), ...(tls === undefined ? {} : { agentPort: tls.port, fingerprint: tls.fingerprint }) });
  });

  app.get('/nodes', async () => ({ nodes: store.names().map(view) }));

  app.get('/nodes/:name', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    return { ...view(name), events: store.telemetry(name, 20, 'event') };
  });

  app.get('/nodes/:name/telemetry', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    const query = parse(telemetryQuery, request.query, 'query');
    return { records: store.telemetry(name, query.limit ?? 100, query.kind) };
  });

  app.post('/nodes/:name/rotate', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    store.requestRotation(name);
    return view(name);
  });

  app.post('/nodes/:name/revoke', async (request) => {
    const { name } = parse(nameParams, request.params, 'path');
    store.revoke(name, Date.now());
    fleet.revoked(name);
    return view(name);
  });
};

/** The node side that agents call; register with prefix `/agent/v1`. */
export const agentApiPlugin: FastifyPluginAsync<NodesApiOptions> = async (app, { store, artifactPath }) => {
  const nodeOf = (request: FastifyRequest): string => {
    const credential = bearerToken(request.headers.authorization);
    if (credential === undefined) throw new ContinuumError('CONTINUUM_ERR_UNAUTHENTICATED', 'the node API needs the node credential: "Authorization: Bearer <credential>"');
    return store.authenticate(credential, Date.now());
  };

  app.post('/join', { bodyLimit: MAX_SMALL_BODY_BYTES }, async (request, reply) => reply.code(201).send(store.join(parse(joinRequestSchema, request.body, 'join request'), Date.now())));

  app.get('/desired', async (request) => {
    const node = nodeOf(request);
    const { generation } = parse(desiredQuery, request.query, 'query');
    const state = store.desired(node);
    return { generation: state.generation, ...(state.generation === generation ? {} : { state }), rotateCredential: store.rotationRequested(node) };
  });

  app.get('/artifacts/:sha256', async (request, reply) => {
    const node = nodeOf(request);
    const { sha256 } = parse(artifactParams, request.params, 'path');
    const wanted = store.desired(node).replicas.find((r) => r.sha256 === sha256);
    if (wanted === undefined) throw new ContinuumError('CONTINUUM_ERR_FORBIDDEN', `node '${node}' has no replica that needs artifact sha256:${sha256}`);
    return reply.type('application/octet-stream').send(createReadStream(artifactPath(wanted.model, wanted.version)));
  });

  app.post('/telemetry', { bodyLimit: MAX_TELEMETRY_BODY_BYTES }, async (request) => {
    const node = nodeOf(request);
    return { ackedSeq: store.acceptTelemetry(node, parse(telemetryBatchSchema, request.body, 'telemetry upload')) };
  });

  app.post('/credential', { bodyLimit: MAX_SMALL_BODY_BYTES }, async (request) => ({ credential: store.issueCredential(nodeOf(request)) }));
};
