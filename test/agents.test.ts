/**
 * Edge agents end to end (docs/agents.md): a control plane (`continuum serve`) in the root
 * namespace, an edge node and a cloud node each in its own network namespace running `continuum
 * agent`, joined through link relays with their tier's round trip (edge 8.5 ms, cloud 241.9 ms)
 * to the node API over HTTPS, the control plane's certificate pinned by its fingerprint.
 * Every process is real; the control plane and an agent are killed with SIGKILL, as a power cut
 * or a crash would.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinnedDispatcher } from '../src/agent/index.js';
import type { AgentStatus, NodeView } from '../src/agent/index.js';
import type { DeploymentStatus } from '../src/deploy/index.js';
import { buildIdentity } from '../src/onnx/build.js';
import { cliAgainst, runCli } from './support/cli-process.js';
import type { CliProcess } from './support/cli-process.js';
import { api, inferJson, pushModel, until } from './support/http.js';
import { emulateNode, namespaceSkipReason, startAgent } from './support/netns.js';
import type { AgentProcess, EmulatedNode } from './support/netns.js';
import { freePort } from '../bench/processes.js';

const skipReason = namespaceSkipReason();
if (skipReason !== undefined) process.stderr.write(`agents.test.ts skipped: ${skipReason}\n`);

/** How long the control plane stays down while the edge is loaded (the target is 10 minutes: CONTINUUM_OFFLINE_MS=600000). */
const OFFLINE_MS = Number(process.env['CONTINUUM_OFFLINE_MS'] ?? 5000);

const REQUEST = { inputs: [{ name: 'in_0', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };
const AGENT_FLAGS = ['--sync-interval-ms', '300', '--heartbeat-interval-ms', '300', '--metrics-interval-ms', '1000', '--warm-pool', '0'];


/** Sends inferences one after another until `stop` resolves; counts answers and failures (any non-200 or error). */
async function load(endpoint: string, stop: Promise<void>): Promise<{ ok: number; failed: number; errors: string[] }> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  const result = { ok: 0, failed: 0, errors: [] as string[] };
  while (!stopped) {
    try {
      const answer = await inferJson(endpoint, 'ident', REQUEST);
      if (answer.status === 200 && answer.body.outputs?.[0]?.data.join(',') === '1,2,3,4') result.ok += 1;
      else {
        result.failed += 1;
        result.errors.push(`${answer.status} ${JSON.stringify(answer.body)}`);
      }
    } catch (err) {
      result.failed += 1;
      result.errors.push(String(err));
    }
  }
  return result;
}

/**
 * Waits until the control plane holds every record the node's agent had spooled when it found the
 * control plane again (heartbeats keep coming, so the spool itself is rarely seen empty over a slow
 * link); returns the node as the control plane then shows it.
 */
async function delivered(serverUrl: string, node: EmulatedNode): Promise<NodeView> {
  const online = await until(`${node.name} back online`, () => agentStatus(node), (s) => s?.online === true, 30_000);
  const spooled = online?.spool.lastSeq ?? Infinity;
  return until(`${node.name}'s spool delivered`, async () => (await api<NodeView>(serverUrl, 'GET', `/nodes/${node.name}`)).body, (v) => v.telemetry.lastSeq >= spooled, 60_000);
}

async function agentStatus(node: EmulatedNode): Promise<AgentStatus | undefined> {
  try {
    const res = await request(`${node.endpoint}/agent/status`);
    return res.statusCode === 200 ? ((await res.body.json()) as AgentStatus) : undefined;
  } catch {
    return undefined;
  }
}

/** GET /agent/v1/desired over the pinned TLS connection with a node credential: the status and error code the control plane answers. */
async function pullWith(nodeApiUrl: string, fingerprint: string, credential: string): Promise<{ status: number; code?: string }> {
  const res = await request(`${nodeApiUrl}/agent/v1/desired?generation=0`, { headers: { authorization: `Bearer ${credential}` }, dispatcher: pinnedDispatcher(fingerprint) });
  const body = (await res.body.json()) as { code?: string };
  return { status: res.statusCode, ...(body.code === undefined ? {} : { code: body.code }) };
}

function credentialIn(stateDir: string): string {
  return (JSON.parse(readFileSync(join(stateDir, 'identity.json'), 'utf8')) as { credential: string }).credential;
}

describe.skipIf(skipReason !== undefined)('edge agents in network namespaces', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctm-agents-'));
  const dataDir = join(dir, 'control-plane');
  let port = 0;
  let agentPort = 0;
  let serverUrl = '';
  let fingerprint = '';
  let server: CliProcess | undefined;
  const nodes: EmulatedNode[] = [];
  const agents = new Map<string, AgentProcess>();
  const stateDir = (name: string): string => join(dir, name);

  async function startControlPlane(): Promise<void> {
    server = runCli(['serve', '--port', String(port), '--agent-port', String(agentPort), '--grpc-port', '0', '--no-mqtt', '--no-demo', '--no-console', '--data-dir', dataDir, '--autoscaler-tick-ms', '200']);
    await server.waitFor(/serving at/);
    fingerprint = (await server.waitFor(/certificate (sha256:[0-9a-f]{64})/))[1] ?? '';
  }

  function edge(): EmulatedNode {
    return nodes[0] as EmulatedNode;
  }

  beforeAll(async () => {
    port = await freePort();
    agentPort = await freePort();
    serverUrl = `http://127.0.0.1:${port}`;
    await startControlPlane();
    nodes.push(await emulateNode('edge-1', 'edge', 1, agentPort), await emulateNode('cloud-1', 'cloud', 2, agentPort));
    await pushModel(serverUrl, 'ident', buildIdentity([{ datatype: 'FP32', shape: ['batch', 4] }]));
  });

  afterAll(async () => {
    for (const a of agents.values()) a.child.kill('SIGKILL');
    server?.child.kill('SIGKILL');
    await Promise.all([...agents.values()].map((a) => a.exited));
    await server?.exited;
    await Promise.all(nodes.map((n) => n.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the node API over TLS only, and a client pinning another certificate is refused before it sends anything', async () => {
    const nodeApi = `https://127.0.0.1:${agentPort}`;
    expect((await pullWith(nodeApi, fingerprint, 'ctmn_edge-1.not-a-credential')).status).toBe(401);
    await expect(pullWith(nodeApi, `sha256:${'0'.repeat(64)}`, 'ctmn_edge-1.not-a-credential')).rejects.toThrow(/not the pinned one/);
    expect((await request(`${serverUrl}/agent/v1/desired`)).statusCode).toBe(404);
  });

  it('joins a node per namespace through its link with a single-use token, and lists its measured facts', async () => {
    const cli = cliAgainst(serverUrl);
    for (const node of nodes) {
      const joinToken = JSON.parse(await cli('nodes', 'join-token', '--json')) as { token: string; fingerprint: string };
      expect(joinToken.fingerprint).toBe(fingerprint);
      // The cloud node's spool is kept tiny so that, offline, it must drop records (and count them).
      const spool = node.tier === 'cloud' ? ['--spool-max-records', '5'] : [];
      agents.set(
        node.name,
        startAgent(node, stateDir(node.name), ['--join', `https://${node.uplink}`, '--token', joinToken.token, '--fingerprint', joinToken.fingerprint, '--name', node.name, '--tier', node.tier, '--site', `${node.tier}-site`, ...AGENT_FLAGS, ...spool]),
      );
    }
    const listed = await until(
      'both nodes ready',
      async () => (await api<{ nodes: NodeView[] }>(serverUrl, 'GET', '/nodes')).body.nodes,
      (list) => list.length === 2 && list.every((n) => n.status === 'ready'),
      60_000,
    );
    for (const node of listed) {
      expect(node.facts.tier).toBe(node.name.startsWith('edge') ? 'edge' : 'cloud');
      expect(node.facts.cores).toBeGreaterThan(0);
      expect(node.facts.memoryBytes).toBeGreaterThan(0);
      expect(node.facts.speedScore).toBeGreaterThan(0);
    }
    const text = await cli('nodes', 'list');
    expect(text).toMatch(/edge-1\s+edge\s+edge-site\s+ready/);
  }, 120_000);

  it('places a deployment on the chosen node: the control plane routes to it, and clients at the edge reach it directly', async () => {
    const created = await api<DeploymentStatus>(serverUrl, 'POST', '/deployments', { model: 'ident', policy: { policy: 'fixed', replicas: 1 }, placement: { node: 'edge-1' } });
    expect(created.status).toBe(201);
    await until('the deployment ready on edge-1', async () => (await api<DeploymentStatus>(serverUrl, 'GET', '/deployments/ident')).body, (d) => d.replicas.some((r) => r.phase === 'ready'), 30_000);
    const viaControlPlane = await inferJson(serverUrl, 'ident', REQUEST);
    expect(viaControlPlane.status).toBe(200);
    expect(viaControlPlane.body.outputs?.[0]?.data).toEqual([1, 2, 3, 4]);
    const atEdge = await inferJson(edge().endpoint, 'ident', REQUEST);
    expect(atEdge.status).toBe(200);
    const [edgeView, cloudView] = await Promise.all(['edge-1', 'cloud-1'].map(async (n) => (await api<NodeView>(serverUrl, 'GET', `/nodes/${n}`)).body));
    expect(edgeView?.desired.map((r) => [r.deployment, r.count])).toEqual([['ident', 1]]);
    expect(cloudView?.desired).toEqual([]);
    expect((await agentStatus(nodes[1] as EmulatedNode))?.replicas).toEqual([]);
    // A node that never joined is refused before a revision names it.
    const nowhere = await api<{ code: string }>(serverUrl, 'POST', '/deployments', { name: 'nowhere', model: 'ident', placement: { node: 'mars-1' } });
    expect([nowhere.status, nowhere.body.code]).toEqual([404, 'CONTINUUM_ERR_NODE_NOT_FOUND']);
  });

  it('rolls a new revision onto the node without a failed inference at the edge; the old one stops once the new one serves', async () => {
    let stopLoad = (): void => undefined;
    const loading = load(edge().endpoint, new Promise<void>((r) => (stopLoad = r)));
    const changed = await api<DeploymentStatus>(serverUrl, 'PATCH', '/deployments/ident', { runtime: { maxBatchSize: 8 } });
    expect(changed.body.revision.revision).toBe(2);
    await until('only revision 2 on the edge', () => agentStatus(edge()), (s) => s !== undefined && s.replicas.length === 1 && s.replicas.every((r) => r.revision === 2 && r.phase === 'ready'), 30_000);
    stopLoad();
    const during = await loading;
    expect(during.errors).toEqual([]);
    expect(during.ok).toBeGreaterThan(0);
  });

  it('serves at the edge with no failed inference while the control plane is killed, and after the agent restarts offline', async () => {
    let stopLoad = (): void => undefined;
    const loading = load(edge().endpoint, new Promise<void>((r) => (stopLoad = r)));
    await new Promise((r) => setTimeout(r, 500));
    server?.child.kill('SIGKILL');
    await server?.exited;
    await until('the edge agent to notice', () => agentStatus(edge()), (s) => s?.online === false, 10_000);
    await new Promise((r) => setTimeout(r, OFFLINE_MS));
    stopLoad();
    const offline = await loading;
    if (process.env['CONTINUUM_OFFLINE_MS'] !== undefined) process.stderr.write(`edge with the control plane down for ${OFFLINE_MS} ms: ${offline.ok} answered, ${offline.failed} failed\n`);
    expect(offline.errors).toEqual([]);
    expect(offline.ok).toBeGreaterThan(10);

    // A crash of the agent itself, with the control plane still down: it comes back serving from disk.
    const edgeAgent = agents.get('edge-1') as AgentProcess;
    edgeAgent.child.kill('SIGKILL');
    await edgeAgent.exited;
    agents.set('edge-1', startAgent(edge(), stateDir('edge-1'), AGENT_FLAGS));
    await until('the restarted agent to serve', () => inferJson(edge().endpoint, 'ident', REQUEST).catch(() => undefined), (a) => a?.status === 200, 30_000);
    let stopAgain = (): void => undefined;
    const again = load(edge().endpoint, new Promise<void>((r) => (stopAgain = r)));
    await new Promise((r) => setTimeout(r, 1500));
    stopAgain();
    const restarted = await again;
    expect(restarted.errors).toEqual([]);
    expect((await agentStatus(edge()))?.online).toBe(false);
  }, OFFLINE_MS + 60_000);

  it('reconciles once the control plane is back: every telemetry record spooled offline is delivered, or counted as dropped by a full spool', async () => {
    await startControlPlane();
    const view = await delivered(serverUrl, edge());
    expect(view.telemetry.missing).toBe(0);
    expect(view.telemetry.droppedByAgent).toBe(0);
    // Every sequence number from the first is accounted for: received once each, none lost.
    expect(view.telemetry.received).toBe(view.telemetry.lastSeq);
    // The cloud node's 5-record spool overflowed while offline: whatever never arrived was dropped, and counted
    // (a record dropped while its upload was already under way may still arrive, so missing <= dropped).
    const cloudView = await delivered(serverUrl, nodes[1] as EmulatedNode);
    expect(cloudView.telemetry.droppedByAgent).toBeGreaterThan(0);
    expect(cloudView.telemetry.missing).toBeGreaterThan(0);
    expect(cloudView.telemetry.missing).toBeLessThanOrEqual(cloudView.telemetry.droppedByAgent);
    expect(cloudView.telemetry.received + cloudView.telemetry.missing).toBe(cloudView.telemetry.lastSeq);
    const events = (await api<{ records: { body: { type: string } }[] }>(serverUrl, 'GET', '/nodes/edge-1/telemetry?kind=event&limit=1000')).body.records.map((r) => r.body.type);
    expect(events).toEqual(expect.arrayContaining(['control-plane-unreachable', 'agent-started', 'control-plane-reachable']));
    await until('the deployment ready again', async () => (await api<DeploymentStatus>(serverUrl, 'GET', '/deployments/ident')).body, (d) => d.replicas.some((r) => r.phase === 'ready'), 30_000);
    expect((await inferJson(serverUrl, 'ident', REQUEST)).status).toBe(200);
  }, 120_000);

  it('rotates a node credential: the agent takes the new one and the old one is refused', async () => {
    const old = credentialIn(stateDir('edge-1'));
    await cliAgainst(serverUrl)('nodes', 'rotate', 'edge-1');
    await until('the rotation to complete', async () => (await api<NodeView>(serverUrl, 'GET', '/nodes/edge-1')).body, (n) => !n.rotationPending && credentialIn(stateDir('edge-1')) !== old, 20_000);
    const fresh = credentialIn(stateDir('edge-1'));
    expect(await pullWith(`https://127.0.0.1:${agentPort}`, fingerprint, old)).toEqual({ status: 401, code: 'CONTINUUM_ERR_UNAUTHENTICATED' });
    expect((await pullWith(`https://127.0.0.1:${agentPort}`, fingerprint, fresh)).status).toBe(200);
    const seen = (await api<NodeView>(serverUrl, 'GET', '/nodes/edge-1')).body.telemetry.lastSeq;
    await until('heartbeats with the new credential', async () => (await api<NodeView>(serverUrl, 'GET', '/nodes/edge-1')).body.telemetry.lastSeq, (seq) => seq > seen, 10_000);
  });

  it('refuses a revoked node: its agent stops and its credential gets 403', async () => {
    const cloud = agents.get('cloud-1') as AgentProcess;
    const credential = credentialIn(stateDir('cloud-1'));
    await cliAgainst(serverUrl)('nodes', 'revoke', 'cloud-1');
    expect(await cloud.exited).toBe(3);
    expect(cloud.output()).toMatch(/revoked/);
    expect(await pullWith(`https://127.0.0.1:${agentPort}`, fingerprint, credential)).toEqual({ status: 403, code: 'CONTINUUM_ERR_NODE_REVOKED' });
    const view = (await api<NodeView>(serverUrl, 'GET', '/nodes/cloud-1')).body;
    expect(view.status).toBe('revoked');
    // The edge node is untouched.
    expect((await inferJson(edge().endpoint, 'ident', REQUEST)).status).toBe(200);
  });
});
