/**
 * The Open Inference Protocol v2 vocabulary shared by every part of Continuum: datatypes,
 * tensors, inference requests and responses, metadata and statistics.
 *
 * Wire formats (JSON, the binary-tensor extension, gRPC) are decoded at the edge into these
 * typed values; the runtime only ever sees them. Spec: KServe "Open Inference Protocol (V2)",
 * sections "Tensor Data Types", "Inference Request JSON Object", "Model Metadata Response".
 */

/** OIP tensor datatypes (spec, "Tensor Data Types"). */
export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;

/** An OIP tensor datatype. */
export type Datatype = (typeof DATATYPES)[number];

/** True when `s` names an OIP datatype. */
export function isDatatype(s: string): s is Datatype {
  return (DATATYPES as readonly string[]).includes(s);
}

/** Size in bytes of one element of a fixed-size datatype (BYTES has none). */
export const DATATYPE_BYTES: Readonly<Record<Exclude<Datatype, 'BYTES'>, number>> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
};

/**
 * The in-memory element storage of a tensor. Numeric datatypes use the matching typed array;
 * BOOL uses Uint8Array (0/1); FP16 keeps raw IEEE-754 half bits in a Uint16Array; BYTES is a list
 * of byte strings.
 */
export type TensorData =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array
  | Uint8Array[];

/** Typed storage of every fixed-size datatype (everything but BYTES). */
export type NumericTensorData = Exclude<TensorData, Uint8Array[]>;

/** The typed-array class that stores each fixed-size datatype (see {@link TensorData}). */
export const STORAGE_OF: Readonly<Record<Exclude<Datatype, 'BYTES'>, new (length: number) => NumericTensorData>> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

/** A value of an OIP `parameters` map. */
export type Parameter = string | number | boolean;

/** OIP `parameters` object. */
export type Parameters = Record<string, Parameter>;

/** A tensor with its data decoded into typed storage. */
export interface Tensor {
  readonly name: string;
  readonly datatype: Datatype;
  /** Concrete shape; every dimension >= 0. */
  readonly shape: readonly number[];
  readonly data: TensorData;
  readonly parameters?: Parameters;
}

/** An output a client asks for (spec, "Request Output"). */
export interface RequestedOutput {
  readonly name: string;
  readonly parameters?: Parameters;
}

/** A decoded inference request (spec, "Inference Request JSON Object"). */
export interface InferRequest {
  readonly id?: string;
  readonly parameters?: Parameters;
  readonly inputs: readonly Tensor[];
  /** When absent every model output is returned. */
  readonly outputs?: readonly RequestedOutput[];
}

/** An inference response before wire encoding (spec, "Inference Response JSON Object"). */
export interface InferResponse {
  readonly model_name: string;
  readonly model_version: string;
  readonly id?: string;
  readonly parameters?: Parameters;
  readonly outputs: readonly Tensor[];
}

/** One input or output of a model's signature; -1 marks a dynamic dimension. */
export interface TensorSpec {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
}

/** A model's signature as read from its ONNX graph. */
export interface Signature {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/** Model metadata response (spec, "Model Metadata Response JSON Object"). */
export interface ModelMetadata {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/** Server metadata response (spec, "Server Metadata Response JSON Object"). */
export interface ServerMetadata {
  readonly name: string;
  readonly version: string;
  readonly extensions: readonly string[];
}

/** A cumulative count and duration, as the statistics extension reports them. */
export interface StatDuration {
  readonly count: number;
  readonly ns: number;
}

/**
 * Per model-version statistics (the Triton/KServe statistics extension:
 * `GET /v2/models/{m}[/versions/{v}]/stats`).
 */
export interface ModelStatistics {
  readonly name: string;
  readonly version: string;
  /** Unix milliseconds of the last inference, 0 when none. */
  readonly last_inference: number;
  readonly inference_count: number;
  readonly execution_count: number;
  readonly inference_stats: {
    readonly success: StatDuration;
    readonly fail: StatDuration;
    readonly queue: StatDuration;
    readonly compute_input: StatDuration;
    readonly compute_infer: StatDuration;
    readonly compute_output: StatDuration;
  };
  /** Executions by batch size (Triton's `batch_stats`). */
  readonly batch_stats: readonly {
    readonly batch_size: number;
    readonly compute_input: StatDuration;
    readonly compute_infer: StatDuration;
    readonly compute_output: StatDuration;
  }[];
}

/** One entry of the repository index (repository extension, `POST /v2/repository/index`). */
export interface RepositoryEntry {
  readonly name: string;
  readonly version: string;
  readonly state: 'READY' | 'UNAVAILABLE' | 'LOADING' | 'UNLOADING';
  readonly reason: string;
}
