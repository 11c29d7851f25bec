/**
 * The gateway's router: the {@link InferenceService} the OIP front ends call. A model name that is
 * a deployment goes to that deployment's replicas (through its activator when it has none ready);
 * any other name is served by the in-process runtime, as before deployments existed. The protocol
 * code does not know which.
 */
import { ContinuumError } from '../errors.js';
import type { InferRequest, InferResponse, ModelMetadata, ModelStatistics, RepositoryEntry, ServerMetadata } from '../oip/types.js';
import type { RequestObserver } from '../observe/index.js';
import type { Registry } from '../registry/index.js';
import { ONNX_PLATFORM } from '../runtime/index.js';
import type { InferenceService, InferOptions } from '../runtime/index.js';
import type { DeploymentController } from './controller.js';
import type { RevisionSpec } from './store.js';
import type { DeploymentRoute } from './route.js';

/** Routes OIP calls to deployments or the in-process runtime; see the module comment. */
export class Router implements InferenceService {
  constructor(
    private readonly runtime: InferenceService,
    private readonly controller: DeploymentController,
    private readonly registry: Registry,
    /** Records each request's metrics and spans; absent when both are off, so the path pays nothing. */
    private readonly observer?: RequestObserver,
  ) {}

  serverMetadata(): ServerMetadata {
    return this.runtime.serverMetadata();
  }

  isLive(): boolean {
    return this.runtime.isLive();
  }

  isReady(): boolean {
    return this.runtime.isReady();
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const route = this.controller.find(name);
    if (route === undefined) return this.runtime.modelMetadata(name, version);
    const spec = this.spec(route, version);
    const { signature } = this.registry.resolve(spec.model, spec.version);
    return { name, versions: [...route.versions()], platform: ONNX_PLATFORM, inputs: signature.inputs, outputs: signature.outputs };
  }

  /** A deployment is ready while it exists: scaled to zero, it activates on the first request (as Knative reports a scaled-to-zero revision Ready). */
  modelReady(name: string, version?: string): boolean {
    const route = this.controller.find(name);
    if (route === undefined) return this.runtime.modelReady(name, version);
    this.spec(route, version);
    return route.baseline.isReady();
  }

  infer(name: string, version: string | undefined, request: InferRequest, options?: InferOptions): Promise<InferResponse> {
    const route = this.controller.find(name);
    const observer = this.observer;
    if (observer === undefined) return route === undefined ? this.runtime.infer(name, version, request, options) : route.infer(version, request, options);
    if (route === undefined) return observer.observe(name, version, '', options, (o) => this.runtime.infer(name, version, request, o));
    return observer.observe(route.baseline.current.revision.spec.model, version, name, options, (o) => route.infer(version, request, o));
  }

  statistics(name?: string, version?: string): readonly ModelStatistics[] {
    if (name !== undefined) {
      const route = this.controller.find(name);
      if (route === undefined) return this.runtime.statistics(name, version);
      const spec = this.spec(route, version);
      return route.statistics().filter((s) => version === undefined || s.version === spec.version);
    }
    return [...this.runtime.statistics(), ...this.controller.all().flatMap((r) => r.statistics())];
  }

  repositoryIndex(): readonly RepositoryEntry[] {
    const deployments = this.controller.all().map((route): RepositoryEntry => {
      const s = route.baseline;
      const status = s.status();
      const ready = status.replicas.some((r) => r.phase === 'ready');
      return {
        name: s.current.name,
        version: s.current.revision.spec.version,
        state: 'READY',
        reason: ready ? `deployment: ${status.replicas.length} replica(s)` : 'deployment scaled to zero; activates on the first request',
      };
    });
    const names = new Set(deployments.map((d) => d.name));
    return [...this.runtime.repositoryIndex().filter((e) => !names.has(e.name)), ...deployments];
  }

  loadModel(name: string, version?: string): Promise<void> {
    if (this.controller.find(name) !== undefined) return Promise.reject(this.managedByDeployment(name));
    return this.runtime.loadModel(name, version);
  }

  unloadModel(name: string): Promise<void> {
    if (this.controller.find(name) !== undefined) return Promise.reject(this.managedByDeployment(name));
    return this.runtime.unloadModel(name);
  }

  private managedByDeployment(name: string): ContinuumError {
    return new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `'${name}' is a deployment; its replicas follow the deployment (use \`continuum deployments scale\` or delete it)`);
  }

  /** The revision spec serving `version` (production's when absent); CONTINUUM_ERR_VERSION_NOT_FOUND when neither track serves it. */
  private spec(route: DeploymentRoute, version: string | undefined): RevisionSpec {
    return route.setFor(version).current.revision.spec;
  }
}
