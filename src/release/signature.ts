/**
 * Signature compatibility of a candidate model version with the production one: can every client
 * of production call the candidate unchanged and read its answers? Inputs are contravariant (the
 * candidate may accept more: a dynamic dimension where production had a fixed one) and outputs
 * covariant (the candidate may answer more precisely: a fixed dimension where production had a
 * dynamic one, or extra outputs nobody asked for yet), the rule protobuf and Avro apply to schema
 * evolution of readers and writers.
 */
import type { Signature, TensorSpec } from '../oip/types.js';

/** The verdict on a signature change, with one sentence per incompatibility. */
export interface SignatureCompatibility {
  readonly compatible: boolean;
  readonly problems: readonly string[];
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.map((d) => (d < 0 ? '?' : String(d))).join(', ')}]`;
}

/**
 * Whether a tensor's shape may replace another's. `wider` says which side may be dynamic where
 * the other is fixed: for inputs the candidate, for outputs production.
 */
function shapeFits(production: readonly number[], candidate: readonly number[], wider: 'candidate' | 'production'): boolean {
  if (production.length !== candidate.length) return false;
  return production.every((p, i) => {
    const c = candidate[i] ?? 0;
    if (p === c || (p < 0 && c < 0)) return true;
    return wider === 'candidate' ? c < 0 : p < 0;
  });
}

function compareTensors(role: 'input' | 'output', production: readonly TensorSpec[], candidate: readonly TensorSpec[]): string[] {
  const problems: string[] = [];
  const wider = role === 'input' ? 'candidate' : 'production';
  for (const p of production) {
    const c = candidate.find((t) => t.name === p.name);
    if (c === undefined) {
      problems.push(`${role} '${p.name}' is gone`);
    } else if (c.datatype !== p.datatype) {
      problems.push(`${role} '${p.name}' changed datatype from ${p.datatype} to ${c.datatype}`);
    } else if (!shapeFits(p.shape, c.shape, wider)) {
      problems.push(`${role} '${p.name}' changed shape from ${shapeText(p.shape)} to ${shapeText(c.shape)}`);
    }
  }
  // A new input is one production's clients do not send; a new output is harmless.
  if (role === 'input') {
    for (const c of candidate) if (!production.some((p) => p.name === c.name)) problems.push(`input '${c.name}' is new; production's clients do not send it`);
  }
  return problems;
}

/** Compares a candidate's signature with production's (pure). */
export function signatureCompatibility(production: Signature, candidate: Signature): SignatureCompatibility {
  const problems = [...compareTensors('input', production.inputs, candidate.inputs), ...compareTensors('output', production.outputs, candidate.outputs)];
  return { compatible: problems.length === 0, problems };
}
