import { Field, ID, ObjectType } from 'type-graphql';
import { connectionTypes } from '../common/connection';
import { NodeInterface } from '../common/node';
import type { ItemStats } from '../views/reads';
import { READ_TABLES, READ_VIEWS, Reads } from '../common/reads';

@ObjectType('GearItem', { description: 'A piece of gear in the catalog.', implements: NodeInterface, simpleResolvers: true })
export class GearItemNode {
  @Reads(READ_TABLES.item)
  @Field(() => ID)
  id!: number;

  @Reads(READ_TABLES.item)
  @Field({ description: 'Display name.' })
  name!: string;

  @Reads(READ_TABLES.item)
  @Field(() => String, { nullable: true, description: 'Free text; null when none was given.' })
  description!: string | null;

  @Reads(READ_TABLES.item)
  @Field({ description: 'When the item was added.' })
  createdAt!: Date;

  /** Resolved to `category` through the per-request category loader. */
  categoryId!: number | null;

  /** The cached aggregates, when the query that found the item joined them already. */
  stats?: ItemStats;
}

export const { ConnectionType: GearItemConnection, ConnectionResolver: GearItemConnectionResolver } = connectionTypes(
  GearItemNode,
  'GearItem',
  'All items that match the filter, whatever the page.',
  (b) => b.items,
  [READ_TABLES.item, READ_VIEWS.itemStats, READ_VIEWS.categoryTree],
);
