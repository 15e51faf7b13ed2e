import type { Sql } from '../../database/database';
import { PublicError, mapDatabaseError } from '../../errors';
import type { Logger } from '../../logger';
import { AFTER_REFRESH_SQL, type ManagedViewName } from './view-names';
import { loadViewRegistry, type ManagedView, type ViewRegistry } from './view-registry';
import { readViewStatuses } from './view-status';

/**
 * First key of the advisory locks that refreshers take: pg_advisory_xact_lock(1952541804,
 * <the view's oid>), i.e. in pg_locks locktype 'advisory', classid 1952541804 (0x74616c6c,
 * "tall"), objid the view's oid, objsubid 2. A view migration's swap takes them too.
 */
export const REFRESH_LOCK_CLASS = 1952541804;

/** Refresh log rows kept per view (older ones are deleted by the next refresh of it). */
const LOG_ROWS_KEPT = 1000;

export type RefreshedBy = 'mutation' | 'schedule' | 'cli' | 'seed' | 'startup';

export interface RefreshOptions {
  /** The views to refresh, each with every view that reads from it; null or omitted: all. */
  views?: readonly string[] | null;
  /** False: plain REFRESH (blocks readers). A view never populated is always refreshed plainly. */
  concurrently?: boolean;
  /** Refresh only the views that are stale when their turn comes (the schedule). */
  onlyStale?: boolean;
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

/** A refresh run that failed; nothing of it was committed. `view` is where it failed. */
export class ViewRefreshError extends Error {
  constructor(
    readonly view: string,
    readonly phase: 'lock' | 'refresh',
    readonly timeoutMs: number,
    readonly cause: unknown,
  ) {
    super(`refresh of ${view} failed while ${phase === 'lock' ? 'waiting for its lock' : 'refreshing'}`);
    this.name = 'ViewRefreshError';
  }

  /** What the client (or the CLI's user) is told: which view, why, and that nothing changed. */
  toPublic(): PublicError {
    const err = this.cause as { code?: unknown } | undefined;
    const sqlState = typeof err?.code === 'string' ? err.code : undefined;
    const unchanged = 'Nothing was refreshed; every view keeps its previous contents.';
    if (sqlState === '57014' && this.phase === 'lock') {
      return new PublicError(
        'SERVICE_UNAVAILABLE',
        `Another refresh of ${this.view} was still running after ${this.timeoutMs} ms. ${unchanged} Try again later.`,
        { view: this.view },
      );
    }
    if (sqlState === '57014') {
      return new PublicError(
        'SERVICE_UNAVAILABLE',
        `Refreshing ${this.view} took longer than ${this.timeoutMs} ms (the refresh statement timeout) and was cancelled. ${unchanged}`,
        { view: this.view },
      );
    }
    if (mapDatabaseError(this.cause)) {
      return new PublicError('SERVICE_UNAVAILABLE', `Refreshing ${this.view} failed: the database is unavailable. ${unchanged}`, {
        view: this.view,
      });
    }
    return new PublicError(
      'INTERNAL_SERVER_ERROR',
      `Refreshing ${this.view} failed${sqlState ? ` (SQLSTATE ${sqlState})` : ''}. ${unchanged} The server log has the details.`,
      { view: this.view, ...(sqlState ? { sqlState } : {}) },
    );
  }
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

const setTimeoutSql = "select set_config('statement_timeout', $1, true)";

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
 *    each refresh writes its log row (times, snapshot, transaction id).
 *
 * A failure rolls the whole run back and throws a ViewRefreshError naming the view.
 * One log line per refreshed view once the run has committed.
 */
export async function refreshViews(sql: Sql, registry: ViewRegistry, opts: RefreshOptions): Promise<ViewRefreshResult[]> {
  const targets = registry.withDependants(opts.views);
  if (!targets.length) return [];
  const concurrently = opts.concurrently ?? true;
  let results: ViewRefreshResult[];
  try {
    results = await sql.transaction(async (tx) => {
      await tx.rows(setTimeoutSql, [String(opts.lockTimeoutMs)]);
      for (const name of targets.map((v) => v.name).sort()) {
        await lockView(tx, name).catch((err) => {
          throw new ViewRefreshError(name, 'lock', opts.lockTimeoutMs, err);
        });
      }
      await tx.rows(setTimeoutSql, [String(opts.statementTimeoutMs)]);
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
    }
    throw err;
  }
  for (const r of results) {
    opts.log.info(
      { view: r.name, durationMs: r.durationMs, mode: r.concurrently ? 'concurrently' : 'plain', by: opts.by },
      'materialized view refreshed',
    );
  }
  return results;
}

const lockSql = `
  select c.oid::int as locked, pg_advisory_xact_lock($1, c.oid::int)
    from pg_class c
   where c.relname = $2 and c.relkind = 'm' and c.relnamespace = current_schema()::regnamespace`;
const oidSql = `select to_regclass($1)::oid::int as oid`;

/**
 * Takes the view's refresh lock. A view migration swaps a new view in under the old one's
 * lock (view-swap.ts): a run that waited for it then holds the lock of a dropped view, and
 * locks the new one by its oid too before it refreshes.
 */
async function lockView(tx: Sql, name: string): Promise<void> {
  let locked = (await tx.one<{ locked: number }>(lockSql, [REFRESH_LOCK_CLASS, name]))?.locked;
  for (;;) {
    const current = (await tx.one<{ oid: number | null }>(oidSql, [quoteIdent(name)]))!.oid;
    // A missing view is reported by its refresh.
    if (current === null || current === locked) return;
    locked = (await tx.one<{ locked: number }>(lockSql, [REFRESH_LOCK_CLASS, name]))?.locked;
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
    `select c.relispopulated as populated, pg_current_snapshot()::text as snapshot, clock_timestamp()::text as started
       from pg_class c
      where c.relname = $1 and c.relkind = 'm' and c.relnamespace = current_schema()::regnamespace`,
    [view.name],
  );
  if (!state) throw new Error(`materialized view ${view.name} does not exist`);
  const mode = concurrently && state.populated;
  await tx.rows(`refresh materialized view ${mode ? 'concurrently ' : ''}${quoteIdent(view.name)}`);
  const after = AFTER_REFRESH_SQL[view.name as ManagedViewName];
  if (after) await tx.rows(after);
  // A refresh replaces every row, and nothing else keeps the planner's statistics (autovacuum
  // may be off or late): at 100k items this costs tens of milliseconds (README, Operations).
  await tx.rows(`analyze ${quoteIdent(view.name)}`);
  const row = await tx.one<{ started_at: Date; finished_at: Date; duration_ms: number }>(
    `with t as (select clock_timestamp() as finished)
     insert into view_refresh_log (view_name, started_at, finished_at, duration_ms, "concurrently", snapshot, xid, refreshed_by)
     select $1, $2::timestamptz, t.finished, extract(epoch from t.finished - $2::timestamptz)::float8 * 1000,
            $3, $4, pg_current_xact_id()::text::bigint, $5
       from t
     returning started_at, finished_at, duration_ms`,
    [view.name, state.started, mode, state.snapshot, by],
  );
  await tx.rows(
    `delete from view_refresh_log
      where view_name = $1
        and id <= (select id from view_refresh_log where view_name = $1 order by id desc offset $2 limit 1)`,
    [view.name, LOG_ROWS_KEPT],
  );
  return { name: view.name, concurrently: mode, durationMs: row!.duration_ms, startedAt: row!.started_at, refreshedAt: row!.finished_at };
}

/**
 * Every view, in dependency order, with the locks and the log, for start-up, seeding and
 * tests. Reads the registry itself (and so fails, naming what is missing, like start-up).
 * Without timeouts unless given (0 is PostgreSQL's "none"): seeding may be large.
 */
export async function refreshAllViews(
  sql: Sql,
  opts: Pick<RefreshOptions, 'by' | 'log'> & Partial<Pick<RefreshOptions, 'concurrently' | 'statementTimeoutMs' | 'lockTimeoutMs'>>,
): Promise<ViewRefreshResult[]> {
  const registry = await loadViewRegistry(sql);
  return refreshViews(sql, registry, {
    statementTimeoutMs: 0,
    lockTimeoutMs: 0,
    ...opts,
  });
}
