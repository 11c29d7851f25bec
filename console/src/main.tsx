/** The Continuum web console: a single-page app over the management API and OIP. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Link, usePath } from './router.js';
import { TokenDialog } from './components/ui.js';
import { DataSourcesPage } from './pages/DataSources.js';
import { DeploymentPage } from './pages/Deployment.js';
import { EventsPage } from './pages/Events.js';
import { ModelList, ModelPage } from './pages/Models.js';
import { Overview } from './pages/Overview.js';
import { RolloutList, RolloutPage } from './pages/Rollouts.js';
import { WorkflowList, WorkflowPage } from './pages/Workflows.js';
import './styles.css';

/** The page for a path; unknown paths show the overview's way back. */
function Page({ path }: { readonly path: string }) {
  const [, section, id] = path.split('/').map((s) => decodeURIComponent(s));
  if (section === 'models' && id !== undefined && id !== '') return <ModelPage key={id} name={id} />;
  if (section === 'models') return <ModelList />;
  if (section === 'deployments' && id !== undefined && id !== '') return <DeploymentPage key={id} name={id} />;
  if (section === 'rollouts' && id !== undefined && id !== '') return <RolloutPage key={id} id={id} />;
  if (section === 'rollouts') return <RolloutList />;
  if (section === 'datasources') return <DataSourcesPage />;
  if (section === 'workflows' && id !== undefined && id !== '') return <WorkflowPage key={id} name={id} />;
  if (section === 'workflows') return <WorkflowList />;
  if (section === 'events') return <EventsPage />;
  if (section === '' || section === undefined) return <Overview />;
  return (
    <div className="page">
      <h1>Not found</h1>
      <p>
        No page at <code>{path}</code>. <Link to="/">Back to the overview</Link>
      </p>
    </div>
  );
}

const NAV = [
  ['/', 'Overview'],
  ['/models', 'Models'],
  ['/rollouts', 'Rollouts'],
  ['/datasources', 'Data sources'],
  ['/workflows', 'Workflows'],
  ['/events', 'Events'],
] as const;

function App() {
  const path = usePath();
  const current = `/${path.split('/')[1] ?? ''}`;
  return (
    <>
      <header className="top">
        <Link to="/" className="brand">
          Continuum
        </Link>
        <nav>
          {NAV.map(([to, label]) => (
            <Link key={to} to={to} aria-current={current === to ? 'page' : undefined}>
              {label}
            </Link>
          ))}
        </nav>
      </header>
      <main>
        <Page path={path} />
      </main>
      <TokenDialog />
    </>
  );
}

const root = document.getElementById('root');
if (root !== null)
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
