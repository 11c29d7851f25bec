/** A user action against the server (a form submit, a button): busy while it runs, its error kept for display. */
import { useCallback, useState } from 'react';

/** What {@link useAction} gives a form. */
export interface Action {
  readonly busy: boolean;
  /** The failed action's message (the server's own words for an API refusal). */
  readonly error: string | undefined;
  readonly run: (act: () => Promise<void>) => Promise<void>;
}

/** Runs one action at a time and keeps its error. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = useCallback(async (act: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await act();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}
