/**
 * The control plane as an OIP v2 REST client of an agent's endpoint: one inference request as
 * OIP JSON, the answer decoded with the gateway's own tensor decoder (a response's `outputs` are
 * tensors of the same JSON form as a request's `inputs`), and the agent's error answers turned
 * back into the ContinuumError the agent raised.
 */
import { Pool } from 'undici';
import { errorFromAnswer } from '../../agent/protocol.js';
import { ContinuumError } from '../../errors.js';
import { compileRequestLimits, decodeInferRequest, tensorDataJson } from '../../gateway/index.js';
import type { InferRequest, InferResponse, ModelStatistics, Tensor } from '../../oip/types.js';

/** Limits applied to what an agent answers (the gateway's defaults: an agent is no more trusted than a client). */
const LIMITS = compileRequestLimits();

/** The OIP JSON text of an inference request (spec, "Inference Request JSON Object"). */
export function encodeInferRequestJson(request: InferRequest): string {
  const inputs = request.inputs.map(
    (t: Tensor) =>
      `{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":[${t.shape.join(',')}]${t.parameters === undefined ? '' : `,"parameters":${JSON.stringify(t.parameters)}`},"data":${tensorDataJson(t.datatype, t.data)}}`,
  );
  const head = [
    ...(request.id === undefined ? [] : [`"id":${JSON.stringify(request.id)}`]),
    ...(request.parameters === undefined ? [] : [`"parameters":${JSON.stringify(request.parameters)}`]),
    ...(request.outputs === undefined ? [] : [`"outputs":${JSON.stringify(request.outputs)}`]),
  ];
  return `{${[...head, `"inputs":[${inputs.join(',')}]`].join(',')}}`;
}

/** Decodes an OIP JSON inference response. */
export function decodeInferResponseJson(text: string): InferResponse {
  const body = JSON.parse(text) as { model_name?: unknown; model_version?: unknown; id?: unknown; outputs?: unknown };
  if (typeof body.model_name !== 'string' || typeof body.model_version !== 'string') {
    throw new ContinuumError('CONTINUUM_ERR_INTERNAL', 'the agent answered an inference without model_name and model_version');
  }
  const { inputs } = decodeInferRequest({ inputs: body.outputs }, LIMITS);
  return { model_name: body.model_name, model_version: body.model_version, ...(typeof body.id === 'string' ? { id: body.id } : {}), outputs: inputs };
}

/** A keep-alive connection pool to one agent's OIP endpoint. */
export class AgentOipClient {
  private readonly pool: Pool;

  constructor(readonly endpoint: string) {
    this.pool = new Pool(endpoint, { connections: 16, keepAliveTimeout: 30_000 });
  }

  /**
   * Sends a request; a connection failure or a timeout rejects with CONTINUUM_ERR_REPLICA_LOST
   * (inference is idempotent, so the router may retry it on another replica).
   */
  async infer(model: string, version: string, request: InferRequest, timeoutMs: number): Promise<InferResponse> {
    const { status, text } = await this.send('POST', `/v2/models/${model}/versions/${version}/infer`, encodeInferRequestJson(request), timeoutMs);
    if (status !== 200) throw errorFromAnswer(status, text, `the agent at ${this.endpoint}`);
    return decodeInferResponseJson(text);
  }

  /** Whether the agent serves `model` at `version` now. */
  async ready(model: string, version: string, timeoutMs: number): Promise<boolean> {
    try {
      return (await this.send('GET', `/v2/models/${model}/versions/${version}/ready`, undefined, timeoutMs)).status === 200;
    } catch {
      return false;
    }
  }

  /** The agent's statistics of `model` at `version` (statistics extension). */
  async statistics(model: string, version: string, timeoutMs: number): Promise<ModelStatistics> {
    const { status, text } = await this.send('GET', `/v2/models/${model}/versions/${version}/stats`, undefined, timeoutMs);
    if (status !== 200) throw errorFromAnswer(status, text, `the agent at ${this.endpoint}`);
    const [first] = (JSON.parse(text) as { model_stats: ModelStatistics[] }).model_stats;
    if (first === undefined) throw new ContinuumError('CONTINUUM_ERR_INTERNAL', `the agent at ${this.endpoint} has no statistics of ${model} ${version}`);
    return first;
  }

  /** Closes the pool's connections. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  private async send(method: 'GET' | 'POST', path: string, body: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
    try {
      const res = await this.pool.request({
        method,
        path,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
      });
      return { status: res.statusCode, text: await res.body.text() };
    } catch (err) {
      throw new ContinuumError('CONTINUUM_ERR_REPLICA_LOST', `the agent at ${this.endpoint} did not answer: ${err instanceof Error ? err.message : String(err)}`, { cause: err, retryAfterS: 1 });
    }
  }
}
