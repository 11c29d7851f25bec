/**
 * The demo model of a first start: the iris classifier of src/demo, registered once so that
 * `npm install && npm start` ends with a model that answers the printed curl line.
 */
import { buildIrisClassifier } from '../demo/iris.js';
import type { Registry } from '../registry/index.js';
import { irisDataset } from '../release/index.js';
import type { ReleasePipeline } from '../release/index.js';

/** Name the demo model is registered under. */
export const DEMO_MODEL_NAME = 'iris';

/** A request body for the demo model: two flowers, a setosa and a virginica. */
export const DEMO_REQUEST = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }],
} as const;

/**
 * Registers the demo model unless a model of that name exists, with the Iris data set attached for
 * its releases' accuracy gate; returns whether it pushed.
 */
export async function ensureDemoModel(registry: Registry, releases: Pick<ReleasePipeline, 'attachDataset'>): Promise<boolean> {
  if (registry.listDefaults().some((m) => m.name === DEMO_MODEL_NAME)) return false;
  const { model } = buildIrisClassifier();
  await registry.pushVersion(DEMO_MODEL_NAME, model, { labels: { source: 'continuum-demo', dataset: 'iris' } });
  releases.attachDataset(DEMO_MODEL_NAME, irisDataset());
  return true;
}

/** The curl line printed at start; it works as printed in a POSIX shell. */
export function demoCurlCommand(baseUrl: string): string {
  return `curl -s ${baseUrl}/v2/models/${DEMO_MODEL_NAME}/infer -H 'Content-Type: application/json' -d '${JSON.stringify(DEMO_REQUEST)}'`;
}
