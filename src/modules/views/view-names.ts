/**
 * Every materialized view tally manages. Only the views module refers to these names; what
 * each one reads (and so the refresh order) comes from PostgreSQL's catalog (view-registry.ts).
 */
export const MANAGED_VIEW_NAMES = ['gear_item_stats', 'category_tree', 'category_stats'] as const;
export type ManagedViewName = (typeof MANAGED_VIEW_NAMES)[number];

/**
 * Tables the views module keeps beside the views by hand-written DDL and triggers, out of
 * schema diffing: items created since gear_item_stats was refreshed, and when each table a
 * view reads from last changed.
 */
export const VIEW_SIDE_TABLES = ['gear_item_stats_pending', 'view_source_change'] as const;

/** The statement-level trigger that stamps view_source_change; every table a view reads needs it. */
export const CHANGE_TRIGGER_NAME = 'view_source_changed';

/**
 * SQL that must run in the same transaction as a refresh of the view: gear_item_stats
 * forgets the pending items it now holds (the list query reads the pending ones as 0 / null).
 */
export const AFTER_REFRESH_SQL: Partial<Record<ManagedViewName, string>> = {
  gear_item_stats:
    'delete from gear_item_stats_pending p using gear_item_stats s where s.gear_item_id = p.gear_item_id',
};
