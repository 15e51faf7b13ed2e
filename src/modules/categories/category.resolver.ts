import { Arg, Ctx, FieldResolver, Float, ID, Int, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../context';
import { BadUserInputError } from '../../errors';
import { parseId, parseOptionalId } from '../common/ids';
import { encodeNodeId } from '../common/node';
import { readCategoryTree, type CategoryTreeRead } from '../views/reads';
import { listCost } from '../../security/cost';
import { treeNodesBound } from '../../security/cost-bounds';
import { CategoryNode, CategoryTreeNodeType } from './category.type';
import { READ_TABLES, READ_VIEWS, Reads } from '../common/reads';

@Resolver(() => CategoryNode)
export class CategoryResolver {
  @Reads(READ_TABLES.category)
  @Query(() => CategoryNode, { nullable: true, description: 'A category by id; null when there is none.' })
  category(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<CategoryNode | null> {
    return ctx.loaders.categories.load(parseId(id, 'id'));
  }

  @Reads(READ_VIEWS.categoryTree, READ_TABLES.category, READ_VIEWS.categoryStats)
  @Query(() => [CategoryTreeNodeType], {
    description: `The category tree from the recursive-CTE view category_tree (cached), flattened
in depth-first pre-order: every node right after its parent, siblings by name,
then id. rootId: start at this category (itself included); omitted: all roots.
maxDepth: how many levels below the start to include (0: the start alone);
omitted: all; negative: BAD_USER_INPUT. An unknown rootId gives an empty list.`,
    // Costs the nodes it can return: from the cached tree, down to maxDepth.
    complexity: listCost((args, b) => treeNodesBound(b, args.rootId != null, typeof args.maxDepth === 'number' ? args.maxDepth : null)),
  })
  async categoryTree(
    @Ctx() ctx: Context,
    @Arg('rootId', () => ID, { nullable: true }) rootId?: string | null,
    @Arg('maxDepth', () => Int, { nullable: true }) maxDepth?: number | null,
  ): Promise<CategoryTreeNodeType[]> {
    if (maxDepth != null && maxDepth < 0) throw new BadUserInputError('maxDepth must not be negative', 'maxDepth');
    const rows = await readCategoryTree(ctx.sql, parseOptionalId(rootId, 'rootId'), maxDepth ?? null);
    // The rows carry the live category and its aggregates: `category { … }` costs no query.
    for (const row of rows) {
      ctx.loaders.categories.prime(row.id, row.live);
      ctx.loaders.categoryStats.prime(row.id, row.category.stats);
    }
    return rows;
  }

  @Reads(READ_TABLES.category)
  @FieldResolver(() => ID, { description: 'Globally unique, opaque id (Node).' })
  nodeId(@Root() c: CategoryNode): string {
    return encodeNodeId('Category', c.id);
  }

  @Reads(READ_TABLES.category)
  @FieldResolver(() => CategoryNode, { nullable: true, description: 'The parent; null for a root category.' })
  parent(@Root() c: CategoryNode, @Ctx() ctx: Context): Promise<CategoryNode | null> | null {
    return c.parentId == null ? null : ctx.loaders.categories.load(c.parentId);
  }

  @Reads(READ_TABLES.category)
  @FieldResolver(() => [CategoryNode], {
    description: 'Direct children, by name, then id.',
    // Costs the largest fan-out of any category.
    complexity: listCost((_args, b) => b.maxFanout),
  })
  children(@Root() c: CategoryNode, @Ctx() ctx: Context): Promise<CategoryNode[]> {
    return ctx.loaders.children.load(c.id);
  }

  @Reads(READ_VIEWS.categoryStats)
  @FieldResolver(() => Int, {
    description: 'Cached (category_stats): items in this category and all categories below it; 0 when it has no row there.',
  })
  itemCount(@Root() c: CategoryNode, @Ctx() ctx: Context): number | Promise<number> {
    return c.stats ? c.stats.itemCount : ctx.loaders.categoryStats.load(c.id).then((s) => s.itemCount);
  }

  @Reads(READ_VIEWS.categoryStats)
  @FieldResolver(() => Int, { description: 'Cached (category_stats): reviews of those items; 0 when it has no row there.' })
  reviewCount(@Root() c: CategoryNode, @Ctx() ctx: Context): number | Promise<number> {
    return c.stats ? c.stats.reviewCount : ctx.loaders.categoryStats.load(c.id).then((s) => s.reviewCount);
  }

  @Reads(READ_VIEWS.categoryStats)
  @FieldResolver(() => Float, {
    nullable: true,
    description: 'Cached (category_stats): mean rating over all those reviews; null when there is none.',
  })
  reviewRating(@Root() c: CategoryNode, @Ctx() ctx: Context): number | null | Promise<number | null> {
    return c.stats ? c.stats.reviewRating : ctx.loaders.categoryStats.load(c.id).then((s) => s.reviewRating);
  }
}

@Resolver(() => CategoryTreeNodeType)
export class CategoryTreeNodeResolver {
  @Reads(READ_TABLES.category)
  @FieldResolver(() => CategoryNode, { description: 'The category itself, live from gear_category.' })
  category(@Root() node: CategoryTreeRead): CategoryNode {
    // The live category and its aggregates, read by the same statement that primed the
    // loaders with them and built once with the row (readCategoryTree): no promise and no
    // object per field (as a page's items carry their stats). A tree row can outlive its
    // category until the next refresh; the row itself stands in.
    return node.category;
  }
}
