import { Arg, Ctx, FieldResolver, Float, ID, Int, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../context';
import { parseId } from '../common/ids';
import { CategoryNode } from '../categories/category.type';
import { GearItemFilter, GearItemOrder } from './gear-item.inputs';
import { listItems, listReviews } from './gear-item.service';
import { GearItemConnection, GearItemNode } from './gear-item.type';
import { GearReviewConnection } from './gear-review.type';
import { pageComplexity, type Page } from '../common/connection';
import type { GearReviewNode } from './gear-review.type';

@Resolver(() => GearItemNode)
export class GearItemResolver {
  @Query(() => GearItemNode, { nullable: true, description: 'An item by id; null when there is none.' })
  gearItem(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<GearItemNode | null> {
    return ctx.loaders.items.load(parseId(id, 'id'));
  }

  @Query(() => GearItemConnection, {
    description: `Items, filtered and sorted, in pages (forward pagination).
first: 0..100, else BAD_USER_INPUT. after: a cursor from this same query
(same filter and orderBy), else BAD_USER_INPUT.
Order: the orderBy terms in turn, then id ascending as the last tie-breaker.
Default order: id ascending. reviewRating nulls sort last in either direction.`,
    complexity: pageComplexity,
  })
  gearItems(
    @Ctx() ctx: Context,
    @Arg('filter', () => GearItemFilter, { nullable: true }) filter?: GearItemFilter | null,
    @Arg('orderBy', () => [GearItemOrder], { nullable: true }) orderBy?: GearItemOrder[] | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<Page<GearItemNode>> {
    return listItems(ctx, { filter, orderBy, first: first ?? 20, after });
  }

  @FieldResolver(() => CategoryNode, { nullable: true, description: 'The category the item is filed under.' })
  category(@Root() item: GearItemNode, @Ctx() ctx: Context): Promise<CategoryNode | null> | null {
    return item.categoryId == null ? null : ctx.loaders.categories.load(item.categoryId);
  }

  @FieldResolver(() => Int, { description: "Cached (gear_item_stats): number of reviews; 0 when the item has no row there." })
  reviewCount(@Root() item: GearItemNode, @Ctx() ctx: Context): number | Promise<number> {
    return item.stats ? item.stats.reviewCount : ctx.loaders.itemStats.load(item.id).then((s) => s.reviewCount);
  }

  @FieldResolver(() => Float, { nullable: true, description: 'Cached (gear_item_stats): mean rating, unrounded; null when there is none.' })
  reviewRating(@Root() item: GearItemNode, @Ctx() ctx: Context): number | null | Promise<number | null> {
    // Read straight from the page's own join when it has one: no promise per field.
    return item.stats ? item.stats.reviewRating : ctx.loaders.itemStats.load(item.id).then((s) => s.reviewRating);
  }

  @FieldResolver(() => Date, {
    nullable: true,
    description: 'Cached (gear_item_stats): when the newest review was written; null when there is none.',
  })
  async lastReviewedAt(@Root() item: GearItemNode, @Ctx() ctx: Context): Promise<Date | null> {
    return ctx.loaders.lastReviewedAt.load(item.id);
  }

  @FieldResolver(() => GearReviewConnection, {
    description: 'Newest first (createdAt, then id, descending). first: 0..100.',
    complexity: pageComplexity,
  })
  reviews(
    @Root() item: GearItemNode,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<Page<GearReviewNode>> {
    return listReviews(ctx, item.id, { first: first ?? 20, after });
  }
}
