/**
 * Validation of placement input from outside (nodes and links files, model profiles, weights):
 * parsed once into the typed values the optimizer trusts, with limits on counts, names and ranges.
 */
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import type { Link, ModelProfile, Node, PlacementWeights } from './types.js';
import { TIERS } from './types.js';

/** Most nodes or links one placement takes. */
export const MAX_PLACEMENT_ITEMS = 10_000;

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/, 'a name of 1 to 63 letters, digits, ".", "_", ":" or "-"');
const nonNegative = z.number().finite().min(0);
const positive = z.number().finite().positive();

const nodeSchema = z.strictObject({
  name,
  tier: z.enum(TIERS as [string, ...string[]]),
  site: name,
  cores: z.number().int().min(1).max(4096),
  memoryBytes: positive,
  speedScore: positive.max(1e6),
  pricePerHour: nonNegative,
  powerWatts: z.strictObject({ idle: nonNegative, busy: nonNegative }).refine((p) => p.busy >= p.idle, 'busy power must be at least idle power'),
});

const linkSchema = z.strictObject({
  fromSite: name,
  toSite: name,
  rttMs: nonNegative,
  bandwidthBytesPerS: positive,
  egressPricePerGB: nonNegative,
});

const modelProfileSchema = z.strictObject({
  computeMsAtSpeed1: positive,
  inputBytes: nonNegative,
  outputBytes: nonNegative,
  memoryBytes: nonNegative,
});

const weightsSchema = z
  .strictObject({ latency: nonNegative, cost: nonNegative, energy: nonNegative, privacy: nonNegative })
  .refine((w) => w.latency + w.cost + w.energy + w.privacy > 0, 'at least one weight must be positive');

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
  throw new ContinuumError('CONTINUUM_ERR_INVALID_PLACEMENT', `invalid ${what}${where}: ${issue?.message ?? 'malformed'}; see docs/placement.md for the format`);
}

/** Nodes from untrusted JSON: an array of at most {@link MAX_PLACEMENT_ITEMS}, names unique. */
export function parseNodes(value: unknown): Node[] {
  const nodes = parse(z.array(nodeSchema).max(MAX_PLACEMENT_ITEMS), value, 'nodes') as Node[];
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n.name)) throw new ContinuumError('CONTINUUM_ERR_INVALID_PLACEMENT', `invalid nodes: node ${n.name} is listed twice; give each node a unique name`);
    seen.add(n.name);
  }
  return nodes;
}

/** Links from untrusted JSON: an array of at most {@link MAX_PLACEMENT_ITEMS}. */
export function parseLinks(value: unknown): Link[] {
  return parse(z.array(linkSchema).max(MAX_PLACEMENT_ITEMS), value, 'links');
}

/** A model profile from untrusted JSON. */
export function parseModelProfile(value: unknown): ModelProfile {
  return parse(modelProfileSchema, value, 'model profile');
}

/** Weights from `latency=1,cost=2,...` (objectives not named weigh 0; none given: all weigh 1). */
export function parseWeights(text: string | undefined): PlacementWeights {
  if (text === undefined) return { latency: 1, cost: 1, energy: 1, privacy: 1 };
  const entries = text.split(',').map((pair) => {
    const [key, value, extra] = pair.split('=');
    if (extra !== undefined || key === undefined || value === undefined) throw new ContinuumError('CONTINUUM_ERR_INVALID_PLACEMENT', `invalid weights: "${pair}" is not objective=number (e.g. latency=1,cost=0.5)`);
    return [key.trim(), Number(value)] as const;
  });
  return parse(weightsSchema, { latency: 0, cost: 0, energy: 0, privacy: 0, ...Object.fromEntries(entries) }, 'weights (objectives: latency, cost, energy, privacy)');
}
