/**
 * The Kubernetes target's applier against a recording HTTP server (test/support/kube-recorder.ts).
 * These tests are NOT against a cluster: the recorder speaks the API paths and verbs the client
 * uses, keeps what it was sent and records every call, but runs nothing, fills no status by itself
 * and enforces no field ownership. They check what Continuum sends and how it reacts to answers.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { Namespace, PersistentVolumeClaim, Service, ServiceAccount } from 'kubernetes-models/v1';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PolicySpec } from '../src/autoscale/index.js';
import type { DeploymentStatus, Revision } from '../src/deploy/index.js';
import { ContinuumError } from '../src/errors.js';
import { compileRollout } from '../src/rollout/index.js';
import { DEMO_REQUEST, startServer } from '../src/server/index.js';
import { compileKubernetesOptions, fetchModel, KubernetesApplier, KubernetesReconciler, MANAGED_KINDS, renderDeployment, renderInputOf, startPodReplica } from '../src/targets/kubernetes/index.js';
import type { KubernetesRenderInput } from '../src/targets/kubernetes/index.js';
import { cliAgainst } from './support/cli-process.js';
import { api, inferJson } from './support/http.js';
import { KubeRecorder } from './support/kube-recorder.js';

const NS = 'ml';
const options = compileKubernetesOptions({ namespace: NS, image: 'continuum:test' });

function revision(n: number, policy: PolicySpec): Revision {
  return {
    deployment: 'iris',
    revision: n,
    spec: { model: 'iris', modelRef: '', version: String(n), sha256: 'cd'.repeat(32), policy, resources: { vcpu: 1, memoryGb: 0.5 }, runtime: {} },
    createdAt: '2026-01-01T00:00:00.000Z',
  };
}

function canary(policy: PolicySpec): KubernetesRenderInput {
  const step = compileRollout({ deployment: 'iris', ref: '2', strategy: 'canary', steps: [10, 100] }).steps[0];
  if (step === undefined) throw new Error('a canary has a step');
  return { deployment: 'iris', baseline: revision(1, policy), candidate: { revision: revision(2, policy), rule: step.rule, replicas: 1, controlReplicas: 1 } };
}

/** The item path an object is applied at, as the recorder stores it. */
function pathOf(o: { apiVersion?: string; kind?: string; metadata?: { name?: string } }): string {
  const plural: Record<string, string> = {
    Deployment: 'deployments',
    Service: 'services',
    HorizontalPodAutoscaler: 'horizontalpodautoscalers',
    ScaledObject: 'scaledobjects',
    NetworkPolicy: 'networkpolicies',
    PodDisruptionBudget: 'poddisruptionbudgets',
  };
  const root = o.apiVersion === 'v1' ? '/api/v1' : `/apis/${o.apiVersion ?? ''}`;
  return `${root}/namespaces/${NS}/${plural[o.kind ?? ''] ?? ''}/${o.metadata?.name ?? ''}`;
}

describe('Kubernetes applier against a recording API server (not a cluster)', () => {
  let recorder: KubeRecorder;
  let sleeps: number[];
  const applier = (extra: { forceConflicts?: boolean; maxAttempts?: number } = {}): KubernetesApplier =>
    new KubernetesApplier({
      kubeConfig: recorder.kubeConfig(NS),
      retryBaseMs: 10,
      retryMaxMs: 40,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      ...extra,
    });

  beforeEach(async () => {
    recorder = await KubeRecorder.start();
    sleeps = [];
  });
  afterEach(async () => {
    await recorder.close();
  });

  it('server-side applies every rendered object in order with field manager continuum, without force', async () => {
    const objects = renderDeployment(canary({ policy: 'hpa', maxReplicas: 6 }), options);
    const result = await applier().apply('iris', NS, objects);
    const patches = recorder.calls.filter((c) => c.method === 'PATCH');
    expect(patches.map((c) => c.path)).toEqual(objects.map(pathOf));
    for (const call of patches) {
      expect(call.contentType).toBe('application/apply-patch+yaml');
      expect(call.query['fieldManager']).toBe('continuum');
      expect(call.query['force']).not.toBe('true');
    }
    expect(patches.map((c) => c.body)).toEqual(objects);
    expect(result.pruned).toEqual([]);
    expect(result.applied).toContain(`HorizontalPodAutoscaler ${NS}/iris`);
  });

  it('sends a Knative Service and a NetworkPolicy as rendered, to the Knative API', async () => {
    const objects = renderDeployment(canary({ policy: 'serverless' }), compileKubernetesOptions({ namespace: NS, scaleToZero: 'knative' }));
    await applier().apply('iris', NS, objects);
    const patches = recorder.calls.filter((c) => c.method === 'PATCH');
    expect(patches.map((c) => c.path)).toContain(`/apis/serving.knative.dev/v1/namespaces/${NS}/services/iris`);
    expect(patches.map((c) => c.body)).toEqual(objects);
  });

  it('retries a 409 conflict with exponential backoff and goes on when it clears', async () => {
    recorder.failNext('PATCH', /deployments\/iris-r1$/, 409, 2);
    const objects = renderDeployment({ deployment: 'iris', baseline: revision(1, { policy: 'fixed', replicas: 2 }) }, options);
    await applier().apply('iris', NS, objects);
    const attempts = recorder.calls.filter((c) => c.method === 'PATCH' && c.path.endsWith('/deployments/iris-r1'));
    expect(attempts.map((c) => c.status)).toEqual([409, 409, 201]);
    expect(sleeps).toEqual([10, 20]);
    expect(recorder.objects.get(`/apis/apps/v1/namespaces/${NS}/deployments/iris-r1`)).toMatchObject({ spec: { replicas: 2 } });
  });

  it('reports a conflict that persists as CONTINUUM_ERR_KUBERNETES_CONFLICT naming the other manager, and forces only when told', async () => {
    recorder.failNext('PATCH', /deployments\/iris-r1$/, 409, 100);
    const objects = renderDeployment({ deployment: 'iris', baseline: revision(1, { policy: 'fixed' }) }, options);
    const err = await applier({ maxAttempts: 3 }).apply('iris', NS, objects).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContinuumError);
    expect((err as ContinuumError).code).toBe('CONTINUUM_ERR_KUBERNETES_CONFLICT');
    expect((err as ContinuumError).message).toMatch(/kubectl-edit.*--force-conflicts/);
    expect(sleeps).toEqual([10, 20]);

    const forced = await KubeRecorder.start();
    try {
      await new KubernetesApplier({ kubeConfig: forced.kubeConfig(NS), forceConflicts: true }).apply('iris', NS, objects);
      const patches = forced.calls.filter((c) => c.method === 'PATCH');
      expect(patches.length).toBe(objects.length);
      expect(patches.every((c) => c.query['force'] === 'true')).toBe(true);
    } finally {
      await forced.close();
    }
  });

  it('retries a 500 and fails at once on a 403 with the API status in the message', async () => {
    recorder.failNext('PATCH', /networkpolicies/, 500, 1);
    const objects = renderDeployment({ deployment: 'iris', baseline: revision(1, { policy: 'kpa' }) }, options);
    await applier().apply('iris', NS, objects);
    expect(sleeps).toEqual([10]);

    sleeps = [];
    recorder.failNext('PATCH', /services\/iris-r1$/, 403, 1);
    const err = await applier().apply('iris', NS, objects).catch((e: unknown) => e);
    expect((err as ContinuumError).code).toBe('CONTINUUM_ERR_KUBERNETES_API');
    expect((err as ContinuumError).message).toMatch(/answered 403 \(injected 403\) after 1 attempt/);
    expect(sleeps).toEqual([]);
  });

  it('prunes the old revision after a promotion and deletes everything of a deployment, and nothing of another', async () => {
    const a = applier();
    await a.apply('iris', NS, renderDeployment(canary({ policy: 'hpa' }), options));
    await a.apply('wine', NS, renderDeployment({ deployment: 'wine', baseline: { ...revision(1, { policy: 'kpa' }), deployment: 'wine' } }, options));
    const promoted = await a.apply('iris', NS, renderDeployment({ deployment: 'iris', baseline: revision(2, { policy: 'hpa' }) }, options));
    expect(promoted.pruned.sort()).toEqual(
      [
        `Deployment ${NS}/iris-r1`,
        `Deployment ${NS}/iris-r1-control`,
        `Service ${NS}/iris-r1`,
        `Service ${NS}/iris-r1-control`,
        `PodDisruptionBudget ${NS}/iris-r1`,
        `PodDisruptionBudget ${NS}/iris-r1-control`,
      ].sort(),
    );
    expect([...recorder.objects.keys()].filter((k) => k.includes('iris-r1'))).toEqual([]);

    const deleted = await a.delete('iris', NS);
    expect(deleted).toHaveLength(5); // HPA, Deployment, Service, PDB, NetworkPolicy of revision 2
    expect(deleted[0]).toBe(`HorizontalPodAutoscaler ${NS}/iris`);
    expect([...recorder.objects.keys()].filter((k) => k.includes('/iris'))).toEqual([]);
    expect([...recorder.objects.keys()].filter((k) => k.includes('/wine')).length).toBeGreaterThan(0);
    const deletes = recorder.calls.filter((c) => c.method === 'DELETE');
    expect(deletes.every((c) => c.query['propagationPolicy'] === 'Background')).toBe(true);
  });

  it('reads replicas, conditions and events back from the cluster', async () => {
    const a = applier();
    await a.apply('iris', NS, renderDeployment({ deployment: 'iris', baseline: revision(1, { policy: 'hpa', minReplicas: 2 }) }, options));
    recorder.setStatus(`/apis/apps/v1/namespaces/${NS}/deployments/iris-r1`, {
      replicas: 3,
      readyReplicas: 2,
      updatedReplicas: 3,
      conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }],
    });
    recorder.setStatus(`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/iris`, {
      currentReplicas: 3,
      desiredReplicas: 4,
      conditions: [{ type: 'AbleToScale', status: 'True', reason: 'ScaleDownStabilized' }],
    });
    const event = (name: string, at: string, reason: string): Record<string, unknown> => ({
      metadata: { name: `${name}.${reason}` },
      involvedObject: { kind: 'Deployment', name },
      type: 'Normal',
      reason,
      message: `${reason} on ${name}`,
      lastTimestamp: at,
    });
    recorder.put(`/api/v1/namespaces/${NS}/events/e1`, event('iris-r1', '2026-01-01T00:00:02Z', 'ScalingReplicaSet'));
    recorder.put(`/api/v1/namespaces/${NS}/events/e0`, event('iris-r1', '2026-01-01T00:00:01Z', 'Created'));
    recorder.put(`/api/v1/namespaces/${NS}/events/e2`, event('other', '2026-01-01T00:00:03Z', 'Created'));

    const status = await a.status('iris', NS);
    expect(status.tracks).toEqual([
      { name: 'iris-r1', track: 'baseline', revision: 1, desiredReplicas: 3, readyReplicas: 2, updatedReplicas: 3, conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }] },
    ]);
    expect(status.autoscaler).toEqual({ kind: 'HorizontalPodAutoscaler', currentReplicas: 3, desiredReplicas: 4, conditions: [{ type: 'AbleToScale', status: 'True', reason: 'ScaleDownStabilized' }] });
    expect(status.events.map((e) => e.reason)).toEqual(['Created', 'ScalingReplicaSet']);
    expect(status.knative).toBeUndefined();
  });

  it('reconciles: applies a changed deployment once, records the cluster state and its new events as Continuum events, removes it', async () => {
    const events: { type: string; message: string }[] = [];
    const reconciler = new KubernetesReconciler({ applier: applier(), options, record: (_d, type, message) => events.push({ type, message }) });
    const status = { name: 'iris', revision: revision(1, { policy: 'hpa' }) };
    // Two syncs of the same state at once: the second waits for the first and finds nothing to do.
    expect(await Promise.all([reconciler.sync(status), reconciler.sync(status)])).toEqual(['applied', 'unchanged']);
    const patches = recorder.calls.filter((c) => c.method === 'PATCH').length;
    expect(await reconciler.sync({ ...status, revision: revision(2, { policy: 'hpa' }) })).toBe('applied');
    expect(recorder.calls.filter((c) => c.method === 'PATCH').length).toBe(2 * patches);
    expect(events.at(-1)?.message).toMatch(/^applied 5 objects to namespace ml, pruned .*iris-r1/);

    recorder.setStatus(`/apis/apps/v1/namespaces/${NS}/deployments/iris-r2`, { readyReplicas: 0, conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' }] });
    recorder.put(`/api/v1/namespaces/${NS}/events/e1`, { metadata: { name: 'e1' }, involvedObject: { kind: 'Deployment', name: 'iris-r2' }, reason: 'FailedCreate', message: 'quota exceeded', lastTimestamp: '2026-01-01T00:00:01Z' });
    await reconciler.observe('iris');
    await reconciler.observe('iris');
    const seen = events.filter((e) => e.message.startsWith('cluster:') || e.message.includes('FailedCreate'));
    expect(seen.map((e) => e.message)).toEqual(['cluster: iris-r2 0/0 ready; iris-r2 Available: MinimumReplicasUnavailable', 'Deployment/iris-r2 FailedCreate: quota exceeded']);
    expect(events.every((e) => e.type === 'kubernetes')).toBe(true);

    await reconciler.remove('iris');
    expect([...recorder.objects.keys()].filter((k) => !k.includes('/events/'))).toEqual([]);
  });

  it('cleans up on a cluster without KEDA or Knative, whose APIs it is not served', async () => {
    await recorder.close();
    recorder = await KubeRecorder.start({ keda: false, knative: false });
    const a = applier();
    await a.apply('iris', NS, renderDeployment({ deployment: 'iris', baseline: revision(1, { policy: 'predictive' }) }, options));
    expect(await a.delete('iris', NS)).toHaveLength(5);
    expect(recorder.objects.size).toBe(0);
  });
});

/** `--flag value` pairs of a rendered container's args. */
function flagsOf(args: readonly string[] | undefined): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i + 1 < (args ?? []).length; i += 2) flags[(args?.[i] ?? '').replace(/^--/, '')] = args?.[i + 1] ?? '';
  return flags;
}

describe('one deployment spec on the local target and rendered for Kubernetes', () => {
  it('has the same replica bounds, target and probes, and the rendered pod commands fetch, verify and serve the same answers', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'continuum-k8s-e2e-'));
    const server = await startServer({ port: 0, grpcPort: 0, dataDir, logLevel: 'silent', mqtt: false });
    try {
      // The demo deployment (policy auto) serves through a local replica process.
      const local = await inferJson(server.url, 'iris', DEMO_REQUEST);
      expect(local.status).toBe(200);
      const status = (await api<DeploymentStatus>(server.url, 'GET', '/deployments/iris')).body;
      const objects = renderDeployment(renderInputOf(status), compileKubernetesOptions({ namespace: NS, controlPlaneUrl: server.url }));

      // `continuum k8s render` prints these very objects as YAML (the NetworkPolicy's `from` included).
      const yaml = await cliAgainst(server.url)('k8s', 'render', 'iris', '--namespace', NS, '--control-plane-url', server.url);
      expect(loadAll(yaml)).toEqual(JSON.parse(JSON.stringify(objects)));

      const scaled = objects.find((o) => o.kind === 'ScaledObject');
      expect(scaled?.kind === 'ScaledObject' ? [scaled.spec.minReplicaCount, scaled.spec.maxReplicaCount] : undefined).toEqual([status.policy['minReplicas'], status.policy['maxReplicas']]);
      expect(scaled?.kind === 'ScaledObject' ? scaled.spec.triggers[0]?.metadata['threshold'] : undefined).toBe(String(status.policy['targetConcurrency']));
      expect(scaled?.kind === 'ScaledObject' ? scaled.spec.cooldownPeriod * 1000 : undefined).toBe(status.policy['scaleToZeroGraceMs']);

      const pod = objects.find((o) => o.kind === 'Deployment')?.spec?.template.spec;
      const fetch = flagsOf(pod?.initContainers?.[0]?.args);
      const run = flagsOf(pod?.containers[0]?.args);
      const modelFile = join(dataDir, 'pod-model.onnx');
      // The init container's command against the real control plane: the artifact arrives and its digest checks out.
      const { bytes } = await fetchModel({ url: fetch['url'] ?? '', sha256: fetch['sha256'] ?? '', out: modelFile });
      expect(bytes).toBeGreaterThan(0);
      const wrong = await fetchModel({ url: fetch['url'] ?? '', sha256: '0'.repeat(64), out: join(dataDir, 'other.onnx') }).catch((e: unknown) => e);
      expect((wrong as ContinuumError).code).toBe('CONTINUUM_ERR_DIGEST_MISMATCH');

      // The runtime container's command (on a free port instead of the pod's 8080) answers the probes and the request as the local replica did.
      const replica = await startPodReplica({
        modelFile,
        model: run['model'] ?? '',
        version: run['version'] ?? '',
        sha256: run['sha256'] ?? '',
        host: '127.0.0.1',
        port: 0,
        runtime: JSON.parse(run['runtime'] ?? '{}') as Record<string, unknown>,
      });
      try {
        for (const probe of [pod?.containers[0]?.readinessProbe, pod?.containers[0]?.livenessProbe, pod?.containers[0]?.startupProbe]) {
          const res = await request(`${replica.url}${probe?.httpGet?.path ?? '/missing'}`);
          await res.body.dump();
          expect(res.statusCode).toBe(200);
        }
        const remote = await inferJson(replica.url, run['model'] ?? '', DEMO_REQUEST);
        expect(remote.status).toBe(200);
        expect(remote.body.outputs).toEqual(local.body.outputs);
      } finally {
        await replica.close();
      }
    } finally {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('deploy/continuum.yaml (the control plane)', () => {
  const docs = loadAll(readFileSync(new URL('../deploy/continuum.yaml', import.meta.url), 'utf8')) as { kind: string; apiVersion: string }[];

  it('validates against the Kubernetes schemas', () => {
    const models: Record<string, new (data: never) => { validate(): void }> = { Namespace, ServiceAccount, Role, RoleBinding, PersistentVolumeClaim, Deployment, Service };
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'PersistentVolumeClaim', 'Deployment', 'Service']);
    for (const doc of docs) {
      const Model = models[doc.kind];
      expect(Model, doc.kind).toBeDefined();
      if (Model !== undefined) expect(() => new Model(doc as never).validate(), doc.kind).not.toThrow();
    }
  });

  it('lets the control plane patch, list and delete every kind the applier manages, and carries the labels replicas admit', () => {
    const role = docs.find((d) => d.kind === 'Role') as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
    const resource: Record<string, string> = {
      'autoscaling/v2 HorizontalPodAutoscaler': 'horizontalpodautoscalers',
      'keda.sh/v1alpha1 ScaledObject': 'scaledobjects',
      'serving.knative.dev/v1 Service': 'services',
      'apps/v1 Deployment': 'deployments',
      'v1 Service': 'services',
      'policy/v1 PodDisruptionBudget': 'poddisruptionbudgets',
      'networking.k8s.io/v1 NetworkPolicy': 'networkpolicies',
    };
    for (const { apiVersion, kind } of MANAGED_KINDS) {
      const group = apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '';
      const rule = role.rules.find((r) => r.apiGroups.includes(group) && r.resources.includes(resource[`${apiVersion} ${kind}`] ?? '?'));
      expect(rule?.verbs, `${apiVersion} ${kind}`).toEqual(expect.arrayContaining(['get', 'list', 'patch', 'delete']));
    }
    const controlPlane = docs.find((d) => d.kind === 'Deployment') as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } };
    expect(controlPlane.spec.template.metadata.labels).toEqual(compileKubernetesOptions({}).gatewayLabels);
  });
});
