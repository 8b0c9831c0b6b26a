// "Newest request wins": when answers to overlapping requests may arrive out of order (a search
// typed over a slower one, a reload while the page loads), only the newest call's answer is used.

/** What one call came to. Only the newest call, not invalidated since, is `current`. */
export type Outcome<T> =
  | { current: true; ok: true; value: T; call: number }
  | { current: true; ok: false; error: unknown; call: number }
  | { current: false; call: number };

export type Latest<A extends unknown[], T> = {
  /** Calls the wrapped function; never rejects (a failure is an outcome with `ok: false`). */
  (...args: A): Promise<Outcome<T>>;
  /** Makes every call still pending stale, e.g. when what they were asked for is gone. */
  invalidate(): void;
  /** The number of the newest call (calls are numbered 1, 2, … as they start; 0 before the first). */
  readonly started: number;
};

/**
 * Wraps `fn` so that each call's outcome says whether it is still the newest call:
 *
 *     const load = latest((id: string) => api.syncRuns(id, 100));
 *     const answer = await load(id);
 *     if (!answer.current) return; // a newer load has started, or `load.invalidate()` was called
 *     if (answer.ok) runs = answer.value;
 *     else error = errorText(answer.error);
 */
export function latest<A extends unknown[], T>(fn: (...args: A) => Promise<T>): Latest<A, T> {
  let started = 0;
  // The call whose answer counts; 0 when none does.
  let newest = 0;
  const call = async (...args: A): Promise<Outcome<T>> => {
    const mine = ++started;
    newest = mine;
    try {
      const value = await fn(...args);
      return mine === newest ? { current: true, ok: true, value, call: mine } : { current: false, call: mine };
    } catch (error) {
      return mine === newest ? { current: true, ok: false, error, call: mine } : { current: false, call: mine };
    }
  };
  return Object.defineProperties(call, {
    invalidate: { value: () => void (newest = 0) },
    started: { get: () => started },
  }) as Latest<A, T>;
}
