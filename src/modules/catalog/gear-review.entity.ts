import { Check, Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { GearItem } from './gear-item.entity';

@Entity({ tableName: 'gear_review' })
// Serves the foreign key and an item's reviews newest first (scanned backwards).
@Index({ name: 'gear_review_gear_item_id_created_at_id_index', properties: ['gearItem', 'createdAt', 'id'] })
@Check({ name: 'gear_review_rating_check', expression: 'rating >= 1 and rating <= 5' })
export class GearReview {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @ManyToOne(() => GearItem, { deleteRule: 'cascade', index: false })
  gearItem!: GearItem;

  @Property({ type: 'smallint' })
  rating!: number;

  @Property({ type: 'text', nullable: true })
  body?: string | null;

  @Property({ type: 'datetime', length: 3, defaultRaw: 'now()' })
  createdAt!: Date;
}
