/**
 * Checks a decoded inference request against the model's signature. Front ends have already
 * checked each tensor's data against its own shape (OIP "Tensor Data"); here the request must fit
 * the model: known input names, each once, every input present, the declared datatype and rank,
 * fixed dimensions equal, and requested outputs that exist.
 */
import { ContinuumError } from '../errors.js';
import type { InferRequest, Signature, Tensor } from '../oip/types.js';

/** A request that fits the model, in the model's input order, ready for the batcher. */
export interface ValidatedRequest {
  /** Inputs ordered as the signature's inputs. */
  readonly inputs: readonly Tensor[];
  /** Slots the request takes in a batch: its first dimension when the model batches, else 1. */
  readonly batchSize: number;
  /** Non-batch dimensions of every input; requests batch together only when these match. */
  readonly shapeKey: string;
  /** Indices into the signature's outputs to return; undefined = every output. */
  readonly outputIndices: readonly number[] | undefined;
}

/**
 * True when the dynamic batcher may stack requests of this model: every input and output has a
 * dynamic first dimension (Triton requires the same of a model with max_batch_size > 0).
 */
export function isBatchable(signature: Signature): boolean {
  const dynamicFirst = (shape: readonly number[]): boolean => shape.length > 0 && shape[0] === -1;
  return signature.inputs.every((s) => dynamicFirst(s.shape)) && signature.outputs.every((s) => dynamicFirst(s.shape));
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * BYTES reach the model as ONNX STRING tensors, which ONNX Runtime keeps as C strings decoded
 * from JavaScript strings: an element must be valid UTF-8 without NUL bytes to arrive unchanged.
 */
function checkStrings(tensor: Tensor, model: string): void {
  (tensor.data as Uint8Array[]).forEach((element, i) => {
    let valid = !element.includes(0);
    if (valid) {
      try {
        strictUtf8.decode(element);
      } catch {
        valid = false;
      }
    }
    if (!valid) {
      throw new ContinuumError(
        'CONTINUUM_ERR_INVALID_TENSOR',
        `element ${i} of BYTES input '${tensor.name}' of model '${model}' must be UTF-8 text without NUL bytes (ONNX string tensor)`,
        { details: { model, input: tensor.name, element: i } },
      );
    }
  });
}

const shapeText = (shape: readonly number[]): string => `[${shape.join(',')}]`;

/**
 * Validates `request` against `signature`. `maxBatchSize` is the batcher's limit when the model is
 * batched (0 when it is not): a request larger than one batch can never run.
 */
export function validateRequest(signature: Signature, request: InferRequest, model: string, maxBatchSize: number): ValidatedRequest {
  const specs = signature.inputs;
  const ordered = new Array<Tensor | undefined>(specs.length);
  for (const tensor of request.inputs) {
    const index = specs.findIndex((s) => s.name === tensor.name);
    if (index < 0) {
      throw new ContinuumError(
        'CONTINUUM_ERR_UNKNOWN_INPUT',
        `model '${model}' has no input '${tensor.name}'; expected inputs: ${specs.map((s) => s.name).join(', ')}`,
        { details: { model, input: tensor.name } },
      );
    }
    if (ordered[index] !== undefined) {
      throw new ContinuumError('CONTINUUM_ERR_INVALID_TENSOR', `input '${tensor.name}' is given more than once`, {
        details: { model, input: tensor.name },
      });
    }
    const spec = specs[index]!;
    if (tensor.datatype !== spec.datatype) {
      throw new ContinuumError(
        'CONTINUUM_ERR_INVALID_TENSOR',
        `input '${tensor.name}' of model '${model}' has datatype ${spec.datatype}, got ${tensor.datatype}`,
        { details: { model, input: tensor.name, expected: spec.datatype, got: tensor.datatype } },
      );
    }
    const fits = tensor.shape.length === spec.shape.length && spec.shape.every((d, i) => d < 0 || d === tensor.shape[i]);
    if (!fits) {
      throw new ContinuumError(
        'CONTINUUM_ERR_INVALID_TENSOR',
        `input '${tensor.name}' of model '${model}' has shape ${shapeText(spec.shape)} (-1 = any), got ${shapeText(tensor.shape)}`,
        { details: { model, input: tensor.name, expected: spec.shape, got: tensor.shape } },
      );
    }
    if (spec.datatype === 'BYTES') checkStrings(tensor, model);
    ordered[index] = tensor;
  }
  const missing = specs.filter((_, i) => ordered[i] === undefined).map((s) => s.name);
  if (missing.length > 0) {
    throw new ContinuumError('CONTINUUM_ERR_INVALID_TENSOR', `model '${model}' needs input(s) ${missing.join(', ')}, which the request lacks`, {
      details: { model, missing },
    });
  }
  const inputs = ordered as Tensor[];

  let batchSize = 1;
  let shapeKey = '';
  if (maxBatchSize > 0) {
    batchSize = inputs[0]?.shape[0] ?? 1;
    for (const t of inputs) {
      if (t.shape[0] !== batchSize) {
        throw new ContinuumError(
          'CONTINUUM_ERR_INVALID_TENSOR',
          `every input must have the same batch (first) dimension; '${inputs[0]?.name}' has ${batchSize}, '${t.name}' has ${t.shape[0]}`,
          { details: { model } },
        );
      }
      shapeKey += `${t.shape.slice(1).join('x')};`;
    }
    if (batchSize > maxBatchSize) {
      throw new ContinuumError(
        'CONTINUUM_ERR_INVALID_TENSOR',
        `batch dimension ${batchSize} exceeds the largest batch ${maxBatchSize} of model '${model}'; split the request`,
        { details: { model, batchSize, maxBatchSize } },
      );
    }
  }

  let outputIndices: number[] | undefined;
  if (request.outputs !== undefined && request.outputs.length > 0) {
    outputIndices = [];
    for (const wanted of request.outputs) {
      const index = signature.outputs.findIndex((s) => s.name === wanted.name);
      if (index < 0) {
        throw new ContinuumError(
          'CONTINUUM_ERR_UNKNOWN_OUTPUT',
          `model '${model}' has no output '${wanted.name}'; expected outputs: ${signature.outputs.map((s) => s.name).join(', ')}`,
          { details: { model, output: wanted.name } },
        );
      }
      if (outputIndices.includes(index)) {
        throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `output '${wanted.name}' is requested more than once`, { details: { model } });
      }
      outputIndices.push(index);
    }
  }
  return { inputs, batchSize, shapeKey, outputIndices };
}
