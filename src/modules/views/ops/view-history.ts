import DataLoader from 'dataloader';
import { sql, type Sql } from '../../../database/sql';
import type { RefreshedBy } from './refresh';

/** Most refresh log rows one view's history may list. */
export const MAX_HISTORY = 100;

export interface ViewRefreshRecord {
  startedAt: Date;
  refreshedAt: Date;
  durationMs: number;
  concurrently: boolean;
  by: RefreshedBy;
}

// The newest rows per view from view_refresh_log, one index range each (view_name, id).
const historySql = (names: string[], limit: number) => sql.query`
  select v.name, l.started_at, l.finished_at, l.duration_ms, l."concurrently", l.refreshed_by
    from unnest(${sql.value(names)}::text[]) as v(name)
   cross join lateral (
     select started_at, finished_at, duration_ms, "concurrently", refreshed_by
       from view_refresh_log
      where view_name = v.name
      order by id desc
      limit ${sql.value(limit)}) l`;

const loaders = new WeakMap<object, DataLoader<string, ViewRefreshRecord[]>>();

/**
 * The newest `last` refreshes of a view, newest first, batched per request: every view of a
 * `materializedViews` answer costs one statement together. `requestKey` is an object that
 * lives for the request only (its loaders).
 */
export function loadRefreshHistory(requestKey: object, db: Sql, view: string, last: number): Promise<ViewRefreshRecord[]> {
  let loader = loaders.get(requestKey);
  if (!loader) {
    loader = new DataLoader(async (keys: readonly string[]) => {
      const byLimit = new Map<number, string[]>();
      for (const k of keys) {
        const [limit, name] = [Number(k.slice(0, k.indexOf(':'))), k.slice(k.indexOf(':') + 1)];
        byLimit.set(limit, [...(byLimit.get(limit) ?? []), name]);
      }
      const found = new Map<string, ViewRefreshRecord[]>();
      for (const [limit, names] of byLimit) {
        const rows = await db.rows<{
          name: string;
          started_at: Date;
          finished_at: Date;
          duration_ms: number;
          concurrently: boolean;
          refreshed_by: RefreshedBy;
        }>(historySql(names, limit));
        for (const name of names) found.set(`${limit}:${name}`, []);
        for (const r of rows) {
          found.get(`${limit}:${r.name}`)!.push({
            startedAt: r.started_at,
            refreshedAt: r.finished_at,
            durationMs: r.duration_ms,
            concurrently: r.concurrently,
            by: r.refreshed_by,
          });
        }
      }
      return keys.map((k) => found.get(k)!);
    });
    loaders.set(requestKey, loader);
  }
  return loader.load(`${last}:${view}`);
}
