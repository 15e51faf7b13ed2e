import { Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { GearCategory } from '../categories/gear-category.entity';

@Entity({ tableName: 'gear_item' })
// gearItems sorted by name or createdAt, and nameContains (Migration20261124002000_item_query_indexes).
@Index({ name: 'gear_item_name_id_index', properties: ['name', 'id'] })
@Index({ name: 'gear_item_created_at_id_index', properties: ['createdAt', 'id'] })
@Index({
  name: 'gear_item_name_trgm_index',
  expression: 'create index "gear_item_name_trgm_index" on "gear_item" using gin ("name" gin_trgm_ops)',
})
export class GearItem {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Property({ type: 'string', length: 200 })
  name!: string;

  @Property({ type: 'text', nullable: true })
  description?: string | null;

  @ManyToOne(() => GearCategory, { nullable: true, deleteRule: 'set null', index: 'gear_item_category_id_index' })
  category?: GearCategory | null;

  // Millisecond precision: cursors carry the value through JavaScript Dates.
  @Property({ type: 'datetime', length: 3, defaultRaw: 'now()' })
  createdAt!: Date;
}
