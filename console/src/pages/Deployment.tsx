/**
 * `/deployments/{name}`: live charts from the autoscaler's history (polled every second):
 * throughput, latency, replicas against load, cost, and energy when measured; the policy with its
 * latest decisions; during a rollout the candidate and its traffic rule; and a try-it panel.
 */
import { useMemo } from 'react';
import uPlot from 'uplot';
import { api, seg } from '../api.js';
import { num, trafficRule, usd, when } from '../format.js';
import { usePoll } from '../poll.js';
import { Link } from '../router.js';
import type { DeploymentHistory, DeploymentStatus, HistoryPoint, Rollout } from '../wire.js';
import { rolloutFinished } from '../wire.js';
import { Chart } from '../components/Chart.js';
import type { SeriesSpec } from '../components/Chart.js';
import { TryIt } from '../components/TryIt.js';
import { Badge, ErrorNote, Facts } from '../components/ui.js';
import { ready } from './Overview.js';

type Pick = (p: HistoryPoint) => number | null;

/** Columns of `points`: x in epoch seconds, then one per pick. */
function table(points: readonly HistoryPoint[], picks: readonly Pick[]): uPlot.AlignedData {
  return [points.map((p) => p.atMs / 1000), ...picks.map((pick) => points.map(pick))];
}

/** Production's and (during a rollout) the candidate's columns on one time axis. */
function aligned(history: DeploymentHistory, base: readonly Pick[], candidate: readonly Pick[]): uPlot.AlignedData {
  const own = table(history.baseline, base);
  if (history.candidate === undefined || candidate.length === 0) return own;
  return uPlot.join([own, table(history.candidate, candidate)]);
}

const C = { prod: '#2f6fdf', prod2: '#7aa5f0', cand: '#e0731f', load: '#2a9d5b', grey: '#8a8a8a' };

/** The deployment page. */
export function DeploymentPage({ name }: { readonly name: string }) {
  const status = usePoll(() => api<DeploymentStatus>('GET', `/deployments/${seg(name)}`), 1000, name);
  const history = usePoll(() => api<DeploymentHistory>('GET', `/deployments/${seg(name)}/history`), 1000, name);
  const rollouts = usePoll(() => api<{ rollouts: Rollout[] }>('GET', `/rollouts?deployment=${seg(name)}`), 2000, name);
  const d = status.data;
  const h = history.data;
  const rollout = rollouts.data?.rollouts.find((r) => !rolloutFinished(r.state.status));
  const rolling = h?.candidate !== undefined;

  const charts = useMemo(() => {
    if (h === undefined) return [];
    const cand = (label: string, pick: Pick): { spec: SeriesSpec[]; picks: Pick[] } => (rolling ? { spec: [{ label, color: C.cand }], picks: [pick] } : { spec: [], picks: [] });
    const throughput = cand('candidate', (p) => p.throughputRps);
    const latency = cand('candidate p99', (p) => p.p99Ms);
    const cost = cand('candidate', (p) => p.costUsd);
    const list = [
      {
        id: 'throughput',
        title: 'Throughput',
        unit: 'req/s',
        series: [{ label: 'production', color: C.prod }, ...throughput.spec],
        data: aligned(h, [(p) => p.throughputRps], throughput.picks),
      },
      {
        id: 'latency',
        title: 'Latency',
        unit: 'ms',
        series: [{ label: 'p50', color: C.prod2 }, { label: 'p99', color: C.prod }, ...latency.spec],
        data: aligned(h, [(p) => p.p50Ms, (p) => p.p99Ms], latency.picks),
      },
      {
        id: 'replicas',
        title: 'Replicas and load',
        unit: 'replicas',
        rightUnit: 'concurrency',
        series: [
          { label: 'desired', color: C.grey, dash: true },
          { label: 'ready', color: C.prod },
          { label: 'concurrency', color: C.load, axis: 'right' as const },
        ],
        data: aligned(h, [(p) => p.desiredReplicas, (p) => p.readyReplicas, (p) => p.concurrency], []),
      },
      {
        id: 'cost',
        title: 'Cost so far',
        unit: 'USD',
        series: [{ label: 'production', color: C.prod }, ...cost.spec],
        data: aligned(h, [(p) => p.costUsd], cost.picks),
      },
    ];
    // Energy is charted once the history carries it.
    if (h.baseline.some((p) => typeof p.energyJoules === 'number')) {
      list.push({ id: 'energy', title: 'Energy', unit: 'J', series: [{ label: 'production', color: C.load }], data: aligned(h, [(p) => p.energyJoules ?? null], []) });
    }
    return list;
  }, [h, rolling]);

  const decisions = (d?.events ?? []).filter((e) => e.type === 'decision').reverse();

  return (
    <div className="page">
      <h1>
        Deployment <span className="mono">{name}</span>
      </h1>
      {status.error !== undefined && <ErrorNote error={status.error} />}
      {d !== undefined && (
        <section className="panel">
          <Facts
            items={[
              ['model', <Link key="m" to={`/models/${encodeURIComponent(d.revision.spec.model)}`}>{`${d.revision.spec.model}:${d.revision.spec.version}`}</Link>],
              ['revision', d.revision.revision],
              ['replicas ready / desired', <span key="r" data-testid="replicas">{`${ready(d)} / ${d.desiredReplicas}`}</span>],
              ['in system', `${d.inSystem} (buffered ${d.buffered})`],
              ['mode', d.mode],
              ['cost', `${usd(d.cost.totalUsd)} (${num(d.cost.replicaSeconds, 0)} replica-s, ${d.cost.invocations} invocations)`],
            ]}
          />
        </section>
      )}
      {history.error !== undefined && <ErrorNote error={history.error} />}
      <div className="charts">
        {charts.map((c) => (
          <Chart key={c.id} {...c} />
        ))}
      </div>
      {d !== undefined && (
        <div className="columns">
          <section className="panel">
            <h2>Policy</h2>
            <Facts items={Object.entries(d.policy).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)] as const)} />
            <h3>Latest decision</h3>
            {d.lastDecision === undefined ? (
              <p className="muted">none yet</p>
            ) : (
              <p>
                desired {d.lastDecision.desiredReplicas}: {d.lastDecision.reason}
              </p>
            )}
            <h3>Changes decided</h3>
            {decisions.length === 0 ? (
              <p className="muted">No scaling change among the recent events.</p>
            ) : (
              <ul className="plain events">
                {decisions.map((e) => (
                  <li key={e.id}>
                    <time>{when(e.at)}</time> {e.message}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section className="panel">
            <h2>Rollout</h2>
            {d.candidate === undefined ? (
              <p className="muted">No rollout in progress. <Link to={`/rollouts?deployment=${encodeURIComponent(name)}`}>Start one…</Link></p>
            ) : (
              <>
                <Facts
                  items={[
                    ['candidate', `version ${d.candidate.revision.spec.version} (revision ${d.candidate.revision.revision})`],
                    ['traffic', <span key="t" data-testid="traffic">{trafficRule(d.candidate.traffic)}</span>],
                    ['candidate replicas', `${ready(d.candidate)} / ${d.candidate.desiredReplicas}`],
                    ['control replicas', d.candidate.control === undefined ? '–' : `${ready(d.candidate.control)} / ${d.candidate.control.desiredReplicas}`],
                  ]}
                />
                {rollout !== undefined && (
                  <p>
                    <Link to={`/rollouts/${rollout.id}`}>Rollout #{rollout.id}</Link> <Badge value={rollout.state.status} /> {rollout.step}
                  </p>
                )}
              </>
            )}
            <h3>Replicas</h3>
            <ul className="plain mono">
              {[...d.replicas, ...(d.candidate?.replicas ?? []), ...(d.candidate?.control?.replicas ?? [])].map((r) => (
                <li key={r.id}>
                  {r.id} pid {r.pid} <Badge value={r.phase} /> {r.inFlight} in flight
                </li>
              ))}
            </ul>
          </section>
        </div>
      )}
      <TryIt model={name} />
    </div>
  );
}
