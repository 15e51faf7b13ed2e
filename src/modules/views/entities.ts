import { ArrayType, Entity, Index, OneToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { GearItem } from '../catalog/gear-item.entity';
import { GearCategory } from '../categories/gear-category.entity';

// The views' tables as MikroORM maps them, for the schema diff (never for hot reads).

// Materialized views mapped read-only. They are built by hand-written migrations and kept
// out of schema diffing (schemaGenerator.skipTables), so these mappings never emit DDL;
// the 1:1 links to the tables carry no foreign key, since a view cannot have one.

@Entity({ tableName: 'gear_item_stats', readonly: true })
export class GearItemStats {
  @OneToOne(() => GearItem, { primary: true, fieldName: 'gear_item_id', createForeignKeyConstraint: false })
  gearItem!: GearItem;

  @Property({ type: 'integer' })
  reviewCount!: number;

  /** Unrounded mean; null without reviews. */
  @Property({ type: 'double', nullable: true })
  reviewRating!: number | null;

  /** Sum of ratings, so that category_stats can take an exact mean over a subtree. */
  @Property({ type: 'bigint' })
  ratingSum!: string;

  /** When the newest review was written; null without reviews (since v2). */
  @Property({ type: 'datetime', nullable: true })
  lastReviewedAt!: Date | null;
}

@Entity({ tableName: 'category_tree', readonly: true })
export class CategoryTreeRow {
  @PrimaryKey({ type: 'integer', autoincrement: false })
  id!: number;

  @Property({ type: 'integer', nullable: true })
  parentId!: number | null;

  @Property({ type: 'string' })
  name!: string;

  @Property({ type: 'integer' })
  depth!: number;

  /** Ids from the root down to this category, itself included. */
  @Property({ type: ArrayType, columnType: 'integer[]' })
  path!: number[];

  /** Position in depth-first pre-order (siblings by name, then id). */
  @Property({ type: 'integer' })
  ord!: number;

  /** ord of the last category in this one's subtree: the subtree is ord..subtreeEnd. */
  @Property({ type: 'integer' })
  subtreeEnd!: number;
}

@Entity({ tableName: 'category_stats', readonly: true })
export class CategoryStats {
  @OneToOne(() => GearCategory, { primary: true, fieldName: 'category_id', createForeignKeyConstraint: false })
  category!: GearCategory;

  @Property({ type: 'integer' })
  itemCount!: number;

  @Property({ type: 'integer' })
  reviewCount!: number;

  @Property({ type: 'double', nullable: true })
  reviewRating!: number | null;
}

/**
 * One row per successful refresh of a materialized view, written in the refresh's own
 * transaction (a refresh that fails leaves no row). `snapshot` and `xid` say exactly which
 * changes the refresh saw, so staleness does not depend on clocks (see ops/status.ts).
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

  /** mutation, schedule, freshness, cli, seed, startup or migration. */
  @Property({ type: 'string', length: 20 })
  refreshedBy!: string;
}
