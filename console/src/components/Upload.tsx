/** Uploading an ONNX file as a new model version: `POST /api/v1/models/{name}/versions` with the raw bytes. */
import { useState } from 'react';
import type { FormEvent } from 'react';
import { useAction } from '../action.js';
import { api, seg } from '../api.js';
import type { ModelVersion } from '../wire.js';
import { ErrorNote } from './ui.js';

/** The upload form; `model` fixed on a model's page, asked for on the models page. */
export function UploadForm({ model, onUploaded }: { readonly model?: string; readonly onUploaded: (v: ModelVersion) => void }) {
  const [name, setName] = useState(model ?? '');
  const [file, setFile] = useState<File>();
  const [version, setVersion] = useState('');
  const [labels, setLabels] = useState('');
  const action = useAction();

  const submit = async (e: FormEvent<HTMLFormElement>): Promise<void> => {
    e.preventDefault();
    if (file === undefined) return;
    const form = e.currentTarget;
    const query = new URLSearchParams();
    if (version.trim() !== '') query.set('version', version.trim());
    if (labels.trim() !== '') query.set('labels', labels.trim());
    await action.run(async () => {
      const q = query.size > 0 ? `?${query.toString()}` : '';
      const pushed = await api<ModelVersion>('POST', `/models/${seg(name.trim())}/versions${q}`, { bytes: file });
      form.reset();
      setFile(undefined);
      setVersion('');
      setLabels('');
      onUploaded(pushed);
    });
  };

  return (
    <form className="panel form" onSubmit={(e) => void submit(e)} aria-label="Upload a version">
      <h2>Upload a version</h2>
      {model === undefined && (
        <label>
          model name
          <input name="model" value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
      )}
      <label>
        ONNX file
        <input name="file" type="file" accept=".onnx,application/octet-stream" onChange={(e) => setFile(e.target.files?.[0])} required />
      </label>
      <label>
        version <span className="muted">(optional; next integer by default)</span>
        <input name="version" value={version} onChange={(e) => setVersion(e.target.value)} />
      </label>
      <label>
        labels <span className="muted">(optional: k=v,k2=v2)</span>
        <input name="labels" value={labels} onChange={(e) => setLabels(e.target.value)} />
      </label>
      <button type="submit" disabled={action.busy || file === undefined}>
        {action.busy ? 'Uploading…' : 'Upload'}
      </button>
      {action.error !== undefined && <ErrorNote error={action.error} />}
    </form>
  );
}
