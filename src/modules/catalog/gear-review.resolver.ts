import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { Context } from '../../context';
import { GearItemNode } from './gear-item.type';
import { GearReviewNode } from './gear-review.type';

@Resolver(() => GearReviewNode)
export class GearReviewResolver {
  @FieldResolver(() => GearItemNode, { description: 'The item reviewed.' })
  async gearItem(@Root() review: GearReviewNode, @Ctx() ctx: Context): Promise<GearItemNode> {
    const item = await ctx.loaders.items.load(review.gearItemId);
    // The foreign key cascades deletes, so a review always has its item.
    return item as GearItemNode;
  }
}
