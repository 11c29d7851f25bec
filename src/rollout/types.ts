/**
 * The vocabulary of progressive delivery shared by the verdict function, the rollout state
 * machine, the controller that carries it out and the release pipeline that starts it.
 */

/** How a candidate revision reaches production. */
export type StrategyName = 'canary' | 'blue-green' | 'shadow' | 'ab';

/** What the data plane measured of one track (baseline or candidate) since the analysis window began. */
export interface TrackSample {
  /** Requests the track answered or failed (client errors such as a malformed tensor excluded). */
  readonly requests: number;
  /** Of those, failures of the server's making (HTTP 5xx, gRPC INTERNAL / UNAVAILABLE ...). */
  readonly errors: number;
  /** Latencies of successful requests, ms: a uniform sample (reservoir) of at most a few thousand. */
  readonly latenciesMs: readonly number[];
  /** Shadow only: mirrored requests whose candidate outputs were compared with the baseline's. */
  readonly compared: number;
  /** Shadow only: of those, answers whose outputs disagreed beyond the tolerance. */
  readonly disagreed: number;
}

/** Compiled analysis criteria (units in the names); see the friendly form in spec.ts. */
export interface AnalysisCriteria {
  /** Significance level of each statistical test (one-sided). @default 0.05 */
  readonly alpha: number;
  /** Fewest requests per track before a comparison or an SLO bound can decide. @default 50 */
  readonly minRequests: number;
  /**
   * Latency: fail when the candidate is significantly slower (Mann-Whitney U) and its median is
   * more than this factor of the baseline's (the effect size a user cares about). @default 1.25
   */
  readonly maxLatencyRatio: number;
  /**
   * Latency: ... and its median is more than this many ms above the baseline's. A sub-millisecond
   * difference between two sides of a loopback call is scheduling noise on a busy host, not a
   * regression worth a rollback. @default 1
   */
  readonly minLatencyIncreaseMs: number;
  /** Errors: fail when the candidate's error rate is significantly higher (two-proportion z-test) by more than this many points. @default 0.01 */
  readonly maxErrorRateIncrease: number;
  /** Absolute SLO on the candidate's error rate (0..1); undefined: none. @default 0.05 */
  readonly maxErrorRate: number | undefined;
  /** Absolute SLO on the candidate's p99 latency, ms; undefined: none. */
  readonly maxP99Ms: number | undefined;
  /** Shadow: fail when more than this share of compared answers disagree. @default 0.01 */
  readonly maxDisagreement: number;
  /** Shadow: two outputs agree when every element is within this absolute tolerance (a classifier compares its label output). @default 1e-3 */
  readonly outputTolerance: number;
}

/** The outcome of one analysis. */
export type VerdictOutcome = 'pass' | 'fail' | 'inconclusive';

/** One check of an analysis with the figures it decided on. */
export interface VerdictCheck {
  /** latency | errors | error-slo | p99-slo | agreement */
  readonly name: string;
  readonly outcome: VerdictOutcome;
  /** One sentence with the figures: what was compared and why it passed, failed or could not decide. */
  readonly detail: string;
  /** The figures (rates, medians, statistic, p-value, sample sizes). */
  readonly figures: Readonly<Record<string, number>>;
}

/** A verdict: fail if any check fails; pass if every check passes; inconclusive otherwise. */
export interface Verdict {
  readonly outcome: VerdictOutcome;
  readonly checks: readonly VerdictCheck[];
  /** One line for events and the CLI. */
  readonly summary: string;
}
