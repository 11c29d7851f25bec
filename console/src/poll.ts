/** Data that stays fresh: fetched at once, then again every `intervalMs`, while the component lives. */
import { useCallback, useEffect, useRef, useState } from 'react';

/** What {@link usePoll} gives a page. */
export interface Polled<T> {
  readonly data: T | undefined;
  readonly error: Error | undefined;
  /** Fetches again now (after an action changed what the page shows). */
  readonly refresh: () => void;
}

/** Polls `load` every `intervalMs`; a new `key` starts over. A slow answer never overlaps the next poll. */
export function usePoll<T>(load: () => Promise<T>, intervalMs: number, key: string): Polled<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    setData(undefined);
    setError(undefined);
  }, [key]);

  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async (): Promise<void> => {
      try {
        const value = await loadRef.current();
        if (!live) return;
        setData(value);
        setError(undefined);
      } catch (err) {
        if (live) setError(err instanceof Error ? err : new Error(String(err)));
      }
      if (live) timer = setTimeout(() => void run(), intervalMs);
    };
    void run();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [key, intervalMs, tick]);

  const refresh = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, refresh };
}
