/**
 * The agent's client of the control plane's node API (`/agent/v1`, docs/agents.md). Every answer
 * is validated with the protocol's schemas before use; a control plane that cannot be reached is
 * CONTINUUM_ERR_SERVER_UNREACHABLE, which the agent treats as "offline" and keeps serving.
 */
import type { Readable } from 'node:stream';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import { ContinuumError } from '../errors.js';
import { credentialResponseSchema, desiredResponseSchema, errorFromAnswer, joinResponseSchema, telemetryAckSchema } from './protocol.js';
import type { DesiredResponse, JoinRequest, JoinResponse, TelemetryBatch } from './protocol.js';
import { pinnedDispatcher } from './tls.js';

/** Longest wait for a control-plane answer's headers and between body chunks. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Largest JSON answer read from the control plane. */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** A client of one control plane, authenticated by the node's credential. */
export class ControlPlaneClient {
  /** Base URL without a trailing slash. */
  readonly server: string;

  private readonly dispatcher: Dispatcher | undefined;

  constructor(
    server: string,
    /** The credential to send (it changes when rotated). */
    private readonly credential: () => string | undefined,
    /** The pinned certificate fingerprint of an https control plane (src/agent/tls.ts); absent: plain HTTP, or the system's CAs. */
    fingerprint?: string,
  ) {
    this.server = server.replace(/\/+$/, '');
    this.dispatcher = fingerprint === undefined ? undefined : pinnedDispatcher(fingerprint);
  }

  /** Exchanges a join token for the node's credential. */
  join(body: JoinRequest): Promise<JoinResponse> {
    return this.json('POST', '/agent/v1/join', joinResponseSchema, body);
  }

  /** The desired state when it differs from `generation`, and whether to rotate the credential. */
  desired(generation: number): Promise<DesiredResponse> {
    return this.json('GET', `/agent/v1/desired?generation=${generation}`, desiredResponseSchema);
  }

  /** Uploads telemetry; resolves with the highest sequence number the control plane holds. */
  async telemetry(batch: TelemetryBatch): Promise<number> {
    return (await this.json('POST', '/agent/v1/telemetry', telemetryAckSchema, batch)).ackedSeq;
  }

  /** Asks for a new credential (the old one works until the new one is first used). */
  async rotate(): Promise<string> {
    return (await this.json('POST', '/agent/v1/credential', credentialResponseSchema, {})).credential;
  }

  /** The artifact with digest `sha256`, as a stream (the caller verifies it). */
  async artifact(sha256: string): Promise<Readable> {
    const res = await this.send('GET', `/agent/v1/artifacts/${sha256}`, undefined);
    if (res.statusCode !== 200) throw errorFromAnswer(res.statusCode, await res.body.text(), this.server);
    return res.body;
  }

  private async json<T>(method: 'GET' | 'POST', path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    const length = Number(res.headers['content-length'] ?? 0);
    if (length > MAX_ANSWER_BYTES) {
      res.body.destroy();
      throw new ContinuumError('CONTINUUM_ERR_LIMIT_EXCEEDED', `the control plane's answer to ${path} is ${length} bytes, over the agent's ${MAX_ANSWER_BYTES}`);
    }
    const text = await res.body.text();
    if (res.statusCode >= 400) throw errorFromAnswer(res.statusCode, text, this.server);
    const parsed = schema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new ContinuumError('CONTINUUM_ERR_INTERNAL', `the control plane's answer to ${path} is not what the node protocol says: ${parsed.error.message}`);
    return parsed.data;
  }

  private async send(method: 'GET' | 'POST', path: string, body: unknown): Promise<Dispatcher.ResponseData> {
    const credential = this.credential();
    const headers: Record<string, string> = { accept: 'application/json' };
    if (credential !== undefined) headers['authorization'] = `Bearer ${credential}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await request(`${this.server}${path}`, {
        method,
        headers,
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: REQUEST_TIMEOUT_MS,
        ...(this.dispatcher === undefined ? {} : { dispatcher: this.dispatcher }),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new ContinuumError('CONTINUUM_ERR_SERVER_UNREACHABLE', `cannot reach the control plane at ${this.server}: ${err instanceof Error ? err.message : String(err)}`, { cause: err, details: { server: this.server } });
    }
  }
}
