/**
 * ModelInferRequest and ModelInferResponse of the OIP gRPC protocol (src/gateway/proto/
 * grpc_service.proto), coded by hand on the protobuf wire format: raw tensor bytes are viewed in
 * the request message and written once into the response frame, with no object tree in between.
 * Requests are checked by the same tensor codec as REST (names, datatypes, shapes and element
 * counts before any tensor storage), and hostile counts are refused while the message is scanned.
 * Answers carry `raw_output_contents`, as Triton's do (OIP gRPC, "raw_output_contents").
 */
import { ContinuumError } from '../errors.js';
import type { Datatype, InferRequest, InferResponse, Parameter, Parameters, RequestedOutput, Tensor, TensorData } from '../oip/types.js';
import type { ResponseMessage } from './grpc-http2.js';
import type { CompiledRequestLimits } from './limits.js';
import { delimitedSize, int64Size, ProtoReader, ProtoWriter, tagSize, varintSize, WireType } from './protobuf-wire.js';
import {
  checkInputCount,
  checkName,
  checkOutputCount,
  checkParameters,
  checkRequestId,
  checkShape,
  checkTensorHeader,
  checkTotalElements,
  dataToRaw,
  rawToData,
  valuesToData,
} from './tensor-codec.js';
import type { TensorHeader } from './tensor-codec.js';

/** A decoded ModelInfer call: which model, and the request. */
export interface GrpcInferCall {
  readonly model: string;
  readonly version: string | undefined;
  readonly request: InferRequest;
}

/** How one InferTensorContents field is laid out and read (OIP gRPC, "Tensor Data"). */
interface ContentsField {
  readonly name: string;
  /** Wire type of one unpacked element. */
  readonly wireType: number;
  /** Bytes per element when fixed-size (packed length / size = count); 0 for varints and bytes. */
  readonly fixedBytes: number;
  readonly read: (r: ProtoReader) => unknown;
}

/** InferTensorContents by field number (1-8). */
const CONTENTS: readonly (ContentsField | undefined)[] = [
  undefined,
  { name: 'bool_contents', wireType: WireType.VARINT, fixedBytes: 0, read: (r) => (r.varint64() | r.hi) !== 0 },
  { name: 'int_contents', wireType: WireType.VARINT, fixedBytes: 0, read: (r) => r.uint32() | 0 },
  { name: 'int64_contents', wireType: WireType.VARINT, fixedBytes: 0, read: (r) => r.int64() },
  { name: 'uint_contents', wireType: WireType.VARINT, fixedBytes: 0, read: (r) => r.uint32() },
  { name: 'uint64_contents', wireType: WireType.VARINT, fixedBytes: 0, read: (r) => r.uint64() },
  { name: 'fp32_contents', wireType: WireType.I32, fixedBytes: 4, read: (r) => r.float() },
  { name: 'fp64_contents', wireType: WireType.I64, fixedBytes: 8, read: (r) => r.double() },
  { name: 'bytes_contents', wireType: WireType.LEN, fixedBytes: 0, read: (r) => r.bytes() },
];

/** The InferTensorContents field number that carries each datatype. FP16 has none: it travels raw. */
const CONTENTS_FIELD_OF: Readonly<Record<Exclude<Datatype, 'FP16'>, number>> = {
  BOOL: 1,
  INT8: 2,
  INT16: 2,
  INT32: 2,
  INT64: 3,
  UINT8: 4,
  UINT16: 4,
  UINT32: 4,
  UINT64: 5,
  FP32: 6,
  FP64: 7,
  BYTES: 8,
};

/** A run of contents elements: one unpacked element, or a packed run (or one bytes element), by position. */
interface ContentsRun {
  readonly field: number;
  readonly wireType: number;
  readonly start: number;
  readonly end: number;
}

function malformed(what: string): ContinuumError {
  return new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `the ModelInferRequest message is malformed: ${what}`);
}

/** Scans the InferTensorContents message at [start, end) into runs, without reading any element. */
function scanContents(buf: Uint8Array, start: number, end: number, runs: ContentsRun[]): void {
  const sub = new ProtoReader(buf, start, end);
  while (!sub.done()) {
    const tag = sub.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    const spec = CONTENTS[field];
    if (spec === undefined) {
      sub.skip(wireType);
      continue;
    }
    if (wireType === WireType.LEN) {
      const payload = sub.delimited();
      runs.push({ field, wireType, start: payload.start, end: payload.end });
    } else if (wireType === spec.wireType) {
      const from = sub.pos;
      sub.skip(wireType);
      runs.push({ field, wireType, start: from, end: sub.pos });
    } else {
      throw malformed(`${spec.name} has wire type ${wireType}`);
    }
  }
}

/** Elements in one run, counted without decoding them. */
function runElements(buf: Uint8Array, run: ContentsRun): number {
  const spec = CONTENTS[run.field] as ContentsField;
  if (run.wireType !== WireType.LEN || spec.wireType === WireType.LEN) return 1;
  const length = run.end - run.start;
  if (spec.fixedBytes > 0) {
    if (length % spec.fixedBytes !== 0) throw malformed(`packed ${spec.name} is ${length} bytes, not a multiple of ${spec.fixedBytes}`);
    return length / spec.fixedBytes;
  }
  // A packed varint run holds one element per byte below 0x80 (the last byte of each varint).
  let n = 0;
  for (let i = run.start; i < run.end; i++) if ((buf[i] as number) < 0x80) n++;
  if (length > 0 && (buf[run.end - 1] as number) >= 0x80) throw malformed(`packed ${spec.name} ends inside a varint`);
  return n;
}

/** Reads every element of `field` from the runs, in order. */
function runValues(buf: Uint8Array, runs: readonly ContentsRun[], field: number, count: number): unknown[] {
  const spec = CONTENTS[field] as ContentsField;
  const out = new Array<unknown>(count);
  let i = 0;
  for (const run of runs) {
    if (run.field !== field) continue;
    const r = new ProtoReader(buf, run.start, run.end);
    if (run.wireType === WireType.LEN && spec.wireType === WireType.LEN) {
      // A bytes element: the run is its payload.
      out[i++] = buf.subarray(run.start, run.end);
      continue;
    }
    while (!r.done()) out[i++] = spec.read(r);
  }
  return out;
}

/**
 * The typed contents of an input: the elements of the field its datatype uses, refused when
 * another field carries any. The element count is checked before any element is read, so a
 * message of millions of packed elements against a small shape costs nothing.
 */
function contentsData(header: TensorHeader, buf: Uint8Array, runs: readonly ContentsRun[]): TensorData {
  if (header.datatype === 'FP16') return valuesToData(header, []); // refused there: FP16 travels raw
  const field = CONTENTS_FIELD_OF[header.datatype];
  let count = 0;
  for (const run of runs) {
    const n = runElements(buf, run);
    if (run.field === field) count += n;
    else if (n > 0) {
      const other = (CONTENTS[run.field] as ContentsField).name;
      const own = (CONTENTS[field] as ContentsField).name;
      throw new ContinuumError('CONTINUUM_ERR_INVALID_TENSOR', `input '${header.name}' is ${header.datatype} but carries ${other}; ${header.datatype} data goes in ${own}`, {
        details: { input: header.name },
      });
    }
  }
  // valuesToData refuses a count that differs from the shape's before it reads any element.
  return valuesToData(header, count === header.elements ? runValues(buf, runs, field, count) : { length: count });
}

/** Whether the runs carry at least one element. */
function hasElements(buf: Uint8Array, runs: readonly ContentsRun[]): boolean {
  return runs.some((run) => runElements(buf, run) > 0);
}

/** Reads the InferParameter message at [start, end); undefined when no member of its oneof is set. */
function readParameter(buf: Uint8Array, start: number, end: number): Parameter | undefined {
  const sub = new ProtoReader(buf, start, end);
  let value: Parameter | undefined;
  while (!sub.done()) {
    const tag = sub.uint32();
    // A oneof keeps the last member set (protobuf language guide, "Oneof").
    switch (tag) {
      case (1 << 3) | WireType.VARINT:
        value = (sub.varint64() | sub.hi) !== 0;
        break;
      case (2 << 3) | WireType.VARINT:
        value = sub.int64();
        break;
      case (3 << 3) | WireType.LEN:
        value = sub.string();
        break;
      case (4 << 3) | WireType.I64:
        value = sub.double();
        break;
      case (5 << 3) | WireType.VARINT:
        value = sub.uint64();
        break;
      default:
        sub.skip(tag & 7);
    }
  }
  return value;
}

/**
 * Reads one `map<string, InferParameter>` entry into `into`, refusing more than `maxParameters`
 * keys as soon as they appear; the result is checked like a JSON `parameters` object.
 */
function readParameterEntry(r: ProtoReader, into: Record<string, Parameter>, where: string, limits: CompiledRequestLimits): void {
  const { start, end } = r.delimited();
  const entry = new ProtoReader(r.buf, start, end);
  let key = '';
  let value: Parameter | undefined;
  while (!entry.done()) {
    const tag = entry.uint32();
    if (tag === ((1 << 3) | WireType.LEN)) key = entry.string();
    else if (tag === ((2 << 3) | WireType.LEN)) {
      const bounds = entry.delimited();
      value = readParameter(r.buf, bounds.start, bounds.end);
    } else entry.skip(tag & 7);
  }
  if (value === undefined) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `parameter '${key}' of ${where} has no value`);
  // String-valued numbers (int64 beyond 2^53) are kept as the JSON front end keeps them: as given.
  into[key] = value;
  let count = 0;
  for (const _ in into) if (++count > limits.maxParameters) checkParameters(into, where, limits);
}

/** A `parameters` map being read: a null-prototype object, since keys come from the client and may be "__proto__". */
const newParameters = (): Record<string, Parameter> => Object.create(null) as Record<string, Parameter>;

/** Finishes a `parameters` map: undefined when it had no entry, else checked as JSON ones are. */
function finishParameters(map: Record<string, Parameter> | undefined, where: string, limits: CompiledRequestLimits): Parameters | undefined {
  return map === undefined ? undefined : checkParameters(map, where, limits);
}

interface Bounds {
  readonly start: number;
  readonly end: number;
}

/** One InferInputTensor, checked up to its header, with its contents still as runs. */
interface ScannedInput {
  readonly header: TensorHeader;
  readonly runs: readonly ContentsRun[];
}

function readInput(buf: Uint8Array, bounds: Bounds, index: number, limits: CompiledRequestLimits): ScannedInput {
  const r = new ProtoReader(buf, bounds.start, bounds.end);
  let name: string | undefined;
  let datatype: string | undefined;
  const shape: unknown[] = [];
  let parameters: Record<string, Parameter> | undefined;
  const runs: ContentsRun[] = [];
  const addDim = (dim: unknown): void => {
    shape.push(dim);
    if (shape.length > limits.maxRank) checkShape(shape, name ?? String(index), limits);
  };
  while (!r.done()) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | WireType.LEN:
        name = r.string();
        break;
      case (2 << 3) | WireType.LEN:
        datatype = r.string();
        break;
      case (3 << 3) | WireType.VARINT:
        addDim(r.int64());
        break;
      case (3 << 3) | WireType.LEN: {
        // Packed (the proto3 default for repeated scalars); parsers must accept both forms.
        const { start, end } = r.delimited();
        const packed = new ProtoReader(buf, start, end);
        while (!packed.done()) addDim(packed.int64());
        break;
      }
      case (4 << 3) | WireType.LEN:
        parameters ??= newParameters();
        readParameterEntry(r, parameters, `input ${index}`, limits);
        break;
      case (5 << 3) | WireType.LEN: {
        const { start, end } = r.delimited();
        scanContents(buf, start, end, runs);
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  const header = checkTensorHeader({ name, datatype, shape, parameters: finishParameters(parameters, `input ${index}`, limits) }, index, limits);
  return { header, runs };
}

function readRequestedOutput(buf: Uint8Array, bounds: Bounds, index: number, limits: CompiledRequestLimits): RequestedOutput {
  const r = new ProtoReader(buf, bounds.start, bounds.end);
  let name: string | undefined;
  let parameters: Record<string, Parameter> | undefined;
  while (!r.done()) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | WireType.LEN)) name = r.string();
    else if (tag === ((2 << 3) | WireType.LEN)) {
      parameters ??= newParameters();
      readParameterEntry(r, parameters, `output '${name ?? index}'`, limits);
    } else r.skip(tag & 7);
  }
  const checked = checkName(name, `output ${index}`, limits);
  const outputParameters = finishParameters(parameters, `output '${checked}'`, limits);
  return outputParameters === undefined ? { name: checked } : { name: checked, parameters: outputParameters };
}

/** proto3 strings have no "absent": an empty one means not given. */
const orUndefined = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);

/**
 * Decodes a ModelInferRequest message into an {@link InferRequest}, with the same checks and
 * limits as REST; an empty `model_version` or `id` means none. Inputs come from typed `contents`
 * or from `raw_input_contents` (one entry per input, in input order), never both; raw bytes are
 * viewed in `message`, not copied, when aligned.
 */
export function decodeGrpcInferRequest(message: Uint8Array, limits: CompiledRequestLimits): GrpcInferCall {
  const r = new ProtoReader(message);
  let model = '';
  let version: string | undefined;
  let id: string | undefined;
  let parameters: Record<string, Parameter> | undefined;
  const inputs: Bounds[] = [];
  const outputs: Bounds[] = [];
  let askedOutputs = false;
  const raw: Uint8Array[] = [];
  let rawCount = 0;
  while (!r.done()) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | WireType.LEN:
        model = r.string();
        break;
      case (2 << 3) | WireType.LEN:
        version = r.string();
        break;
      case (3 << 3) | WireType.LEN:
        id = r.string();
        break;
      case (4 << 3) | WireType.LEN:
        parameters ??= newParameters();
        readParameterEntry(r, parameters, 'the request', limits);
        break;
      case (5 << 3) | WireType.LEN:
        inputs.push(r.delimited());
        if (inputs.length > limits.maxInputs) checkInputCount(inputs.length, limits);
        break;
      case (6 << 3) | WireType.LEN:
        askedOutputs = true;
        outputs.push(r.delimited());
        if (outputs.length > limits.maxOutputs) checkOutputCount(outputs.length, limits);
        break;
      case (7 << 3) | WireType.LEN: {
        // Entries past maxInputs cannot match the inputs; they are counted for the error, not kept.
        const bytes = r.bytes();
        if (++rawCount <= limits.maxInputs) raw.push(bytes);
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  if (model === '') throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'ModelInferRequest needs model_name');
  const checkedId = checkRequestId(orUndefined(id), limits);
  const requestParameters = finishParameters(parameters, 'the request', limits);
  checkInputCount(inputs.length, limits);
  const scanned = inputs.map((bounds, i) => readInput(message, bounds, i, limits));
  checkTotalElements(
    scanned.map((s) => s.header),
    limits,
  );
  if (rawCount > 0 && rawCount !== inputs.length) {
    throw new ContinuumError(
      'CONTINUUM_ERR_BAD_REQUEST',
      `raw_input_contents has ${rawCount} entries for ${inputs.length} inputs; send one per input, in input order`,
    );
  }
  const tensors = scanned.map(({ header, runs }, i): Tensor => {
    let data: TensorData;
    if (rawCount > 0) {
      if (hasElements(message, runs)) {
        throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `input '${header.name}' has both contents and raw_input_contents; use one`);
      }
      data = rawToData(header, raw[i] as Uint8Array);
    } else {
      data = contentsData(header, message, runs);
    }
    return header.parameters === undefined
      ? { name: header.name, datatype: header.datatype, shape: header.shape, data }
      : { name: header.name, datatype: header.datatype, shape: header.shape, data, parameters: header.parameters };
  });
  const requested = askedOutputs ? outputs.map((bounds, i) => readRequestedOutput(message, bounds, i, limits)) : undefined;
  return { model, version: orUndefined(version), request: { id: checkedId, parameters: requestParameters, inputs: tensors, outputs: requested } };
}

// --- ModelInferResponse -------------------------------------------------------------------------

/** Bytes of a length-delimited string field (tag included); proto3 omits an empty one. */
const stringFieldSize = (field: number, byteLength: number): number => (byteLength === 0 ? 0 : tagSize(field) + delimitedSize(byteLength));

/**
 * An InferParameter's member for a value: booleans as bool_param, strings as string_param,
 * integers as int64_param and other numbers as double_param.
 */
function parameterSize(value: Parameter): number {
  if (typeof value === 'boolean') return 2;
  if (typeof value === 'string') return 1 + delimitedSize(Buffer.byteLength(value));
  return Number.isSafeInteger(value) ? 1 + int64Size(BigInt(value)) : 9;
}

function writeParameter(w: ProtoWriter, value: Parameter): void {
  if (typeof value === 'boolean') {
    w.tag(1, WireType.VARINT);
    w.varint(value ? 1 : 0);
  } else if (typeof value === 'string') {
    w.tag(3, WireType.LEN);
    w.string(value, Buffer.byteLength(value));
  } else if (Number.isSafeInteger(value)) {
    w.tag(2, WireType.VARINT);
    w.int64(BigInt(value));
  } else {
    w.tag(4, WireType.I64);
    w.double(value);
  }
}

/** Bytes of a map entry (key = 1, value = 2) for one parameter, without its own tag and length. */
const entrySize = (key: string, value: Parameter): number => stringFieldSize(1, Buffer.byteLength(key)) + 1 + delimitedSize(parameterSize(value));

/** Bytes of a `map<string, InferParameter>` field, all entries with their tags. */
function parametersSize(field: number, parameters: Parameters | undefined): number {
  if (parameters === undefined) return 0;
  let size = 0;
  for (const key in parameters) size += tagSize(field) + delimitedSize(entrySize(key, parameters[key] as Parameter));
  return size;
}

function writeParameters(w: ProtoWriter, field: number, parameters: Parameters | undefined): void {
  if (parameters === undefined) return;
  for (const key in parameters) {
    const value = parameters[key] as Parameter;
    w.tag(field, WireType.LEN);
    w.varint(entrySize(key, value));
    const keyBytes = Buffer.byteLength(key);
    if (keyBytes > 0) {
      w.tag(1, WireType.LEN);
      w.string(key, keyBytes);
    }
    w.tag(2, WireType.LEN);
    w.varint(parameterSize(value));
    writeParameter(w, value);
  }
}

function writeString(w: ProtoWriter, field: number, value: string, byteLength: number): void {
  if (byteLength === 0) return;
  w.tag(field, WireType.LEN);
  w.string(value, byteLength);
}

/** The measured parts of one InferOutputTensor. */
interface OutputLayout {
  readonly nameBytes: number;
  readonly shapeBytes: number;
  readonly size: number;
  readonly raw: Buffer;
}

function outputLayout(output: Tensor): OutputLayout {
  const nameBytes = Buffer.byteLength(output.name);
  let shapeBytes = 0;
  for (const d of output.shape) shapeBytes += varintSize(d);
  const size =
    stringFieldSize(1, nameBytes) +
    stringFieldSize(2, output.datatype.length) +
    (shapeBytes === 0 ? 0 : 1 + delimitedSize(shapeBytes)) +
    parametersSize(4, output.parameters);
  return { nameBytes, shapeBytes, size, raw: dataToRaw(output.datatype, output.data) };
}

/**
 * Raw outputs up to this size are copied into the message's head; larger ones (an OCR line's
 * 1 MB of scores) are written as they are, so a large answer is not copied or allocated twice.
 */
const INLINE_RAW_BYTES = 64 * 1024;

/**
 * Encodes a response as a ModelInferResponse with `raw_output_contents`. The head starts with
 * `headroom` unwritten bytes (room for the caller's gRPC message prefix); large raw outputs follow
 * it in `tail`, in message order.
 */
export function encodeGrpcInferResponse(response: InferResponse, headroom = 0): ResponseMessage {
  const modelBytes = Buffer.byteLength(response.model_name);
  const versionBytes = Buffer.byteLength(response.model_version);
  const id = response.id ?? '';
  const idBytes = Buffer.byteLength(id);
  const layouts = response.outputs.map(outputLayout);
  let size = stringFieldSize(1, modelBytes) + stringFieldSize(2, versionBytes) + stringFieldSize(3, idBytes) + parametersSize(4, response.parameters);
  let tailBytes = 0;
  for (const l of layouts) {
    size += 1 + delimitedSize(l.size) + 1 + delimitedSize(l.raw.length);
    if (l.raw.length > INLINE_RAW_BYTES) tailBytes += l.raw.length;
  }

  const w = new ProtoWriter(Buffer.allocUnsafe(headroom + size - tailBytes), headroom);
  writeString(w, 1, response.model_name, modelBytes);
  writeString(w, 2, response.model_version, versionBytes);
  writeString(w, 3, id, idBytes);
  writeParameters(w, 4, response.parameters);
  for (let i = 0; i < layouts.length; i++) {
    const l = layouts[i] as OutputLayout;
    const o = response.outputs[i] as Tensor;
    w.tag(5, WireType.LEN);
    w.varint(l.size);
    writeString(w, 1, o.name, l.nameBytes);
    writeString(w, 2, o.datatype, o.datatype.length);
    if (l.shapeBytes > 0) {
      w.tag(3, WireType.LEN);
      w.varint(l.shapeBytes);
      for (const d of o.shape) w.varint(d);
    }
    writeParameters(w, 4, o.parameters);
  }
  // raw_output_contents, one per output in output order (OIP gRPC: then no output carries contents).
  const parts: Uint8Array[] = [];
  let cut = 0;
  for (const l of layouts) {
    w.tag(6, WireType.LEN);
    if (l.raw.length <= INLINE_RAW_BYTES) {
      w.bytes(l.raw);
      continue;
    }
    w.varint(l.raw.length);
    parts.push(w.buf.subarray(cut, w.pos), l.raw);
    cut = w.pos;
  }
  if (parts.length === 0) return { head: w.buf, tail: [] };
  if (cut < w.pos) parts.push(w.buf.subarray(cut, w.pos));
  return { head: parts[0] as Buffer, tail: parts.slice(1) };
}
