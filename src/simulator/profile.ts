/**
 * What one replica of a model can do, as the simulator models it: how long a batch of each size
 * takes on one executor (fitted from latencies measured on the real runtime, see measure.ts), how
 * many executors run side by side, how long a replica takes to start, and what it reserves.
 */
import { z } from 'zod';
import { parse } from '../api/validate.js';

/** One measured point: a batch of `batchSize` requests ran in `latencyMs`. */
export interface BatchLatencyPoint {
  readonly batchSize: number;
  readonly latencyMs: number;
}

/** Latencies measured on the real runtime for one model and runtime configuration. */
export interface ServiceMeasurement {
  readonly model: string;
  /** Executors (ONNX Runtime sessions) per replica that run batches side by side. */
  readonly instances: number;
  /** Largest batch the replica's batcher forms. */
  readonly maxBatchSize: number;
  /** Measured points; several points of one size are allowed (their median is used). */
  readonly points: readonly BatchLatencyPoint[];
}

/** How a replica starts and what it reserves, beside its measured latencies. */
export interface ReplicaStartup {
  /** Measured start times of a replica, ms (scale from zero to first response); the engine draws from them. @default [DEFAULT_COLD_START_MS] */
  readonly coldStartMs?: readonly number[];
  /** Memory reserved per replica, GB (serverless GB-seconds, always-on price). */
  readonly memoryGb: number;
  /** vCPUs reserved per replica (always-on price). */
  readonly vcpu: number;
}

/**
 * A replica's service model. `batchLatencyMs` maps measured batch sizes to the time one executor
 * takes for such a batch; sizes between are interpolated linearly, sizes beyond the largest
 * extrapolated along the last segment.
 */
export interface ServiceProfile {
  readonly model: string;
  readonly instances: number;
  readonly maxBatchSize: number;
  readonly batchLatencyMs: Readonly<Record<number, number>>;
  readonly coldStartMs: readonly number[];
  readonly memoryGb: number;
  readonly vcpu: number;
}

/**
 * Start time of a replica when no measurement is given, ms: a conservative figure for a process
 * spawn, Node.js start, ONNX Runtime import, session creation and warm-up of a small model, to be
 * replaced by measured cold starts.
 */
export const DEFAULT_COLD_START_MS = 1000;

const positive = z.number().positive().finite();
const count = (max: number): z.ZodInt => z.int().min(1).max(max);

const serviceProfileSchema = z.object({
  model: z.string().min(1).max(256),
  instances: count(64),
  maxBatchSize: count(4096),
  batchLatencyMs: z
    .record(z.string().regex(/^[1-9]\d{0,3}$/, 'batch sizes are whole numbers from 1'), positive)
    .refine((r) => Object.keys(r).length > 0, 'at least one measured batch size is needed'),
  coldStartMs: z.array(z.number().nonnegative().finite()).min(1).max(100_000),
  memoryGb: positive,
  vcpu: positive,
});

/** Checks a service profile (it may come from a file); CONTINUUM_ERR_BAD_REQUEST names the field. */
export function validateServiceProfile(profile: ServiceProfile): ServiceProfile {
  parse(serviceProfileSchema, profile, 'service profile');
  return profile;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Fits a service profile to measured latencies: the median of each batch size's points, then made
 * non-decreasing in batch size (a running maximum), since a larger batch does the work of a
 * smaller one and more; a dip is measurement noise. Throws CONTINUUM_ERR_BAD_REQUEST for an
 * invalid measurement.
 */
export function fitServiceProfile(measurement: ServiceMeasurement, resources: ReplicaStartup): ServiceProfile {
  const bySize = new Map<number, number[]>();
  for (const p of measurement.points) bySize.set(p.batchSize, [...(bySize.get(p.batchSize) ?? []), p.latencyMs]);
  const batchLatencyMs: Record<number, number> = {};
  let floor = 0;
  for (const size of [...bySize.keys()].sort((a, b) => a - b)) {
    floor = Math.max(floor, median(bySize.get(size) as number[]));
    batchLatencyMs[size] = floor;
  }
  return validateServiceProfile({
    model: measurement.model,
    instances: measurement.instances,
    maxBatchSize: measurement.maxBatchSize,
    batchLatencyMs,
    coldStartMs: resources.coldStartMs ?? [DEFAULT_COLD_START_MS],
    memoryGb: resources.memoryGb,
    vcpu: resources.vcpu,
  });
}

/**
 * The time one executor takes for a batch of each size from 1 to `maxBatchSize`, ms (index =
 * batch size; index 0 unused): linear interpolation between measured sizes, the smallest measured
 * latency below the smallest size, and the last segment's slope beyond the largest.
 */
export function batchServiceTimes(profile: ServiceProfile): Float64Array {
  const points = Object.entries(profile.batchLatencyMs)
    .map(([size, ms]) => ({ size: Number(size), ms }))
    .sort((a, b) => a.size - b.size);
  const table = new Float64Array(profile.maxBatchSize + 1);
  for (let b = 1; b <= profile.maxBatchSize; b++) {
    let hi = points.findIndex((p) => p.size >= b);
    if (hi === 0 || points.length === 1) {
      table[b] = (points[0] as { ms: number }).ms;
      continue;
    }
    if (hi < 0) hi = points.length - 1;
    const a = points[hi - 1] as { size: number; ms: number };
    const c = points[hi] as { size: number; ms: number };
    table[b] = Math.max(a.ms, a.ms + ((c.ms - a.ms) * (b - a.size)) / (c.size - a.size));
  }
  return table;
}
