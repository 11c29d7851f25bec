/**
 * A deployment's route (Knative's Route over Revisions): the revision in production (the baseline
 * track) and, during a rollout, a candidate revision, each with its own replica set and autoscaler,
 * and the traffic rule between them — a weighted split, a sticky A/B split by a request key, a
 * split by header, or a mirror of live traffic to the candidate whose answers are discarded. Every
 * request's outcome is recorded per track for the rollout's analysis.
 *
 * A canary is compared with a control, not with production: replicas of the production revision
 * sized like the candidate and given the same share of traffic (Kayenta's baseline cluster), so
 * both see the same load per replica. Compared with production itself, a 5% canary on one idle
 * replica would look fast next to production's busy replicas whatever its own speed.
 */
import { ContinuumError, toContinuumError } from '../errors.js';
import type { InferRequest, InferResponse, ModelStatistics, Tensor } from '../oip/types.js';
import type { InferOptions } from '../runtime/index.js';
import type { DriftMonitor } from '../observe/drift.js';
import { outputsAgree } from '../rollout/analysis.js';
import type { TrackSample } from '../rollout/types.js';
import { sumStatistics } from './replica-set.js';
import type { ReplicaSet } from './replica-set.js';
import { chooseWeighted, stickyBucket, WHOLE_BPS } from './split.js';
import type { WeightedState } from './split.js';

/** The two sides of a rollout. */
export type TrackName = 'baseline' | 'candidate' | 'control';

/** How requests are shared between the baseline and the candidate. */
export type TrafficRule =
  | { readonly kind: 'baseline' }
  /** Canary and blue-green: `candidateBps` of requests to the candidate and `controlBps` to the control, spread exactly (smooth weighted round robin). */
  | { readonly kind: 'weighted'; readonly candidateBps: number; readonly controlBps: number }
  /** A/B by a hash of the `keyHeader` value: a key stays on its side; requests without the header are split by weight. */
  | { readonly kind: 'sticky'; readonly candidateBps: number; readonly controlBps: number; readonly keyHeader: string }
  /** A/B by header: requests whose `header` equals `value` go to the candidate. */
  | { readonly kind: 'header'; readonly header: string; readonly value: string }
  /** Shadow: every request is answered by the baseline; `shareBps` of them are also sent to the candidate and its answer compared, then discarded. */
  | { readonly kind: 'mirror'; readonly shareBps: number; readonly tolerance: number };

/** Where one request goes: its serving track and whether a copy is mirrored to the candidate. */
export interface TrackChoice {
  readonly track: TrackName;
  readonly mirror: boolean;
  readonly state: WeightedState;
}

/** Header lookup of the request being routed (lower-case names). */
export type HeaderLookup = (name: string) => string | undefined;

/**
 * Which track serves a request under `rule` (pure). `state` is the weighted chooser's running
 * state, returned updated.
 */
export function chooseTrack(rule: TrafficRule, state: WeightedState, header: HeaderLookup | undefined): TrackChoice {
  switch (rule.kind) {
    case 'baseline':
      return { track: 'baseline', mirror: false, state };
    case 'weighted':
      return weighted(rule.candidateBps, rule.controlBps, state);
    case 'sticky': {
      const key = header?.(rule.keyHeader);
      if (key === undefined || key === '') return weighted(rule.candidateBps, rule.controlBps, state);
      const bucket = stickyBucket(key);
      return { track: bucket < rule.candidateBps ? 'candidate' : bucket < rule.candidateBps + rule.controlBps ? 'control' : 'baseline', mirror: false, state };
    }
    case 'header':
      return { track: header?.(rule.header) === rule.value ? 'candidate' : 'baseline', mirror: false, state };
    case 'mirror': {
      const choice = chooseWeighted([WHOLE_BPS - rule.shareBps, rule.shareBps], state);
      return { track: 'baseline', mirror: choice.index === 1, state: choice.state };
    }
  }
}

const WEIGHTED_TRACKS: readonly TrackName[] = ['baseline', 'candidate', 'control'];

function weighted(candidateBps: number, controlBps: number, state: WeightedState): TrackChoice {
  const choice = chooseWeighted([WHOLE_BPS - candidateBps - controlBps, candidateBps, controlBps], state);
  return { track: WEIGHTED_TRACKS[choice.index] ?? 'baseline', mirror: false, state: choice.state };
}

/**
 * Whether a failure is of the server's making and so counts against a revision: 5xx answers and a
 * full queue (429, the revision cannot keep up); a client's bad input (400, 404, 413) does not.
 */
export function isServerFailure(err: unknown): boolean {
  const e = toContinuumError(err);
  return e.httpStatus >= 500 || e.code === 'CONTINUUM_ERR_QUEUE_FULL';
}

/** Latency samples kept per track and window (a uniform reservoir beyond it). */
const MAX_LATENCY_SAMPLES = 4096;

/** Counts one track's outcomes since the analysis window began. */
export class TrackRecorder {
  private requests = 0;
  private errors = 0;
  private compared = 0;
  private disagreed = 0;
  private successes = 0;
  private latenciesMs: number[] = [];

  /** A request answered after `latencyMs`. */
  success(latencyMs: number): void {
    this.requests += 1;
    this.successes += 1;
    // Reservoir sampling (Vitter's algorithm R) keeps a uniform sample of the window.
    if (this.latenciesMs.length < MAX_LATENCY_SAMPLES) this.latenciesMs.push(latencyMs);
    else {
      const slot = Math.floor(Math.random() * this.successes);
      if (slot < MAX_LATENCY_SAMPLES) this.latenciesMs[slot] = latencyMs;
    }
  }

  /** A request failed; counted when it is a server failure (see {@link isServerFailure}). */
  failure(err: unknown): void {
    if (!isServerFailure(err)) return;
    this.requests += 1;
    this.errors += 1;
  }

  /** A mirrored answer was compared with the baseline's. */
  comparison(agreed: boolean): void {
    this.compared += 1;
    if (!agreed) this.disagreed += 1;
  }

  /** The window so far. */
  sample(): TrackSample {
    return { requests: this.requests, errors: this.errors, latenciesMs: [...this.latenciesMs], compared: this.compared, disagreed: this.disagreed };
  }

  /** Starts a new window. */
  reset(): void {
    this.requests = 0;
    this.errors = 0;
    this.compared = 0;
    this.disagreed = 0;
    this.successes = 0;
    this.latenciesMs = [];
  }
}

/** Element values of a tensor as numbers (BYTES compared as text codes). */
function values(t: Tensor): ArrayLike<number> {
  const data = t.data;
  if (Array.isArray(data)) return data.flatMap((b) => [...b, -1]);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, Number);
  return data as ArrayLike<number>;
}

/** Whether two answers agree: the same outputs, shapes, and every element within `tolerance`. */
export function answersAgree(a: InferResponse, b: InferResponse, tolerance: number): boolean {
  if (a.outputs.length !== b.outputs.length) return false;
  for (const ta of a.outputs) {
    const tb = b.outputs.find((o) => o.name === ta.name);
    if (tb === undefined || tb.shape.join() !== ta.shape.join()) return false;
    if (!outputsAgree(values(ta), values(tb), tolerance)) return false;
  }
  return true;
}

/** A mirrored copy's options: its timing and routing are not the client's request's. */
function withoutHooks(options: InferOptions): InferOptions {
  if (options.onTiming === undefined && options.onRouted === undefined) return options;
  const { onTiming: _timing, onRouted: _routed, ...rest } = options;
  return rest;
}

/** Mirrored requests in flight at most; beyond it a mirror copy is skipped (and counted), so a slow candidate cannot pile up work. */
const MAX_MIRRORS_IN_FLIGHT = 64;

/** A deployment's tracks and traffic rule; see the module comment. */
export class DeploymentRoute {
  private rule: TrafficRule = { kind: 'baseline' };
  private chooser: WeightedState = [];
  private candidateSet: ReplicaSet | undefined;
  private controlSet: ReplicaSet | undefined;
  private mirrorsInFlight = 0;
  private mirrorsSkipped = 0;
  private readonly recorders: Readonly<Record<TrackName, TrackRecorder>> = { baseline: new TrackRecorder(), candidate: new TrackRecorder(), control: new TrackRecorder() };

  constructor(
    private baselineSet: ReplicaSet,
    private readonly logError: (err: unknown, message: string) => void,
    /** Watches production's inputs against a reference (sampled rows: cheap on the hot path). */
    readonly drift: DriftMonitor,
  ) {}

  /** The production revision's replica set. */
  get baseline(): ReplicaSet {
    return this.baselineSet;
  }

  /** The candidate revision's replica set during a rollout. */
  get candidate(): ReplicaSet | undefined {
    return this.candidateSet;
  }

  /** The control's replica set during a rollout that compares against one. */
  get control(): ReplicaSet | undefined {
    return this.controlSet;
  }

  /** The traffic rule in force. */
  get traffic(): TrafficRule {
    return this.rule;
  }

  /** Mirror copies skipped because too many were in flight. */
  get skippedMirrors(): number {
    return this.mirrorsSkipped;
  }

  /** Every replica set of the route, baseline first. */
  sets(): readonly ReplicaSet[] {
    return [this.baselineSet, ...this.rolloutSets()];
  }

  /** Adds the candidate's replica set (and a control's); they take traffic once a rule says so. */
  attachCandidate(set: ReplicaSet, control: ReplicaSet | undefined): void {
    this.candidateSet = set;
    this.controlSet = control;
    this.rule = { kind: 'baseline' };
  }

  /** Changes the traffic rule; takes effect with the next request (in-flight requests finish where they are). */
  route(rule: TrafficRule): void {
    if (rule.kind !== 'baseline' && this.candidateSet === undefined) throw new ContinuumError('CONTINUUM_ERR_INTERNAL', 'a traffic rule names a candidate but the deployment has none');
    this.rule = rule;
    this.chooser = [];
  }

  /** The candidate becomes the baseline; the former baseline's set and the control's are returned for draining. */
  promoteCandidate(): readonly ReplicaSet[] {
    const set = this.candidateSet;
    if (set === undefined) throw new ContinuumError('CONTINUUM_ERR_INTERNAL', 'no candidate to promote');
    const retired = [this.baselineSet, ...(this.controlSet === undefined ? [] : [this.controlSet])];
    this.baselineSet = set;
    this.candidateSet = undefined;
    this.controlSet = undefined;
    this.rule = { kind: 'baseline' };
    return retired;
  }

  /** Every request goes to the baseline again; the candidate's and the control's sets are returned for draining. */
  detachCandidate(): readonly ReplicaSet[] {
    const retired = this.rolloutSets();
    this.candidateSet = undefined;
    this.controlSet = undefined;
    this.rule = { kind: 'baseline' };
    return retired;
  }

  /** Every track's outcomes since the window began. */
  samples(): Readonly<Record<TrackName, TrackSample>> {
    return { baseline: this.recorders.baseline.sample(), candidate: this.recorders.candidate.sample(), control: this.recorders.control.sample() };
  }

  /** Starts a new analysis window on every track. */
  resetSamples(): void {
    for (const r of Object.values(this.recorders)) r.reset();
  }

  /** Serves one request: on the version named (either track), else on the track the traffic rule picks; unpinned requests feed the drift monitor. */
  infer(version: string | undefined, request: InferRequest, options: InferOptions = {}): Promise<InferResponse> {
    if (version !== undefined) {
      const pinned = this.track(version);
      return this.serve(pinned, this.setOf(pinned), request, options);
    }
    this.drift.observe(request, this.baselineSet.current.revision.revision);
    const choice = chooseTrack(this.rule, this.chooser, options.header);
    this.chooser = choice.state;
    const candidate = this.candidateSet;
    // A track without a replica set (a rule applied before the set exists) falls back to production.
    const track = choice.track === 'baseline' || this.setOf(choice.track) !== this.baselineSet ? choice.track : 'baseline';
    const answer = this.serve(track, this.setOf(track), request, options);
    if (choice.mirror && candidate !== undefined && this.rule.kind === 'mirror') this.mirror(candidate, answer, request, withoutHooks(options), this.rule.tolerance);
    return answer;
  }

  /** Statistics of every track's replicas, one entry per version (a control's add to production's). */
  statistics(): readonly ModelStatistics[] {
    return sumStatistics(this.baselineSet.current.name, this.sets().flatMap((s) => s.statistics()));
  }

  /** The versions the route serves, baseline first. */
  versions(): readonly string[] {
    return this.sets().map((s) => s.current.revision.spec.version);
  }

  /** The replica set serving `version` (the baseline when absent); CONTINUUM_ERR_VERSION_NOT_FOUND when neither track does. */
  setFor(version: string | undefined): ReplicaSet {
    return version === undefined ? this.baselineSet : this.setOf(this.track(version));
  }

  /** The track serving `version`; CONTINUUM_ERR_VERSION_NOT_FOUND when neither does. */
  private track(version: string): TrackName {
    if (this.baselineSet.current.revision.spec.version === version) return 'baseline';
    if (this.candidateSet?.current.revision.spec.version === version) return 'candidate';
    const name = this.baselineSet.current.name;
    throw new ContinuumError('CONTINUUM_ERR_VERSION_NOT_FOUND', `deployment '${name}' serves version ${this.versions().join(' and ')}, not ${version}`, { details: { name, version } });
  }

  private setOf(track: TrackName): ReplicaSet {
    return (track === 'candidate' ? this.candidateSet : track === 'control' ? this.controlSet : undefined) ?? this.baselineSet;
  }

  private rolloutSets(): ReplicaSet[] {
    return [this.candidateSet, this.controlSet].filter((s): s is ReplicaSet => s !== undefined);
  }

  private async serve(track: TrackName, set: ReplicaSet, request: InferRequest, options: InferOptions): Promise<InferResponse> {
    const recorder = this.recorders[track];
    const spec = set.current.revision.spec;
    options.onRouted?.(track, spec.model, spec.version);
    const startedMs = performance.now();
    try {
      const response = await set.infer(request, options);
      recorder.success(performance.now() - startedMs);
      return response;
    } catch (err) {
      recorder.failure(err);
      throw err;
    }
  }

  /** Sends a copy to the candidate (and the control), measures it like a served request, compares its answer with the baseline's and discards it. */
  private mirror(candidate: ReplicaSet, baselineAnswer: Promise<InferResponse>, request: InferRequest, options: InferOptions, tolerance: number): void {
    if (this.mirrorsInFlight >= MAX_MIRRORS_IN_FLIGHT) {
      this.mirrorsSkipped += 1;
      return;
    }
    this.mirrorsInFlight += 1;
    const shadow = this.serve('candidate', candidate, request, options);
    // The control gets the same copy, so the candidate's latency is compared at the same load.
    const control = this.controlSet === undefined ? undefined : this.serve('control', this.controlSet, request, options).catch(() => undefined);
    Promise.allSettled([baselineAnswer, shadow, control])
      .then(([base, cand]) => {
        if (base.status === 'fulfilled' && cand.status === 'fulfilled') this.recorders.candidate.comparison(answersAgree(base.value, cand.value, tolerance));
      })
      .catch((err: unknown) => this.logError(err, 'comparing a mirrored answer failed'))
      .finally(() => {
        this.mirrorsInFlight -= 1;
      });
  }
}

