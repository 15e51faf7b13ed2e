import { Field, ID, ObjectType } from 'type-graphql';
import { connectionTypes } from '../common/connection';

@ObjectType('GearItem', { description: 'A piece of gear in the catalog.' })
export class GearItemNode {
  @Field(() => ID)
  id!: number;

  @Field({ description: 'Display name.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Free text; null when none was given.' })
  description!: string | null;

  @Field({ description: 'When the item was added.' })
  createdAt!: Date;

  /** Resolved to `category` through the per-request category loader. */
  categoryId!: number | null;
}

export const { ConnectionType: GearItemConnection, ConnectionResolver: GearItemConnectionResolver } = connectionTypes(
  GearItemNode,
  'GearItem',
  'All items that match the filter, whatever the page.',
);
