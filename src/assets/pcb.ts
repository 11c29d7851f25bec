/**
 * The PCB solder-paste inspection asset: one message per inspected pad with the 16 numeric
 * measurements a solder paste inspection (SPI) machine reports, labelled OK, error or
 * pseudo-error as a human inspector would (Keusch et al., "Platform-Agnostic MLOps on Edge, Fog
 * and Cloud Platforms in Industrial IoT", §4.2.1: 16 numerical measurements "e.g. height, area,
 * offset, x- & y-positions", classes OK / error / pseudo-error, labels by human inspectors).
 *
 * The distributions, what separates the classes and how noisy they are: docs/workflows-reference.md.
 */
import { normal, pick, uniform, weightedIndex, type Uniform } from './random.js';

/** The 16 measurements, in the order the PCB workflow's model takes them. */
export const PCB_INPUTS = [
  'volumePct',
  'areaPct',
  'heightUm',
  'heightStdUm',
  'offsetXUm',
  'offsetYUm',
  'posXMm',
  'posYMm',
  'padAreaMm2',
  'stencilUm',
  'bridgeGapUm',
  'shapeDevPct',
  'coplanarityUm',
  'boardWarpUm',
  'rotationDeg',
  'smearPct',
] as const;

/** One measurement's name. */
export type PcbInput = (typeof PCB_INPUTS)[number];

/** The inspectors' verdicts: class i of the model is `PCB_CLASSES[i]`. */
export const PCB_CLASSES = ['ok', 'error', 'pseudo-error'] as const;

/** One verdict. */
export type PcbClass = (typeof PCB_CLASSES)[number];

/** Share of each class among inspected pads, in `PCB_CLASSES` order. */
export const PCB_CLASS_SHARES: readonly number[] = [0.6, 0.2, 0.2];

/** Share of error / pseudo-error verdicts an inspector gets the wrong way round (inspectors disagree). */
export const PCB_LABEL_NOISE = 0.03;

/** One inspected pad: its measurements, the inspector's verdict and the message's sequence number. */
export interface PcbSample {
  readonly seq: number;
  readonly values: Readonly<Record<PcbInput, number>>;
  readonly label: PcbClass;
}

/** Pad types on the board: aperture area (mm²) and the gap to the neighbouring pad (µm). */
const PAD_TYPES = [
  { areaMm2: 0.25, gapUm: 250 }, // 0402 chip
  { areaMm2: 0.64, gapUm: 400 }, // 0603 chip
  { areaMm2: 0.09, gapUm: 150 }, // 0.5 mm pitch QFN
  { areaMm2: 0.07, gapUm: 200 }, // 0.8 mm pitch BGA
] as const;

/** Stencil foils in use, µm. */
const STENCILS_UM = [100, 120, 150] as const;

/** A mutable measurement record while a pad is drawn. */
type Measurements = Record<PcbInput, number>;

/** A pad printed within tolerance: every measurement near nominal. */
function goodPrint(rand: Uniform): Measurements {
  const pad = pick(rand, PAD_TYPES);
  const stencilUm = pick(rand, STENCILS_UM);
  const volumePct = normal(rand, 100, 9);
  const areaPct = normal(rand, 100, 7);
  return {
    volumePct,
    areaPct,
    // Height follows from volume over area: a deposit as thick as the foil when both are nominal.
    heightUm: (stencilUm * volumePct) / areaPct + normal(rand, 0, 4),
    heightStdUm: Math.abs(normal(rand, 8, 2)),
    offsetXUm: normal(rand, 0, 18),
    offsetYUm: normal(rand, 0, 18),
    posXMm: uniform(rand, 5, 245),
    posYMm: uniform(rand, 5, 195),
    padAreaMm2: pad.areaMm2,
    stencilUm,
    bridgeGapUm: pad.gapUm * normal(rand, 1, 0.08),
    shapeDevPct: Math.abs(normal(rand, 6, 2)),
    coplanarityUm: Math.abs(normal(rand, 12, 4)),
    boardWarpUm: Math.abs(normal(rand, 0, 40)),
    rotationDeg: normal(rand, 0, 0.8),
    smearPct: Math.abs(normal(rand, 0, 2)),
  };
}

/** Recomputes the height after volume or area changed, keeping the print's own noise out. */
function withHeight(m: Measurements, rand: Uniform): Measurements {
  return { ...m, heightUm: (m.stencilUm * m.volumePct) / m.areaPct + normal(rand, 0, 4) };
}

/** A real defect, one of four modes: too little paste, too much, a bridge, a misplaced print. */
function defect(rand: Uniform): Measurements {
  const m = goodPrint(rand);
  switch (Math.floor(rand() * 4)) {
    case 0: // insufficient paste: a clogged aperture
      return withHeight({ ...m, volumePct: uniform(rand, 35, 70), areaPct: uniform(rand, 45, 80) }, rand);
    case 1: // excess paste, smeared beyond the aperture
      return withHeight({ ...m, volumePct: uniform(rand, 130, 175), areaPct: uniform(rand, 115, 140), smearPct: uniform(rand, 6, 20) }, rand);
    case 2: // a bridge to the neighbouring pad
      return { ...m, bridgeGapUm: uniform(rand, 0, 60), smearPct: uniform(rand, 8, 25), shapeDevPct: uniform(rand, 15, 35) };
    default: {
      // the print shifted off the pad
      const angle = uniform(rand, 0, 2 * Math.PI);
      const distance = uniform(rand, 70, 140);
      return { ...m, offsetXUm: distance * Math.cos(angle), offsetYUm: distance * Math.sin(angle), rotationDeg: normal(rand, 0, 3) };
    }
  }
}

/**
 * A false call: the machine flags the pad, the inspector finds it fine. Three causes: board warp
 * fooling the height measurement, a fiducial misregistration shifting every pad a little, and
 * tall neighbours shadowing the height sensor so a borderline volume reads low and noisy.
 */
function falseCall(rand: Uniform): Measurements {
  const m = goodPrint(rand);
  switch (Math.floor(rand() * 3)) {
    case 0: {
      // Warp lifts the board off the reference plane: height and so volume read high, area does not.
      const boardWarpUm = uniform(rand, 150, 350);
      const heightUm = m.heightUm + boardWarpUm * 0.15;
      return { ...m, boardWarpUm, heightUm, volumePct: (heightUm * m.areaPct) / m.stencilUm, coplanarityUm: uniform(rand, 25, 45) };
    }
    case 1: {
      // A misread fiducial shifts the whole board's frame: moderate offsets, a little rotation.
      const angle = uniform(rand, 0, 2 * Math.PI);
      const distance = uniform(rand, 45, 75);
      return { ...m, offsetXUm: distance * Math.cos(angle), offsetYUm: distance * Math.sin(angle), rotationDeg: normal(rand, 0, 1.5) };
    }
    default:
      // Shadowing: a borderline-low volume measured with a noisy height profile.
      return withHeight({ ...m, volumePct: uniform(rand, 68, 82), heightStdUm: uniform(rand, 14, 24) }, rand);
  }
}

/** Rounds to the resolution an SPI machine reports (0.1 of each unit). */
function reported(m: Measurements): Measurements {
  const out = { ...m };
  for (const name of PCB_INPUTS) out[name] = Math.round(m[name] * 10) / 10;
  return out;
}

/** Draws one inspected pad: its class by {@link PCB_CLASS_SHARES}, its measurements by the class's modes. */
export function pcbSample(rand: Uniform, seq: number): PcbSample {
  const truth = PCB_CLASSES[weightedIndex(rand, PCB_CLASS_SHARES)] as PcbClass;
  const values = reported(truth === 'ok' ? goodPrint(rand) : truth === 'error' ? defect(rand) : falseCall(rand));
  const swapped = truth !== 'ok' && rand() < PCB_LABEL_NOISE;
  const label: PcbClass = swapped ? (truth === 'error' ? 'pseudo-error' : 'error') : truth;
  return { seq, values, label };
}
