import { Field, ID, Int, ObjectType } from 'type-graphql';
import { connectionTypes } from '../common/connection';
import { NodeInterface } from '../common/node';
import { READ_TABLES, Reads } from '../common/reads';

@ObjectType('GearReview', { description: "A client's review of one item.", implements: NodeInterface, simpleResolvers: true })
export class GearReviewNode {
  @Reads(READ_TABLES.review)
  @Field(() => ID)
  id!: number;

  @Reads(READ_TABLES.review)
  @Field(() => Int, { description: '1 to 5.' })
  rating!: number;

  @Reads(READ_TABLES.review)
  @Field(() => String, { nullable: true, description: 'Free text; null when none was given.' })
  body!: string | null;

  @Reads(READ_TABLES.review)
  @Field({ description: 'When the review was added.' })
  createdAt!: Date;

  /** Resolved to `gearItem` through the per-request item loader. */
  gearItemId!: number;
}

export const { ConnectionType: GearReviewConnection, ConnectionResolver: GearReviewConnectionResolver } = connectionTypes(
  GearReviewNode,
  'GearReview',
  "All of the item's reviews, whatever the page (live, not cached).",
  (b) => b.maxReviewsPerItem,
  [READ_TABLES.review],
);
