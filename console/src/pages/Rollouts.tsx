/**
 * Rollouts: `/rollouts` lists them and starts one (strategy, steps, bake, analysis interval);
 * `/rollouts/{id}` shows its progress (step, traffic, verdicts with each check's detail) and the
 * manual commands promote, pause, resume and abort (roll back).
 */
import { useState } from 'react';
import type { FormEvent } from 'react';
import { useAction } from '../action.js';
import { api, seg } from '../api.js';
import { trafficRule, when } from '../format.js';
import { usePoll } from '../poll.js';
import { Link, navigate } from '../router.js';
import type { DeploymentStatus, ModelDetail, Rollout } from '../wire.js';
import { rolloutFinished } from '../wire.js';
import { Badge, ErrorNote, Facts } from '../components/ui.js';

const STRATEGIES = ['canary', 'blue-green', 'shadow', 'ab'] as const;
type Strategy = (typeof STRATEGIES)[number];

/** Seconds typed in a form as milliseconds; blank stays unset (the server's default). */
function secondsToMs(text: string): number | undefined {
  return text.trim() === '' ? undefined : Math.round(Number(text) * 1000);
}

/** The form that starts a rollout. */
function StartForm({ deployments, initial }: { readonly deployments: readonly DeploymentStatus[]; readonly initial: string }) {
  const [deployment, setDeployment] = useState(initial);
  const [ref, setRef] = useState('');
  const [strategy, setStrategy] = useState<Strategy>('canary');
  const [steps, setSteps] = useState('5, 25, 50, 100');
  const [bake, setBake] = useState('30');
  const [interval, setIntervalText] = useState('5');
  const action = useAction();
  const chosen = deployments.find((d) => d.name === deployment) ?? deployments[0];
  const model = chosen?.revision.spec.model;
  const versions = usePoll(() => (model === undefined ? Promise.resolve(undefined) : api<ModelDetail>('GET', `/models/${seg(model)}`)), 3000, model ?? '');
  const others = (versions.data?.versions ?? []).map((v) => v.version).filter((v) => v !== chosen?.revision.spec.version);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (chosen === undefined) return;
    await action.run(async () => {
      const body = {
        deployment: chosen.name,
        ref: ref === '' ? others.at(-1) : ref,
        strategy,
        // Steps are a canary's; the other strategies have their own shape (docs/rollouts.md).
        ...(strategy === 'canary' ? { steps: steps.split(',').map((s) => Number(s.trim())) } : {}),
        bakeMs: secondsToMs(bake),
        analysisIntervalMs: secondsToMs(interval),
      };
      const started = await api<Rollout>('POST', '/rollouts', { json: body });
      navigate(`/rollouts/${started.id}`);
    });
  };

  return (
    <form className="panel form" onSubmit={(e) => void submit(e)} aria-label="Start a rollout">
      <h2>Start a rollout</h2>
      <label>
        deployment
        <select name="deployment" value={chosen?.name ?? ''} onChange={(e) => setDeployment(e.target.value)}>
          {deployments.map((d) => (
            <option key={d.name}>{d.name}</option>
          ))}
        </select>
      </label>
      <label>
        candidate version
        <select name="ref" value={ref} onChange={(e) => setRef(e.target.value)}>
          <option value="">{others.length === 0 ? 'no other version: upload one' : `newest (${others.at(-1) ?? ''})`}</option>
          {others.map((v) => (
            <option key={v}>{v}</option>
          ))}
        </select>
      </label>
      <label>
        strategy
        <select name="strategy" value={strategy} onChange={(e) => setStrategy(e.target.value as Strategy)}>
          {STRATEGIES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      {strategy === 'canary' && (
        <label>
          steps <span className="muted">(% of traffic)</span>
          <input name="steps" value={steps} onChange={(e) => setSteps(e.target.value)} required />
        </label>
      )}
      <div className="row">
        <label>
          bake (s)
          <input name="bake" type="number" min={0} step="any" value={bake} onChange={(e) => setBake(e.target.value)} />
        </label>
        <label>
          analysis interval (s)
          <input name="interval" type="number" min={0} step="any" value={interval} onChange={(e) => setIntervalText(e.target.value)} />
        </label>
      </div>
      <button type="submit" disabled={action.busy || chosen === undefined || others.length === 0}>
        Start rollout
      </button>
      {action.error !== undefined && <ErrorNote error={action.error} />}
    </form>
  );
}

/** `/rollouts`. */
export function RolloutList() {
  const rollouts = usePoll(() => api<{ rollouts: Rollout[] }>('GET', '/rollouts'), 2000, 'rollouts');
  const deployments = usePoll(() => api<{ deployments: DeploymentStatus[] }>('GET', '/deployments'), 5000, 'deployments');
  const initial = new URLSearchParams(location.search).get('deployment') ?? '';
  return (
    <div className="page">
      <h1>Rollouts</h1>
      {rollouts.error !== undefined && <ErrorNote error={rollouts.error} />}
      <section className="panel">
        <div className="scroll">
          <table>
            <thead>
              <tr>
                <th>#</th>
                <th>deployment</th>
                <th>versions</th>
                <th>strategy</th>
                <th>status</th>
                <th>step</th>
                <th>started</th>
              </tr>
            </thead>
            <tbody>
              {(rollouts.data?.rollouts ?? []).map((r) => (
                <tr key={r.id}>
                  <td>
                    <Link to={`/rollouts/${r.id}`}>#{r.id}</Link>
                  </td>
                  <td>{r.deployment}</td>
                  <td>
                    {r.baselineVersion} → {r.candidateVersion}
                  </td>
                  <td>{r.strategy}</td>
                  <td>
                    <Badge value={r.state.status} />
                  </td>
                  <td>{r.step}</td>
                  <td>{when(r.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {rollouts.data?.rollouts.length === 0 && <p className="muted">No rollouts yet.</p>}
      </section>
      {deployments.data !== undefined && <StartForm deployments={deployments.data.deployments} initial={initial} />}
    </div>
  );
}

/** `/rollouts/{id}`. */
export function RolloutPage({ id }: { readonly id: string }) {
  const rollout = usePoll(() => api<Rollout>('GET', `/rollouts/${seg(id)}`), 1000, id);
  const r = rollout.data;
  const deployment = usePoll(() => (r === undefined ? Promise.resolve(undefined) : api<DeploymentStatus>('GET', `/deployments/${seg(r.deployment)}`)), 1000, r?.deployment ?? '');
  const action = useAction();
  const busy = action.busy;

  const command = (name: 'promote' | 'pause' | 'resume' | 'abort'): Promise<void> =>
    action.run(async () => {
      await api<Rollout>('POST', `/rollouts/${seg(id)}/${name}`);
      rollout.refresh();
    });

  const finished = r === undefined || rolloutFinished(r.state.status);
  const traffic = deployment.data?.candidate?.traffic;
  return (
    <div className="page">
      <h1>Rollout #{id}</h1>
      {rollout.error !== undefined && <ErrorNote error={rollout.error} />}
      {r !== undefined && (
        <>
          <section className="panel">
            <Facts
              items={[
                ['deployment', <Link key="d" to={`/deployments/${encodeURIComponent(r.deployment)}`}>{r.deployment}</Link>],
                ['versions', `${r.baselineVersion} → ${r.candidateVersion}`],
                ['strategy', r.strategy],
                ['status', <span key="s" data-testid="rollout-status"><Badge value={r.state.status} /></span>],
                ['reason', r.state.reason],
                ['step', `${Math.min(r.state.stepIndex + 1, r.spec.steps.length)} of ${r.spec.steps.length}: ${r.step} (${r.state.phase})`],
                ['traffic', traffic === undefined ? (finished ? '–' : 'all traffic to production') : trafficRule(traffic)],
                ['started', when(r.createdAt)],
              ]}
            />
            <progress max={r.spec.steps.length} value={r.state.status === 'succeeded' ? r.spec.steps.length : r.state.stepIndex} />
            <div className="actions">
              <button type="button" disabled={finished || busy} onClick={() => void command('promote')}>
                Promote
              </button>
              <button type="button" disabled={finished || busy || r.state.status === 'paused'} onClick={() => void command('pause')}>
                Pause
              </button>
              <button type="button" disabled={finished || busy || r.state.status !== 'paused'} onClick={() => void command('resume')}>
                Resume
              </button>
              <button type="button" className="danger" disabled={finished || busy} onClick={() => void command('abort')}>
                Abort (roll back)
              </button>
            </div>
            {action.error !== undefined && <ErrorNote error={action.error} />}
          </section>
          <section className="panel">
            <h2>Verdicts</h2>
            {(r.verdicts ?? []).length === 0 && <p className="muted">No analysis yet.</p>}
            {[...(r.verdicts ?? [])].reverse().map((v) => (
              <article key={v.at} className="verdict">
                <h3>
                  <Badge value={v.verdict.outcome} /> step {v.step} <time>{when(v.at)}</time>
                </h3>
                <ul className="plain">
                  {v.verdict.checks.map((c) => (
                    <li key={c.name}>
                      <Badge value={c.outcome} /> <strong>{c.name}</strong>: {c.detail}
                    </li>
                  ))}
                </ul>
              </article>
            ))}
          </section>
        </>
      )}
    </div>
  );
}
