/**
 * The peer a user writes instead of Continuum: Fastify + onnxruntime-node, one request = one
 * `session.run`, no batching, OIP-shaped JSON in and out so the same load generator drives it.
 *
 *   node --import tsx bench/peers/fastify-peer.ts --model model.onnx --name mlp --port 8090
 *
 * Written the way the onnxruntime-node and Fastify quick starts read: a default session, the
 * default JSON body parser (its limit raised for image-sized tensors), arrays in and out.
 */
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import ort from 'onnxruntime-node';

const { values } = parseArgs({ options: { model: { type: 'string' }, name: { type: 'string' }, port: { type: 'string' } } });
if (values.model === undefined || values.name === undefined || values.port === undefined) {
  throw new Error('usage: fastify-peer.ts --model PATH --name NAME --port PORT');
}
const modelName = values.name;
const session = await ort.InferenceSession.create(values.model);

/** The OIP JSON request as this peer reads it. */
interface InferBody {
  inputs: { name: string; shape: number[]; datatype: string; data: number[] }[];
}

const app = Fastify({ bodyLimit: 64 * 1024 * 1024 });
app.get('/v2/health/ready', async () => ({ ready: true }));
app.post<{ Params: { model: string }; Body: InferBody }>('/v2/models/:model/infer', async (req, reply) => {
  if (req.params.model !== modelName) return reply.code(404).send({ error: `unknown model ${req.params.model}` });
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of req.body.inputs) feeds[input.name] = new ort.Tensor('float32', Float32Array.from(input.data), input.shape);
  const results = await session.run(feeds);
  return {
    model_name: modelName,
    outputs: Object.entries(results).map(([name, t]) => ({ name, datatype: 'FP32', shape: t.dims, data: Array.from(t.data as Float32Array) })),
  };
});
await app.listen({ host: '127.0.0.1', port: Number(values.port) });
process.stdout.write(`fastify peer listening on ${values.port}\n`);
