import { Arg, Ctx, FieldResolver, Float, ID, Info, Int, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLResolveInfo } from 'graphql';
import type { Context } from '../../context';
import { parseId } from '../common/ids';
import { Selection } from '../common/selection';
import { encodeNodeId } from '../common/node';
import { CategoryNode } from '../categories/category.type';
import { GearItemFilter, GearItemOrder } from './gear-item.inputs';
import { filterScansItems } from './gear-item.query';
import { listItems, listReviews, type ItemsPage } from './gear-item.service';
import { GearItemConnection, GearItemNode } from './gear-item.type';
import { GearReviewConnection } from './gear-review.type';
import { filteredPageComplexity, pageComplexity, pageRequest, type Page } from '../common/connection';
import type { GearReviewNode } from './gear-review.type';
import { READ_TABLES, READ_VIEWS, Reads } from '../common/reads';

@Resolver(() => GearItemNode)
export class GearItemResolver {
  @Reads(READ_TABLES.item)
  @Query(() => GearItemNode, { nullable: true, description: 'An item by id; null when there is none.' })
  gearItem(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<GearItemNode | null> {
    return ctx.loaders.items.load(parseId(id, 'id'));
  }

  @Reads(READ_TABLES.item, READ_VIEWS.itemStats, READ_VIEWS.categoryTree)
  @Query(() => GearItemConnection, {
    description: `Items, filtered and sorted, in pages (forward pagination).
first: 0..100, else BAD_USER_INPUT. after: a cursor from this same query
(same filter and orderBy), else BAD_USER_INPUT.
Order: the orderBy terms in turn, then id ascending as the last tie-breaker.
Default order: id ascending. reviewRating nulls sort last in either direction.
Backward pagination: last (0..100) and before (a cursor from this same query) give
the last items before it, in the same order; first and last both given explicitly:
BAD_USER_INPUT (first's default does not count). after and before together: the
items between them. The connection's generationChanged says when a cursor was read
from older cached data than the page.`,
    // A filter no index serves with the order may read every item to fill the page; its walk
    // stops at the page's last match, so it is priced at a fifth of a count of them.
    complexity: filteredPageComplexity((args, b) => (filterScansItems(args.filter) ? b.items / 5 : 0)),
  })
  gearItems(
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
    @Arg('filter', () => GearItemFilter, { nullable: true }) filter?: GearItemFilter | null,
    @Arg('orderBy', () => [GearItemOrder], { nullable: true }) orderBy?: GearItemOrder[] | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('last', () => Int, { nullable: true, description: 'Page backward: the last items (0..100) before `before`, or of the whole list.' })
    last?: number | null,
    @Arg('before', () => String, { nullable: true, description: 'A cursor from this same query: only items before it.' })
    before?: string | null,
  ): Promise<ItemsPage> {
    return listItems(ctx, { filter, orderBy, page: pageRequest({ first, after, last, before }, info), selection: Selection.of(info) });
  }

  @Reads(READ_TABLES.item)
  @FieldResolver(() => ID, { description: 'Globally unique, opaque id (Node).' })
  nodeId(@Root() item: GearItemNode): string {
    return encodeNodeId('GearItem', item.id);
  }

  @Reads(READ_TABLES.category)
  @FieldResolver(() => CategoryNode, { nullable: true, description: 'The category the item is filed under.' })
  category(@Root() item: GearItemNode, @Ctx() ctx: Context): Promise<CategoryNode | null> | null {
    return item.categoryId == null ? null : ctx.loaders.categories.load(item.categoryId);
  }

  @Reads(READ_VIEWS.itemStats)
  @FieldResolver(() => Int, { description: "Cached (gear_item_stats): number of reviews; 0 when the item has no row there." })
  reviewCount(@Root() item: GearItemNode, @Ctx() ctx: Context): number | Promise<number> {
    return item.stats ? item.stats.reviewCount : ctx.loaders.itemStats.load(item.id).then((s) => s.reviewCount);
  }

  @Reads(READ_VIEWS.itemStats)
  @FieldResolver(() => Float, { nullable: true, description: 'Cached (gear_item_stats): mean rating, unrounded; null when there is none.' })
  reviewRating(@Root() item: GearItemNode, @Ctx() ctx: Context): number | null | Promise<number | null> {
    // Read straight from the page's own join when it has one: no promise per field.
    return item.stats ? item.stats.reviewRating : ctx.loaders.itemStats.load(item.id).then((s) => s.reviewRating);
  }

  @Reads(READ_VIEWS.itemStats)
  @FieldResolver(() => Date, {
    nullable: true,
    description: 'Cached (gear_item_stats): when the newest review was written; null when there is none.',
  })
  async lastReviewedAt(@Root() item: GearItemNode, @Ctx() ctx: Context): Promise<Date | null> {
    return ctx.loaders.lastReviewedAt.load(item.id);
  }

  @Reads(READ_TABLES.review)
  @FieldResolver(() => GearReviewConnection, {
    description: `Newest first (createdAt, then id, descending). first: 0..100.
Backward: last (0..100) and before, as on gearItems; first and last both given explicitly: BAD_USER_INPUT.`,
    complexity: pageComplexity,
  })
  reviews(
    @Root() item: GearItemNode,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('last', () => Int, { nullable: true, description: 'Page backward: the last reviews (0..100) before `before`, or of all.' })
    last?: number | null,
    @Arg('before', () => String, { nullable: true, description: 'A cursor from this list: only reviews before it.' })
    before?: string | null,
  ): Promise<Page<GearReviewNode>> {
    return listReviews(ctx, item.id, pageRequest({ first, after, last, before }, info));
  }
}

@Resolver(() => GearItemConnection)
export class GearItemGenerationResolver {
  @Reads(READ_VIEWS.itemStats)
  @FieldResolver(() => Date, {
    nullable: true,
    description: `When gear_item_stats (the cached reviewCount and reviewRating this page shows, filters and sorts by) was
last refreshed, as read by the page's own statement; null when it never was.`,
  })
  async cachedAt(@Root() page: ItemsPage): Promise<Date | null> {
    return (await page.generation()).cachedAt;
  }

  @Reads(READ_VIEWS.itemStats, READ_VIEWS.categoryTree)
  @FieldResolver(() => Boolean, {
    description: `True when the after or before cursor was read from another generation of the cached data
(gear_item_stats or category_tree refreshed since): the walk may repeat or skip items,
so dedupe by id or start again. False without a cursor. Cursors stay valid across refreshes.`,
  })
  async generationChanged(@Root() page: ItemsPage): Promise<boolean> {
    if (!page.cursorGenerations.length) return false;
    const { generation } = await page.generation();
    return page.cursorGenerations.some((g) => g === null || g !== generation);
  }
}
