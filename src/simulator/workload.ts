/**
 * Built-in workload profiles: arrival times generated from a seed, so a profile and a seed name
 * one exact workload. Arrivals form a Poisson process whose rate follows the profile over time,
 * drawn by thinning (Lewis and Shedler, "Simulation of nonhomogeneous Poisson processes by
 * thinning", 1979): candidates come at the profile's peak rate and each is kept with probability
 * rate(t) / peak.
 */
import { z } from 'zod';
import { parse } from '../api/validate.js';
import { ContinuumError } from '../errors.js';
import { seededRandom } from '../onnx/build.js';

/** The names of the built-in workload profiles. */
export const WORKLOAD_PROFILE_NAMES = ['steady', 'diurnal', 'spiky', 'sporadic', 'ramp'] as const;

/** A built-in workload profile's name. */
export type WorkloadProfileName = (typeof WORKLOAD_PROFILE_NAMES)[number];

/** Arrival times in ms from the start of the workload, ascending. */
export type ArrivalTimes = Float64Array;

/** Most arrivals one workload may hold (8 bytes each: 80 MB). */
export const MAX_ARRIVALS = 10_000_000;

const durationMs = z.number().positive().max(30 * 24 * 3_600_000).optional();
const ratePerS = z.number().nonnegative().max(1_000_000).optional();
const periodMs = z.number().positive().optional();

const profileSchema = z.discriminatedUnion('profile', [
  z.object({ profile: z.literal('steady'), durationMs, ratePerS }).strict(),
  z.object({ profile: z.literal('diurnal'), durationMs, baseRatePerS: ratePerS, peakRatePerS: ratePerS, periodMs }).strict(),
  z
    .object({ profile: z.literal('spiky'), durationMs, baseRatePerS: ratePerS, peakRatePerS: ratePerS, spikeEveryMs: periodMs, spikeDurationMs: periodMs })
    .strict(),
  z.object({ profile: z.literal('sporadic'), durationMs, onRatePerS: ratePerS, meanOnMs: periodMs, meanOffMs: periodMs }).strict(),
  z.object({ profile: z.literal('ramp'), durationMs, fromRatePerS: ratePerS, toRatePerS: ratePerS }).strict(),
]);

/**
 * A workload profile and its parameters; every parameter is optional (defaults in
 * {@link PROFILE_DEFAULTS}). Rates are requests per second, durations ms.
 */
export type WorkloadProfileSpec = z.input<typeof profileSchema>;

/** A profile with every parameter set. */
export type CompiledWorkloadProfile = { [P in WorkloadProfileSpec as P['profile']]: Required<P> }[WorkloadProfileName];

/**
 * The default parameters: one hour, a load a small model serves with a few replicas at its peak.
 * diurnal runs one "day" over the hour (night at the start and end, peak in the middle); spiky
 * jumps tenfold for 30 s every 5 minutes; sporadic alternates bursts (mean 30 s) with silences
 * (mean 5 min) that are longer than any scale-to-zero grace; ramp climbs linearly.
 */
export const PROFILE_DEFAULTS: { readonly [P in CompiledWorkloadProfile as P['profile']]: P } = {
  steady: { profile: 'steady', durationMs: 3_600_000, ratePerS: 20 },
  diurnal: { profile: 'diurnal', durationMs: 3_600_000, baseRatePerS: 5, peakRatePerS: 50, periodMs: 3_600_000 },
  spiky: { profile: 'spiky', durationMs: 3_600_000, baseRatePerS: 10, peakRatePerS: 100, spikeEveryMs: 300_000, spikeDurationMs: 30_000 },
  sporadic: { profile: 'sporadic', durationMs: 3_600_000, onRatePerS: 20, meanOnMs: 30_000, meanOffMs: 300_000 },
  ramp: { profile: 'ramp', durationMs: 3_600_000, fromRatePerS: 1, toRatePerS: 100 },
};

/** Validates a profile spec (CONTINUUM_ERR_BAD_REQUEST naming the field) and fills the defaults. */
export function compileWorkloadProfile(spec: WorkloadProfileSpec): CompiledWorkloadProfile {
  const parsed = parse(profileSchema, spec, 'workload profile');
  const defined = Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== undefined));
  // The union member is the one `profile` names; spreading keeps it, which TypeScript cannot follow.
  return { ...PROFILE_DEFAULTS[parsed.profile], ...defined } as CompiledWorkloadProfile;
}

/** A profile's rate over time: requests per ms at `tMs` (asked in ascending `tMs`), and its peak. */
interface RateCurve {
  readonly peakPerMs: number;
  at(tMs: number): number;
}

function rateCurve(p: CompiledWorkloadProfile, random: () => number): RateCurve {
  const perMs = (perS: number): number => perS / 1000;
  switch (p.profile) {
    case 'steady':
      return { peakPerMs: perMs(p.ratePerS), at: () => perMs(p.ratePerS) };
    case 'diurnal': {
      // A raised cosine: base at t = 0, peak at half the period.
      const amplitude = perMs(p.peakRatePerS - p.baseRatePerS);
      return {
        peakPerMs: Math.max(perMs(p.baseRatePerS), perMs(p.peakRatePerS)),
        at: (t) => perMs(p.baseRatePerS) + (amplitude * (1 - Math.cos((2 * Math.PI * t) / p.periodMs))) / 2,
      };
    }
    case 'spiky':
      // Spikes start half a period in, so every run begins at the base rate.
      return {
        peakPerMs: Math.max(perMs(p.baseRatePerS), perMs(p.peakRatePerS)),
        at: (t) => {
          const sinceSpike = (t - p.spikeEveryMs / 2) % p.spikeEveryMs;
          return sinceSpike >= 0 && sinceSpike < p.spikeDurationMs ? perMs(p.peakRatePerS) : perMs(p.baseRatePerS);
        },
      };
    case 'sporadic': {
      // An on/off (interrupted Poisson) process: exponential on and off periods, starting on.
      let on = true;
      let switchAtMs = exponential(random, p.meanOnMs);
      return {
        peakPerMs: perMs(p.onRatePerS),
        at: (t) => {
          while (t >= switchAtMs) {
            on = !on;
            switchAtMs += exponential(random, on ? p.meanOnMs : p.meanOffMs);
          }
          return on ? perMs(p.onRatePerS) : 0;
        },
      };
    }
    case 'ramp':
      return {
        peakPerMs: Math.max(perMs(p.fromRatePerS), perMs(p.toRatePerS)),
        at: (t) => perMs(p.fromRatePerS + ((p.toRatePerS - p.fromRatePerS) * t) / p.durationMs),
      };
  }
}

/** An exponentially distributed duration with the given mean (inverse transform; 1 - u avoids log 0). */
function exponential(random: () => number, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

/**
 * The arrival times of a profile, ascending, in ms from its start; the same spec and seed give
 * the same arrivals. Throws CONTINUUM_ERR_BAD_REQUEST for an invalid spec or one whose peak rate
 * over its duration could exceed {@link MAX_ARRIVALS}.
 */
export function generateArrivals(spec: WorkloadProfileSpec, seed: number): ArrivalTimes {
  const profile = compileWorkloadProfile(spec);
  const random = seededRandom(seed);
  const curve = rateCurve(profile, seededRandom(seed ^ 0x5bd1e995));
  const bound = curve.peakPerMs * profile.durationMs;
  if (bound > MAX_ARRIVALS) {
    throw new ContinuumError(
      'CONTINUUM_ERR_BAD_REQUEST',
      `workload profile '${profile.profile}' could make ${Math.round(bound)} arrivals, more than the limit of ${MAX_ARRIVALS}; lower its rate or duration`,
      { details: { profile: profile.profile, limit: MAX_ARRIVALS } },
    );
  }
  let out = new Float64Array(Math.max(16, Math.ceil(bound / 2)));
  let count = 0;
  if (curve.peakPerMs === 0) return out.slice(0, 0);
  for (let t = exponential(random, 1 / curve.peakPerMs); t < profile.durationMs; t += exponential(random, 1 / curve.peakPerMs)) {
    if (random() * curve.peakPerMs >= curve.at(t)) continue;
    if (count === out.length) {
      const grown = new Float64Array(out.length * 2);
      grown.set(out);
      out = grown;
    }
    out[count++] = t;
  }
  return out.slice(0, count);
}

/**
 * Compresses a workload in time: every offset divided by `speedup` (2 replays an hour in half an
 * hour at twice the rate). Throws CONTINUUM_ERR_BAD_REQUEST unless `speedup` is a positive number.
 */
export function compressTime(arrivals: ArrivalTimes, speedup: number): ArrivalTimes {
  if (!(speedup > 0 && Number.isFinite(speedup))) {
    throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `speedup must be a positive number, not ${speedup}`, { details: { speedup } });
  }
  return arrivals.map((t) => t / speedup);
}
