/**
 * Optimization end to end on a real server: an MLP trained on the Iris data set is pushed with the
 * data set attached; `continuum optimize` (the CLI process against the server) records its int8
 * version with lineage and a report measured on ONNX Runtime; the fp16 version over REST; an
 * int8 version that loses its accuracy is refused by the budget, and when recorded anyway, the
 * release pipeline's accuracy gate compares it with its original and stops it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMlp } from '../src/onnx/build.js';
import type { OptimizationReport } from '../src/optimize/index.js';
import type { ModelDetail, ModelVersion } from '../src/registry/index.js';
import { irisDataset, labelIndices } from '../src/release/index.js';
import type { Release } from '../src/release/index.js';
import { startServer } from '../src/server/index.js';
import type { RunningServer } from '../src/server/index.js';
import { trainMlp } from '../src/training/index.js';
import { cliAgainst } from './support/cli-process.js';

const { onnx } = onnxProto;
let server: RunningServer;
let dataDir: string;
const iris = irisDataset();
const trained = trainMlp(iris.features, labelIndices(iris), { hiddenSizes: [256, 256], epochs: 40, seed: 7 });

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'continuum-optimize-e2e-'));
  server = await startServer({ port: 0, grpcPort: 0, dataDir, logLevel: 'silent', demo: false });
});

afterAll(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function api<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: T }> {
  const res = await request(`${server.url}/api/v1${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': contentType }, body: body instanceof Uint8Array ? body : JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

async function pushWithDataset(name: string, model: Uint8Array): Promise<void> {
  expect((await api<ModelVersion>('POST', `/models/${name}/versions`, model, 'application/octet-stream')).status).toBe(201);
  expect((await api('PUT', `/models/${name}/dataset`, iris)).status).toBe(200);
}

/**
 * The trained MLP with one extra hidden unit that is always 10⁴ and feeds nothing: float32
 * answers are unchanged, but the unit stretches the int8 activation range of the next layer so
 * far that every other activation rounds to zero.
 */
function fragile(model: Uint8Array): Uint8Array {
  const m = onnx.ModelProto.decode(model);
  const graph = m.graph as onnxProto.onnx.GraphProto;
  const gemms = graph.node.filter((n) => n.opType === 'Gemm');
  // Each weight is copied out, changed, and its bytes put back on encoding.
  const weight = (name: string): Float32Array => {
    const tensor = graph.initializer.find((i) => i.name === name) as onnxProto.onnx.TensorProto;
    const values = new Float32Array(new Uint8Array(tensor.rawData).buffer);
    tensor.rawData = new Uint8Array(values.buffer);
    return values;
  };
  const [w0, b0, w1] = [weight(gemms[0]?.input?.[1] ?? ''), weight(gemms[0]?.input?.[2] ?? ''), weight(gemms[1]?.input?.[1] ?? '')];
  const width = b0.length;
  for (let r = 0; r < w0.length / width; r++) w0[r * width] = 0;
  b0[0] = 1e4;
  w1.fill(0, 0, w1.length / width);
  return onnx.ModelProto.encode(m).finish();
}

describe('continuum optimize', () => {
  it('records an int8 version with lineage, a quarter of the size, within one point of accuracy (CLI)', async () => {
    await pushWithDataset('flowers', trained.model);
    const cli = cliAgainst(server.url);
    const report = JSON.parse(await cli('optimize', 'flowers:1', '--quantize', 'int8', '--max-accuracy-drop', '0.01', '--requests', '20', '--json')) as OptimizationReport;
    expect(report).toMatchObject({ model: 'flowers', original: '1', version: '2', optimization: 'int8', gate: { status: 'passed' } });
    expect(report.sizeRatio).toBeLessThan(0.3);
    expect(report.accuracy.rows).toBe(150);
    expect(report.accuracy.drop).toBeLessThanOrEqual(0.01);
    expect(report.latency.map((l) => l.batch)).toEqual([1, 32]);
    const v2 = (await api<ModelVersion>('GET', '/models/flowers/versions/2')).body;
    expect(v2.labels).toMatchObject({ 'optimized-from': '1', optimization: 'int8' });
    expect(v2.size_bytes).toBe(report.optimizedBytes);
    expect(v2.signature).toEqual((await api<ModelVersion>('GET', '/models/flowers/versions/1')).body.signature);
    const text = await cli('optimize', 'flowers:1', '--quantize', 'int8', '--requests', '10');
    expect(text).toMatch(/file size .* 0\.2\d\d×/);
    expect(text).toMatch(/Recorded flowers:3 \(optimized from 1\)/);
  });

  it('serves the recorded int8 version through the inference endpoint once it is production', async () => {
    expect((await api('PUT', '/models/flowers/aliases/production', { version: '2' })).status).toBe(200);
    expect((await request(`${server.url}/v2/repository/models/flowers/load`, { method: 'POST' })).statusCode).toBe(200);
    const res = await request(`${server.url}/v2/models/flowers/versions/2/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }], outputs: [{ name: 'label' }] }),
    });
    const body = (await res.body.json()) as { outputs: { data: number[] }[] };
    expect(res.statusCode, JSON.stringify(body)).toBe(200);
    expect(body.outputs[0]?.data).toEqual([0]);
  });

  it('records an fp16 version over REST at about half the size with outputs within float16 rounding', async () => {
    const { status, body } = await api<OptimizationReport>('POST', '/models/flowers/optimize', { ref: '1', quantize: 'fp16', version: 'fp16', latencyRequests: 10 });
    expect(status, JSON.stringify(body)).toBe(201);
    expect(body).toMatchObject({ version: 'fp16', optimization: 'fp16', accuracy: { drop: 0, top1Agreement: 1 } });
    expect(body.sizeRatio).toBeLessThan(0.55);
    expect(body.maxAbsDiff).toBeLessThan(2e-3);
  });

  it('refuses an int8 version beyond the accuracy budget and records nothing', async () => {
    const bytes = fragile(trained.model);
    // The float32 model is unchanged by the extra unit.
    const session = await ort.InferenceSession.create(bytes);
    const x = new ort.Tensor('float32', Float32Array.from(iris.features.flat()), [150, 4]);
    const labels = (await session.run({ input: x }))['label']?.data as BigInt64Array;
    await session.release();
    expect(Array.from(labels, Number).filter((l, i) => l === labelIndices(iris)[i]).length).toBeGreaterThan(140);
    await pushWithDataset('fragile', bytes);
    const { status, body } = await api<{ code: string; error: string }>('POST', '/models/fragile/optimize', { quantize: 'int8', maxAccuracyDrop: 0.01, latencyRequests: 10 });
    expect(status).toBe(422);
    expect(body.code).toBe('CONTINUUM_ERR_ACCURACY_BUDGET');
    expect(body.error).toMatch(/was not recorded: accuracy .* below/);
    expect((await api<ModelDetail>('GET', '/models/fragile')).body.version_count).toBe(1);
  });

  it('lets the release gate compare an optimized version with its original and stop it over the budget', async () => {
    const recorded = await api<OptimizationReport>('POST', '/models/fragile/optimize', { quantize: 'int8', latencyRequests: 10 });
    expect(recorded.status).toBe(201);
    expect(recorded.body.accuracy.drop).toBeGreaterThan(0.3);
    // A newer version: without lineage it would be the baseline.
    expect((await api('POST', '/models/fragile/versions', buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3, argmaxLabel: true, outputName: 'probabilities' }), 'application/octet-stream')).status).toBe(201);
    const started = await api<Release>('POST', '/releases', { model: 'fragile', version: recorded.body.version, gates: { run: ['signature', 'smoke', 'accuracy'], maxAccuracyDrop: 0.01 } });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.body.baselineVersion).toBe('1');
    let release = started.body;
    for (const deadline = Date.now() + 60_000; !['failed', 'released'].includes(release.status) && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 200));
      release = (await api<Release>('GET', `/releases/${started.body.id}`)).body;
    }
    expect(release.status).toBe('failed');
    const accuracy = release.steps.find((s) => s.name === 'accuracy');
    expect(accuracy).toMatchObject({ status: 'failed', evidence: { productionVersion: '1' } });
  });
});
