/**
 * The verdict of one rollout analysis: a pure function of the criteria and what the data plane
 * measured of the baseline and candidate tracks. Like Kayenta's canary judge and Argo Rollouts'
 * AnalysisRun, the candidate is compared with a baseline running at the same time (so load and
 * time of day hit both alike) by non-parametric and proportion tests, and held to the user's
 * absolute SLOs. Every check states its figures, so a rollback explains itself.
 */
import type { AnalysisCriteria, TrackSample, Verdict, VerdictCheck, VerdictOutcome } from './types.js';

/** The defaults documented on {@link AnalysisCriteria}. */
export const DEFAULT_CRITERIA: AnalysisCriteria = {
  alpha: 0.05,
  minRequests: 50,
  maxLatencyRatio: 1.25,
  minLatencyIncreaseMs: 1,
  maxErrorRateIncrease: 0.01,
  maxErrorRate: 0.05,
  maxP99Ms: undefined,
  maxDisagreement: 0.01,
  outputTolerance: 1e-3,
};

/** The p99 SLO holds when at most this share of requests is slower than the bound. */
const P99_SHARE = 0.01;

/**
 * The complementary error function, fractional error below 1.2e-7 everywhere, tails included
 * (Press et al., Numerical Recipes in C, 2nd ed., §6.2, `erfcc`: a Chebyshev fit). Better than
 * Abramowitz & Stegun 7.1.26, whose 1.5e-7 absolute error swamps p-values below 1e-6.
 */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}

/** The standard normal CDF Φ(x) = erfc(−x/√2) / 2, relative error below 1.2e-7 in both tails. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** A one-sided test's statistic and p-value. */
export interface OneSidedTest {
  /** The standardised statistic; 0 when the samples carry no information (empty, or all tied). */
  readonly z: number;
  /** One-sided p-value that the second sample (the candidate) is larger; 0.5 when z is 0 for want of information. */
  readonly pGreater: number;
}

/** A Mann-Whitney U test of the candidate against the baseline. */
export interface MannWhitney extends OneSidedTest {
  /** U of the candidate sample `b`: pairs (a_i, b_j) with b_j > a_i, ties counting one half. */
  readonly u: number;
}

/** No evidence either way: what a test returns when its samples carry no information. */
const NO_EVIDENCE = { z: 0, pGreater: 0.5 } as const;

/** A sorted copy; a typed array sorts numerically without a comparator, far faster than Array#sort. */
const ascending = (xs: readonly number[]): Float64Array => Float64Array.from(xs).sort();

/**
 * Mann-Whitney U test that values of `b` (candidate) tend to be larger than values of `a`
 * (baseline): mid-ranks for ties, the tie-corrected variance n₁n₂/12 · ((n+1) − Σ(t³−t)/(n(n−1))),
 * and the normal approximation with a continuity correction of ½ (as scipy.stats.mannwhitneyu
 * with method 'asymptotic'). Each sample is sorted natively and the two are ranked in one merge:
 * O(n log n): about a millisecond for 5,000 values each once compiled, 5 ms the first time.
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): MannWhitney {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return { u: 0, ...NO_EVIDENCE };
  const n = n1 + n2;
  const sa = ascending(a);
  const sb = ascending(b);
  let rankSumB = 0;
  let tieTerm = 0;
  let i = 0;
  let j = 0;
  while (i < n1 || j < n2) {
    const value = Math.min(i < n1 ? (sa[i] as number) : Infinity, j < n2 ? (sb[j] as number) : Infinity);
    const firstRank = i + j + 1;
    const i0 = i;
    const j0 = j;
    while (i < n1 && sa[i] === value) i++;
    while (j < n2 && sb[j] === value) j++;
    // Only NaN (sorted last, equal to nothing) can stop both from moving.
    if (i === i0 && j === j0) throw new RangeError('mannWhitneyU: a sample holds NaN, which is no measurement');
    // The t values tied here hold ranks firstRank … firstRank + t − 1; each gets their mean.
    const ties = i - i0 + (j - j0);
    rankSumB += (j - j0) * (firstRank + (ties - 1) / 2);
    tieTerm += ties * ties * ties - ties;
  }
  const u = rankSumB - (n2 * (n2 + 1)) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u, ...NO_EVIDENCE };
  const z = (u - (n1 * n2) / 2 - 0.5) / Math.sqrt(variance);
  return { u, z, pGreater: normalCdf(-z) };
}

/**
 * Pooled two-proportion z-test that B's rate (errorsB / nB) is higher than A's: z = (p̂B − p̂A) /
 * √(p̂(1−p̂)(1/nA + 1/nB)) with p̂ the pooled rate (e.g. NIST/SEMATECH e-Handbook §7.3.3.4).
 */
export function twoProportionZ(errorsA: number, nA: number, errorsB: number, nB: number): OneSidedTest {
  if (nA === 0 || nB === 0) return NO_EVIDENCE;
  const pooled = (errorsA + errorsB) / (nA + nB);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / nA + 1 / nB));
  if (se === 0) return NO_EVIDENCE;
  const z = (errorsB / nB - errorsA / nA) / se;
  return { z, pGreater: normalCdf(-z) };
}

/** ln Γ(x) for x ≥ 1: Lanczos' approximation with Godfrey's coefficients (g = 7, n = 9), relative error about 1e-15. */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const y = x - 1;
  let sum = c[0] as number;
  for (let i = 1; i < c.length; i++) sum += (c[i] as number) / (y + i);
  const t = y + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(sum);
}

/**
 * P(X ≥ k) for X ~ Binomial(n, p): the exact one-sided p-value that a true rate above p made k
 * of n events. Sums the tail that lies beyond the mode (the complement's when k is below the
 * mean) from its largest term until the terms vanish, so it costs a few standard deviations of
 * terms, not n.
 */
export function binomialAtLeast(k: number, n: number, p: number): number {
  if (k <= 0 || p >= 1) return 1;
  if (k > n || p <= 0) return 0;
  const logPmf = (i: number): number => lnGamma(n + 1) - lnGamma(i + 1) - lnGamma(n - i + 1) + i * Math.log(p) + (n - i) * Math.log1p(-p);
  const odds = p / (1 - p);
  // k > np puts k at or past the mode, so the terms fall from k upwards; otherwise k − 1 is at
  // or before the mode and the terms of P(X ≤ k − 1) fall from k − 1 downwards.
  const upper = k > n * p;
  let i = upper ? k : k - 1;
  let term = Math.exp(logPmf(i));
  let sum = 0;
  while (i >= 0 && i <= n) {
    sum += term;
    if (term <= sum * 1e-17) break;
    term *= upper ? ((n - i) / (i + 1)) * odds : (i / (n - i + 1)) / odds;
    i += upper ? 1 : -1;
  }
  return upper ? Math.min(1, sum) : Math.max(0, 1 - sum);
}

/** The median (mean of the two middle values for an even count) of a sorted, non-empty sample. */
function median(sorted: ArrayLike<number>): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The nearest-rank p99 of a sorted, non-empty sample. */
function p99(sorted: ArrayLike<number>): number {
  // ceil(99·n / 100) divides exact integers, so it is exact where ceil(0.99·n) may not be.
  return sorted[Math.ceil((99 * sorted.length) / 100) - 1] as number;
}

/**
 * Whether two outputs agree: the same length and every element within `tolerance`. One rule for
 * every output; a classifier compares its label output (tolerance 0 or anything below 1), which
 * is the arg-max rule without a second code path. NaN agrees with nothing.
 */
export function outputsAgree(a: ArrayLike<number>, b: ArrayLike<number>, tolerance: number): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!(Math.abs((a[i] as number) - (b[i] as number)) <= tolerance)) return false;
  return true;
}

const pct = (x: number): string => `${Number((x * 100).toPrecision(3))}%`;
const ms = (x: number): string => `${Number(x.toPrecision(3))} ms`;
const pValue = (p: number): string => (p < 1e-4 ? p.toExponential(1) : String(Number(p.toPrecision(2))));

function check(name: string, outcome: VerdictOutcome, detail: string, figures: Record<string, number>): VerdictCheck {
  return { name, outcome, detail, figures };
}

/** A share of events held to an upper bound by the exact one-sided binomial test. */
interface ShareTest {
  readonly outcome: VerdictOutcome;
  readonly share: number;
  /** P(this many events or more | the true share is the bound). */
  readonly p: number;
}

/**
 * Holds `count` of `total` to `bound`: pass when the observed share is within it; fail only when
 * the exact binomial test says the true share exceeds it at `alpha`; else inconclusive (more data
 * will tell). Exact rather than the Wilson score bound because the score test is anti-conservative
 * when total × bound is small: 2 disagreements in 60 against a 1% bound give a score p of 0.035 —
 * a rollback — but an exact p of 0.12, and one slow request in 50 would fail a p99 SLO. This is
 * the one-sided Clopper-Pearson bound: fail exactly when its lower end is above the bound.
 */
function testShare(count: number, total: number, bound: number, criteria: AnalysisCriteria): ShareTest {
  const share = count / total;
  const p = binomialAtLeast(count, total, bound);
  const outcome: VerdictOutcome = share <= bound ? 'pass' : p < criteria.alpha ? 'fail' : 'inconclusive';
  return { outcome, share, p };
}

/** At least `minRequests` (and at least one) observations. */
const enough = (count: number, criteria: AnalysisCriteria): boolean => count >= Math.max(1, criteria.minRequests);

function latencyCheck(criteria: AnalysisCriteria, baseline: TrackSample, candidate: TrackSample): VerdictCheck {
  const baselineSamples = baseline.latenciesMs.length;
  const candidateSamples = candidate.latenciesMs.length;
  if (!enough(baselineSamples, criteria) || !enough(candidateSamples, criteria)) {
    return check(
      'latency',
      'inconclusive',
      `Too few latency samples to compare (baseline ${baselineSamples}, candidate ${candidateSamples}; ${criteria.minRequests} needed on each).`,
      { baselineSamples, candidateSamples, minRequests: criteria.minRequests },
    );
  }
  const test = mannWhitneyU(baseline.latenciesMs, candidate.latenciesMs);
  const baselineMedianMs = median(ascending(baseline.latenciesMs));
  const candidateMedianMs = median(ascending(candidate.latenciesMs));
  // A zero baseline median (a coarse clock) makes any slower candidate infinitely slower.
  const medianRatio = baselineMedianMs > 0 ? candidateMedianMs / baselineMedianMs : candidateMedianMs > 0 ? Infinity : 1;
  const figures = { baselineMedianMs, candidateMedianMs, medianRatio, u: test.u, z: test.z, p: test.pGreater, baselineSamples, candidateSamples };
  const medians = `candidate median ${ms(candidateMedianMs)} is ×${medianRatio.toFixed(2)} the baseline's ${ms(baselineMedianMs)}`;
  const significant = test.pGreater < criteria.alpha;
  const sig = `Mann-Whitney p = ${pValue(test.pGreater)}`;
  const increaseMs = candidateMedianMs - baselineMedianMs;
  const material = increaseMs > criteria.minLatencyIncreaseMs;
  if (significant && medianRatio > criteria.maxLatencyRatio && material) {
    return check('latency', 'fail', `The ${medians}, above ×${criteria.maxLatencyRatio} and ${ms(criteria.minLatencyIncreaseMs)} more, and significantly slower (${sig}).`, figures);
  }
  const why = !significant
    ? `not significantly slower (${sig}, alpha ${criteria.alpha})`
    : medianRatio <= criteria.maxLatencyRatio
      ? `within ×${criteria.maxLatencyRatio} though significantly slower (${sig})`
      : `only ${ms(increaseMs)} more, within the ${ms(criteria.minLatencyIncreaseMs)} that matters, though significantly slower (${sig})`;
  return check('latency', 'pass', `The ${medians}: ${why}.`, figures);
}

function errorsCheck(criteria: AnalysisCriteria, baseline: TrackSample, candidate: TrackSample): VerdictCheck {
  if (!enough(baseline.requests, criteria) || !enough(candidate.requests, criteria)) {
    return check(
      'errors',
      'inconclusive',
      `Too few requests to compare error rates (baseline ${baseline.requests}, candidate ${candidate.requests}; ${criteria.minRequests} needed on each).`,
      { baselineRequests: baseline.requests, candidateRequests: candidate.requests, minRequests: criteria.minRequests },
    );
  }
  const baselineErrorRate = baseline.errors / baseline.requests;
  const candidateErrorRate = candidate.errors / candidate.requests;
  const increase = candidateErrorRate - baselineErrorRate;
  const test = twoProportionZ(baseline.errors, baseline.requests, candidate.errors, candidate.requests);
  const figures = {
    baselineErrorRate,
    candidateErrorRate,
    increase,
    z: test.z,
    p: test.pGreater,
    baselineRequests: baseline.requests,
    candidateRequests: candidate.requests,
  };
  const rates = `candidate error rate ${pct(candidateErrorRate)} (${candidate.errors}/${candidate.requests}) against the baseline's ${pct(baselineErrorRate)} (${baseline.errors}/${baseline.requests})`;
  const significant = test.pGreater < criteria.alpha;
  const sig = `two-proportion z = ${test.z.toFixed(2)}, p = ${pValue(test.pGreater)}`;
  if (significant && increase > criteria.maxErrorRateIncrease) {
    return check('errors', 'fail', `The ${rates} is significantly higher (${sig}) by more than ${pct(criteria.maxErrorRateIncrease)}.`, figures);
  }
  const why = significant ? `significantly higher (${sig}) but by no more than ${pct(criteria.maxErrorRateIncrease)}` : `not significantly higher (${sig}, alpha ${criteria.alpha})`;
  return check('errors', 'pass', `The ${rates} is ${why}.`, figures);
}

/** A share of the candidate's observations held to an upper bound: an SLO, or shadow disagreement. */
interface BoundedShare {
  readonly name: string;
  /** Observations over the line (errors, slow requests, disagreements) and all observations. */
  readonly count: number;
  readonly total: number;
  readonly bound: number;
  /** The names of the share, the count and the total among the check's figures. */
  readonly figureNames: readonly [share: string, count: string, total: string];
  /** What the total counts, and what is held to the bound: "Too few {observations} (…) to hold {held}." */
  readonly observations: string;
  readonly held: string;
  /** The sentence's subject, given the observed share (asked for only with enough observations). */
  readonly observed: (share: number) => string;
  /** The bound as the sentence names it: "the 5% SLO". */
  readonly boundText: string;
  /** The baseline's figure when it is over the bound as well, for a failed SLO to say so. */
  readonly baselineOver: string | undefined;
  readonly figures: Readonly<Record<string, number>>;
}

function boundedShareCheck(criteria: AnalysisCriteria, s: BoundedShare): VerdictCheck {
  const [shareName, countName, totalName] = s.figureNames;
  if (!enough(s.total, criteria)) {
    const figures = { ...s.figures, [totalName]: s.total, minRequests: criteria.minRequests };
    return check(s.name, 'inconclusive', `Too few ${s.observations} (${s.total} of ${criteria.minRequests}) to hold ${s.held}.`, figures);
  }
  const test = testShare(s.count, s.total, s.bound, criteria);
  const figures = { ...s.figures, [shareName]: test.share, p: test.p, [countName]: s.count, [totalName]: s.total };
  const sig = `exact binomial p = ${pValue(test.p)}`;
  // An SLO is the user's absolute statement: a baseline as bad does not excuse the candidate.
  const baseline = s.baselineOver === undefined ? '' : `; the baseline is over it too (${s.baselineOver}), but an SLO is an absolute bound, not a comparison`;
  const verdicts: Record<VerdictOutcome, string> = {
    pass: `is within ${s.boundText}`,
    inconclusive: `is over ${s.boundText}, but not significantly (${sig}, alpha ${criteria.alpha})`,
    fail: `is significantly over ${s.boundText} (${sig})${baseline}`,
  };
  return check(s.name, test.outcome, `${s.observed(test.share)} ${verdicts[test.outcome]}.`, figures);
}

function errorSloCheck(criteria: AnalysisCriteria, maxErrorRate: number, baseline: TrackSample | undefined, candidate: TrackSample): VerdictCheck {
  const baselineRate = baseline !== undefined && baseline.requests > 0 ? baseline.errors / baseline.requests : undefined;
  const boundText = `the ${pct(maxErrorRate)} SLO`;
  return boundedShareCheck(criteria, {
    name: 'error-slo',
    count: candidate.errors,
    total: candidate.requests,
    bound: maxErrorRate,
    figureNames: ['errorRate', 'errors', 'requests'],
    observations: 'candidate requests',
    held: `its error rate to ${boundText}`,
    observed: (share) => `Candidate error rate ${pct(share)} (${candidate.errors}/${candidate.requests})`,
    boundText,
    baselineOver: baselineRate !== undefined && baselineRate > maxErrorRate ? pct(baselineRate) : undefined,
    figures: { maxErrorRate, ...(baselineRate === undefined ? {} : { baselineErrorRate: baselineRate }) },
  });
}

function p99SloCheck(criteria: AnalysisCriteria, maxP99Ms: number, baseline: TrackSample | undefined, candidate: TrackSample): VerdictCheck {
  const baselineP99Ms = baseline !== undefined && baseline.latenciesMs.length > 0 ? p99(ascending(baseline.latenciesMs)) : undefined;
  const sorted = ascending(candidate.latenciesMs);
  const samples = sorted.length;
  const slower = candidate.latenciesMs.reduce((count, x) => count + (x > maxP99Ms ? 1 : 0), 0);
  const boundText = `the ${ms(maxP99Ms)} p99 SLO`;
  // The nearest-rank p99 is within the bound exactly when at most 1% of the samples are slower,
  // so the SLO is a share of slow requests, held to 1% by the same exact test as the error SLO:
  // one slow request among 50 (a p99 that is the maximum) does not fail a rollout.
  return boundedShareCheck(criteria, {
    name: 'p99-slo',
    count: slower,
    total: samples,
    bound: P99_SHARE,
    figureNames: ['slowShare', 'slowRequests', 'samples'],
    observations: 'candidate latency samples',
    held: `its p99 to ${boundText}`,
    observed: (share) => `Candidate p99 ${ms(p99(sorted))} (${pct(share)} of ${samples} requests slower than ${ms(maxP99Ms)}, ${pct(P99_SHARE)} allowed)`,
    boundText,
    baselineOver: baselineP99Ms !== undefined && baselineP99Ms > maxP99Ms ? `p99 ${ms(baselineP99Ms)}` : undefined,
    figures: { maxP99Ms, ...(samples === 0 ? {} : { p99Ms: p99(sorted) }), ...(baselineP99Ms === undefined ? {} : { baselineP99Ms }) },
  });
}

function agreementCheck(criteria: AnalysisCriteria, candidate: TrackSample): VerdictCheck {
  const boundText = `the ${pct(criteria.maxDisagreement)} allowed`;
  return boundedShareCheck(criteria, {
    name: 'agreement',
    count: candidate.disagreed,
    total: candidate.compared,
    bound: criteria.maxDisagreement,
    figureNames: ['disagreement', 'disagreed', 'compared'],
    observations: 'compared answers',
    held: `disagreement to ${boundText}`,
    observed: (share) => `Disagreement ${pct(share)} (${candidate.disagreed} of ${candidate.compared} mirrored answers differ beyond ${criteria.outputTolerance})`,
    boundText,
    baselineOver: undefined,
    figures: { maxDisagreement: criteria.maxDisagreement },
  });
}

/**
 * Judges a candidate: the comparisons with the baseline (latency, errors) when there is one, the
 * absolute SLOs the criteria set, and agreement when the candidate was shadowed. Fail if any check
 * fails, pass if every check passes, inconclusive otherwise — and inconclusive when no check
 * applies, as nothing was shown to be safe.
 */
export function judge(criteria: AnalysisCriteria, baseline: TrackSample | undefined, candidate: TrackSample): Verdict {
  const checks: VerdictCheck[] = [];
  if (baseline !== undefined) checks.push(latencyCheck(criteria, baseline, candidate), errorsCheck(criteria, baseline, candidate));
  if (criteria.maxErrorRate !== undefined) checks.push(errorSloCheck(criteria, criteria.maxErrorRate, baseline, candidate));
  if (criteria.maxP99Ms !== undefined) checks.push(p99SloCheck(criteria, criteria.maxP99Ms, baseline, candidate));
  if (candidate.compared > 0) checks.push(agreementCheck(criteria, candidate));
  if (checks.length === 0) {
    return { outcome: 'inconclusive', checks, summary: 'inconclusive: no check applies (no baseline, no SLO, no shadow comparison)' };
  }
  const outcome: VerdictOutcome = checks.some((c) => c.outcome === 'fail') ? 'fail' : checks.every((c) => c.outcome === 'pass') ? 'pass' : 'inconclusive';
  const deciding = checks.find((c) => c.outcome === outcome && outcome !== 'pass');
  const list = checks.map((c) => `${c.name} ${c.outcome}`).join(', ');
  return { outcome, checks, summary: `${outcome}: ${list}${deciding === undefined ? '' : ` — ${deciding.detail}`}` };
}
