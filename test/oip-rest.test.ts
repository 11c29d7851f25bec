/**
 * OIP v2 REST end to end: every endpoint, every datatype through JSON and the binary tensor
 * extension, output selection, id echo, statistics and the repository extension, against the
 * real Runtime and ONNX Runtime behind Fastify on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryBody, identityModel, SAMPLES, startOipServer } from './oip-fixture.js';
import type { OipServer } from './oip-fixture.js';

let server: OipServer;

beforeAll(async () => {
  server = await startOipServer();
});

afterAll(async () => {
  await server.close();
});

interface OutputJson {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: Record<string, unknown>;
}

interface InferJson {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: OutputJson[];
}

async function postJson(path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** Splits a binary-extension response into its JSON header and the raw bytes after it. */
async function binaryResponse(res: Response): Promise<{ header: InferJson; tail: Buffer }> {
  const length = Number(res.headers.get('inference-header-content-length'));
  const body = Buffer.from(await res.arrayBuffer());
  return { header: JSON.parse(body.subarray(0, length).toString('utf8')) as InferJson, tail: body.subarray(length) };
}

const MLP_INPUT = { name: 'input', datatype: 'FP32', shape: [2, 4], data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] };

describe('OIP REST: server and model endpoints', () => {
  it('reports server metadata, liveness and readiness', async () => {
    const meta = await fetch(`${server.url}/v2`);
    expect(meta.status).toBe(200);
    expect(await meta.json()).toMatchObject({ name: 'continuum', version: expect.any(String), extensions: expect.arrayContaining(['statistics', 'model_repository']) });
    const live = await fetch(`${server.url}/v2/health/live`);
    expect(live.status).toBe(200);
    expect(await live.text()).toBe('');
    expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
  });

  it('returns model metadata with and without a version, and 404 for unknown models and versions', async () => {
    const expected = {
      name: 'mlp',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [
        { name: 'output', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
    };
    expect(await (await fetch(`${server.url}/v2/models/mlp`)).json()).toEqual(expected);
    expect(await (await fetch(`${server.url}/v2/models/mlp/versions/1`)).json()).toEqual(expected);
    const unknownModel = await fetch(`${server.url}/v2/models/nope`);
    expect(unknownModel.status).toBe(404);
    expect(await unknownModel.json()).toMatchObject({ code: 'CONTINUUM_ERR_MODEL_NOT_FOUND', error: expect.stringContaining('nope') });
    const unknownVersion = await fetch(`${server.url}/v2/models/mlp/versions/7`);
    expect(unknownVersion.status).toBe(404);
    expect(await unknownVersion.json()).toMatchObject({ code: 'CONTINUUM_ERR_VERSION_NOT_FOUND' });
  });

  it('answers model readiness with 200, and 404 for an unknown model', async () => {
    expect((await fetch(`${server.url}/v2/models/mlp/ready`)).status).toBe(200);
    expect((await fetch(`${server.url}/v2/models/mlp/versions/1/ready`)).status).toBe(200);
    expect((await fetch(`${server.url}/v2/models/nope/ready`)).status).toBe(404);
  });
});

describe('OIP REST: inference over JSON', () => {
  it.each(SAMPLES.filter((s) => s.json !== undefined))('round-trips $datatype exactly', async (sample) => {
    const res = await postJson(`/v2/models/${identityModel(sample.datatype)}/infer`, {
      inputs: [{ name: 'in_0', datatype: sample.datatype, shape: [2, 3], data: sample.json }],
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await res.text();
    const body = JSON.parse(text) as InferJson;
    expect(body.outputs).toEqual([{ name: 'out_0', datatype: sample.datatype, shape: [2, 3], data: sample.parsed }]);
    // 64-bit integers are written as exact literals, beyond what a double keeps.
    if (sample.datatype === 'INT64') expect(text).toContain('"data":[-9223372036854775808,9223372036854775807,-9007199254740991,0,-1,42]');
    if (sample.datatype === 'UINT64') expect(text).toContain('"data":[0,18446744073709551615,1,9007199254740991,5,7]');
  });

  it('accepts nested data that matches the shape and gives the same answer as flat data', async () => {
    const flat = (await (await postJson('/v2/models/mlp/infer', { inputs: [MLP_INPUT] })).json()) as InferJson;
    const nested = await postJson('/v2/models/mlp/infer', {
      inputs: [{ ...MLP_INPUT, data: [MLP_INPUT.data.slice(0, 4), MLP_INPUT.data.slice(4)] }],
    });
    expect(nested.status).toBe(200);
    expect(((await nested.json()) as InferJson).outputs).toEqual(flat.outputs);
    // The MLP's softmax rows sum to one and its label is the arg-max.
    const probs = flat.outputs.find((o) => o.name === 'output')?.data as number[];
    expect(probs.slice(0, 3).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const label = flat.outputs.find((o) => o.name === 'label')?.data as number[];
    expect(label[0]).toBe(probs.slice(0, 3).indexOf(Math.max(...probs.slice(0, 3))));
  });

  it('echoes the request id, and leaves it out when none was sent', async () => {
    const withId = (await (await postJson('/v2/models/mlp/infer', { id: 'req-42 ✓', inputs: [MLP_INPUT] })).json()) as InferJson;
    expect(withId).toMatchObject({ model_name: 'mlp', model_version: '1', id: 'req-42 ✓' });
    const withoutId = (await (await postJson('/v2/models/mlp/infer', { inputs: [MLP_INPUT] })).json()) as InferJson;
    expect(withoutId).not.toHaveProperty('id');
  });

  it('returns only the requested outputs, in the order the model has them', async () => {
    const only = (await (await postJson('/v2/models/mlp/infer', { inputs: [MLP_INPUT], outputs: [{ name: 'label' }] })).json()) as InferJson;
    expect(only.outputs.map((o) => o.name)).toEqual(['label']);
    expect(only.outputs[0]).toMatchObject({ datatype: 'INT64', shape: [2] });
    const unknown = await postJson('/v2/models/mlp/infer', { inputs: [MLP_INPUT], outputs: [{ name: 'nope' }] });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ code: 'CONTINUUM_ERR_UNKNOWN_OUTPUT' });
  });

  it('serves a pinned version at /versions/{v}/infer', async () => {
    const res = await postJson('/v2/models/mlp/versions/1/infer', { inputs: [MLP_INPUT] });
    expect(res.status).toBe(200);
    expect(((await res.json()) as InferJson).model_version).toBe('1');
    expect((await postJson('/v2/models/mlp/versions/9/infer', { inputs: [MLP_INPUT] })).status).toBe(404);
  });

  it('reads JSON posted the way `curl -d` sends it (form content type) or with no content type', async () => {
    const form = await postJson('/v2/models/mlp/infer', { inputs: [MLP_INPUT] }, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(200);
    const none = await fetch(`${server.url}/v2/models/mlp/infer`, { method: 'POST', body: Buffer.from(JSON.stringify({ inputs: [MLP_INPUT] })) });
    expect(none.status).toBe(200);
  });

  it('writes FP16 outputs as the numbers their half-precision bits stand for', async () => {
    const fp16 = SAMPLES.find((s) => s.datatype === 'FP16')!;
    const { body, headerLength } = binaryBody(
      { inputs: [{ name: 'in_0', datatype: 'FP16', shape: [2, 3], parameters: { binary_data_size: fp16.raw.length } }] },
      fp16.raw,
    );
    const res = await fetch(`${server.url}/v2/models/id-fp16/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('inference-header-content-length')).toBeNull();
    expect(((await res.json()) as InferJson).outputs[0]?.data).toEqual(fp16.parsed);
  });
});

describe('OIP REST: binary tensor extension', () => {
  it.each(SAMPLES)('round-trips $datatype as raw bytes in both directions', async (sample) => {
    const { body, headerLength } = binaryBody(
      {
        id: 'bin',
        inputs: [{ name: 'in_0', datatype: sample.datatype, shape: [2, 3], parameters: { binary_data_size: sample.raw.length } }],
        parameters: { binary_data_output: true },
      },
      sample.raw,
    );
    const res = await fetch(`${server.url}/v2/models/${identityModel(sample.datatype)}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const { header, tail } = await binaryResponse(res);
    expect(header).toMatchObject({ id: 'bin', model_name: identityModel(sample.datatype) });
    expect(header.outputs).toEqual([
      { name: 'out_0', datatype: sample.datatype, shape: [2, 3], parameters: { binary_data_size: sample.raw.length } },
    ]);
    expect(Buffer.compare(tail, sample.raw)).toBe(0);
  });

  it('sends raw only the outputs that ask for binary_data and JSON for the rest', async () => {
    const res = await postJson('/v2/models/mlp/infer', {
      inputs: [MLP_INPUT],
      outputs: [{ name: 'output', parameters: { binary_data: true } }, { name: 'label', parameters: { binary_data: false } }],
    });
    expect(res.status).toBe(200);
    const { header, tail } = await binaryResponse(res);
    const [output, label] = header.outputs;
    expect(output).toEqual({ name: 'output', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } });
    expect(label).toMatchObject({ name: 'label', datatype: 'INT64', shape: [2], data: expect.any(Array) });
    const probs = new Float32Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + tail.length));
    expect(probs[0]! + probs[1]! + probs[2]!).toBeCloseTo(1, 5);
  });

  it('mixes binary and JSON inputs in one request', async () => {
    const x = Float32Array.from(MLP_INPUT.data);
    const { body, headerLength } = binaryBody(
      { inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], parameters: { binary_data_size: x.byteLength } }] },
      Buffer.from(x.buffer),
    );
    const res = await fetch(`${server.url}/v2/models/mlp/infer`, {
      method: 'POST',
      headers: { 'inference-header-content-length': String(headerLength) },
      body,
    });
    expect(res.status).toBe(200);
    const viaJson = (await (await postJson('/v2/models/mlp/infer', { inputs: [MLP_INPUT] })).json()) as InferJson;
    expect(((await res.json()) as InferJson).outputs).toEqual(viaJson.outputs);
  });
});

describe('OIP REST: statistics and repository extensions', () => {
  it('counts inferences per model version', async () => {
    type Stats = { model_stats: { name: string; version: string; inference_count: number; execution_count: number; inference_stats: { success: { count: number } } }[] };
    const before = (await (await fetch(`${server.url}/v2/models/id-int16/stats`)).json()) as Stats;
    const sample = SAMPLES.find((s) => s.datatype === 'INT16')!;
    await postJson(`/v2/models/id-int16/infer`, { inputs: [{ name: 'in_0', datatype: 'INT16', shape: [2, 3], data: sample.json }] });
    const after = (await (await fetch(`${server.url}/v2/models/id-int16/versions/1/stats`)).json()) as Stats;
    expect(after.model_stats).toHaveLength(1);
    expect(after.model_stats[0]).toMatchObject({ name: 'id-int16', version: '1' });
    // Triton counts each batch row as one inference: this request has a batch of 2.
    expect(after.model_stats[0]!.inference_count - (before.model_stats[0]?.inference_count ?? 0)).toBe(2);
    expect(after.model_stats[0]!.inference_stats.success.count - (before.model_stats[0]?.inference_stats.success.count ?? 0)).toBe(1);
    const all = (await (await fetch(`${server.url}/v2/models/stats`)).json()) as Stats;
    expect(all.model_stats.map((s) => s.name)).toEqual(expect.arrayContaining(['mlp', 'id-int16', 'id-bytes']));
    expect((await fetch(`${server.url}/v2/models/nope/stats`)).status).toBe(404);
  });

  it('lists the repository, unloads a model (then 503 with Retry-After) and loads it back', async () => {
    type Entry = { name: string; version: string; state: string; reason: string };
    const index = (await (await postJson('/v2/repository/index', '')).json()) as Entry[];
    expect(index).toContainEqual({ name: 'id-bool', version: '1', state: 'READY', reason: '' });

    const unload = await postJson('/v2/repository/models/id-bool/unload', '');
    expect(unload.status).toBe(200);
    expect((await fetch(`${server.url}/v2/models/id-bool/ready`)).status).toBe(503);
    const sample = SAMPLES.find((s) => s.datatype === 'BOOL')!;
    const request = { inputs: [{ name: 'in_0', datatype: 'BOOL', shape: [2, 3], data: sample.json }] };
    const refused = await postJson('/v2/models/id-bool/infer', request);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ code: 'CONTINUUM_ERR_MODEL_NOT_READY' });
    const readyOnly = (await (await postJson('/v2/repository/index', { ready: true })).json()) as Entry[];
    expect(readyOnly.map((e) => e.name)).not.toContain('id-bool');
    expect(readyOnly.map((e) => e.name)).toContain('mlp');

    expect((await postJson('/v2/repository/models/id-bool/load', '')).status).toBe(200);
    expect((await fetch(`${server.url}/v2/models/id-bool/ready`)).status).toBe(200);
    expect((await postJson('/v2/models/id-bool/infer', request)).status).toBe(200);
    expect((await postJson('/v2/repository/models/nope/load', '')).status).toBe(404);
  });
});
