/**
 * The one error module of Continuum.
 *
 * Every error a user can see is a {@link ContinuumError} with a stable `code`. The code decides
 * the HTTP status and the gRPC status through one typed table ({@link ERROR_KINDS}), the way
 * tRPC maps its codes and Fastify catalogues `FST_ERR_*`. Codes are never reused; docs/errors.md
 * lists them all.
 */

/** gRPC status codes used by Continuum (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** A gRPC status number. */
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** What kind of failure an error is: decides the HTTP and gRPC status. */
export interface ErrorKind {
  readonly httpStatus: number;
  readonly grpcStatus: GrpcStatusCode;
}

/**
 * The table of error codes. OIP v2 fixes 400 for invalid input, 404 for an unknown model or
 * version, 503 for not ready, 429 for a full queue and 500 for a runtime failure; the gRPC column
 * follows the OIP gRPC mapping (INVALID_ARGUMENT, NOT_FOUND, UNAVAILABLE, RESOURCE_EXHAUSTED,
 * INTERNAL).
 */
export const ERROR_KINDS = {
  // Request validation (OIP "invalid input").
  CONTINUUM_ERR_BAD_REQUEST: { httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  CONTINUUM_ERR_INVALID_JSON: { httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  CONTINUUM_ERR_INVALID_TENSOR: { httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  CONTINUUM_ERR_UNKNOWN_INPUT: { httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  CONTINUUM_ERR_UNKNOWN_OUTPUT: { httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  CONTINUUM_ERR_LIMIT_EXCEEDED: { httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  CONTINUUM_ERR_BODY_TOO_LARGE: { httpStatus: 413, grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED },
  CONTINUUM_ERR_UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  CONTINUUM_ERR_UNSUPPORTED_ENCODING: { httpStatus: 415, grpcStatus: GrpcStatus.UNIMPLEMENTED },
  // Models and registry.
  CONTINUUM_ERR_MODEL_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  CONTINUUM_ERR_VERSION_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  CONTINUUM_ERR_ALIAS_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  CONTINUUM_ERR_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  CONTINUUM_ERR_VERSION_EXISTS: { httpStatus: 409, grpcStatus: GrpcStatus.ALREADY_EXISTS },
  CONTINUUM_ERR_VERSION_IN_USE: { httpStatus: 409, grpcStatus: GrpcStatus.FAILED_PRECONDITION },
  CONTINUUM_ERR_INVALID_MODEL: { httpStatus: 422, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  CONTINUUM_ERR_MODEL_TOO_LARGE: { httpStatus: 413, grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED },
  // Workloads and autoscaling.
  CONTINUUM_ERR_INVALID_TRACE: { httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  CONTINUUM_ERR_INVALID_POLICY: { httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  // Runtime.
  CONTINUUM_ERR_MODEL_NOT_READY: { httpStatus: 503, grpcStatus: GrpcStatus.UNAVAILABLE },
  CONTINUUM_ERR_SHUTTING_DOWN: { httpStatus: 503, grpcStatus: GrpcStatus.UNAVAILABLE },
  CONTINUUM_ERR_QUEUE_FULL: { httpStatus: 429, grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED },
  CONTINUUM_ERR_TIMEOUT: { httpStatus: 504, grpcStatus: GrpcStatus.DEADLINE_EXCEEDED },
  CONTINUUM_ERR_RUNTIME: { httpStatus: 500, grpcStatus: GrpcStatus.INTERNAL },
  CONTINUUM_ERR_LOAD_FAILED: { httpStatus: 500, grpcStatus: GrpcStatus.INTERNAL },
  // Deployments and the gateway's router.
  CONTINUUM_ERR_DEPLOYMENT_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  CONTINUUM_ERR_DEPLOYMENT_EXISTS: { httpStatus: 409, grpcStatus: GrpcStatus.ALREADY_EXISTS },
  CONTINUUM_ERR_ACTIVATOR_FULL: { httpStatus: 503, grpcStatus: GrpcStatus.UNAVAILABLE },
  CONTINUUM_ERR_NO_REPLICA: { httpStatus: 503, grpcStatus: GrpcStatus.UNAVAILABLE },
  // Rollouts.
  CONTINUUM_ERR_ROLLOUT_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  CONTINUUM_ERR_ROLLOUT_IN_PROGRESS: { httpStatus: 409, grpcStatus: GrpcStatus.FAILED_PRECONDITION },
  CONTINUUM_ERR_ROLLOUT_FINISHED: { httpStatus: 409, grpcStatus: GrpcStatus.FAILED_PRECONDITION },
  CONTINUUM_ERR_INVALID_ROLLOUT: { httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  // Replicas: the request was not answered by its replica and may be retried on another.
  CONTINUUM_ERR_REPLICA_LOST: { httpStatus: 503, grpcStatus: GrpcStatus.UNAVAILABLE },
  // Releases: validation gates ahead of a rollout.
  CONTINUUM_ERR_RELEASE_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  CONTINUUM_ERR_RELEASE_IN_PROGRESS: { httpStatus: 409, grpcStatus: GrpcStatus.FAILED_PRECONDITION },
  CONTINUUM_ERR_DATASET_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  CONTINUUM_ERR_RELEASE_POLICY_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  // Optimization: quantized and float16 versions.
  CONTINUUM_ERR_OPTIMIZE_UNSUPPORTED: { httpStatus: 422, grpcStatus: GrpcStatus.FAILED_PRECONDITION },
  CONTINUUM_ERR_ACCURACY_BUDGET: { httpStatus: 422, grpcStatus: GrpcStatus.FAILED_PRECONDITION },
  // Alerts.
  CONTINUUM_ERR_INVALID_ALERT_RULE: { httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  CONTINUUM_ERR_ALERT_RULE_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  CONTINUUM_ERR_ALERT_RULE_EXISTS: { httpStatus: 409, grpcStatus: GrpcStatus.ALREADY_EXISTS },
  // Ingest: MQTT data sources.
  CONTINUUM_ERR_DATASOURCE_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  CONTINUUM_ERR_DATASOURCE_EXISTS: { httpStatus: 409, grpcStatus: GrpcStatus.ALREADY_EXISTS },
  // Workflows: training packages, sandboxed runs, retraining.
  CONTINUUM_ERR_WORKFLOW_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  CONTINUUM_ERR_WORKFLOW_EXISTS: { httpStatus: 409, grpcStatus: GrpcStatus.ALREADY_EXISTS },
  CONTINUUM_ERR_INVALID_WORKFLOW: { httpStatus: 422, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  CONTINUUM_ERR_RUN_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  CONTINUUM_ERR_RUN_IN_PROGRESS: { httpStatus: 409, grpcStatus: GrpcStatus.FAILED_PRECONDITION },
  CONTINUUM_ERR_SANDBOX_UNAVAILABLE: { httpStatus: 503, grpcStatus: GrpcStatus.UNAVAILABLE },
  // Placement and model partitioning (docs/placement.md).
  CONTINUUM_ERR_INVALID_PLACEMENT: { httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  CONTINUUM_ERR_INVALID_CUT: { httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT },
  // Security.
  CONTINUUM_ERR_UNAUTHENTICATED: { httpStatus: 401, grpcStatus: GrpcStatus.UNAUTHENTICATED },
  CONTINUUM_ERR_FORBIDDEN: { httpStatus: 403, grpcStatus: GrpcStatus.PERMISSION_DENIED },
  // Kubernetes target.
  CONTINUUM_ERR_KUBERNETES_API: { httpStatus: 502, grpcStatus: GrpcStatus.UNAVAILABLE },
  CONTINUUM_ERR_KUBERNETES_CONFLICT: { httpStatus: 409, grpcStatus: GrpcStatus.FAILED_PRECONDITION },
  CONTINUUM_ERR_DIGEST_MISMATCH: { httpStatus: 502, grpcStatus: GrpcStatus.INTERNAL },
  // Nodes and their agents (docs/agents.md).
  CONTINUUM_ERR_NODE_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND },
  CONTINUUM_ERR_NODE_EXISTS: { httpStatus: 409, grpcStatus: GrpcStatus.ALREADY_EXISTS },
  CONTINUUM_ERR_NODE_REVOKED: { httpStatus: 403, grpcStatus: GrpcStatus.PERMISSION_DENIED },
  CONTINUUM_ERR_ARTIFACT_CORRUPT: { httpStatus: 502, grpcStatus: GrpcStatus.UNAVAILABLE },
  // Anything unforeseen.
  CONTINUUM_ERR_INTERNAL: { httpStatus: 500, grpcStatus: GrpcStatus.INTERNAL },
  CONTINUUM_ERR_METHOD_NOT_ALLOWED: { httpStatus: 405, grpcStatus: GrpcStatus.UNIMPLEMENTED },
  CONTINUUM_ERR_ROUTE_NOT_FOUND: { httpStatus: 404, grpcStatus: GrpcStatus.UNIMPLEMENTED },
  CONTINUUM_ERR_SERVER_UNREACHABLE: { httpStatus: 502, grpcStatus: GrpcStatus.UNAVAILABLE },
} as const satisfies Record<string, ErrorKind>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_KINDS;

/** Options of a {@link ContinuumError}: extra context and the error that caused it. */
export interface ContinuumErrorOptions {
  readonly cause?: unknown;
  /** Structured context (model name, limit, observed value...) kept for logs and the API. */
  readonly details?: Readonly<Record<string, unknown>>;
  /** Seconds a client should wait before retrying (sent as `Retry-After`). */
  readonly retryAfterS?: number;
}

/** An error a user may see: a stable code, a message that says what was wrong and what to do. */
export class ContinuumError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly grpcStatus: GrpcStatusCode;
  readonly details: Readonly<Record<string, unknown>>;
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, message: string, options: ContinuumErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ContinuumError';
    this.code = code;
    this.httpStatus = ERROR_KINDS[code].httpStatus;
    this.grpcStatus = ERROR_KINDS[code].grpcStatus;
    this.details = options.details ?? {};
    this.retryAfterS = options.retryAfterS;
  }
}

/** True when `err` is a {@link ContinuumError}, optionally of the given code. */
export function isContinuumError(err: unknown, code?: ErrorCode): err is ContinuumError {
  return err instanceof ContinuumError && (code === undefined || err.code === code);
}

/**
 * Turns anything thrown into a {@link ContinuumError}. Unknown errors become
 * CONTINUUM_ERR_INTERNAL with the original kept as `cause` (and never shown verbatim to clients
 * beyond its message).
 */
export function toContinuumError(err: unknown): ContinuumError {
  if (err instanceof ContinuumError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ContinuumError('CONTINUUM_ERR_INTERNAL', `internal error: ${message}`, { cause: err });
}

/** The OIP v2 error body: `{"error": "..."}` (OIP REST, "Error Response"). */
export interface ErrorBody {
  readonly error: string;
  readonly code: ErrorCode;
}

/** The JSON body sent for an error; OIP clients read `error`, Continuum clients also `code`. */
export function errorBody(err: ContinuumError): ErrorBody {
  return { error: err.message, code: err.code };
}
