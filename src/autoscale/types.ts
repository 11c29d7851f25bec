/**
 * The autoscaler's vocabulary: what a policy sees each tick ({@link ScalingObservation}), what it
 * answers ({@link ScalingDecision}), and the policy specifications a deployment carries.
 *
 * Every policy is a pure function `(policy, state, observation) → (decision, state)`: no I/O, no
 * clock reads (time arrives as `nowMs` in the observation). The live autoscaler loop and the
 * trace-driven simulator call the same functions, so what the simulator predicts is what runs.
 */

/** The scaling policies a deployment can use. */
export const POLICY_NAMES = ['fixed', 'threshold', 'hpa', 'kpa', 'serverless', 'predictive', 'auto'] as const;

/** A scaling policy's name. */
export type PolicyName = (typeof POLICY_NAMES)[number];

/** The two ways `auto` can run a deployment. */
export type ServingMode = 'serverless' | 'always-on';

/**
 * One tick's view of a deployment, measured by the live loop or by the simulator. Rates and means
 * are over the tick (`intervalMs`); percentiles are NaN when no request completed in the tick.
 */
export interface ScalingObservation {
  /** Time of the observation in ms (wall clock live, simulated time in the simulator). */
  readonly nowMs: number;
  /** Length of the tick the figures below cover, in ms. */
  readonly intervalMs: number;
  /** Replicas the last decision asked for (the scale target before this decision). */
  readonly desiredReplicas: number;
  /** Replicas running and ready to serve. */
  readonly readyReplicas: number;
  /** Replicas started but not yet ready (cold starting). */
  readonly startingReplicas: number;
  /**
   * Mean number of requests in the system over the tick: in flight on replicas plus waiting in
   * the activator's buffer (Knative's "observed concurrency").
   */
  readonly concurrency: number;
  /** Requests waiting in the activator for a replica at the end of the tick. */
  readonly buffered: number;
  /** Requests that arrived during the tick. */
  readonly arrivals: number;
  /** Requests answered during the tick (success or failure). */
  readonly completions: number;
  /** Latency percentiles of the requests answered in the tick, ms; NaN when none. */
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** Mean CPU utilization of the ready replicas over the tick, 0..1 of each replica's CPU share. */
  readonly cpuUtilization: number;
  /** Time of the most recent arrival in ms, or undefined when none has arrived yet. */
  readonly lastArrivalMs: number | undefined;
}

/** What a policy decided at one tick, with everything needed to explain it in an event. */
export interface ScalingDecision {
  /** Replicas the deployment should have now (already clamped to the policy's min and max). */
  readonly desiredReplicas: number;
  readonly policy: PolicyName;
  /** One sentence for a human: why this number. */
  readonly reason: string;
  /** The inputs and intermediate values the decision used (for the event and the CLI). */
  readonly inputs: Readonly<Record<string, number | string | boolean>>;
  /** `auto` only: the mode it runs the deployment in now. */
  readonly mode?: ServingMode;
}
