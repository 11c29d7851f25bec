/**
 * The workflow pages (docs/workflows.md): `/workflows` lists the training packages and uploads a
 * new one (.tar.gz or .zip); `/workflows/{name}` shows its manifest, starts a sandboxed training
 * run on a data source's stored samples or a built-in dataset, and lists the runs with their
 * metrics, resources, resulting model version and log.
 */
import { useState } from 'react';
import type { FormEvent } from 'react';
import { useAction } from '../action.js';
import { api, request, seg } from '../api.js';
import { bytes, num, when } from '../format.js';
import { usePoll } from '../poll.js';
import { Link, navigate } from '../router.js';
import type { DataSource, Workflow, WorkflowParameter, WorkflowRun } from '../wire.js';
import { Badge, ErrorNote, Facts } from '../components/ui.js';

/** Labelled datasets the server ships (npm packages), for workflows that train on real data. */
const BUILT_IN_DATASETS = ['iris', 'penguins'] as const;

/** The archive's content type, from its file name. */
function archiveType(file: File): string {
  return /\.zip$/i.test(file.name) ? 'application/zip' : 'application/gzip';
}

/** Uploads a workflow package. */
function UploadWorkflow() {
  const [file, setFile] = useState<File>();
  const action = useAction();
  const submit = async (e: FormEvent<HTMLFormElement>): Promise<void> => {
    e.preventDefault();
    if (file === undefined) return;
    await action.run(async () => {
      const pushed = await request<Workflow>('POST', '/api/v1/workflows', { bytes: file }, { 'content-type': archiveType(file) });
      navigate(`/workflows/${encodeURIComponent(pushed.name)}`);
    });
  };
  return (
    <form className="panel form" onSubmit={(e) => void submit(e)} aria-label="Upload a workflow">
      <h2>Upload a workflow</h2>
      <p className="muted">
        A .tar.gz or .zip with <code>manifest.json</code> and the module it names as <code>entry</code>, exporting <code>train(dataset, params, context)</code>.
      </p>
      <label>
        package
        <input name="package" type="file" accept=".tar.gz,.tgz,.zip,application/gzip,application/zip" onChange={(e) => setFile(e.target.files?.[0])} required />
      </label>
      <button type="submit" disabled={action.busy || file === undefined}>
        {action.busy ? 'Uploading…' : 'Upload'}
      </button>
      {action.error !== undefined && <ErrorNote error={action.error} />}
    </form>
  );
}

/** `/workflows`. */
export function WorkflowList() {
  const workflows = usePoll(() => api<{ workflows: Workflow[] }>('GET', '/workflows'), 3000, 'workflows');
  return (
    <div className="page">
      <h1>Workflows</h1>
      {workflows.error !== undefined && <ErrorNote error={workflows.error} />}
      <ul className="plain">
        {(workflows.data?.workflows ?? []).map((w) => (
          <li key={w.name}>
            <Link to={`/workflows/${encodeURIComponent(w.name)}`}>{w.name}</Link> <span className="muted">{w.version}</span>
            {w.manifest.description !== undefined && <span className="muted"> — {w.manifest.description}</span>}
          </li>
        ))}
      </ul>
      {workflows.data?.workflows.length === 0 && <p className="muted">No workflows yet.</p>}
      <UploadWorkflow />
    </div>
  );
}

/** One input per declared parameter, prefilled with its default. */
function ParameterInput({ name, spec, value, onChange }: { readonly name: string; readonly spec: WorkflowParameter; readonly value: string; readonly onChange: (v: string) => void }) {
  if (spec.enum !== undefined)
    return (
      <label>
        {name}
        <select name={`param-${name}`} value={value} onChange={(e) => onChange(e.target.value)}>
          {spec.enum.map((v) => (
            <option key={String(v)}>{String(v)}</option>
          ))}
        </select>
      </label>
    );
  if (spec.type === 'boolean')
    return (
      <label>
        {name}
        <select name={`param-${name}`} value={value} onChange={(e) => onChange(e.target.value)}>
          <option>true</option>
          <option>false</option>
        </select>
      </label>
    );
  return (
    <label>
      {name}
      <input name={`param-${name}`} type={spec.type === 'number' ? 'number' : 'text'} min={spec.min} max={spec.max} step="any" value={value} onChange={(e) => onChange(e.target.value)} />
    </label>
  );
}

/** A form value as the parameter's JSON type. */
function typed(spec: WorkflowParameter, value: string): number | string | boolean {
  if (spec.type === 'number') return Number(value);
  if (spec.type === 'boolean') return value === 'true';
  return value;
}

/** Starts a training run. */
function TrainForm({ workflow, onStarted }: { readonly workflow: Workflow; readonly onStarted: () => void }) {
  const sources = usePoll(() => api<{ datasources: DataSource[] }>('GET', '/datasources'), 10_000, 'train-sources');
  const declared = Object.entries(workflow.manifest.parameters ?? {});
  const [data, setData] = useState('');
  const [model, setModel] = useState(workflow.name);
  const [release, setRelease] = useState(false);
  const [deployment, setDeployment] = useState('');
  const [params, setParams] = useState<Record<string, string>>(() => Object.fromEntries(declared.map(([k, spec]) => [k, spec.default === undefined ? '' : String(spec.default)])));
  const action = useAction();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const [kind, source] = data.split(':', 2);
    const parameters = Object.fromEntries(declared.filter(([k]) => (params[k] ?? '') !== '').map(([k, spec]) => [k, typed(spec, params[k] ?? '')]));
    const body = {
      ...(kind === 'dataset' ? { dataset: source } : { datasource: source }),
      parameters,
      model: model.trim(),
      ...(release ? { release: deployment.trim() === '' ? {} : { deployment: deployment.trim() } } : {}),
    };
    await action.run(async () => {
      await api('POST', `/workflows/${seg(workflow.name)}/runs`, { json: body });
      onStarted();
    });
  };

  return (
    <form className="panel form" onSubmit={(e) => void submit(e)} aria-label="Train">
      <h2>Train</h2>
      <label>
        data
        <select name="data" value={data} onChange={(e) => setData(e.target.value)} required>
          <option value="" disabled>
            choose…
          </option>
          <optgroup label="data sources (stored samples)">
            {(sources.data?.datasources ?? []).map((s) => (
              <option key={s.name} value={`datasource:${s.name}`}>
                {s.name}
              </option>
            ))}
          </optgroup>
          <optgroup label="built-in datasets">
            {BUILT_IN_DATASETS.map((d) => (
              <option key={d} value={`dataset:${d}`}>
                {d}
              </option>
            ))}
          </optgroup>
        </select>
      </label>
      {declared.length > 0 && (
        <div className="row">
          {declared.map(([k, spec]) => (
            <ParameterInput key={k} name={k} spec={spec} value={params[k] ?? ''} onChange={(v) => setParams((p) => ({ ...p, [k]: v }))} />
          ))}
        </div>
      )}
      <label>
        model <span className="muted">(registry model the trained version goes to)</span>
        <input name="model" value={model} onChange={(e) => setModel(e.target.value)} required />
      </label>
      <label className="check">
        <input name="release" type="checkbox" checked={release} onChange={(e) => setRelease(e.target.checked)} /> release through the gates
      </label>
      {release && (
        <label>
          deployment <span className="muted">(optional: roll out to it)</span>
          <input name="deployment" value={deployment} onChange={(e) => setDeployment(e.target.value)} />
        </label>
      )}
      <button type="submit" disabled={action.busy || data === ''}>
        Start training
      </button>
      {action.error !== undefined && <ErrorNote error={action.error} />}
    </form>
  );
}

/** The metric a reader looks for first: held-out accuracy, else training accuracy. */
function accuracyOf(run: WorkflowRun): string {
  const m = run.metrics;
  if (m === undefined) return '–';
  const value = m['testAccuracy'] ?? m['trainAccuracy'];
  return value === undefined ? '–' : `${num(value * 100, 1)}%`;
}

/** `/workflows/{name}`. */
export function WorkflowPage({ name }: { readonly name: string }) {
  const workflow = usePoll(() => api<Workflow>('GET', `/workflows/${seg(name)}`), 10_000, name);
  const runs = usePoll(() => api<{ runs: WorkflowRun[] }>('GET', `/workflows/${seg(name)}/runs`), 2000, `${name}-runs`);
  const [open, setOpen] = useState<string>();
  const w = workflow.data;
  const m = w?.manifest;

  return (
    <div className="page">
      <h1>
        Workflow <span className="mono">{name}</span>
      </h1>
      {workflow.error !== undefined && <ErrorNote error={workflow.error} />}
      {w !== undefined && m !== undefined && (
        <>
          <section className="panel">
            <Facts
              items={[
                ['version', w.version],
                ['description', m.description ?? '–'],
                ['inputs', m.inputs.join(', ')],
                ['label', m.label],
                ['classes', m.classes.join(', ')],
                ['window', m.window === undefined ? '–' : `${m.window.size} samples, hop ${m.window.hop}`],
                ['entry', m.entry],
                ['digest', <span className="mono">{w.digest.slice(0, 19)}</span>],
              ]}
            />
          </section>
          <TrainForm workflow={w} onStarted={runs.refresh} />
        </>
      )}
      <section className="panel">
        <h2>Runs</h2>
        {runs.error !== undefined && <ErrorNote error={runs.error} />}
        <div className="scroll">
          <table data-testid="runs">
            <thead>
              <tr>
                <th>run</th>
                <th>status</th>
                <th>started</th>
                <th>duration</th>
                <th>accuracy</th>
                <th>peak memory</th>
                <th>model version</th>
              </tr>
            </thead>
            <tbody>
              {[...(runs.data?.runs ?? [])].reverse().map((r) => (
                <tr key={String(r.id)} className={open === String(r.id) ? 'selected' : undefined} onClick={() => setOpen(String(r.id))}>
                  <td className="mono">{String(r.id)}</td>
                  <td>
                    <Badge value={r.status} />
                  </td>
                  <td>{when(r.startedAt)}</td>
                  <td>{r.durationMs === undefined ? '–' : `${num(r.durationMs / 1000, 1)} s`}</td>
                  <td>{accuracyOf(r)}</td>
                  <td>{r.resources === undefined ? '–' : bytes(r.resources.peakRssBytes)}</td>
                  <td>{r.modelVersion ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {runs.data?.runs.length === 0 && <p className="muted">No runs yet.</p>}
        {(runs.data?.runs ?? [])
          .filter((r) => String(r.id) === open)
          .map((r) => (
            <section key={String(r.id)} aria-label="Run log">
              {r.error !== undefined && <ErrorNote error={r.error} />}
              <pre className="log">{r.log.join('\n') || '(no output)'}</pre>
            </section>
          ))}
      </section>
    </div>
  );
}
