/**
 * The models pages: `/models` uploads a new model; `/models/{name}` shows its versions, aliases,
 * signature and labels, uploads a version, deploys one (policy and bounds) and has a try-it panel.
 */
import { useState } from 'react';
import type { FormEvent } from 'react';
import { useAction } from '../action.js';
import { api, seg } from '../api.js';
import { bytes, when } from '../format.js';
import { usePoll } from '../poll.js';
import { Link, navigate } from '../router.js';
import type { DeploymentStatus, ModelDetail, ModelSummary, TensorSpec } from '../wire.js';
import { TryIt } from '../components/TryIt.js';
import { UploadForm } from '../components/Upload.js';
import { ErrorNote, Facts } from '../components/ui.js';

/** The scaling policies a deployment can use (src/autoscale). */
const POLICIES = ['auto', 'fixed', 'threshold', 'hpa', 'kpa', 'serverless', 'predictive'] as const;

/** `/models`: every model and the form for a new one. */
export function ModelList() {
  const models = usePoll(() => api<{ models: ModelSummary[] }>('GET', '/models'), 3000, 'models');
  return (
    <div className="page">
      <h1>Models</h1>
      {models.error !== undefined && <ErrorNote error={models.error} />}
      <ul className="plain">
        {(models.data?.models ?? []).map((m) => (
          <li key={m.name}>
            <Link to={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link> <span className="muted">{m.version_count} versions</span>
          </li>
        ))}
      </ul>
      <UploadForm onUploaded={(v) => navigate(`/models/${encodeURIComponent(v.name)}`)} />
    </div>
  );
}

function Signature({ title, tensors }: { readonly title: string; readonly tensors: readonly TensorSpec[] }) {
  return (
    <div>
      <h3>{title}</h3>
      <ul className="plain mono">
        {tensors.map((t) => (
          <li key={t.name}>
            {t.name}: {t.datatype} [{t.shape.join(', ')}]
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Deploys a version of the model as a new deployment. */
function DeployForm({ model, versions }: { readonly model: string; readonly versions: readonly string[] }) {
  const [name, setName] = useState(model);
  const [ref, setRef] = useState('');
  const [policy, setPolicy] = useState<(typeof POLICIES)[number]>('auto');
  const [min, setMin] = useState('1');
  const [max, setMax] = useState('3');
  const action = useAction();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    // `fixed` keeps one number of replicas; the others scale between the bounds.
    const bounds = policy === 'fixed' ? { replicas: Number(min) } : { minReplicas: Number(min), maxReplicas: Number(max) };
    await action.run(async () => {
      const created = await api<DeploymentStatus>('POST', '/deployments', {
        json: { name, model, ...(ref === '' ? {} : { ref }), policy: { policy, ...bounds } },
      });
      navigate(`/deployments/${encodeURIComponent(created.name)}`);
    });
  };

  return (
    <form className="panel form" onSubmit={(e) => void submit(e)} aria-label="Deploy">
      <h2>Deploy</h2>
      <label>
        deployment name
        <input name="deployment" value={name} onChange={(e) => setName(e.target.value)} required />
      </label>
      <label>
        version
        <select name="ref" value={ref} onChange={(e) => setRef(e.target.value)}>
          <option value="">default</option>
          {versions.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
      </label>
      <label>
        policy
        <select name="policy" value={policy} onChange={(e) => setPolicy(e.target.value as (typeof POLICIES)[number])}>
          {POLICIES.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
      </label>
      <div className="row">
        <label>
          {policy === 'fixed' ? 'replicas' : 'min replicas'}
          <input name="min" type="number" min={0} value={min} onChange={(e) => setMin(e.target.value)} required />
        </label>
        {policy !== 'fixed' && (
          <label>
            max replicas
            <input name="max" type="number" min={1} value={max} onChange={(e) => setMax(e.target.value)} required />
          </label>
        )}
      </div>
      <button type="submit" disabled={action.busy}>
        Deploy
      </button>
      {action.error !== undefined && <ErrorNote error={action.error} />}
    </form>
  );
}

/** `/models/{name}`. */
export function ModelPage({ name }: { readonly name: string }) {
  const model = usePoll(() => api<ModelDetail>('GET', `/models/${seg(name)}`), 3000, name);
  const [selected, setSelected] = useState<string>();
  const m = model.data;
  const shown = m?.versions.find((v) => v.version === selected) ?? m?.versions.at(-1);

  return (
    <div className="page">
      <h1>
        Model <span className="mono">{name}</span>
      </h1>
      {model.error !== undefined && <ErrorNote error={model.error} />}
      {m !== undefined && (
        <>
          <section className="panel">
            <Facts
              items={[
                ['default version', m.default_version ?? '–'],
                ['aliases', Object.entries(m.aliases).map(([a, v]) => `${a} → ${v}`).join(', ') || '–'],
                ['labels', Object.entries(m.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '–'],
                ['created', when(m.created_at)],
              ]}
            />
            <h2>Versions</h2>
            <div className="scroll">
              <table data-testid="versions">
                <thead>
                  <tr>
                    <th>version</th>
                    <th>aliases</th>
                    <th>labels</th>
                    <th>size</th>
                    <th>sha256</th>
                    <th>pushed</th>
                  </tr>
                </thead>
                <tbody>
                  {m.versions.map((v) => (
                    <tr key={v.version} className={v === shown ? 'selected' : undefined} onClick={() => setSelected(v.version)}>
                      <td>{v.version}</td>
                      <td>{v.aliases.join(', ') || '–'}</td>
                      <td>{Object.entries(v.labels).map(([k, val]) => `${k}=${val}`).join(', ') || '–'}</td>
                      <td>{bytes(v.size_bytes)}</td>
                      <td className="mono">{v.sha256.slice(0, 12)}</td>
                      <td>{when(v.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {shown !== undefined && (
              <>
                <h2>Signature of version {shown.version}</h2>
                <div className="columns">
                  <Signature title="inputs" tensors={shown.signature.inputs} />
                  <Signature title="outputs" tensors={shown.signature.outputs} />
                </div>
              </>
            )}
          </section>
          <div className="columns">
            <UploadForm model={name} onUploaded={model.refresh} />
            <DeployForm model={name} versions={m.versions.map((v) => v.version)} />
          </div>
          <TryIt model={name} />
        </>
      )}
    </div>
  );
}
