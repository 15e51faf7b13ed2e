import { sql, type Sql } from '../../../database/sql';
import { refreshErrorToPublic, type ViewRefreshError } from '../../../errors';
import type { Logger } from '../../../logger';

/**
 * Records a failed refresh of a view in view_refresh_failure (one row per view: the last
 * failure), so that every instance reports it (MaterializedViewStatus.lastRefreshError).
 * Called after the failed run rolled back, on a connection of its own: it must not go down
 * with that transaction. The message is the one a client of refreshViews would get (no SQL).
 * A failure to record is only logged: the refresh's own error is what matters.
 */
export async function recordRefreshFailure(db: Sql, err: ViewRefreshError, by: string, log: Logger): Promise<void> {
  const pub = refreshErrorToPublic(err);
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  try {
    await db.rows(sql.query`
      insert into view_refresh_failure as f (view_name, failed_at, message, sql_state, refreshed_by)
      values (${sql.value(err.view)}, clock_timestamp(), ${sql.value(pub.message)}, ${sql.value(typeof code === 'string' ? code : null)}, ${sql.value(by)})
      on conflict (view_name) do update
        set failed_at = excluded.failed_at, message = excluded.message, sql_state = excluded.sql_state, refreshed_by = excluded.refreshed_by`);
  } catch (recordErr) {
    log.warn({ err: recordErr, view: err.view }, 'could not record the failed refresh');
  }
}
