/**
 * The IMU activity asset: inertial measurement units on a worker's left and right hands, each an
 * accelerometer (g) and a gyroscope (°/s) on three axes, sampled at {@link IMU_RATE_HZ}, while the
 * worker goes from one activity to the next (Keusch et al., "Platform-Agnostic MLOps on Edge, Fog
 * and Cloud Platforms in Industrial IoT", §4.2.2: IMUs "placed on the left and right hands of
 * workers", actions "hammering, screwing, sawing, etc.", manually labelled timeseries).
 *
 * Each activity is a hand posture (where gravity points in each sensor's frame) and a periodic
 * motion (stroke frequency, amplitude per axis, impacts, tool vibration); every segment draws
 * its own tilt, tempo, strength and phase. The models per activity and the noise:
 * docs/workflows-reference.md.
 */
import { normal, uniform, type Uniform } from './random.js';

/** Samples per second of each IMU (the paper gives none; 50 Hz is common for hand-worn IMUs). */
export const IMU_RATE_HZ = 50;

/** The 12 channels, in the order of each frame's values and of the IMU workflow's `inputs`. */
export const IMU_CHANNELS = [
  'leftAccX',
  'leftAccY',
  'leftAccZ',
  'leftGyroX',
  'leftGyroY',
  'leftGyroZ',
  'rightAccX',
  'rightAccY',
  'rightAccZ',
  'rightGyroX',
  'rightGyroY',
  'rightGyroZ',
] as const;

/** The activities: the paper's three, and drilling and idle for its "etc.". */
export const IMU_ACTIVITIES = ['hammering', 'screwing', 'sawing', 'drilling', 'idle'] as const;

/** One activity. */
export type ImuActivity = (typeof IMU_ACTIVITIES)[number];

/** One sample of both IMUs: the 12 channels in {@link IMU_CHANNELS} order, and the activity it belongs to. */
export interface ImuFrame {
  readonly seq: number;
  readonly values: readonly number[];
  readonly label: ImuActivity;
}

type Vector3 = readonly [number, number, number];

/** How one hand moves during an activity. */
interface HandMotion {
  /** Where gravity points in the sensor's frame (g); the hand's posture. */
  readonly gravity: Vector3;
  /** Amplitude of the periodic acceleration per axis, g. */
  readonly accAmp: Vector3;
  /** Amplitude of the periodic rotation rate per axis, °/s. */
  readonly gyroAmp: Vector3;
  /** A spike along x once per stroke (a hammer blow), g. */
  readonly impactG: number;
  /** Broadband tool vibration (a drill), g and °/s. */
  readonly vibrationG: number;
  readonly vibrationDps: number;
}

/** An activity: both hands' motions and the stroke frequency they share. */
interface ActivityModel {
  readonly strokeHz: number;
  readonly left: HandMotion;
  readonly right: HandMotion;
}

const still = { impactG: 0, vibrationG: 0, vibrationDps: 0 } as const;

/** The right hand holds the tool; the left holds the nail, the screw or the workpiece. */
const ACTIVITY_MODELS: Readonly<Record<ImuActivity, ActivityModel>> = {
  // Wrist flexion swings the hammer (large gyro z, acc y), a blow at each stroke; the nail hand feels it.
  hammering: {
    strokeHz: 2,
    right: { ...still, gravity: [0.2, -0.4, -0.9], accAmp: [0.6, 1.2, 0.4], gyroAmp: [40, 60, 250], impactG: 3 },
    left: { ...still, gravity: [0.1, 0.95, 0.3], accAmp: [0.05, 0.05, 0.05], gyroAmp: [5, 5, 5], impactG: 0.3 },
  },
  // Forearm pronation and supination turn the screwdriver: rotation about x, gravity swinging in y–z.
  screwing: {
    strokeHz: 1.5,
    right: { ...still, gravity: [0.9, 0.1, -0.4], accAmp: [0.1, 0.5, 0.5], gyroAmp: [300, 30, 30] },
    left: { ...still, gravity: [0.3, 0.2, -0.93], accAmp: [0.05, 0.05, 0.05], gyroAmp: [8, 8, 8] },
  },
  // The saw is pushed and pulled along x, palm down; the holding hand moves a little with each stroke.
  sawing: {
    strokeHz: 1.2,
    right: { ...still, gravity: [0.1, -0.2, -0.97], accAmp: [0.8, 0.15, 0.2], gyroAmp: [20, 40, 30] },
    left: { ...still, gravity: [-0.2, 0.1, -0.97], accAmp: [0.15, 0.05, 0.05], gyroAmp: [10, 10, 10] },
  },
  // Both hands hold a running drill still (pistol grip and support hand): vibration, slow feed.
  drilling: {
    strokeHz: 0.3,
    right: { ...still, gravity: [0.95, 0.1, 0.3], accAmp: [0.05, 0.05, 0.05], gyroAmp: [5, 5, 5], vibrationG: 0.35, vibrationDps: 15 },
    left: { ...still, gravity: [0.1, 0.1, 0.99], accAmp: [0.05, 0.05, 0.05], gyroAmp: [5, 5, 5], vibrationG: 0.2, vibrationDps: 10 },
  },
  // Arms hang by the sides and sway slowly.
  idle: {
    strokeHz: 0.25,
    right: { ...still, gravity: [-0.95, 0.2, 0.2], accAmp: [0.03, 0.03, 0.03], gyroAmp: [3, 3, 3] },
    left: { ...still, gravity: [-0.95, -0.2, 0.2], accAmp: [0.03, 0.03, 0.03], gyroAmp: [3, 3, 3] },
  },
};

/** Sensor noise: accelerometer (g) and gyroscope (°/s) standard deviations, MEMS-grade. */
const ACC_NOISE_G = 0.03;
const GYRO_NOISE_DPS = 3;

/** Options of {@link imuFrames}. */
export interface ImuFramesOptions {
  /** Sequence number of the first frame. @default 0 */
  readonly startSeq?: number;
  /** Shortest and longest stretch of one activity, seconds. @default [4, 9] */
  readonly segmentSeconds?: readonly [number, number];
}

/** One segment's draw of an activity: tilt, tempo, strength and phase. */
interface Segment {
  readonly activity: ImuActivity;
  readonly frames: number;
  readonly strokeHz: number;
  readonly phase: number;
  readonly left: HandMotion;
  readonly right: HandMotion;
}

/** A hand's posture tilted by up to ~10° per axis, and its motion's strength scaled by 0.8–1.2. */
function varied(rand: Uniform, hand: HandMotion): HandMotion {
  const tilted = hand.gravity.map((g) => g + normal(rand, 0, 0.15));
  const norm = Math.hypot(...tilted);
  const strength = uniform(rand, 0.8, 1.2);
  const scale = (v: Vector3): Vector3 => [v[0] * strength, v[1] * strength, v[2] * strength];
  return {
    gravity: [(tilted[0] as number) / norm, (tilted[1] as number) / norm, (tilted[2] as number) / norm],
    accAmp: scale(hand.accAmp),
    gyroAmp: scale(hand.gyroAmp),
    impactG: hand.impactG * strength,
    vibrationG: hand.vibrationG * strength,
    vibrationDps: hand.vibrationDps * strength,
  };
}

function nextSegment(rand: Uniform, previous: ImuActivity | undefined, seconds: readonly [number, number]): Segment {
  const choices = IMU_ACTIVITIES.filter((a) => a !== previous);
  const activity = choices[Math.floor(rand() * choices.length)] as ImuActivity;
  const model = ACTIVITY_MODELS[activity];
  return {
    activity,
    frames: Math.round(uniform(rand, seconds[0], seconds[1]) * IMU_RATE_HZ),
    strokeHz: model.strokeHz * uniform(rand, 0.85, 1.15),
    phase: uniform(rand, 0, 2 * Math.PI),
    left: varied(rand, model.left),
    right: varied(rand, model.right),
  };
}

/** One hand's six channels at stroke phase `phase` (radians). */
function handSample(rand: Uniform, hand: HandMotion, phase: number): number[] {
  const cycle = ((phase % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
  // The blow lands at the start of each stroke and dies out within about a tenth of it.
  const impact = hand.impactG * Math.exp(-cycle * 8);
  const acc = [0, 1, 2].map(
    (k) => (hand.gravity[k] as number) + (hand.accAmp[k] as number) * Math.sin(phase + (k * Math.PI) / 3) + (k === 0 ? impact : 0) + normal(rand, 0, ACC_NOISE_G + hand.vibrationG),
  );
  const gyro = [0, 1, 2].map((k) => (hand.gyroAmp[k] as number) * Math.cos(phase + (k * Math.PI) / 3) + normal(rand, 0, GYRO_NOISE_DPS + hand.vibrationDps));
  return [...acc.map((v) => Math.round(v * 1000) / 1000), ...gyro.map((v) => Math.round(v * 10) / 10)];
}

/**
 * An endless stream of frames at {@link IMU_RATE_HZ}: a worker doing one activity for a few
 * seconds, then another (never the same twice in a row, each equally likely). Every frame is
 * labelled with the activity it belongs to, as a person labelling the recording would.
 */
export function* imuFrames(rand: Uniform, options: ImuFramesOptions = {}): Generator<ImuFrame, never> {
  const seconds = options.segmentSeconds ?? [4, 9];
  let seq = options.startSeq ?? 0;
  let segment = nextSegment(rand, undefined, seconds);
  let frame = 0;
  for (;;) {
    if (frame >= segment.frames) {
      segment = nextSegment(rand, segment.activity, seconds);
      frame = 0;
    }
    const phase = segment.phase + (2 * Math.PI * segment.strokeHz * frame) / IMU_RATE_HZ;
    yield { seq, values: [...handSample(rand, segment.left, phase), ...handSample(rand, segment.right, phase)], label: segment.activity };
    seq += 1;
    frame += 1;
  }
}
