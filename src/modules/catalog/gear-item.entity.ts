import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { GearCategory } from '../categories/gear-category.entity';

@Entity({ tableName: 'gear_item' })
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
