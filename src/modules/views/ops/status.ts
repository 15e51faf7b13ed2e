import { sql, type Sql } from '../../../database/sql';
import type { ViewRegistry } from './registry';

export interface RefreshFailure {
  message: string;
  failedAt: Date;
}

export interface ViewStatus {
  name: string;
  dependsOn: string[];
  populated: boolean;
  lastRefreshStartedAt: Date | null;
  lastRefreshedAt: Date | null;
  lastRefreshDurationMs: number | null;
  stale: boolean;
  /** When the first change this view has not seen was made; null when fresh (see readViewStatuses). */
  staleSince: Date | null;
  /** The last failed refresh, unless a refresh succeeded after it. */
  lastRefreshError: RefreshFailure | null;
}

// Per view: its last refresh; per table, the earliest change that refresh did not see (not
// visible in the snapshot it took before refreshing; every stamp when it was never
// refreshed): of a stamp row it did not see, the first stamp of the row's current run when
// it missed that too (exact), else the row's last (an upper bound); per view it reads, the earliest refresh of it that this view did
// not see; and its last failed refresh. Visibility, unlike clock times, is exact for a
// write that began before the refresh and committed after it. Refreshes of other views are
// looked for among the log rows since the oldest of the views' last refreshes.
const statusSql = (names: string[]) => sql.query`
  with last as (
    select distinct on (view_name) id, view_name, started_at, finished_at, duration_ms, snapshot::pg_snapshot as snap, xid
      from view_refresh_log
     where view_name = any(${sql.value(names)}::text[])
     order by view_name, id desc
  )
  select v.name,
         coalesce(c.relispopulated, false) as populated,
         l.xid is not null as refreshed,
         l.started_at, l.finished_at, l.duration_ms,
         (select coalesce(json_object_agg(t.table_name, t.since), '{}') from (
            select s.table_name,
                   min(case when l.snap is null or not pg_visible_in_snapshot(s.first_xid::text::xid8, l.snap)
                            then s.first_at else s.changed_at end) as since
              from view_source_change s
             where l.snap is null or not pg_visible_in_snapshot(s.changed_xid::text::xid8, l.snap)
             group by s.table_name) t) as tables_changed,
         (select coalesce(json_object_agg(o.view_name, o.since), '{}') from (
            select o.view_name, min(o.finished_at) as since from view_refresh_log o
             where o.view_name = any(${sql.value(names)}::text[]) and o.view_name <> v.name
               and o.id >= (select min(id) from last) and o.xid <> l.xid
               and not pg_visible_in_snapshot(o.xid::text::xid8, l.snap)
             group by o.view_name) o) as views_refreshed,
         f.failed_at, f.message as failure,
         now() as at
    from unnest(${sql.value(names)}::text[]) as v(name)
    left join pg_class c on c.relname = v.name and c.relkind = 'm' and c.relnamespace = current_schema()::regnamespace
    left join last l on l.view_name = v.name
    left join view_refresh_failure f on f.view_name = v.name and (l.finished_at is null or f.failed_at > l.finished_at)`;

interface StatusRow {
  name: string;
  populated: boolean;
  refreshed: boolean;
  started_at: Date | null;
  finished_at: Date | null;
  duration_ms: number | null;
  /** Table → the earliest change this view has not seen (JSON: times as text). */
  tables_changed: Record<string, string>;
  /** View it may read → its earliest refresh this view has not seen. */
  views_refreshed: Record<string, string>;
  failed_at: Date | null;
  failure: string | null;
  at: Date;
}

const earliest = (times: (Date | null | undefined)[]): Date | null =>
  times.reduce<Date | null>((min, t) => (t && (!min || t < min) ? t : min), null);

/**
 * Freshness of every managed view, in refresh order, in one statement. A view is stale when
 * it was never refreshed (or is not populated), when a table it reads changed in a
 * transaction its last refresh did not see, or when a view it reads is stale or was
 * refreshed after it: then what it holds is older than the tables, whichever way the
 * change reaches it.
 *
 * Read-only and standby-safe (pg_visible_in_snapshot, no pg_current_xact_id()): on a hot
 * standby it answers for what that standby has replayed, like the data read beside it.
 *
 * staleSince: the earliest of those changes (a table's stamp is the time of the writing
 * transaction's first statement on it; a view's, when its refresh finished), and for a view
 * it reads that is stale, that view's staleSince. When no change explains it (never
 * refreshed with nothing written since the tables were created, or emptied WITH NO DATA),
 * the time of this query: stale at least since now.
 */
export async function readViewStatuses(db: Sql, registry: ViewRegistry): Promise<ViewStatus[]> {
  const rows = await db.rows<StatusRow>(statusSql(registry.names));
  const byName = new Map(rows.map((r) => [r.name, r]));
  const since = new Map<string, Date | null>();
  return registry.views.map((view) => {
    const r = byName.get(view.name)!;
    const fromTables = earliest(view.tables.map((t) => (r.tables_changed[t] ? new Date(r.tables_changed[t]) : null)));
    const fromViews = earliest(
      view.dependsOn.map((d) => earliest([since.get(d), r.views_refreshed[d] ? new Date(r.views_refreshed[d]) : null])),
    );
    const changed = earliest([fromTables, fromViews]);
    const isStale = !r.refreshed || !r.populated || changed !== null;
    const staleSince = isStale ? (changed ?? r.at) : null;
    since.set(view.name, staleSince);
    return {
      name: view.name,
      dependsOn: view.dependsOn,
      populated: r.populated,
      lastRefreshStartedAt: r.started_at,
      lastRefreshedAt: r.finished_at,
      lastRefreshDurationMs: r.duration_ms,
      stale: isStale,
      staleSince,
      lastRefreshError: r.failed_at && r.failure ? { message: r.failure, failedAt: r.failed_at } : null,
    };
  });
}
