/**
 * The release pipeline: a candidate model version goes through the validation gates one after
 * the other (each step persisted as it finishes), then either moves the model's `production`
 * alias or hands the version to a rollout of a deployment, whose outcome becomes the release's.
 * The shape of Flagger's and Argo Rollouts' pre-promotion analysis: no traffic reaches a
 * candidate that has not passed its gates.
 */
import { ContinuumError } from '../errors.js';
import { OPTIMIZED_FROM_LABEL, PRODUCTION_ALIAS } from '../registry/index.js';
import type { ModelVersion, Registry } from '../registry/index.js';
import type { Target } from '../targets/index.js';
import type { Dataset, DatasetSummary } from './dataset.js';
import { asksForAccuracy, compileGateOptions, GATE_NAMES } from './gates.js';
import type { GateName, GateOptions } from './gates.js';
import { GateReplicas, runGate, skippedStep } from './measure.js';
import type { GateContext } from './measure.js';
import { ReleaseStore } from './store.js';
import type { Release, ReleasePolicy, ReleaseStatus, StrategyInput } from './store.js';

/** Where a rollout is, as the release pipeline reads it. */
export type RolloutState = 'progressing' | 'paused' | 'succeeded' | 'rolled-back' | 'aborted';

/** What the release pipeline needs of the rollout controller: start one, and read its state. */
export interface RolloutPort {
  /** Starts a rollout of version `ref` on `deployment` with the release's strategy input spread in. */
  start(input: { readonly deployment: string; readonly ref: string } & Readonly<Record<string, unknown>>): { readonly id: number };
  /** The rollout's state; undefined when it is not known. */
  status(id: number): RolloutState | undefined;
}

/** What starts a release. */
export interface ReleaseInput {
  readonly model: string;
  /** A version or `@alias`; the model's newest version when absent. */
  readonly ref?: string;
  /** The deployment to roll out to; without one the `production` alias moves. */
  readonly deployment?: string;
  /** Handed to the rollout as given (strategy, steps, bakeMs, analysis ...). */
  readonly strategy?: StrategyInput;
  readonly gates?: GateOptions;
}

/** What a release policy holds: a release's input without model and version. */
export type ReleasePolicyInput = Omit<ReleaseInput, 'model' | 'ref'>;

/** Options of {@link ReleasePipeline}. */
export interface ReleasePipelineOptions {
  readonly registry: Registry;
  /** Where the gates' replicas run (the deployments' target). */
  readonly target: Target;
  /** The data directory whose database keeps releases, policies and datasets. */
  readonly dataDir: string;
  readonly rollouts: RolloutPort;
  /**
   * The model version a deployment serves now: the baseline of a release to it. Undefined for an
   * unknown deployment. Without this function deployments are not checked and the baseline is
   * the model's production version.
   */
  readonly deployedVersion?: (deployment: string) => { readonly model: string; readonly version: string } | undefined;
  /** Called after a release without deployment moved the `production` alias (e.g. to reload the model where it is served). */
  readonly onPromoted?: (model: string, version: string) => Promise<unknown> | void;
  /** Longest wait for a gate replica's first resident-memory reading. @default 10000 */
  readonly usageTimeoutMs?: number;
  /** Told when a model's dataset is attached or replaced (the deployments' drift monitors take it as their reference). */
  readonly onDatasetAttached?: (model: string, dataset: Dataset) => void;
}

/** Statuses during which another release of the same model must wait. */
const BUSY_STATUSES: readonly ReleaseStatus[] = ['running', 'passed', 'rolling-out'];

/** The release status a rollout's state settles, or undefined while it goes on (pure). */
export function releaseStatusAfterRollout(state: RolloutState | undefined): ReleaseStatus | undefined {
  switch (state) {
    case 'succeeded':
      return 'released';
    case 'rolled-back':
      return 'rolled-back';
    case 'aborted':
      return 'aborted';
    default:
      return undefined;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs releases; see the module comment. */
export class ReleasePipeline {
  private readonly store: ReleaseStore;
  private readonly runs = new Map<number, Promise<Release>>();
  private closing = false;

  constructor(private readonly options: ReleasePipelineOptions) {
    this.store = ReleaseStore.open(options.dataDir);
    // A release whose gates were running when the server stopped cannot resume its replicas.
    for (const r of this.store.releasesIn(['running', 'passed'])) this.store.setStatus(r.id, 'aborted', { error: 'the server stopped while the release ran; start it again' });
  }

  /**
   * Records a release and runs its gates in the background; returns the record (status
   * `running`). Throws before recording when the model, version or deployment does not exist,
   * or another release of the model is not finished (CONTINUUM_ERR_RELEASE_IN_PROGRESS).
   */
  start(input: ReleaseInput): Release {
    if (this.closing) throw new ContinuumError('CONTINUUM_ERR_SHUTTING_DOWN', 'the server is shutting down; start the release after it restarts');
    const { registry } = this.options;
    const candidate = input.ref === undefined ? this.newestVersion(input.model) : registry.resolveRef(input.model, input.ref);
    if (input.strategy !== undefined && input.deployment === undefined) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'a rollout strategy needs a deployment to roll out to: give --deployment');
    const baseline = this.baselineOf(candidate, input.deployment);
    const busy = this.store
      .releasesIn(BUSY_STATUSES)
      .filter((r) => r.model === candidate.name)
      .map((r) => this.refreshed(r))
      .find((r) => BUSY_STATUSES.includes(r.status));
    if (busy !== undefined) {
      throw new ContinuumError('CONTINUUM_ERR_RELEASE_IN_PROGRESS', `release ${busy.id} of model '${input.model}' (version ${busy.version}) is ${busy.status}; wait for it to finish (\`continuum releases show ${busy.id}\`)`, {
        details: { release: busy.id },
      });
    }
    const gates = input.gates ?? {};
    const release = this.store.createRelease({
      model: candidate.name,
      version: candidate.version,
      baselineVersion: baseline?.version ?? null,
      deployment: input.deployment ?? null,
      strategy: input.strategy ?? null,
      gates,
    });
    const run = this.run(release, candidate, baseline, gates).finally(() => this.runs.delete(release.id));
    this.runs.set(release.id, run);
    return release;
  }

  /** Resolves with the release once its gates and promotion are done (at once for a finished one). */
  async settled(id: number): Promise<Release> {
    return this.runs.get(id) ?? this.get(id);
  }

  /** The release `id`, its status brought up to date with its rollout. */
  get(id: number): Release {
    return this.refreshed(this.store.getRelease(id));
  }

  /** Releases, newest first, optionally of one model (and version). */
  list(filter: { readonly model?: string; readonly version?: string; readonly limit?: number } = {}): Release[] {
    return this.store.listReleases(filter).map((r) => this.refreshed(r));
  }

  /** Attaches a (validated) dataset to a model for its accuracy gate. */
  attachDataset(model: string, dataset: Dataset): DatasetSummary {
    this.options.registry.getModel(model);
    const summary = this.store.attachDataset(model, dataset);
    this.options.onDatasetAttached?.(model, dataset);
    return summary;
  }

  /** The dataset attached to a model, or undefined. */
  dataset(model: string): Dataset | undefined {
    return this.store.dataset(model);
  }

  /** The summary of a model's dataset; CONTINUUM_ERR_DATASET_NOT_FOUND when it has none. */
  datasetSummary(model: string): DatasetSummary {
    this.options.registry.getModel(model);
    const summary = this.store.datasetSummary(model);
    if (summary === undefined) throw new ContinuumError('CONTINUUM_ERR_DATASET_NOT_FOUND', `model '${model}' has no dataset; attach one with \`continuum models dataset ${model} FILE.json\``, { details: { model } });
    return summary;
  }

  /** Sets the policy that releases every version pushed to `model`; the deployment is checked now. */
  setPolicy(model: string, input: ReleasePolicyInput): ReleasePolicy {
    const detail = this.options.registry.getModel(model);
    if (input.strategy !== undefined && input.deployment === undefined) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', 'a rollout strategy needs a deployment to roll out to: give --deployment');
    if (input.deployment !== undefined) this.checkDeployment(detail.name, input.deployment);
    return this.store.setPolicy({ model, deployment: input.deployment ?? null, strategy: input.strategy ?? null, gates: input.gates ?? {} });
  }

  /** A model's release policy; CONTINUUM_ERR_RELEASE_POLICY_NOT_FOUND when it has none. */
  policy(model: string): ReleasePolicy {
    this.options.registry.getModel(model);
    const policy = this.store.policy(model);
    if (policy === undefined) throw new ContinuumError('CONTINUUM_ERR_RELEASE_POLICY_NOT_FOUND', `model '${model}' has no release policy; set one with \`continuum models release-policy ${model}\``, { details: { model } });
    return policy;
  }

  /** Deletes a model's release policy; CONTINUUM_ERR_RELEASE_POLICY_NOT_FOUND when it has none. */
  deletePolicy(model: string): void {
    this.policy(model);
    this.store.deletePolicy(model);
  }

  /** The push hook: starts a release of the new version when the model has a release policy. */
  onVersionPushed(model: string, version: string): Release | undefined {
    const policy = this.store.policy(model);
    if (policy === undefined) return undefined;
    return this.start({
      model,
      ref: version,
      ...(policy.deployment === null ? {} : { deployment: policy.deployment }),
      ...(policy.strategy === null ? {} : { strategy: policy.strategy }),
      gates: policy.gates,
    });
  }

  /** Stops starting releases, lets running gates stop at the next gate (their replicas stopped), closes the store. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.runs.values()]);
    this.store.close();
  }

  private newestVersion(model: string): ModelVersion {
    const latest = this.options.registry.getModel(model).latest_version;
    if (latest === null) throw new ContinuumError('CONTINUUM_ERR_VERSION_NOT_FOUND', `model '${model}' has no versions; push one with \`continuum models push\``, { details: { name: model } });
    return this.options.registry.getVersion(model, latest);
  }

  private checkDeployment(model: string, deployment: string): { readonly version: string } | undefined {
    const lookup = this.options.deployedVersion;
    if (lookup === undefined) return undefined;
    const deployed = lookup(deployment);
    if (deployed === undefined) throw new ContinuumError('CONTINUUM_ERR_DEPLOYMENT_NOT_FOUND', `no deployment named '${deployment}'`, { details: { deployment } });
    if (deployed.model !== model) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `deployment '${deployment}' serves model '${deployed.model}', not '${model}'`, { details: { deployment } });
    return deployed;
  }

  /**
   * The version the candidate is compared with: for an optimized version the one it was made
   * from (its `optimized-from` label: a quantized model answers for what it lost against its
   * original), else what the deployment serves, else the `production` alias, else the newest
   * other version; undefined for a model's first version.
   */
  private baselineOf(candidate: ModelVersion, deployment: string | undefined): ModelVersion | undefined {
    const { registry } = this.options;
    const deployed = deployment === undefined ? undefined : this.checkDeployment(candidate.name, deployment);
    const model = registry.getModel(candidate.name);
    const original = candidate.labels[OPTIMIZED_FROM_LABEL];
    const lineage = original !== undefined && model.versions.some((v) => v.version === original) ? original : undefined;
    const baseline = lineage ?? deployed?.version ?? model.aliases[PRODUCTION_ALIAS] ?? model.versions.filter((v) => v.version !== candidate.version).at(-1)?.version;
    if (baseline === candidate.version) {
      throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `version ${candidate.version} of '${candidate.name}' is already ${deployment === undefined ? 'production' : `what deployment '${deployment}' serves`}; push a new version to release it`, {
        details: { name: candidate.name, version: candidate.version },
      });
    }
    return baseline === undefined ? undefined : registry.getVersion(candidate.name, baseline);
  }

  private async run(release: Release, candidate: ModelVersion, baseline: ModelVersion | undefined, gates: GateOptions): Promise<Release> {
    const { registry, target } = this.options;
    const options = compileGateOptions(gates);
    let failed: { readonly gate: GateName; readonly detail: string } | undefined;
    try {
      const replicas = new GateReplicas(target, `release-${release.id}`, registry.resolve(candidate.name, candidate.version), baseline === undefined ? undefined : registry.resolve(baseline.name, baseline.version));
      const ctx: GateContext = {
        candidate,
        production: baseline,
        dataset: this.store.dataset(candidate.name),
        replicas,
        options,
        usageTimeoutMs: this.options.usageTimeoutMs ?? 10_000,
      };
      try {
        for (const name of GATE_NAMES) {
          if (this.closing) return this.store.setStatus(release.id, 'aborted', { error: 'the server shut down while the gates ran' });
          const step = !options.run.includes(name)
            ? skippedStep(name, name === 'accuracy' && asksForAccuracy(options) ? 'not selected for this release, although accuracy criteria were set' : 'not selected for this release')
            : failed !== undefined
              ? skippedStep(name, `not run: the ${failed.gate} gate failed`)
              : await runGate(name, ctx);
          this.store.appendStep(release.id, step);
          if (step.status === 'failed') failed ??= { gate: name, detail: String(step.evidence['detail'] ?? '') };
        }
      } finally {
        await replicas.stop();
      }
      if (failed !== undefined) return this.store.setStatus(release.id, 'failed', { error: `the ${failed.gate} gate failed: ${failed.detail}` });
      this.store.setStatus(release.id, 'passed');
      return await this.promote(release);
    } catch (err) {
      return this.store.setStatus(release.id, 'failed', { error: message(err) });
    }
  }

  /** After every gate passed: move the alias, or start the rollout. */
  private async promote(release: Release): Promise<Release> {
    if (release.deployment === null) {
      this.options.registry.setAlias(release.model, PRODUCTION_ALIAS, release.version);
      try {
        await this.options.onPromoted?.(release.model, release.version);
      } catch (err) {
        return this.store.setStatus(release.id, 'released', { error: `the production alias moved, but reloading the model failed: ${message(err)}` });
      }
      return this.store.setStatus(release.id, 'released');
    }
    try {
      const rollout = this.options.rollouts.start({ ...(release.strategy ?? {}), deployment: release.deployment, ref: release.version });
      return this.store.setStatus(release.id, 'rolling-out', { rolloutId: rollout.id });
    } catch (err) {
      return this.store.setStatus(release.id, 'failed', { error: `every gate passed, but the rollout could not start: ${message(err)}` });
    }
  }

  /** A rolling-out release with its rollout's outcome persisted once the rollout has one; a success also moves the alias. */
  private refreshed(release: Release): Release {
    if (release.status !== 'rolling-out' || release.rolloutId === null) return release;
    const next = releaseStatusAfterRollout(this.options.rollouts.status(release.rolloutId));
    if (next === undefined) return release;
    if (next === 'released') this.options.registry.setAlias(release.model, PRODUCTION_ALIAS, release.version);
    return this.store.setStatus(release.id, next);
  }
}
