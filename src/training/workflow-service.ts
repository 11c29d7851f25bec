/**
 * Workflows as the platform runs them (docs/workflows.md): a pushed package is unpacked once to be
 * checked (safe extraction, manifest, entry) and kept by digest; a run builds its dataset (a
 * built-in set or the latest window of a data source's samples), trains in the sandbox, pushes the
 * model as a new version of a registry model with its lineage as labels, and on request starts a
 * release of it (gates, then rollout). Retraining bindings are kept here and ticked by
 * {@link RetrainController}.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import { checkName } from '../registry/index.js';
import type { Registry } from '../registry/index.js';
import { unpackArchive } from './archive.js';
import { compileRetrainBinding, initialRetrainState, retrainBindingSchema } from './retrain.js';
import type { RetrainBinding, RetrainBindingInput, RetrainPort, RetrainState } from './retrain.js';
import { compileSandboxLimits, networkNamespaceAvailable, runInSandbox, sandboxUnavailable } from './sandbox.js';
import type { SandboxLimits, SandboxLimitsInput, SandboxOutcome } from './sandbox.js';
import { builtInDataset, datasetFromSamples, parseManifest, resolveParameters, WORKFLOW_LIMITS } from './workflow.js';
import type { BuiltInDatasetName, SamplesWindow, TrainingDataset, Workflow } from './workflow.js';
import { WorkflowStore } from './workflow-store.js';
import type { RunInput, WorkflowRun } from './workflow-store.js';

/** The samples store as training reads it: a data source's samples in a time range, oldest first. */
export interface SamplesProvider {
  window(source: string, range: { readonly fromMs?: number; readonly toMs?: number; readonly limit?: number }): Promise<SamplesWindow> | SamplesWindow;
}

/** What the service needs of the release pipeline: start a release of a version (ReleasePipeline.start). */
export type StartRelease = (input: { readonly model: string; readonly ref: string; readonly deployment?: string }) => { readonly id: number };

/** Options of {@link WorkflowService}. */
export interface WorkflowServiceOptions {
  readonly dataDir: string;
  readonly registry: Registry;
  /** Stored samples; without it, runs on a data source are refused. */
  readonly samples?: SamplesProvider;
  /** Starts a release of a new version; without it, runs that ask for a release are refused. */
  readonly startRelease?: StartRelease;
  /** Called after a run pushed a version (e.g. to load a model's first version, as a push over the API does). */
  readonly onModelPushed?: (model: string, version: string) => Promise<void> | void;
  readonly sandbox?: SandboxLimitsInput;
  /** Run training without network isolation where no network namespace can be made. @default false */
  readonly allowUnisolatedNetwork?: boolean;
  /** Runs at once over all workflows. @default 2 */
  readonly maxConcurrentRuns?: number;
  /** Largest package accepted. @default 32 MiB */
  readonly maxPackageBytes?: number;
  /** Most samples a run on a data source reads. @default 200000 */
  readonly maxSamples?: number;
}

/** What a workflow's detail shows. */
export interface WorkflowDetail extends Workflow {
  readonly versions: readonly { readonly version: string; readonly digest: string; readonly createdAt: string }[];
  readonly retraining?: { readonly binding: RetrainBinding; readonly state: RetrainState };
}

/** A run's request (the REST body, validated). */
export const runRequestSchema = z
  .strictObject({
    datasource: z.string().min(1).max(63).optional(),
    dataset: z.enum(['iris', 'penguins']).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    parameters: z
      .record(z.string().max(64), z.union([z.number(), z.string().max(256), z.boolean()]))
      .refine((p) => Object.keys(p).length <= WORKFLOW_LIMITS.maxParameters, `at most ${WORKFLOW_LIMITS.maxParameters} parameters`)
      .optional(),
    model: z.string().min(1).max(63).optional(),
    release: z.strictObject({ deployment: z.string().min(1).max(63).optional() }).optional(),
    seed: z.int().min(0).max(2 ** 31 - 1).optional(),
  })
  .refine((r) => (r.datasource === undefined) !== (r.dataset === undefined), 'give a datasource or a built-in dataset (iris, penguins), one of them')
  .refine((r) => r.datasource !== undefined || (r.from === undefined && r.to === undefined), 'from and to select samples of a datasource');

/** A run's request. */
export type RunRequest = z.infer<typeof runRequestSchema> & { readonly trigger?: RunInput['trigger'] };

/** A data source's window when a run names none: the last hour. */
const DEFAULT_WINDOW_MS = 3_600_000;

const metricsSchema = z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/), z.number().refine(Number.isFinite)).refine((m) => Object.keys(m).length <= 64);

/** Log lines a run keeps (the first ones; a last line says how many more were dropped). */
const MAX_LOG_LINES = 1000;

/** Workflows, their runs and retraining; see the module comment. */
export class WorkflowService implements RetrainPort {
  private readonly store: WorkflowStore;
  private readonly limits: SandboxLimits;
  /** Runs in progress: their live log and the promise of their end. */
  private readonly active = new Map<number, { readonly workflow: string; readonly log: string[]; readonly done: Promise<WorkflowRun> }>();
  private readonly abort = new AbortController();
  private readonly workRoot: string;

  constructor(private readonly options: WorkflowServiceOptions) {
    this.store = WorkflowStore.open(options.dataDir);
    this.limits = compileSandboxLimits(options.sandbox);
    this.workRoot = join(options.dataDir, 'workflows', 'work');
    // A run's process does not outlive the server that watched it.
    for (const run of this.store.runningRuns()) {
      this.store.finishRun(run.id, { status: 'failed', error: 'the server stopped while the run trained; start it again', log: run.log }, new Date().toISOString(), Date.now() - Date.parse(run.startedAt));
    }
    rmSync(this.workRoot, { recursive: true, force: true });
  }

  /** How training runs' network is confined here: `namespace`, `none` (allowed by the operator) or `refused`. */
  networkIsolation(): 'namespace' | 'none' | 'refused' {
    if (networkNamespaceAvailable()) return 'namespace';
    return this.options.allowUnisolatedNetwork === true ? 'none' : 'refused';
  }

  /** Largest package accepted, bytes. */
  get maxPackageBytes(): number {
    return this.options.maxPackageBytes ?? 32 * 1024 * 1024;
  }

  /**
   * Pushes a package (.tar.gz or .zip bytes): unpacks it in a scratch folder within the archive
   * limits (zip slip, links and bombs refused: CONTINUUM_ERR_BAD_REQUEST), reads and validates
   * manifest.json, checks that the entry module is a file of the package, and keeps it by digest.
   */
  async push(bytes: Uint8Array): Promise<Workflow> {
    if (bytes.byteLength > this.maxPackageBytes) throw new ContinuumError('CONTINUUM_ERR_BODY_TOO_LARGE', `the package is ${bytes.byteLength} bytes; the limit is ${this.maxPackageBytes}`);
    const digest = createHash('sha256').update(bytes).digest('hex');
    const staged = this.store.stage(bytes, `${digest}-${randomBytes(6).toString('hex')}`);
    const scratch = mkdtempSync(join(this.store.packageDir, '.check-'));
    try {
      const { files } = await unpackArchive(staged, scratch);
      if (!files.includes('manifest.json')) throw new ContinuumError('CONTINUUM_ERR_INVALID_WORKFLOW', 'the package has no manifest.json at its root; see docs/workflows.md for the package format');
      const manifestPath = join(scratch, 'manifest.json');
      if (statSync(manifestPath).size > WORKFLOW_LIMITS.maxManifestBytes) throw new ContinuumError('CONTINUUM_ERR_INVALID_WORKFLOW', `manifest.json is larger than ${WORKFLOW_LIMITS.maxManifestBytes} bytes`);
      const manifest = parseManifest(readFileSync(manifestPath, 'utf8'));
      if (!files.includes(manifest.entry)) throw new ContinuumError('CONTINUUM_ERR_INVALID_WORKFLOW', `the manifest's entry ${manifest.entry} is not a file of the package (it holds ${files.slice(0, 10).join(', ')})`);
      return this.store.add(manifest, digest, staged, new Date().toISOString());
    } finally {
      rmSync(scratch, { recursive: true, force: true });
      rmSync(staged, { force: true });
    }
  }

  /** The newest version of every workflow. */
  list(): Workflow[] {
    return this.store.list();
  }

  /** A workflow's newest version, its versions and retraining binding. */
  get(name: string): WorkflowDetail {
    const workflow = this.store.get(name);
    const retraining = this.bindings().find((b) => b.binding.workflow === name);
    return { ...workflow, versions: this.store.versions(name), ...(retraining === undefined ? {} : { retraining }) };
  }

  /** Deletes a workflow, its runs and retraining; refused while it trains (CONTINUUM_ERR_RUN_IN_PROGRESS). */
  delete(name: string): void {
    this.refuseWhileRunning(name);
    this.store.delete(name);
  }

  /** Whether a run of the workflow is in progress. */
  isRunning(workflow: string): boolean {
    return [...this.active.values()].some((r) => r.workflow === workflow);
  }

  /**
   * Starts a run of the workflow's newest version and returns its record (status running); the
   * run goes on in the background. Checked before anything is recorded: the workflow, parameters,
   * model name, that nothing else of the workflow trains, the concurrency limit and the sandbox.
   */
  startRun(name: string, request: RunRequest): WorkflowRun {
    if (this.abort.signal.aborted) throw new ContinuumError('CONTINUUM_ERR_SHUTTING_DOWN', 'the server is shutting down; start the run after it restarts');
    const workflow = this.store.get(name);
    const parameters = resolveParameters(workflow.manifest, request.parameters ?? {});
    const model = checkName('model name', request.model ?? workflow.name);
    if (request.datasource !== undefined && this.options.samples === undefined) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'this server keeps no samples to train on; train on a built-in dataset (iris, penguins)');
    if (request.release !== undefined && this.options.startRelease === undefined) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'this server has no release pipeline; train without a release');
    this.refuseWhileRunning(name);
    const maxRuns = this.options.maxConcurrentRuns ?? 2;
    if (this.active.size >= maxRuns) throw new ContinuumError('CONTINUUM_ERR_RUN_IN_PROGRESS', `${this.active.size} training runs are in progress, the most this server runs at once; start this one when one has finished`, { retryAfterS: 10 });
    if (this.networkIsolation() === 'refused') throw sandboxUnavailable();
    const nowMs = Date.now();
    const toMs = request.to === undefined ? nowMs : Date.parse(request.to);
    const fromMs = request.from === undefined ? toMs - DEFAULT_WINDOW_MS : Date.parse(request.from);
    if (request.datasource !== undefined && !(fromMs < toMs)) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `from (${new Date(fromMs).toISOString()}) must be before to (${new Date(toMs).toISOString()})`);
    const input: RunInput = {
      ...(request.dataset === undefined ? {} : { dataset: request.dataset }),
      ...(request.datasource === undefined ? {} : { datasource: request.datasource, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() }),
      parameters,
      seed: request.seed ?? 1,
      trigger: request.trigger ?? 'api',
      ...(request.release === undefined ? {} : { release: request.release }),
    };
    const run = this.store.createRun(workflow, model, input, new Date(nowMs).toISOString());
    const log: string[] = [];
    const done = this.execute(workflow, run, log, { fromMs, toMs }).finally(() => this.active.delete(run.id));
    this.active.set(run.id, { workflow: name, log, done });
    return run;
  }

  /** A run, with the live log while it trains. */
  run(workflow: string, id: number): WorkflowRun {
    return this.live(this.store.run(workflow, id));
  }

  /** A workflow's runs, newest first. */
  runs(workflow: string, limit?: number): WorkflowRun[] {
    this.store.get(workflow);
    return this.store.runs(workflow, limit).map((r) => this.live(r));
  }

  /** Resolves with the run once it has ended (at once for a finished one). */
  async settled(workflow: string, id: number): Promise<WorkflowRun> {
    return this.active.get(id)?.done ?? this.store.run(workflow, id);
  }

  /** Binds the workflow to retraining (replacing its binding; the schedule counts from now). */
  setRetraining(workflow: string, input: RetrainBindingInput): { readonly binding: RetrainBinding; readonly state: RetrainState } {
    this.store.get(workflow);
    const parsed = retrainBindingSchema.safeParse(input);
    if (!parsed.success) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `invalid retraining: ${parsed.error.issues[0]?.message ?? 'malformed'}`);
    const binding = compileRetrainBinding(workflow, parsed.data);
    checkName('model name', binding.model);
    if (this.options.samples === undefined) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'this server keeps no samples; retraining needs a data source');
    const state = initialRetrainState(Date.now());
    this.store.setRetraining(workflow, binding, state);
    return { binding, state };
  }

  /** Ends a workflow's retraining; CONTINUUM_ERR_NOT_FOUND when it had none. */
  deleteRetraining(workflow: string): void {
    this.store.get(workflow);
    if (!this.store.deleteRetraining(workflow)) throw new ContinuumError('CONTINUUM_ERR_NOT_FOUND', `workflow '${workflow}' has no retraining`);
  }

  /** Every retraining binding with its state. */
  bindings(): { readonly binding: RetrainBinding; readonly state: RetrainState }[] {
    return this.store.retraining().map((r) => ({ binding: r.binding as RetrainBinding, state: r.state as RetrainState }));
  }

  /** Starts a retraining run: the binding's data source on the window, released to its deployment. */
  startRetraining(binding: RetrainBinding, trigger: 'schedule' | 'drift', window: { readonly fromMs: number; readonly toMs: number }): number {
    return this.startRun(binding.workflow, {
      datasource: binding.datasource,
      from: new Date(window.fromMs).toISOString(),
      to: new Date(window.toMs).toISOString(),
      model: binding.model,
      release: binding.deployment === undefined ? {} : { deployment: binding.deployment },
      trigger,
    }).id;
  }

  /** Stores a binding's retraining state. */
  saveState(workflow: string, state: RetrainState): void {
    this.store.setRetrainingState(workflow, state);
  }

  /** Stops runs in progress (their processes are killed; each is recorded as failed) and closes the store. */
  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.active.values()].map((r) => r.done));
    this.store.close();
  }

  private live(run: WorkflowRun): WorkflowRun {
    const active = this.active.get(run.id);
    return active === undefined ? run : { ...run, log: [...active.log] };
  }

  private refuseWhileRunning(name: string): void {
    const running = [...this.active.entries()].find(([, r]) => r.workflow === name);
    if (running !== undefined) {
      throw new ContinuumError('CONTINUUM_ERR_RUN_IN_PROGRESS', `run ${running[0]} of workflow '${name}' is training; wait for it (\`continuum workflows run ${name} ${running[0]}\`)`, { details: { run: running[0] } });
    }
  }

  private async dataset(workflow: Workflow, run: WorkflowRun, range: { fromMs: number; toMs: number }): Promise<TrainingDataset> {
    const { input } = run;
    if (input.dataset !== undefined) return builtInDataset(workflow.manifest, input.dataset as BuiltInDatasetName);
    const samples = this.options.samples;
    if (samples === undefined || input.datasource === undefined) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'no samples to train on');
    const window = await samples.window(input.datasource, { ...range, limit: this.options.maxSamples ?? WORKFLOW_LIMITS.maxRows });
    return datasetFromSamples(workflow.manifest, window);
  }

  /** The run from dataset to registry (and release); always resolves with the finished record. */
  private async execute(workflow: Workflow, run: WorkflowRun, log: string[], range: { fromMs: number; toMs: number }): Promise<WorkflowRun> {
    const startedMs = Date.now();
    let dropped = 0;
    const append = (line: string): void => {
      if (log.length < MAX_LOG_LINES) log.push(line.slice(0, 2000));
      else dropped += 1;
    };
    const finalLog = (): string[] => (dropped === 0 ? [...log] : [...log, `(${dropped} more lines not kept)`]);
    let outcome: SandboxOutcome | undefined;
    try {
      const dataset = await this.dataset(workflow, run, range);
      append(`dataset: ${dataset.features.length} rows of ${dataset.features[0]?.length ?? 0} values, classes ${dataset.classes.join(', ')}`);
      outcome = await runInSandbox({
        archivePath: this.store.packagePath(workflow.digest),
        entry: workflow.manifest.entry,
        dataset,
        params: run.input.parameters,
        seed: run.input.seed,
        workRoot: this.workRoot,
        limits: this.limits,
        allowUnisolatedNetwork: this.options.allowUnisolatedNetwork === true,
        onLog: append,
        signal: this.abort.signal,
      });
      if (!outcome.ok) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', outcome.error);
      const metrics = metricsSchema.safeParse(outcome.metrics);
      if (!metrics.success) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'the run reported metrics that are not up to 64 finite numbers with plain names');
      const version = await this.options.registry.pushVersion(run.model, outcome.model, { labels: this.lineage(workflow, run, metrics.data), maxBytes: this.limits.maxModelBytes });
      append(`pushed ${run.model} version ${version.version}`);
      await this.options.onModelPushed?.(run.model, version.version);
      const release = run.input.release === undefined ? undefined : this.release(run, version.version, append);
      this.store.finishRun(
        run.id,
        { status: 'succeeded', metrics: metrics.data, modelVersion: version.version, resources: outcome.resources, network: outcome.network, log: finalLog(), ...(release === undefined ? {} : { releaseId: release }) },
        new Date().toISOString(),
        Date.now() - startedMs,
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.store.finishRun(
        run.id,
        { status: 'failed', error: message, log: finalLog(), ...(outcome === undefined ? {} : { resources: outcome.resources, network: outcome.network }) },
        new Date().toISOString(),
        Date.now() - startedMs,
      );
    }
    return this.store.run(run.workflow, run.id);
  }

  /** Starts the release of a run's version; a release that cannot start leaves the version pushed and says why in the log. */
  private release(run: WorkflowRun, version: string, append: (line: string) => void): number | undefined {
    const deployment = run.input.release?.deployment;
    try {
      const release = this.options.startRelease?.({ model: run.model, ref: version, ...(deployment === undefined ? {} : { deployment }) });
      if (release !== undefined) append(`release ${release.id} started${deployment === undefined ? '' : ` (rollout to ${deployment})`}`);
      return release?.id;
    } catch (err) {
      append(`release not started: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }

  /** The labels that tie a version to the run that made it (registry label rules: lower-case keys, plain values). */
  private lineage(workflow: Workflow, run: WorkflowRun, metrics: Readonly<Record<string, number>>): Record<string, string> {
    const labels: Record<string, string> = {
      workflow: workflow.name,
      'workflow-version': workflow.version,
      'workflow-run': String(run.id),
      ...(run.input.dataset === undefined ? {} : { dataset: run.input.dataset }),
      ...(run.input.datasource === undefined ? {} : { datasource: run.input.datasource }),
      ...(run.input.from === undefined ? {} : { 'window-from': run.input.from }),
      ...(run.input.to === undefined ? {} : { 'window-to': run.input.to }),
    };
    for (const [name, value] of Object.entries(metrics).slice(0, 32)) {
      const key = `metric.${name.toLowerCase().replace(/[^a-z0-9._-]/g, '-')}`.slice(0, 63);
      labels[key] = String(Number(value.toPrecision(6)));
    }
    return labels;
  }
}
