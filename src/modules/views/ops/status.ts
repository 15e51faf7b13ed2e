import { sql, type Sql } from '../../../database/sql';
import type { ViewRegistry } from './registry';

export interface ViewStatus {
  name: string;
  dependsOn: string[];
  populated: boolean;
  lastRefreshStartedAt: Date | null;
  lastRefreshedAt: Date | null;
  lastRefreshDurationMs: number | null;
  stale: boolean;
}

// Per view: its last refresh, the tables changed by transactions that refresh did not see
// (not visible in the snapshot it took before refreshing), and the views refreshed since
// (by another transaction it did not see). Visibility, unlike clock times, is exact for a
// write that began before the refresh and committed after it.
const statusSql = (names: string[]) => sql.query`
  with last as (
    select distinct on (view_name) view_name, started_at, finished_at, duration_ms, snapshot::pg_snapshot as snap, xid
      from view_refresh_log
     where view_name = any(${sql.value(names)}::text[])
     order by view_name, id desc
  )
  select v.name,
         coalesce(c.relispopulated, false) as populated,
         l.xid is not null as refreshed,
         l.started_at, l.finished_at, l.duration_ms,
         array(select distinct s.table_name from view_source_change s
                where not pg_visible_in_snapshot(s.changed_xid::text::xid8, l.snap)) as tables_changed,
         array(select o.view_name from last o
                where o.xid <> l.xid and not pg_visible_in_snapshot(o.xid::text::xid8, l.snap)) as views_refreshed
    from unnest(${sql.value(names)}::text[]) as v(name)
    left join pg_class c on c.relname = v.name and c.relkind = 'm' and c.relnamespace = current_schema()::regnamespace
    left join last l on l.view_name = v.name`;

interface StatusRow {
  name: string;
  populated: boolean;
  refreshed: boolean;
  started_at: Date | null;
  finished_at: Date | null;
  duration_ms: number | null;
  tables_changed: string[];
  views_refreshed: string[];
}

/**
 * Freshness of every managed view, in refresh order, in one statement. A view is stale when
 * it was never refreshed (or is not populated), when a table it reads changed in a
 * transaction its last refresh did not see, or when a view it reads is stale or was
 * refreshed after it: then what it holds is older than the tables, whichever way the
 * change reaches it.
 *
 * Read-only and standby-safe (pg_visible_in_snapshot, no pg_current_xact_id()): on a hot
 * standby it answers for what that standby has replayed, like the data read beside it.
 */
export async function readViewStatuses(db: Sql, registry: ViewRegistry): Promise<ViewStatus[]> {
  const rows = await db.rows<StatusRow>(statusSql(registry.names));
  const byName = new Map(rows.map((r) => [r.name, r]));
  const stale = new Map<string, boolean>();
  return registry.views.map((view) => {
    const r = byName.get(view.name)!;
    const isStale =
      !r.refreshed ||
      !r.populated ||
      view.tables.some((t) => r.tables_changed.includes(t)) ||
      view.dependsOn.some((d) => stale.get(d) || r.views_refreshed.includes(d));
    stale.set(view.name, isStale);
    return {
      name: view.name,
      dependsOn: view.dependsOn,
      populated: r.populated,
      lastRefreshStartedAt: r.started_at,
      lastRefreshedAt: r.finished_at,
      lastRefreshDurationMs: r.duration_ms,
      stale: isStale,
    };
  });
}
