/**
 * What the platform and the training process (runner-main.ts) exchange through the run's work
 * directory: the file names, the input the platform writes and the result the runner writes back.
 */

/** Paths inside a run's work directory. */
export const RUNNER_FILES = {
  /** The unpacked workflow package. */
  packageDir: 'package',
  /** {@link RunnerInput} as JSON. */
  input: 'run.json',
  /** The dataset (the workflow contract's shape) as JSON. */
  dataset: 'dataset.json',
  outDir: 'out',
  /** The ONNX bytes train returned. */
  model: 'out/model.onnx',
  /** {@link RunnerResult} as JSON. */
  result: 'out/result.json',
} as const;

/** The run's input, written by the platform. */
export interface RunnerInput {
  /** The entry module, relative to the package directory. */
  readonly entry: string;
  readonly params: Readonly<Record<string, number | string | boolean>>;
  readonly seed: number;
  readonly maxModelBytes: number;
}

/** The runner's answer: metrics and its own resource usage, or what failed. */
export type RunnerResult =
  | { readonly ok: true; readonly metrics: Readonly<Record<string, number>>; readonly cpuMs: number; readonly maxRssBytes: number }
  | { readonly ok: false; readonly error: string };
