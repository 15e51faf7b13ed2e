import type { Sql } from '../../src/database/sql';
import type { Logger } from '../../src/logger';
import { refreshAllViews } from '../../src/modules/views/ops/refresh';

/** Milliseconds per view as the refresh reports them, and `all`: the whole run, wall clock. */
export type RefreshTimes = Record<string, number>;

/** Every view through tally's own refresh (one transaction, locks, log), as ops would run it. */
export async function refreshAll(sql: Sql, log: Logger, concurrently: boolean): Promise<RefreshTimes> {
  const started = performance.now();
  const results = await refreshAllViews(sql, { by: 'cli', log, concurrently });
  const times: RefreshTimes = Object.fromEntries(results.map((r) => [r.name, r.durationMs]));
  times.all = performance.now() - started;
  return times;
}

/** Refreshes back to back until `work` settles; returns its result and how many refresh runs finished meanwhile. */
export async function refreshingDuring<T>(
  refresh: () => Promise<unknown>,
  work: () => Promise<T>,
): Promise<{ result: T; refreshes: number }> {
  let done = false;
  let refreshes = 0;
  const loop = (async () => {
    while (!done) {
      await refresh();
      refreshes++;
    }
  })();
  try {
    return { result: await work(), refreshes };
  } finally {
    done = true;
    await loop;
  }
}
