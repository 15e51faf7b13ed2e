import type { Sql } from '../../database/database';
import { MANAGED_VIEW_NAMES, type ManagedViewName } from './view-names';

/**
 * Refreshes views in dependency order (category_stats reads the other two), plainly. The
 * ops module replaces this order with one read from pg_depend and adds CONCURRENTLY, locks
 * and the refresh log.
 */
export async function refreshAllPlain(sql: Sql): Promise<ManagedViewName[]> {
  for (const name of MANAGED_VIEW_NAMES) {
    await sql.rows(`refresh materialized view ${name}`);
    if (name === 'gear_item_stats') await clearPending(sql);
  }
  return [...MANAGED_VIEW_NAMES];
}

/** Forgets the pending items that gear_item_stats now holds. */
export async function clearPending(sql: Sql): Promise<void> {
  await sql.rows(
    'delete from gear_item_stats_pending p using gear_item_stats s where s.gear_item_id = p.gear_item_id',
  );
}
