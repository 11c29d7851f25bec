/**
 * `/datasources`: the MQTT data path (docs/ingest.md) — every data source with what happened to its
 * messages since the server started, a form to bind a topic to a deployment, deletion, and the
 * stored samples exported as CSV for training.
 */
import { useState } from 'react';
import type { FormEvent } from 'react';
import { useAction } from '../action.js';
import { api, download, seg } from '../api.js';
import { num } from '../format.js';
import { usePoll } from '../poll.js';
import { Link } from '../router.js';
import type { DataSource } from '../wire.js';
import { ErrorNote } from '../components/ui.js';

/** The payload formats the server decodes (src/ingest). */
const FORMATS = ['json', 'databus', 'sparkplug'] as const;

/** A comma-separated list as trimmed, non-empty names. */
function names(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Total refusals of every reason. */
function refusedOf(source: DataSource): number | undefined {
  if (source.counters === null) return undefined;
  return Object.values(source.counters.refused).reduce((a, b) => a + b, 0);
}

/** The form that binds a topic filter to a deployment. */
function AddForm({ onAdded }: { readonly onAdded: () => void }) {
  const [name, setName] = useState('');
  const [topic, setTopic] = useState('');
  const [format, setFormat] = useState<(typeof FORMATS)[number]>('json');
  const [fields, setFields] = useState('');
  const [input, setInput] = useState('input');
  const [deployment, setDeployment] = useState('');
  const [labelField, setLabelField] = useState('');
  const [timestampField, setTimestampField] = useState('');
  const [windowSize, setWindowSize] = useState('');
  const [windowHop, setWindowHop] = useState('');
  const action = useAction();

  const submit = async (e: FormEvent<HTMLFormElement>): Promise<void> => {
    e.preventDefault();
    const optional = (key: string, value: string): Record<string, string> => (value.trim() === '' ? {} : { [key]: value.trim() });
    const size = Number(windowSize);
    const body = {
      name: name.trim(),
      topic: topic.trim(),
      format,
      mapping: { fields: names(fields), input: input.trim(), ...optional('labelField', labelField), ...optional('timestampField', timestampField) },
      deployment: deployment.trim(),
      ...(windowSize.trim() === '' ? {} : { window: { size, hop: windowHop.trim() === '' ? size : Number(windowHop) } }),
    };
    await action.run(async () => {
      await api('POST', '/datasources', { json: body });
      setName('');
      setTopic('');
      onAdded();
    });
  };

  return (
    <form className="panel form" onSubmit={(e) => void submit(e)} aria-label="Add a data source">
      <h2>Add a data source</h2>
      <div className="row">
        <label>
          name
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          format
          <select name="format" value={format} onChange={(e) => setFormat(e.target.value as (typeof FORMATS)[number])}>
            {FORMATS.map((f) => (
              <option key={f}>{f}</option>
            ))}
          </select>
        </label>
      </div>
      <label>
        topic filter <span className="muted">(+ and # allowed)</span>
        <input name="topic" value={topic} onChange={(e) => setTopic(e.target.value)} placeholder="plant/line1/#" required />
      </label>
      <label>
        fields <span className="muted">(comma-separated, in the model input's order)</span>
        <input name="fields" value={fields} onChange={(e) => setFields(e.target.value)} required />
      </label>
      <div className="row">
        <label>
          model input
          <input name="input" value={input} onChange={(e) => setInput(e.target.value)} required />
        </label>
        <label>
          deployment
          <input name="deployment" value={deployment} onChange={(e) => setDeployment(e.target.value)} required />
        </label>
      </div>
      <div className="row">
        <label>
          label field <span className="muted">(stored for training)</span>
          <input name="labelField" value={labelField} onChange={(e) => setLabelField(e.target.value)} />
        </label>
        <label>
          timestamp field
          <input name="timestampField" value={timestampField} onChange={(e) => setTimestampField(e.target.value)} />
        </label>
      </div>
      <div className="row">
        <label>
          window size <span className="muted">(timeseries; samples)</span>
          <input name="windowSize" type="number" min={1} value={windowSize} onChange={(e) => setWindowSize(e.target.value)} />
        </label>
        <label>
          window hop
          <input name="windowHop" type="number" min={1} value={windowHop} onChange={(e) => setWindowHop(e.target.value)} />
        </label>
      </div>
      <button type="submit" disabled={action.busy}>
        Add
      </button>
      {action.error !== undefined && <ErrorNote error={action.error} />}
    </form>
  );
}

/** `/datasources`. */
export function DataSourcesPage() {
  const sources = usePoll(() => api<{ datasources: DataSource[] }>('GET', '/datasources'), 2000, 'datasources');
  const action = useAction();
  const remove = (name: string): Promise<void> =>
    action.run(async () => {
      await api('DELETE', `/datasources/${seg(name)}`);
      sources.refresh();
    });
  const exportCsv = (name: string): Promise<void> => action.run(() => download(`/datasources/${seg(name)}/samples?format=csv`, `${name}.csv`));

  return (
    <div className="page">
      <h1>Data sources</h1>
      <p className="muted">MQTT topics bound to deployments: each message is inferred and its prediction published back.</p>
      {sources.error !== undefined && <ErrorNote error={sources.error} />}
      {action.error !== undefined && <ErrorNote error={action.error} />}
      <section className="panel">
        <div className="scroll">
          <table data-testid="datasources">
            <thead>
              <tr>
                <th>name</th>
                <th>topic</th>
                <th>format</th>
                <th>deployment</th>
                <th>received</th>
                <th>inferred</th>
                <th>published</th>
                <th>refused</th>
                <th>dropped</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {(sources.data?.datasources ?? []).map((s) => (
                <tr key={s.name}>
                  <td>{s.name}</td>
                  <td className="mono">{s.topic}</td>
                  <td>
                    {s.format}
                    {s.window !== undefined && <span className="muted"> · window {s.window.size}</span>}
                  </td>
                  <td>
                    <Link to={`/deployments/${encodeURIComponent(s.deployment)}`}>{s.deployment}</Link>
                  </td>
                  <td>{num(s.counters?.received)}</td>
                  <td>{num(s.counters?.inferred)}</td>
                  <td>{num(s.counters?.published)}</td>
                  <td>{num(refusedOf(s))}</td>
                  <td>{num(s.counters?.dropped)}</td>
                  <td className="actions">
                    <button type="button" onClick={() => void exportCsv(s.name)} disabled={action.busy}>
                      Export CSV
                    </button>
                    <button type="button" className="danger" onClick={() => void remove(s.name)} disabled={action.busy} aria-label={`Delete ${s.name}`}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {sources.data?.datasources.length === 0 && <p className="muted">No data sources yet.</p>}
      </section>
      <AddForm onAdded={sources.refresh} />
    </div>
  );
}
