import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { buildIrisClassifier } from '../demo/iris.js';
import { isContinuumError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { buildIdentity, buildMlp, buildModel, OnnxElemType } from '../onnx/build.js';
import { escapesModelFolder, inspectOnnx } from './inspect.js';
import type { InspectLimits } from './inspect.js';

const { onnx } = onnxProto;
const LIMITS: InspectLimits = { maxModelBytes: 1 << 20, maxTensorBytes: 1 << 20 };

/** Decodes a built model, lets the test change it, and encodes it again. */
function edit(bytes: Uint8Array, change: (m: onnxProto.onnx.ModelProto) => void): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  change(model);
  return onnx.ModelProto.encode(model).finish();
}

function refusal(bytes: Uint8Array, limits: InspectLimits = LIMITS): { code: ErrorCode; message: string } {
  try {
    inspectOnnx(bytes, limits);
  } catch (err) {
    if (isContinuumError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('the model was accepted');
}

const mlp = (): Uint8Array => buildMlp({ inputSize: 4, hiddenSizes: [8], outputSize: 3 });

/** An MLP whose first weight lives in an external file at `location`. */
function withExternalWeights(location: string): Uint8Array {
  return edit(mlp(), (m) => {
    const w = m.graph?.initializer?.[0];
    if (!w) throw new Error('no initializer');
    w.rawData = new Uint8Array(0);
    w.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    w.externalData = [{ key: 'location', value: location }, { key: 'offset', value: '0' }];
  });
}

describe('inspectOnnx accepts servable models', () => {
  it('reads the signature of an MLP: non-initializer inputs, outputs, dynamic dims as -1', () => {
    const result = inspectOnnx(mlp(), LIMITS);
    expect(result.signature).toEqual({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 3] }],
    });
    expect(result.irVersion).toBe(8);
    expect(result.opsets).toEqual([{ domain: '', version: 13 }]);
  });

  it('reads the iris classifier with its INT64 label output', () => {
    const { signature } = inspectOnnx(buildIrisClassifier().model, LIMITS);
    expect(signature.outputs).toEqual([
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
      { name: 'label', datatype: 'INT64', shape: [-1] },
    ]);
  });

  it('maps every ONNX element type with an OIP equivalent to its datatype', () => {
    const datatypes = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] as const;
    const { signature } = inspectOnnx(buildIdentity(datatypes.map((datatype) => ({ datatype, shape: [2] }))), LIMITS);
    expect(signature.inputs.map((i) => i.datatype)).toEqual([...datatypes]);
  });

  it('accepts ONNX-ML and the "ai.onnx" spelling of the default domain', () => {
    const bytes = buildModel({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 2] }],
      nodes: [{ op: 'Normalizer', domain: 'ai.onnx.ml', inputs: ['x'], outputs: ['y'], attributes: { norm: 'L2' } }],
      extraOpsets: [{ domain: 'ai.onnx.ml', version: 3 }, { domain: 'ai.onnx', version: 13 }],
    });
    expect(inspectOnnx(bytes, LIMITS).opsets.map((o) => o.domain)).toEqual(['', 'ai.onnx.ml', 'ai.onnx']);
  });
});

describe('inspectOnnx refuses what it must not serve', () => {
  it('refuses an empty file', () => {
    expect(refusal(new Uint8Array(0))).toEqual({ code: 'CONTINUUM_ERR_INVALID_MODEL', message: 'invalid model: the file is empty' });
  });

  it('refuses random bytes', () => {
    let seed = 7;
    const bytes = Uint8Array.from({ length: 4096 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    const { code, message } = refusal(bytes);
    expect(code).toBe('CONTINUUM_ERR_INVALID_MODEL');
    expect(message).toMatch(/^invalid model: /);
  });

  it('refuses a truncated model', () => {
    const bytes = mlp();
    const { code, message } = refusal(bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(code).toBe('CONTINUUM_ERR_INVALID_MODEL');
    expect(message).toContain('does not decode as an ONNX ModelProto');
  });

  it('refuses a JSON file', () => {
    const { code, message } = refusal(new TextEncoder().encode(JSON.stringify({ inputs: [{ name: 'x' }], graph: {} })));
    expect(code).toBe('CONTINUUM_ERR_INVALID_MODEL');
    expect(message).toMatch(/does not decode|no ir_version|no graph/);
  });

  it('refuses a protobuf with an ir_version but no graph', () => {
    const bytes = onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }] }).finish();
    expect(refusal(bytes).message).toBe('invalid model: the file has no graph, so it is not an ONNX model');
  });

  it('refuses a graph without inputs or outputs', () => {
    const noOutputs = edit(mlp(), (m) => {
      if (m.graph) m.graph.output = [];
    });
    expect(refusal(noOutputs).message).toBe('invalid model: the graph has no outputs');
  });

  it('refuses a node of a custom operator domain', () => {
    const bytes = buildModel({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [1] }],
      nodes: [{ op: 'Evil', domain: 'com.example', inputs: ['x'], outputs: ['y'] }],
    });
    const { code, message } = refusal(bytes);
    expect(code).toBe('CONTINUUM_ERR_INVALID_MODEL');
    expect(message).toContain("uses operator domain 'com.example'");
    expect(message).toContain('Evil');
  });

  it('refuses a custom opset import even when no node uses it', () => {
    const bytes = buildModel({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [1] }],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
      extraOpsets: [{ domain: 'com.microsoft', version: 1 }],
    });
    expect(refusal(bytes).message).toContain("opset_import uses operator domain 'com.microsoft'");
  });

  it('refuses a custom-domain node hidden in an If branch', () => {
    const bytes = edit(buildIdentity([{ datatype: 'BOOL', shape: [] }]), (m) => {
      const graph = m.graph;
      if (!graph) throw new Error('no graph');
      const branch = { name: 'then', node: [{ opType: 'Evil', domain: 'com.example', input: [], output: ['z'] }], output: [{ name: 'z' }] };
      graph.node = [
        ...(graph.node ?? []),
        { opType: 'If', input: ['in_0'], output: ['branch_out'], attribute: [{ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch }] },
      ];
    });
    expect(refusal(bytes).message).toContain("node '' (Evil) uses operator domain 'com.example'");
  });

  it('refuses external data that climbs out of the model folder, as hostile', () => {
    const { code, message } = refusal(withExternalWeights('../../etc/passwd'));
    expect(code).toBe('CONTINUUM_ERR_INVALID_MODEL');
    expect(message).toBe(
      `invalid model: tensor 'W0' points its external data outside the model's folder (location "../../etc/passwd"); this model is refused as hostile`,
    );
  });

  it('refuses external data at an absolute path, as hostile', () => {
    expect(refusal(withExternalWeights('/etc/shadow')).message).toContain('refused as hostile');
  });

  it('refuses external data inside the model folder because a pushed model must be self-contained', () => {
    const { message } = refusal(withExternalWeights('weights.bin'));
    expect(message).toContain(`tensor 'W0' keeps its data in an external file ("weights.bin")`);
    expect(message).not.toContain('hostile');
  });

  it('refuses an initializer that declares absurd dimensions', () => {
    const bytes = edit(mlp(), (m) => {
      const w = m.graph?.initializer?.[0];
      if (w) w.dims = [1_000_000, 1_000_000];
    });
    const { code, message } = refusal(bytes);
    expect(code).toBe('CONTINUUM_ERR_INVALID_MODEL');
    expect(message).toContain("tensor 'W0' declares 4000000000000 bytes");
  });

  it('refuses a negative dimension and an oversized Constant attribute', () => {
    const negative = edit(mlp(), (m) => {
      const w = m.graph?.initializer?.[0];
      if (w) w.dims = [-4, 8];
    });
    expect(refusal(negative).message).toContain('declares an invalid dimension -4');
    const constant = edit(mlp(), (m) => {
      m.graph?.node?.push({
        opType: 'Constant',
        output: ['c'],
        attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: { name: 'c', dims: [1 << 30], dataType: OnnxElemType.FLOAT } }],
      });
    });
    expect(refusal(constant).message).toContain("tensor 'c' declares 4294967296 bytes");
  });

  it('refuses a sparse initializer whose dense shape is absurd', () => {
    const bytes = edit(mlp(), (m) => {
      m.graph?.sparseInitializer?.push({
        values: { name: 'sv', dims: [1], dataType: OnnxElemType.FLOAT, rawData: new Uint8Array(4) },
        indices: { name: 'si', dims: [1], dataType: OnnxElemType.INT64, rawData: new Uint8Array(8) },
        dims: [1 << 20, 1 << 20],
      });
    });
    expect(refusal(bytes).message).toContain("sparse tensor 'sv' declares 4398046511104 bytes");
  });

  it('refuses subgraphs nested deeper than the limit', () => {
    const T = onnx.AttributeProto.AttributeType;
    let body: onnxProto.onnx.IGraphProto = { name: 'leaf', node: [{ opType: 'Identity', input: ['c'], output: ['z'] }], output: [{ name: 'z' }] };
    for (let i = 0; i < 40; i++) {
      body = { name: `level${i}`, node: [{ opType: 'If', input: ['c'], output: ['z'], attribute: [{ name: 'then_branch', type: T.GRAPH, g: body }] }], output: [{ name: 'z' }] };
    }
    const nested = body;
    const bytes = edit(buildIdentity([{ datatype: 'BOOL', shape: [] }]), (m) => {
      m.graph?.node?.push(...(nested.node ?? []));
    });
    expect(refusal(bytes).message).toBe('invalid model: subgraphs are nested more than 32 levels deep');
  });

  it('refuses a complex64 input and a bfloat16 output with no OIP equivalent', () => {
    const complex = edit(mlp(), (m) => {
      const t = m.graph?.input?.[0]?.type?.tensorType;
      if (t) t.elemType = 14;
    });
    expect(refusal(complex).message).toBe("invalid model: input 'input' has datatype COMPLEX64, which has no Open Inference Protocol v2 equivalent");
    const bf16 = edit(mlp(), (m) => {
      const t = m.graph?.output?.[0]?.type?.tensorType;
      if (t) t.elemType = 16;
    });
    expect(refusal(bf16).message).toContain("output 'output' has datatype BFLOAT16");
  });

  it('refuses a sequence-of-maps output (scikit-learn ZipMap) with a hint', () => {
    const bytes = edit(mlp(), (m) => {
      const out = m.graph?.output?.[0];
      if (out) out.type = { sequenceType: { elemType: { mapType: { keyType: OnnxElemType.INT64 } } } };
    });
    expect(refusal(bytes).message).toContain("output 'output' is a sequence; the Open Inference Protocol carries dense tensors only (for scikit-learn classifiers convert with zipmap=False)");
  });

  it('refuses a file over the size limit before decoding it', () => {
    const bytes = mlp();
    expect(refusal(bytes, { maxModelBytes: bytes.length - 1, maxTensorBytes: 1 << 20 }).code).toBe('CONTINUUM_ERR_MODEL_TOO_LARGE');
  });
});

describe('escapesModelFolder', () => {
  it('flags absolute and climbing locations and allows plain relative ones', () => {
    expect(['../x', 'a/../../b', '/etc/passwd', '\\\\server\\share', 'C:\\w.bin', 'a\\..\\..\\b'].map(escapesModelFolder)).toEqual([true, true, true, true, true, true]);
    expect(['weights.bin', 'data/w.bin', '..weights'].map(escapesModelFolder)).toEqual([false, false, false]);
  });
});
