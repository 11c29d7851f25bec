/**
 * Overview: the models in the registry, the deployments with their replicas, policy, mode and cost,
 * the rollouts in progress, and the nodes replicas run on (this machine: the local target).
 */
import { api, request } from '../api.js';
import { num, usd } from '../format.js';
import { usePoll } from '../poll.js';
import { Link } from '../router.js';
import type { DeploymentStatus, ModelSummary, Rollout, ServerMetadata } from '../wire.js';
import { rolloutFinished } from '../wire.js';
import { Badge, ErrorNote, Facts } from '../components/ui.js';

/** Ready replicas of a replica set. */
export function ready(set: { readonly replicas: readonly { readonly phase: string }[] }): number {
  return set.replicas.filter((r) => r.phase === 'ready').length;
}

/** The overview page. */
export function Overview() {
  const models = usePoll(() => api<{ models: ModelSummary[] }>('GET', '/models'), 3000, 'models');
  const deployments = usePoll(() => api<{ deployments: DeploymentStatus[] }>('GET', '/deployments'), 1000, 'deployments');
  const rollouts = usePoll(() => api<{ rollouts: Rollout[] }>('GET', '/rollouts'), 2000, 'rollouts');
  const server = usePoll(() => request<ServerMetadata>('GET', '/v2'), 60_000, 'server');
  const running = (rollouts.data?.rollouts ?? []).filter((r) => !rolloutFinished(r.state.status));
  const all = deployments.data?.deployments ?? [];
  const replicas = all.flatMap((d) => [...d.replicas, ...(d.candidate?.replicas ?? []), ...(d.candidate?.control?.replicas ?? [])]);
  const vcpu = all.reduce((sum, d) => sum + d.revision.spec.resources.vcpu * d.replicas.length, 0);
  const memoryGb = all.reduce((sum, d) => sum + d.revision.spec.resources.memoryGb * d.replicas.length, 0);

  return (
    <div className="page">
      <h1>Overview</h1>
      <section className="panel">
        <h2>Deployments</h2>
        {deployments.error !== undefined && <ErrorNote error={deployments.error} />}
        <div className="scroll">
          <table>
            <thead>
              <tr>
                <th>name</th>
                <th>model</th>
                <th>ready / desired</th>
                <th>policy</th>
                <th>mode</th>
                <th>cost</th>
              </tr>
            </thead>
            <tbody>
              {all.map((d) => (
                <tr key={d.name}>
                  <td>
                    <Link to={`/deployments/${encodeURIComponent(d.name)}`}>{d.name}</Link>
                    {d.candidate !== undefined && <Badge value="rollout" />}
                  </td>
                  <td>
                    {d.revision.spec.model}:{d.revision.spec.version}
                  </td>
                  <td>
                    {ready(d)} / {d.desiredReplicas}
                  </td>
                  <td>{String(d.policy['policy'])}</td>
                  <td>{d.mode}</td>
                  <td>{usd(d.cost.totalUsd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {deployments.data !== undefined && all.length === 0 && <p className="muted">No deployments yet: open a model and deploy one of its versions.</p>}
      </section>

      <section className="panel">
        <h2>Models</h2>
        {models.error !== undefined && <ErrorNote error={models.error} />}
        <div className="scroll">
          <table>
            <thead>
              <tr>
                <th>name</th>
                <th>versions</th>
                <th>default</th>
                <th>aliases</th>
              </tr>
            </thead>
            <tbody>
              {(models.data?.models ?? []).map((m) => (
                <tr key={m.name}>
                  <td>
                    <Link to={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link>
                  </td>
                  <td>{m.version_count}</td>
                  <td>{m.default_version ?? '–'}</td>
                  <td>
                    {Object.entries(m.aliases)
                      .map(([a, v]) => `${a} → ${v}`)
                      .join(', ') || '–'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p>
          <Link to="/models">Upload a model…</Link>
        </p>
      </section>

      <section className="panel">
        <h2>Rollouts in progress</h2>
        {running.length === 0 ? (
          <p className="muted">None.</p>
        ) : (
          <ul className="plain">
            {running.map((r) => (
              <li key={r.id}>
                <Link to={`/rollouts/${r.id}`}>
                  #{r.id} {r.deployment}: {r.baselineVersion} → {r.candidateVersion}
                </Link>{' '}
                <Badge value={r.state.status} /> {r.step}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="panel">
        <h2>Nodes</h2>
        <div className="node">
          <h3>
            local <span className="muted">this machine</span>
          </h3>
          <Facts
            items={[
              ['server', server.data === undefined ? '–' : `${server.data.name} ${server.data.version}`],
              ['replica processes', replicas.length],
              ['accounted vCPU', num(vcpu, 1)],
              ['accounted memory', `${num(memoryGb, 1)} GB`],
              ['OIP extensions', server.data?.extensions.join(', ') ?? '–'],
            ]}
          />
        </div>
      </section>
    </div>
  );
}
