/**
 * Data drift: does what a deployment is asked now look like what it was asked (or trained on)
 * before? Per numeric input feature, a live window is compared with a reference window by two
 * measures that answer different questions:
 *
 * - the Population Stability Index (Siddiqi, "Credit Risk Scorecards", 2006; Yurdakul, "Statistical
 *   properties of the population stability index", 2018): how much the mass moved between the
 *   reference's decile bins, with the usual reading < 0.1 stable, 0.1–0.25 moderate shift,
 *   > 0.25 significant shift;
 * - the two-sample Kolmogorov–Smirnov test (Smirnov 1948): the largest gap D between the two
 *   empirical distribution functions and its asymptotic p-value from Kolmogorov's limit
 *   distribution (as scipy.stats.kstwobign), which says how surprising D is for windows this large.
 *
 * The statistics are pure functions; {@link DriftMonitor} keeps the bounded windows a deployment's
 * request path feeds, sampling a share of requests so the hot path pays a counter and a few copies.
 */
import { ContinuumError } from '../errors.js';
import type { InferRequest, Tensor } from '../oip/types.js';

/** PSI readings (Siddiqi 2006): below `moderate` stable, from `moderate` to `significant` a moderate shift, above `significant` a significant one. */
export const PSI_THRESHOLDS = { moderate: 0.1, significant: 0.25 } as const;

/** How far a feature (or a deployment, by its worst feature) has drifted, by {@link PSI_THRESHOLDS}. */
export type DriftLevel = 'stable' | 'moderate' | 'significant';

/** Bins of the PSI: the reference's deciles, the common choice. */
export const DEFAULT_PSI_BINS = 10;

/**
 * Share given to an empty bin so the logarithm stays finite; 1e-4 is a common floor (Yurdakul 2018
 * discusses the choice): a bin empty on one side and holding 10% on the other then adds about 0.83.
 */
export const PSI_EMPTY_BIN_SHARE = 1e-4;

/** The level a PSI value reads as (see {@link PSI_THRESHOLDS}). */
export function driftLevel(psiValue: number): DriftLevel {
  if (psiValue > PSI_THRESHOLDS.significant) return 'significant';
  return psiValue >= PSI_THRESHOLDS.moderate ? 'moderate' : 'stable';
}

function requireSamples(name: string, values: readonly number[]): void {
  if (values.length === 0) throw new ContinuumError('CONTINUUM_ERR_INTERNAL', `drift statistics need at least one value in '${name}'`);
}

function sorted(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

/** The q-quantile of sorted values by linear interpolation between order statistics (Hyndman & Fan type 7, numpy's default). */
function interpolatedQuantile(ascending: Float64Array, q: number): number {
  const position = q * (ascending.length - 1);
  const below = Math.floor(position);
  const lower = ascending[below] ?? Number.NaN;
  const upper = ascending[Math.min(below + 1, ascending.length - 1)] ?? lower;
  return lower + (position - below) * (upper - lower);
}

/**
 * Inner cut points of `bins` bins holding equal shares of the reference (its quantiles at 1/bins,
 * 2/bins, ...), without repeats: a feature with few distinct values gets fewer, wider bins.
 */
export function quantileEdges(reference: readonly number[], bins: number): number[] {
  requireSamples('reference', reference);
  const ascending = sorted(reference);
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const edge = interpolatedQuantile(ascending, i / bins);
    if (edges.length === 0 || edge > (edges[edges.length - 1] ?? Number.NEGATIVE_INFINITY)) edges.push(edge);
  }
  return edges;
}

/** Share of `values` in each bin the edges make; bin i holds (edge[i-1], edge[i]], the first everything up to edge[0], the last everything above the last edge. */
function binShares(values: readonly number[], edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) {
    // Binary search: the first edge >= v is v's bin.
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((edges[mid] ?? Number.POSITIVE_INFINITY) < v) lo = mid + 1;
      else hi = mid;
    }
    counts[lo] = (counts[lo] ?? 0) + 1;
  }
  return counts.map((c) => c / values.length);
}

/**
 * Population Stability Index of `live` against `reference`: Σ (q − p) · ln(q / p) over bins cut at the
 * reference's quantiles, p the reference's share and q the live share of a bin, each at least
 * {@link PSI_EMPTY_BIN_SHARE}. 0 for identical shares; symmetric in the shares, not in the windows
 * (the bins come from the reference).
 */
export function psi(reference: readonly number[], live: readonly number[], bins: number = DEFAULT_PSI_BINS): number {
  requireSamples('live', live);
  const edges = quantileEdges(reference, bins);
  const expected = binShares(reference, edges);
  const actual = binShares(live, edges);
  let sum = 0;
  expected.forEach((e, i) => {
    const p = Math.max(e, PSI_EMPTY_BIN_SHARE);
    const q = Math.max(actual[i] ?? 0, PSI_EMPTY_BIN_SHARE);
    sum += (q - p) * Math.log(q / p);
  });
  return sum;
}

/**
 * Survival function of Kolmogorov's limit distribution, Q(λ) = P(K > λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2j²λ²}
 * (scipy.stats.kstwobign.sf). For small λ that alternating series converges slowly, so there the
 * equivalent theta-function form of the CDF is used: P(K ≤ λ) = (√(2π)/λ) Σ_{j≥1} e^{−(2j−1)²π²/(8λ²)}.
 */
export function kolmogorovSurvival(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 1.18) {
    let cdf = 0;
    for (let j = 1; j <= 8; j++) cdf += Math.exp(-((2 * j - 1) ** 2) * Math.PI ** 2 / (8 * lambda * lambda));
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * cdf));
  }
  let survival = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda);
    survival += (j % 2 === 1 ? 2 : -2) * term;
    if (term < 1e-17) break;
  }
  return Math.min(1, Math.max(0, survival));
}

/** The two-sample Kolmogorov–Smirnov statistic and its asymptotic p-value. */
export interface KsResult {
  /** D = sup_x |F_a(x) − F_b(x)|, in [0, 1]. */
  readonly d: number;
  /** P(D this large or larger) were both samples from one distribution: Q(√(nm/(n+m)) · D), as scipy's `ks_2samp(..., method='asymp')` with the kstwobign limit. */
  readonly p: number;
}

/** Two-sample Kolmogorov–Smirnov test of `a` against `b` (ties advance both distribution functions together). */
export function ksTwoSample(a: readonly number[], b: readonly number[]): KsResult {
  requireSamples('a', a);
  requireSamples('b', b);
  const x = sorted(a);
  const y = sorted(b);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const xi = x[i] ?? 0;
    const yj = y[j] ?? 0;
    const v = Math.min(xi, yj);
    while (i < x.length && (x[i] ?? 0) <= v) i++;
    while (j < y.length && (y[j] ?? 0) <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  const effectiveN = (x.length * y.length) / (x.length + y.length);
  return { d, p: kolmogorovSurvival(Math.sqrt(effectiveN) * d) };
}

/** The drift of one input feature. */
export interface FeatureDrift {
  /** The feature's index within a row (the column of a [batch, features] input). */
  readonly feature: number;
  readonly psi: number;
  /** Kolmogorov–Smirnov D. */
  readonly ks: number;
  /** Kolmogorov–Smirnov asymptotic p-value. */
  readonly p: number;
  readonly referenceN: number;
  readonly liveN: number;
}

/** Values per feature: `columns[f]` holds feature f's values, one per row. */
export type FeatureColumns = readonly (readonly number[])[];

/**
 * PSI and KS per feature of `live` against `reference` (only the features both have, each over its
 * finite values; a feature with none on either side is left out).
 */
export function featureDrift(reference: FeatureColumns, live: FeatureColumns, bins: number = DEFAULT_PSI_BINS): FeatureDrift[] {
  const out: FeatureDrift[] = [];
  const features = Math.min(reference.length, live.length);
  for (let f = 0; f < features; f++) {
    const ref = (reference[f] ?? []).filter(Number.isFinite);
    const now = (live[f] ?? []).filter(Number.isFinite);
    if (ref.length === 0 || now.length === 0) continue;
    const ks = ksTwoSample(ref, now);
    out.push({ feature: f, psi: psi(ref, now, bins), ks: ks.d, p: ks.p, referenceN: ref.length, liveN: now.length });
  }
  return out;
}

/** A deployment's drift score: its worst feature's PSI (null when no feature could be compared). */
export function driftScore(features: readonly FeatureDrift[]): number | null {
  return features.length === 0 ? null : Math.max(...features.map((f) => f.psi));
}

/** Options of a {@link DriftMonitor}; every field has a default. */
export interface DriftMonitorOptions {
  /**
   * The input tensor to watch; by default the request's first numeric input.
   * @default undefined
   */
  readonly input?: string;
  /**
   * Rows in the reference window: the first sampled rows of a revision, unless a reference is given.
   * @default 1000
   */
  readonly referenceRows?: number;
  /**
   * Rows in the live window: the most recent sampled rows after the reference filled.
   * @default 1000
   */
  readonly liveRows?: number;
  /**
   * Share of requests sampled, in (0, 1]: every ⌈1/share⌉-th request is copied.
   * @default 0.1
   */
  readonly sampleShare?: number;
  /**
   * Rows copied from one sampled request at most (a large batch adds its first rows only).
   * @default 8
   */
  readonly maxRowsPerRequest?: number;
  /**
   * Features watched at most: a row's first elements beyond the batch dimension (an image's first
   * pixels, say); more would make the windows large and the report slow for little extra signal.
   * @default 64
   */
  readonly maxFeatures?: number;
  /**
   * Live rows needed before a report compares anything.
   * @default 100
   */
  readonly minLiveRows?: number;
  /** @default 10 */
  readonly bins?: number;
  /** Reference rows (e.g. the features of the model's attached dataset) instead of the first sampled ones. */
  readonly reference?: readonly (readonly number[])[];
}

/** What a {@link DriftMonitor} reports. */
export interface DriftReport {
  /** The revision the windows belong to (undefined until a request named one). */
  readonly revision: number | undefined;
  /** Where the reference came from. */
  readonly referenceSource: 'given' | 'sampled';
  readonly referenceRows: number;
  readonly liveRows: number;
  /** Features per row in the windows (0 before the first row). */
  readonly features: number;
  /** Requests seen and requests sampled since the revision started. */
  readonly requests: number;
  readonly sampledRequests: number;
  /** Per-feature figures; empty until the reference is complete and the live window holds `minLiveRows`. */
  readonly drift: readonly FeatureDrift[];
  /** The worst feature's PSI, null while nothing is compared. */
  readonly score: number | null;
  readonly level: DriftLevel | null;
}

/**
 * Fixed-capacity rows of fixed width in one Float32Array; as a ring it keeps the newest rows.
 * Single precision for both windows: inputs mostly arrive as FP32, and a reference given in
 * doubles (a JSON dataset) must be rounded the same way, or tied values (iris's petal width 0.2
 * thirty times over) land on the other side of a quantile edge and show as drift.
 */
class RowWindow {
  private readonly values: Float32Array;
  private count = 0;
  private next = 0;

  constructor(
    readonly capacity: number,
    readonly width: number,
  ) {
    this.values = new Float32Array(capacity * width);
  }

  get rows(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Copies `width` values of `data` from `offset`; once full, overwrites the oldest row. */
  push(data: ArrayLike<number | bigint>, offset: number): void {
    const base = this.next * this.width;
    for (let k = 0; k < this.width; k++) this.values[base + k] = Number(data[offset + k] ?? Number.NaN);
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  columns(): number[][] {
    const out: number[][] = Array.from({ length: this.width }, () => new Array<number>(this.count));
    for (let r = 0; r < this.count; r++) {
      for (let f = 0; f < this.width; f++) (out[f] as number[])[r] = this.values[r * this.width + f] ?? Number.NaN;
    }
    return out;
  }
}

/** Datatypes the monitor reads: numbers it can compare (BOOL, BYTES and FP16's raw half bits are skipped). */
const WATCHED_DATATYPES: ReadonlySet<string> = new Set(['UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP32', 'FP64']);

/**
 * One deployment's drift windows. The request path calls {@link observe} for every request; one in
 * ⌈1/sampleShare⌉ is copied (a counter and at most `maxRowsPerRequest × maxFeatures` numbers).
 * The first `referenceRows` sampled rows of a revision form the reference unless one was given;
 * later rows go to a live window of the last `liveRows`. A request of another revision starts over.
 */
export class DriftMonitor {
  private readonly options: Required<Omit<DriftMonitorOptions, 'input' | 'reference'>>;
  private readonly input: string | undefined;
  private givenReference: readonly (readonly number[])[] | undefined;
  private revision: number | undefined;
  private reference: RowWindow | undefined;
  private live: RowWindow | undefined;
  private requests = 0;
  private sampled = 0;
  /**
   * The last report, until a row is sampled or the windows restart: the autoscaler tick (drift
   * alerts) and every `deployments show` ask for it, and sorting each feature's windows again for
   * the same rows would be work for nothing.
   */
  private lastReport: DriftReport | undefined;
  private readonly sampleEvery: number;

  constructor(options: DriftMonitorOptions = {}) {
    this.options = {
      referenceRows: options.referenceRows ?? 1000,
      liveRows: options.liveRows ?? 1000,
      sampleShare: options.sampleShare ?? 0.1,
      maxRowsPerRequest: options.maxRowsPerRequest ?? 8,
      maxFeatures: options.maxFeatures ?? 64,
      minLiveRows: options.minLiveRows ?? 100,
      bins: options.bins ?? DEFAULT_PSI_BINS,
    };
    const { referenceRows, liveRows, sampleShare, maxRowsPerRequest, maxFeatures, minLiveRows, bins } = this.options;
    if (!(sampleShare > 0 && sampleShare <= 1)) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `the drift sample share must be in (0, 1]; got ${sampleShare}`);
    for (const [name, value] of Object.entries({ referenceRows, liveRows, maxRowsPerRequest, maxFeatures, bins })) {
      if (!Number.isInteger(value) || value < 1) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `the drift option '${name}' must be a positive integer; got ${value}`);
    }
    if (!Number.isInteger(minLiveRows) || minLiveRows < 1 || minLiveRows > liveRows) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `the drift option 'minLiveRows' must be an integer from 1 to liveRows (${liveRows}); got ${minLiveRows}`);
    this.sampleEvery = Math.ceil(1 / sampleShare);
    this.input = options.input;
    this.setReference(options.reference);
  }

  /**
   * Uses `rows` (e.g. the model's attached dataset's features, each row the input's elements beyond
   * the batch dimension) as the reference, or goes back to sampling one when undefined. Clears the windows.
   */
  setReference(rows: readonly (readonly number[])[] | undefined): void {
    this.givenReference = rows === undefined || rows.length === 0 ? undefined : rows;
    this.restart(this.revision);
  }

  /** Looks at one request of `revision` (when given: a request of another revision starts the windows over). */
  observe(request: InferRequest, revision?: number): void {
    if (revision !== undefined && revision !== this.revision) this.restart(revision);
    this.requests += 1;
    if (this.requests % this.sampleEvery !== 0) return;
    const tensor = this.watched(request);
    if (tensor === undefined) return;
    const rows = tensor.shape[0] ?? 0;
    const rowElements = tensor.shape.slice(1).reduce((a, b) => a * b, 1);
    if (rows === 0 || rowElements === 0) return;
    const width = Math.min(rowElements, this.options.maxFeatures);
    this.reference ??= new RowWindow(this.options.referenceRows, width);
    // A row of another width than the windows' (another input shape) is not comparable.
    if (width !== this.reference.width) return;
    this.sampled += 1;
    this.lastReport = undefined;
    const data = tensor.data as ArrayLike<number | bigint>;
    for (let r = 0; r < Math.min(rows, this.options.maxRowsPerRequest); r++) {
      if (!this.reference.full) {
        this.reference.push(data, r * rowElements);
      } else {
        this.live ??= new RowWindow(this.options.liveRows, width);
        this.live.push(data, r * rowElements);
      }
    }
  }

  /** Per-feature PSI and KS of the live window against the reference, and the deployment's score. */
  report(): DriftReport {
    this.lastReport ??= this.compute();
    // Requests are counted on every call; only the figures over the sampled rows are kept.
    return { ...this.lastReport, requests: this.requests };
  }

  private compute(): DriftReport {
    const reference = this.reference;
    const live = this.live;
    const ready = reference !== undefined && reference.full && live !== undefined && live.rows >= this.options.minLiveRows;
    const drift = ready ? featureDrift(reference.columns(), live.columns(), this.options.bins) : [];
    const score = driftScore(drift);
    return {
      revision: this.revision,
      referenceSource: this.givenReference === undefined ? 'sampled' : 'given',
      referenceRows: reference?.rows ?? 0,
      liveRows: live?.rows ?? 0,
      features: reference?.width ?? 0,
      requests: this.requests,
      sampledRequests: this.sampled,
      drift,
      score,
      level: score === null ? null : driftLevel(score),
    };
  }

  private restart(revision: number | undefined): void {
    this.lastReport = undefined;
    this.revision = revision;
    this.requests = 0;
    this.sampled = 0;
    this.live = undefined;
    this.reference = undefined;
    const given = this.givenReference;
    if (given === undefined) return;
    const width = Math.min(given[0]?.length ?? 0, this.options.maxFeatures);
    if (width === 0) return;
    // At most referenceRows of a given reference, taken evenly across it (datasets are often sorted by label).
    const stride = Math.ceil(given.length / this.options.referenceRows);
    const picked = given.filter((_, i) => i % stride === 0);
    this.reference = new RowWindow(picked.length, width);
    for (const row of picked) this.reference.push(row, 0);
  }

  private watched(request: InferRequest): Tensor | undefined {
    for (const t of request.inputs) {
      if ((this.input === undefined || t.name === this.input) && WATCHED_DATATYPES.has(t.datatype)) return t;
    }
    return undefined;
  }
}
