import { sql, type Sql } from '../../../database/sql';
import { ViewRefreshError } from '../../../errors';
import type { Logger } from '../../../logger';
import { AFTER_REFRESH_SQL, CHANGE_CHANNEL, type ManagedViewName } from '../names';
import { recordRefreshFailure } from './failures';
import { lockView } from './locks';
import { loadViewRegistry, type ManagedView, type ViewRegistry } from './registry';
import { readViewStatuses } from './status';

/** Refresh log rows kept per view (older ones are deleted by the next refresh of it). */
const LOG_ROWS_KEPT = 1000;

export type RefreshedBy = 'mutation' | 'schedule' | 'cli' | 'seed' | 'startup' | 'freshness';

export interface RefreshOptions {
  /** The views to refresh, each with every view that reads from it; null or omitted: all. */
  views?: readonly string[] | null;
  /** False: plain REFRESH (blocks readers). A view never populated is always refreshed plainly. */
  concurrently?: boolean;
  /** Refresh only the views that are stale when their turn comes (the schedule). */
  onlyStale?: boolean;
  /** Views left out of this run even when named or read (the freshness scheduler's failing ones). */
  skip?: readonly string[];
  by: RefreshedBy;
  log: Logger;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
}

export interface ViewRefreshResult {
  name: string;
  concurrently: boolean;
  durationMs: number;
  startedAt: Date;
  refreshedAt: Date;
}

const setStatementTimeout = (ms: number) => sql.query`select set_config('statement_timeout', ${sql.value(String(ms))}, true)`;

/**
 * Refreshes views in one transaction, so a run is all or nothing and readers switch to the
 * new contents of every view at once:
 *
 * 1. The targets (the named views and their dependants, in refresh order) are resolved
 *    first; an unknown name fails before any SQL runs.
 * 2. One transaction-level advisory lock per target, taken in one global order (by view
 *    name) before any refresh: two runs wanting the same view wait for each other instead
 *    of refreshing it at once, and since every run takes its locks in the same order and
 *    takes no table lock before it holds them all, no two runs can deadlock. Locks are
 *    keyed by oid, so they work across servers on one database and end with the transaction.
 * 3. Each view in refresh order, CONCURRENTLY unless asked otherwise or never populated,
 *    under the refresh statement timeout; gear_item_stats also forgets its pending items;
 *    each refresh writes its log row (times, snapshot, transaction id) and NOTIFYs 'v:<view>'.
 *
 * A failure rolls the whole run back, is recorded in view_refresh_failure, and throws a
 * ViewRefreshError naming the view.
 * One log line per refreshed view once the run has committed.
 */
export async function refreshViews(db: Sql, registry: ViewRegistry, opts: RefreshOptions): Promise<ViewRefreshResult[]> {
  const targets = registry.withDependants(opts.views).filter((v) => !opts.skip?.includes(v.name));
  if (!targets.length) return [];
  const concurrently = opts.concurrently ?? true;
  let results: ViewRefreshResult[];
  try {
    results = await db.transaction(async (tx) => {
      await tx.rows(setStatementTimeout(opts.lockTimeoutMs));
      for (const name of targets.map((v) => v.name).sort()) {
        await lockView(tx, name).catch((err) => {
          throw new ViewRefreshError(name, 'lock', opts.lockTimeoutMs, err);
        });
      }
      await tx.rows(setStatementTimeout(opts.statementTimeoutMs));
      const done: ViewRefreshResult[] = [];
      for (const view of targets) {
        try {
          if (opts.onlyStale && !(await isStale(tx, registry, view.name))) continue;
          done.push(await refreshOne(tx, view, concurrently, opts.by));
        } catch (err) {
          throw new ViewRefreshError(view.name, 'refresh', opts.statementTimeoutMs, err);
        }
      }
      return done;
    });
  } catch (err) {
    if (err instanceof ViewRefreshError) {
      opts.log.error({ err: err.cause, view: err.view, phase: err.phase, by: opts.by }, 'materialized view refresh failed');
      // After the rollback, so that the record survives it.
      await recordRefreshFailure(db, err, opts.by, opts.log);
    }
    throw err;
  }
  for (const r of results) {
    opts.log.info(
      { view: r.name, durationMs: r.durationMs, mode: r.concurrently ? 'concurrently' : 'plain', by: opts.by },
      'materialized view refreshed',
    );
  }
  await vacuumRefreshed(db, results, opts.log);
  return results;
}

/**
 * VACUUM of each view just refreshed, after the run committed (it cannot run in a
 * transaction). A plain refresh writes a heap whose pages are not marked all-visible, and
 * CONCURRENTLY clears the mark on every page it changes: until a vacuum sets it again, an
 * index-only scan (a page filtered by one aggregate, sorted by the other: the sort indexes
 * hold both) fetches the heap row of every entry it walks past. Autovacuum would get there,
 * in its own time. The vacuum visits only the pages not marked, so it costs what the refresh
 * changed. It is housekeeping: a failure is logged, and the refresh stands.
 */
async function vacuumRefreshed(db: Sql, results: readonly ViewRefreshResult[], log: Logger): Promise<void> {
  for (const r of results) {
    await db.rows(sql.query`vacuum ${sql.identifier(r.name)}`).catch((err: unknown) => log.warn({ err, view: r.name }, 'could not vacuum a refreshed view'));
  }
}

async function isStale(tx: Sql, registry: ViewRegistry, name: string): Promise<boolean> {
  const statuses = await readViewStatuses(tx, registry);
  return statuses.find((s) => s.name === name)!.stale;
}

async function refreshOne(tx: Sql, view: ManagedView, concurrently: boolean, by: RefreshedBy): Promise<ViewRefreshResult> {
  // The snapshot is taken just before the REFRESH, whose own snapshot can only see more:
  // staleness may err towards "stale", never towards "fresh".
  const state = await tx.one<{ populated: boolean; snapshot: string; started: string }>(
    sql.query`select c.relispopulated as populated, pg_current_snapshot()::text as snapshot, clock_timestamp()::text as started
       from pg_class c
      where c.relname = ${sql.value(view.name)} and c.relkind = 'm' and c.relnamespace = current_schema()::regnamespace`,
  );
  if (!state) throw new Error(`materialized view ${view.name} does not exist`);
  const mode = concurrently && state.populated;
  const name = sql.identifier(view.name);
  await tx.rows(sql.query`refresh materialized view ${mode ? sql.raw('concurrently ') : sql.blank}${name}`);
  const after = AFTER_REFRESH_SQL[view.name as ManagedViewName];
  if (after) await tx.rows(sql.raw(after));
  // A refresh replaces every row, and nothing else keeps the planner's statistics (autovacuum
  // may be off or late): at 100k items this costs tens of milliseconds (docs/operations.md).
  await tx.rows(sql.query`analyze ${name}`);
  const [viewName, started] = [sql.value(view.name), sql.value(state.started)];
  const row = await tx.one<{ started_at: Date; finished_at: Date; duration_ms: number }>(
    sql.query`with t as (select clock_timestamp() as finished)
     insert into view_refresh_log (view_name, started_at, finished_at, duration_ms, "concurrently", snapshot, xid, refreshed_by)
     select ${viewName}, ${started}::timestamptz, t.finished, extract(epoch from t.finished - ${started}::timestamptz)::float8 * 1000,
            ${sql.value(mode)}, ${sql.value(state.snapshot)}, pg_current_xact_id()::text::bigint, ${sql.value(by)}
       from t
     returning started_at, finished_at, duration_ms`,
  );
  // What it saw of each table it reads: the change trigger starts a new run of stamps once
  // every reader has seen the last one (staleSince, docs/freshness.md).
  if (view.tables.length) {
    await tx.rows(
      sql.query`insert into view_source_seen (table_name, view_name, snapshot)
       select t, ${viewName}, ${sql.value(state.snapshot)} from unnest(${sql.value(view.tables)}::text[]) as t
       on conflict (table_name, view_name) do update set snapshot = excluded.snapshot`,
    );
  }
  // Announced at commit, and only if the run commits (docs/freshness.md).
  await tx.rows(sql.query`select pg_notify(${sql.value(CHANGE_CHANNEL)}, ${sql.value(`v:${view.name}`)})`);
  await tx.rows(
    sql.query`delete from view_refresh_log
      where view_name = ${viewName}
        and id <= (select id from view_refresh_log where view_name = ${viewName} order by id desc offset ${sql.value(LOG_ROWS_KEPT)} limit 1)`,
  );
  return { name: view.name, concurrently: mode, durationMs: row!.duration_ms, startedAt: row!.started_at, refreshedAt: row!.finished_at };
}

/**
 * Every view, in dependency order, with the locks and the log, for start-up, seeding and
 * tests. Reads the registry itself (and so fails, naming what is missing, like start-up).
 * Without timeouts unless given (0 is PostgreSQL's "none"): seeding may be large.
 */
export async function refreshAllViews(
  db: Sql,
  opts: Pick<RefreshOptions, 'by' | 'log'> & Partial<Pick<RefreshOptions, 'concurrently' | 'statementTimeoutMs' | 'lockTimeoutMs'>>,
): Promise<ViewRefreshResult[]> {
  const registry = await loadViewRegistry(db);
  return refreshViews(db, registry, {
    statementTimeoutMs: 0,
    lockTimeoutMs: 0,
    ...opts,
  });
}
