/** Every materialized view tally manages. Only the views module refers to these names. */
export const MANAGED_VIEW_NAMES = ['gear_item_stats', 'category_tree', 'category_stats'] as const;
export type ManagedViewName = (typeof MANAGED_VIEW_NAMES)[number];

/** Tables the views module keeps beside the views (hand-written DDL, out of schema diffing). */
export const VIEW_SIDE_TABLES = ['gear_item_stats_pending'] as const;
