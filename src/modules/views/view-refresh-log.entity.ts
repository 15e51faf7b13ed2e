import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * One row per successful refresh of a materialized view, written in the refresh's own
 * transaction (a refresh that fails leaves no row). `snapshot` and `xid` say exactly which
 * changes the refresh saw, so staleness does not depend on clocks (see view-status.ts).
 */
@Entity({ tableName: 'view_refresh_log' })
// The last refresh of a view is the highest id for its name.
@Index({ name: 'view_refresh_log_view_name_id_index', properties: ['viewName', 'id'] })
export class ViewRefreshLog {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'string', length: 63 })
  viewName!: string;

  /** When the REFRESH began (after the locks were taken); database clock. */
  @Property({ type: 'datetime', length: 6 })
  startedAt!: Date;

  /** When it finished, just before its transaction committed. */
  @Property({ type: 'datetime', length: 6 })
  finishedAt!: Date;

  @Property({ type: 'double' })
  durationMs!: number;

  /** False when it ran without CONCURRENTLY. */
  @Property({ type: 'boolean' })
  concurrently!: boolean;

  /** pg_current_snapshot() as text, taken just before the REFRESH. */
  @Property({ type: 'text' })
  snapshot!: string;

  /** pg_current_xact_id() of the refreshing transaction. */
  @Property({ type: 'bigint' })
  xid!: string;

  /** mutation, schedule, cli, seed or startup. */
  @Property({ type: 'string', length: 20 })
  refreshedBy!: string;
}
