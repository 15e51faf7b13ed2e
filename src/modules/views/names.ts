// What every room of the views module agrees on. Imports nothing.

/**
 * Every materialized view tally manages. Only the views module refers to these names; what
 * each one reads (and so the refresh order) comes from PostgreSQL's catalog (ops/registry.ts).
 */
export const MANAGED_VIEW_NAMES = ['gear_item_stats', 'category_tree', 'category_stats'] as const;
export type ManagedViewName = (typeof MANAGED_VIEW_NAMES)[number];
/** The views by role, for the fields that declare what they read (common/reads.ts). */
export const VIEWS = { itemStats: 'gear_item_stats', categoryTree: 'category_tree', categoryStats: 'category_stats' } as const satisfies Record<
  string,
  ManagedViewName
>;

/**
 * Tables the views module keeps beside the views by hand-written DDL and triggers, out of
 * schema diffing: items created since gear_item_stats was refreshed, and when each table a
 * view reads from last changed (and what each view's last refresh saw of it), and the last
 * failed refresh of each view.
 */
export const VIEW_SIDE_TABLES = ['gear_item_stats_pending', 'view_source_change', 'view_source_seen', 'view_refresh_failure'] as const;

/** The statement-level trigger that stamps view_source_change; every table a view reads needs it. */
export const CHANGE_TRIGGER_NAME = 'view_source_changed';

/**
 * The LISTEN/NOTIFY channel on which writes and refreshes are announced, at commit:
 * payload 't:<schema>.<table>' from the change trigger (migration 20261125000000 spells it
 * out), 'v:<view>' from each refresh (ops/refresh.ts). Running servers listen on it, so the
 * value can never change.
 */
export const CHANGE_CHANNEL = 'tally_changes';

/**
 * First key of the advisory locks that refreshers take: pg_advisory_xact_lock(1952541804,
 * <the view's oid>), i.e. in pg_locks locktype 'advisory', classid 1952541804 (0x74616c6c,
 * "tall"), objid the view's oid, objsubid 2. A view migration's swap takes them too, so the
 * value can never change.
 */
export const REFRESH_LOCK_CLASS = 1952541804;

/**
 * SQL that must run in the same transaction as a refresh of the view: gear_item_stats
 * forgets the pending items it now holds (the list query reads the pending ones as 0 / null).
 */
export const AFTER_REFRESH_SQL: Partial<Record<ManagedViewName, string>> = {
  gear_item_stats:
    'delete from gear_item_stats_pending p using gear_item_stats s where s.gear_item_id = p.gear_item_id',
};

/** A view at a version of migrations/views/<view>.v<N>.sql, with the hash of that file's text. */
export interface ViewVersion {
  version: number;
  sha256: string;
}
export type ViewVersions = Record<string, ViewVersion>;
