import { Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';

/** The category tree as an adjacency list; the walkable tree is the view category_tree. */
@Entity({ tableName: 'gear_category' })
// Serves the foreign key and a parent's children in name order.
@Index({ name: 'gear_category_parent_id_name_id_index', properties: ['parent', 'name', 'id'] })
export class GearCategory {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @ManyToOne(() => GearCategory, { nullable: true, deleteRule: 'restrict', index: false })
  parent?: GearCategory | null;

  @Property({ type: 'string', length: 200 })
  name!: string;
}
