import { Ctx, FieldResolver, ID, Resolver, Root } from 'type-graphql';
import { encodeNodeId } from '../common/node';
import type { Context } from '../../context';
import { GearItemNode } from './gear-item.type';
import { GearReviewNode } from './gear-review.type';
import { READ_TABLES, Reads } from '../common/reads';

@Resolver(() => GearReviewNode)
export class GearReviewResolver {
  @Reads(READ_TABLES.review)
  @FieldResolver(() => ID, { description: 'Globally unique, opaque id (Node).' })
  nodeId(@Root() review: GearReviewNode): string {
    return encodeNodeId('GearReview', review.id);
  }

  @Reads(READ_TABLES.item)
  @FieldResolver(() => GearItemNode, { description: 'The item reviewed.' })
  async gearItem(@Root() review: GearReviewNode, @Ctx() ctx: Context): Promise<GearItemNode> {
    const item = await ctx.loaders.items.load(review.gearItemId);
    // The foreign key cascades deletes, so a review always has its item.
    return item as GearItemNode;
  }
}
