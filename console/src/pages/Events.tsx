/**
 * `/events`: the event log, newest first, live. It reads `GET /api/v1/events` and follows
 * `GET /api/v1/events/stream`; a server without the global log (404) is read per deployment
 * (`GET /api/v1/deployments/{name}/events`) every two seconds instead.
 */
import { useEffect, useState } from 'react';
import { api, ApiError, followEvents, seg } from '../api.js';
import { when } from '../format.js';
import { Link } from '../router.js';
import type { DeploymentEvent, DeploymentStatus } from '../wire.js';
import { ErrorNote } from '../components/ui.js';

/** Events kept on the page. */
const MAX_EVENTS = 500;
const FALLBACK_POLL_MS = 2000;
const RECONNECT_MS = 1000;

/** Every deployment's recent events, merged in id order (the per-deployment fallback). */
async function perDeploymentEvents(): Promise<DeploymentEvent[]> {
  const { deployments } = await api<{ deployments: DeploymentStatus[] }>('GET', '/deployments');
  const lists = await Promise.all(deployments.map((d) => api<{ events: DeploymentEvent[] }>('GET', `/deployments/${seg(d.name)}/events?limit=100`)));
  return lists.flatMap((l) => l.events).sort((a, b) => a.id - b.id);
}

/** Appends `more` to `events`, dropping ids already present and keeping the newest {@link MAX_EVENTS}. */
function merge(events: readonly DeploymentEvent[], more: readonly DeploymentEvent[]): DeploymentEvent[] {
  const seen = new Set(events.map((e) => e.id));
  return [...events, ...more.filter((e) => !seen.has(e.id))].slice(-MAX_EVENTS);
}

/** The events page. */
export function EventsPage() {
  const [events, setEvents] = useState<DeploymentEvent[]>([]);
  const [source, setSource] = useState<'live' | 'polling' | 'connecting'>('connecting');
  const [error, setError] = useState<Error>();
  const [filter, setFilter] = useState('');

  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const wait = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        timer = setTimeout(resolve, ms);
      });
    const pollFallback = async (): Promise<void> => {
      setSource('polling');
      while (!abort.signal.aborted) {
        try {
          const list = await perDeploymentEvents();
          setEvents((old) => merge(old, list));
          setError(undefined);
        } catch (err) {
          setError(err as Error);
        }
        await wait(FALLBACK_POLL_MS);
      }
    };
    const run = async (): Promise<void> => {
      let lastId: number | undefined;
      try {
        const { events: initial } = await api<{ events: DeploymentEvent[] }>('GET', `/events?limit=${MAX_EVENTS}`);
        setEvents(initial);
        lastId = initial.at(-1)?.id;
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return pollFallback();
        setError(err as Error);
      }
      while (!abort.signal.aborted) {
        try {
          setSource('live');
          const outcome = await followEvents(lastId, (e) => {
            lastId = e.id;
            setEvents((old) => merge(old, [e]));
          }, abort.signal);
          if (outcome === 'missing') return pollFallback();
        } catch (err) {
          if (abort.signal.aborted) return;
          setError(err as Error);
        }
        setSource('connecting');
        await wait(RECONNECT_MS);
      }
    };
    void run();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, []);

  const needle = filter.trim().toLowerCase();
  const shown = events.filter((e) => needle === '' || `${e.deployment} ${e.type} ${e.message}`.toLowerCase().includes(needle)).reverse();
  return (
    <div className="page">
      <h1>Events</h1>
      <p className="muted" data-testid="events-source">
        {source === 'live' ? 'live (event stream)' : source === 'polling' ? 'refreshed every 2 s (per deployment)' : 'connecting…'}
      </p>
      {error !== undefined && <ErrorNote error={error} />}
      <input className="filter" type="search" placeholder="filter by deployment, type or text" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="filter events" />
      <ul className="plain events" data-testid="events">
        {shown.map((e) => (
          <li key={e.id}>
            <time>{when(e.at)}</time> <Link to={`/deployments/${encodeURIComponent(e.deployment)}`}>{e.deployment}</Link> <span className="badge">{e.type}</span> {e.message}
          </li>
        ))}
      </ul>
    </div>
  );
}
