/** Small pieces every page uses: an error line, a status badge, a key–value list, the token dialog. */
import { useState, useSyncExternalStore } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { isTokenWanted, saveToken, subscribeToken } from '../api.js';

/** A failed load or action, in the server's words. */
export function ErrorNote({ error }: { readonly error: Error | string }) {
  return (
    <p className="error" role="alert">
      {typeof error === 'string' ? error : error.message}
    </p>
  );
}

/** A coloured status word (rollout status, replica phase, verdict outcome). */
export function Badge({ value }: { readonly value: string }) {
  return <span className={`badge badge-${value}`}>{value}</span>;
}

/** Label–value pairs. */
export function Facts({ items }: { readonly items: readonly (readonly [string, ReactNode])[] }) {
  return (
    <dl className="facts">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Asks for a management token when the API answered 401; the token is kept in localStorage. */
export function TokenDialog() {
  const wanted = useSyncExternalStore(subscribeToken, isTokenWanted);
  const [token, setToken] = useState('');
  if (!wanted) return null;
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    saveToken(token);
    setToken('');
  };
  return (
    <div className="overlay" role="dialog" aria-modal="true" aria-labelledby="token-title">
      <form className="panel dialog" onSubmit={submit}>
        <h2 id="token-title">Management token</h2>
        <p>
          This server needs a token for its API: the one <code>continuum serve</code> printed at its first start.
        </p>
        <input name="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} placeholder="ctm_…" required />
        <button type="submit">Use token</button>
      </form>
    </div>
  );
}
