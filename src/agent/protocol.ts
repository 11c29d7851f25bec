/**
 * The node protocol between an agent and the control plane (`/agent/v1`, docs/agents.md), as zod
 * schemas both sides validate with: what crosses the link is untrusted on arrival, whichever
 * way it goes. Every list and string has a bound.
 */
import { z } from 'zod';
import { ContinuumError, ERROR_KINDS } from '../errors.js';
import type { ErrorCode } from '../errors.js';

/** Where a node sits in the continuum. */
export const TIERS = ['edge', 'fog', 'cloud'] as const;
/** A node's tier. */
export type Tier = (typeof TIERS)[number];

/** Node and site names: the registry's name rule (DNS-label-like, at most 63 characters). */
const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a name is 1-63 lower-case letters, digits and dashes, starting with a letter or digit');

/** What a node says about itself when it joins (and again in each heartbeat). */
export const nodeFactsSchema = z.strictObject({
  tier: z.enum(TIERS),
  site: name,
  cores: z.int().min(1).max(4096),
  memoryBytes: z.int().min(1).max(2 ** 52),
  /** The measured compute-speed score (see src/agent/benchmark.ts), times a declared speed factor. */
  speedScore: z.number().positive().max(1e9),
  pricePerHour: z.number().min(0).max(1e6),
  powerWatts: z.number().min(0).max(1e6),
  /** The URL the control plane reaches the agent's OIP endpoint at. */
  endpoint: z.url().max(512),
});
/** A node's facts. */
export type NodeFacts = z.infer<typeof nodeFactsSchema>;

/** `POST /agent/v1/join`. */
export const joinRequestSchema = z.strictObject({ token: z.string().min(1).max(256), name, facts: nodeFactsSchema });
/** A join request. */
export type JoinRequest = z.infer<typeof joinRequestSchema>;

/** The answer to a join: the node's own credential, shown this once. */
export const joinResponseSchema = z.strictObject({ node: name, credential: z.string().min(1).max(256) });
/** A join answer. */
export type JoinResponse = z.infer<typeof joinResponseSchema>;

const tensorSpec = z.strictObject({
  name: z.string().min(1).max(256),
  datatype: z.enum(['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES']),
  shape: z.array(z.int().min(-1)).max(16).readonly(),
});

/** One kind of replica a node should run: a deployment's revision, `count` times. */
export const desiredReplicaSchema = z.strictObject({
  deployment: name,
  revision: z.int().min(1),
  model: name,
  version: z.string().min(1).max(64),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  signature: z.strictObject({ inputs: z.array(tensorSpec).max(256).readonly(), outputs: z.array(tensorSpec).max(256).readonly() }),
  runtimeOptions: z.record(z.string().max(64), z.unknown()),
  count: z.int().min(1).max(1000),
});
/** One desired replica kind. */
export type DesiredReplica = z.infer<typeof desiredReplicaSchema>;

/**
 * A node's desired state: versioned by a generation number that only grows (as a Kubernetes
 * object's `metadata.generation`), so the agent can tell a newer document from one it holds.
 */
export const desiredStateSchema = z.strictObject({
  node: name,
  generation: z.int().min(0),
  replicas: z.array(desiredReplicaSchema).max(1000),
});
/** A node's desired state. */
export type DesiredState = z.infer<typeof desiredStateSchema>;

/**
 * `GET /agent/v1/desired?generation=G`: the document when the control plane's generation differs
 * from G (`state` absent when it does not), and whether the operator asked for a new credential.
 */
export const desiredResponseSchema = z.strictObject({ generation: z.int().min(0), state: desiredStateSchema.optional(), rotateCredential: z.boolean() });
/** The answer of a desired-state pull. */
export type DesiredResponse = z.infer<typeof desiredResponseSchema>;

/** Kinds of telemetry records. */
export const TELEMETRY_KINDS = ['heartbeat', 'metrics', 'event'] as const;

/** One telemetry record, numbered by the agent's spool (sequence numbers only grow). */
export const telemetryRecordSchema = z.strictObject({
  seq: z.int().min(1),
  kind: z.enum(TELEMETRY_KINDS),
  /** When the agent recorded it (ms since epoch). */
  atMs: z.int().min(0),
  body: z.record(z.string().max(64), z.unknown()),
});
/** A telemetry record. */
export type TelemetryRecord = z.infer<typeof telemetryRecordSchema>;

/** Records one upload carries at most. */
export const MAX_TELEMETRY_BATCH = 500;

/**
 * `POST /agent/v1/telemetry`: records oldest first, and how many the agent's bounded spool has
 * dropped so far (so the control plane can tell a gap it knows of from a loss).
 */
export const telemetryBatchSchema = z.strictObject({
  records: z.array(telemetryRecordSchema).max(MAX_TELEMETRY_BATCH),
  droppedTotal: z.int().min(0),
});
/** A telemetry upload. */
export type TelemetryBatch = z.infer<typeof telemetryBatchSchema>;

/** The answer to an upload: the highest sequence number the control plane holds (the agent may forget up to it). */
export const telemetryAckSchema = z.strictObject({ ackedSeq: z.int().min(0) });

/** `POST /agent/v1/credential`: a new credential; the old one works until the new one is first used. */
export const credentialResponseSchema = z.strictObject({ credential: z.string().min(1).max(256) });

/** The ContinuumError behind a Continuum `{"error", "code"}` answer (either side's), else an internal error naming `where`. */
export function errorFromAnswer(status: number, text: string, where: string): ContinuumError {
  try {
    const body = JSON.parse(text) as { error?: unknown; code?: unknown };
    if (typeof body.error === 'string') {
      const code = typeof body.code === 'string' && Object.hasOwn(ERROR_KINDS, body.code) ? (body.code as ErrorCode) : 'CONTINUUM_ERR_INTERNAL';
      return new ContinuumError(code, body.error, { details: { httpStatus: status } });
    }
  } catch {
    // Not JSON: reported below with the status.
  }
  return new ContinuumError('CONTINUUM_ERR_INTERNAL', `${where} answered HTTP ${status}: ${text.slice(0, 200)}`, { details: { httpStatus: status } });
}
