/**
 * The try-it panel: an inference form built from the model's OIP signature (`GET /v2/models/{m}`).
 * Dynamic dimensions (-1) become 1, so the form sends a batch of one; each input starts filled with
 * zeros (false, empty strings) and takes comma-separated values. The answer's outputs, or the
 * server's error message, show below.
 */
import { useState } from 'react';
import type { FormEvent } from 'react';
import { useAction } from '../action.js';
import { request, seg } from '../api.js';
import { usePoll } from '../poll.js';
import type { ModelMetadata, OutputTensor, TensorSpec } from '../wire.js';
import { ErrorNote } from './ui.js';

/** The shape a form sends for a declared shape: dynamic dimensions become 1. */
function concreteShape(spec: TensorSpec): number[] {
  return spec.shape.map((d) => (d < 0 ? 1 : d));
}

function defaultValue(datatype: string): string {
  if (datatype === 'BOOL') return 'false';
  if (datatype === 'BYTES') return '';
  return '0';
}

function defaultText(spec: TensorSpec): string {
  const count = concreteShape(spec).reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => defaultValue(spec.datatype)).join(', ');
}

/** Reads the comma-separated values of one input as its datatype's JSON values. */
function parseValues(text: string, datatype: string): unknown[] {
  const parts = text.split(',').map((p) => p.trim());
  if (datatype === 'BYTES') return parts;
  if (datatype === 'BOOL') return parts.map((p) => p === 'true' || p === '1');
  return parts.map((p) => {
    const n = Number(p);
    if (p === '' || !Number.isFinite(n)) throw new Error(`'${p}' is not a number`);
    return n;
  });
}

function parseShape(text: string): number[] {
  return text.split(',').map((p) => {
    const n = Number(p.trim());
    if (!Number.isInteger(n) || n < 0) throw new Error(`shape '${text}' must be non-negative integers separated by commas`);
    return n;
  });
}

interface Field {
  readonly shape: string;
  readonly values: string;
}

/** The inference form of `model` (a registry model or a deployment: both are OIP model names). */
export function TryIt({ model }: { readonly model: string }) {
  const meta = usePoll(() => request<ModelMetadata>('GET', `/v2/models/${seg(model)}`), 30_000, model);
  const [fields, setFields] = useState<Record<string, Field>>({});
  const [outputs, setOutputs] = useState<readonly OutputTensor[]>();
  const [answeredBy, setAnsweredBy] = useState<string>();
  const action = useAction();

  const inputs = meta.data?.inputs ?? [];
  const field = (spec: TensorSpec): Field => fields[spec.name] ?? { shape: concreteShape(spec).join(', '), values: defaultText(spec) };
  const change = (spec: TensorSpec, patch: Partial<Field>): void => setFields((f) => ({ ...f, [spec.name]: { ...field(spec), ...patch } }));

  const send = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setOutputs(undefined);
    await action.run(async () => {
      const body = {
        inputs: inputs.map((spec) => {
          const f = field(spec);
          return { name: spec.name, datatype: spec.datatype, shape: parseShape(f.shape), data: parseValues(f.values, spec.datatype) };
        }),
      };
      const res = await request<{ model_version?: string; outputs: OutputTensor[] }>('POST', `/v2/models/${seg(model)}/infer`, { json: body });
      setOutputs(res.outputs);
      setAnsweredBy(res.model_version);
    });
  };

  return (
    <section className="panel" aria-label="Try it">
      <h2>Try it</h2>
      {meta.error !== undefined && <ErrorNote error={meta.error} />}
      <form onSubmit={(e) => void send(e)} className="tryit">
        {inputs.map((spec) => (
          <fieldset key={spec.name}>
            <legend>
              {spec.name} <span className="muted">{spec.datatype} [{spec.shape.join(', ')}]</span>
            </legend>
            <label>
              shape
              <input name={`shape-${spec.name}`} value={field(spec).shape} onChange={(e) => change(spec, { shape: e.target.value })} />
            </label>
            <label>
              values
              <textarea name={`values-${spec.name}`} rows={2} value={field(spec).values} onChange={(e) => change(spec, { values: e.target.value })} />
            </label>
          </fieldset>
        ))}
        <button type="submit" disabled={action.busy || inputs.length === 0}>
          Send inference
        </button>
      </form>
      {action.error !== undefined && (
        <p className="error" role="alert" data-testid="infer-error">
          {action.error}
        </p>
      )}
      {outputs !== undefined && (
        <div data-testid="infer-outputs">
          {answeredBy !== undefined && <p className="muted">answered by version {answeredBy}</p>}
          <table>
            <thead>
              <tr>
                <th>output</th>
                <th>type</th>
                <th>shape</th>
                <th>data</th>
              </tr>
            </thead>
            <tbody>
              {outputs.map((o) => (
                <tr key={o.name}>
                  <td>{o.name}</td>
                  <td>{o.datatype}</td>
                  <td>[{o.shape.join(', ')}]</td>
                  <td className="data">{o.data.slice(0, 64).map((v) => (typeof v === 'number' ? Number(v.toPrecision(5)) : String(v))).join(', ')}{o.data.length > 64 ? ' …' : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
