import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261124000000_catalog_tables } from './Migration20261124000000_catalog_tables';
import { Migration20261124000100_materialized_views } from './Migration20261124000100_materialized_views';
import { Migration20261124001000_view_freshness } from './Migration20261124001000_view_freshness';
import { Migration20261124002000_item_query_indexes } from './Migration20261124002000_item_query_indexes';
import { Migration20261124003000_view_versions } from './Migration20261124003000_view_versions';
import { Migration20261124212645_views_gear_item_stats_v2 } from './Migration20261124212645_views_gear_item_stats_v2';
import { Migration20261125000000_view_change_notify } from './Migration20261125000000_view_change_notify';
import { Migration20261125200000_rate_limit } from './Migration20261125200000_rate_limit';
import { Migration20261126030639_views_gear_item_stats_v3 } from './Migration20261126030639_views_gear_item_stats_v3';

/** Every migration, in order. A new one is added here as well as written to this folder. */
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261124000000_catalog_tables', class: Migration20261124000000_catalog_tables },
  { name: 'Migration20261124000100_materialized_views', class: Migration20261124000100_materialized_views },
  { name: 'Migration20261124001000_view_freshness', class: Migration20261124001000_view_freshness },
  { name: 'Migration20261124002000_item_query_indexes', class: Migration20261124002000_item_query_indexes },
  { name: 'Migration20261124003000_view_versions', class: Migration20261124003000_view_versions },
  { name: 'Migration20261124212645_views_gear_item_stats_v2', class: Migration20261124212645_views_gear_item_stats_v2 },
  { name: 'Migration20261125000000_view_change_notify', class: Migration20261125000000_view_change_notify },
  { name: 'Migration20261125200000_rate_limit', class: Migration20261125200000_rate_limit },
  { name: 'Migration20261126030639_views_gear_item_stats_v3', class: Migration20261126030639_views_gear_item_stats_v3 },
];
