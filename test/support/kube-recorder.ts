/**
 * A small HTTP server that speaks enough of the Kubernetes API for @kubernetes/client-node's
 * KubernetesObjectApi — API discovery, PATCH (server-side apply), GET (one object, or a collection
 * by equality label selector), DELETE — keeps the objects it was given, records every call, and
 * answers with injected faults (409, 500, ...) when told. It is not a cluster: nothing runs, no
 * controller fills status (tests set status themselves), no admission, no field ownership.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/** One recorded API call. */
export interface RecordedCall {
  readonly method: string;
  /** The path without the query. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly contentType: string | undefined;
  readonly body: unknown;
  /** The status the recorder answered. */
  readonly status: number;
}

interface Resource {
  readonly name: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

/** The API groups and resources the recorder serves; KEDA's and Knative's only when their CRDs are "installed". */
function discovery(crds: { keda: boolean; knative: boolean }): Map<string, Resource[]> {
  const groups = new Map<string, Resource[]>([
    [
      '/api/v1',
      [
        { name: 'services', kind: 'Service', namespaced: true },
        { name: 'events', kind: 'Event', namespaced: true },
      ],
    ],
    ['/apis/apps/v1', [{ name: 'deployments', kind: 'Deployment', namespaced: true }]],
    ['/apis/autoscaling/v2', [{ name: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', namespaced: true }]],
    ['/apis/policy/v1', [{ name: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true }]],
    ['/apis/networking.k8s.io/v1', [{ name: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true }]],
  ]);
  if (crds.keda) groups.set('/apis/keda.sh/v1alpha1', [{ name: 'scaledobjects', kind: 'ScaledObject', namespaced: true }]);
  if (crds.knative) groups.set('/apis/serving.knative.dev/v1', [{ name: 'services', kind: 'Service', namespaced: true }]);
  return groups;
}

interface Fault {
  readonly method: string;
  readonly path: RegExp;
  readonly status: number;
  remaining: number;
}

type Obj = Record<string, unknown> & { metadata?: { name?: string; labels?: Record<string, string> } };

/** A running recorder; see the module comment. */
export class KubeRecorder {
  readonly calls: RecordedCall[] = [];
  /** Stored objects by their item path (`/apis/apps/v1/namespaces/ml/deployments/iris-r1`). */
  readonly objects = new Map<string, Obj>();
  private readonly faults: Fault[] = [];
  private readonly groups: Map<string, Resource[]>;

  private constructor(
    private readonly server: Server,
    crds: { keda: boolean; knative: boolean },
  ) {
    this.groups = discovery(crds);
  }

  /** Starts a recorder on a free loopback port. */
  static async start(crds: { keda: boolean; knative: boolean } = { keda: true, knative: true }): Promise<KubeRecorder> {
    let recorder: KubeRecorder | undefined;
    const server = createServer((req, res) => {
      recorder?.handle(req, res).catch((err: unknown) => {
        res.writeHead(500).end(String(err));
      });
    });
    recorder = new KubeRecorder(server, crds);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return recorder;
  }

  /** Base URL of the API server. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A KubeConfig whose current context points at the recorder (namespace `namespace`). */
  kubeConfig(namespace: string): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'recorder', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'continuum', token: 'recorder-token' }],
      contexts: [{ name: 'recorder', cluster: 'recorder', user: 'continuum', namespace }],
      currentContext: 'recorder',
    });
    return kc;
  }

  /** Answers the next `count` calls of `method` whose path matches with `status` (a Kubernetes Status body). */
  failNext(method: string, path: RegExp, status: number, count = 1): void {
    this.faults.push({ method, path, status, remaining: count });
  }

  /** Sets an object's status, as a controller would. */
  setStatus(path: string, status: unknown): void {
    const found = this.objects.get(path);
    if (found === undefined) throw new Error(`no object at ${path}`);
    found['status'] = status;
  }

  /** Stores an object as if someone else had made it (events, for instance). */
  put(path: string, object: Obj): void {
    this.objects.set(path, object);
  }

  /** The calls other than discovery, as "METHOD path". */
  requests(): string[] {
    return this.calls.filter((c) => !this.groups.has(c.path)).map((c) => `${c.method} ${c.path}`);
  }

  /** Stops the server. */
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const body: unknown = text === '' ? undefined : JSON.parse(text);
    const answer = (status: number, payload: unknown): void => {
      this.calls.push({ method, path, query: Object.fromEntries(url.searchParams), contentType: req.headers['content-type'], body, status });
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    };
    const statusBody = (code: number, reason: string, message: string): unknown => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });

    const fault = this.faults.find((f) => f.remaining > 0 && f.method === method && f.path.test(path));
    if (fault !== undefined) {
      fault.remaining -= 1;
      const reason = fault.status === 409 ? 'Conflict' : fault.status >= 500 ? 'InternalError' : 'Forbidden';
      const message = fault.status === 409 ? 'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.template.spec.containers[name="runtime"].image' : `injected ${fault.status}`;
      answer(fault.status, statusBody(fault.status, reason, message));
      return;
    }
    const group = this.groups.get(path);
    if (group !== undefined && method === 'GET') {
      answer(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: path.replace(/^\/apis?\//, ''), resources: group.map((r) => ({ ...r, singularName: '', verbs: ['get', 'list', 'patch', 'delete'] })) });
      return;
    }
    if (/^\/apis?\//.test(path) && [...this.groups.keys()].every((g) => !path.startsWith(`${g}/`))) {
      answer(404, statusBody(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const isCollection = this.isCollection(path);
    if (method === 'GET' && isCollection) {
      const wanted = (url.searchParams.get('labelSelector') ?? '').split(',').filter((p) => p !== '').map((p) => p.split('=') as [string, string]);
      const items = [...this.objects.entries()]
        .filter(([key]) => key.startsWith(`${path}/`) && !key.slice(path.length + 1).includes('/'))
        .map(([, o]) => o)
        .filter((o) => wanted.every(([k, v]) => o.metadata?.labels?.[k] === v));
      answer(200, { kind: 'List', apiVersion: 'v1', metadata: {}, items });
      return;
    }
    const stored = this.objects.get(path);
    switch (method) {
      case 'PATCH': {
        const applied = { ...(body as Obj), ...(stored?.['status'] === undefined ? {} : { status: stored['status'] }) };
        this.objects.set(path, applied);
        answer(stored === undefined ? 201 : 200, applied);
        return;
      }
      case 'GET':
        if (stored === undefined) answer(404, statusBody(404, 'NotFound', `${path} not found`));
        else answer(200, stored);
        return;
      case 'DELETE':
        if (stored === undefined) {
          answer(404, statusBody(404, 'NotFound', `${path} not found`));
          return;
        }
        this.objects.delete(path);
        answer(200, { kind: 'Status', apiVersion: 'v1', status: 'Success', metadata: {} });
        return;
      default:
        answer(405, statusBody(405, 'MethodNotAllowed', `${method} is not served here`));
    }
  }

  /** Whether `path` names a collection (`…/namespaces/ns/<resource>`) rather than one item. */
  private isCollection(path: string): boolean {
    for (const [group, resources] of this.groups) {
      for (const r of resources) {
        if (new RegExp(`^${group}/namespaces/[^/]+/${r.name}$`).test(path)) return true;
      }
    }
    return false;
  }
}
