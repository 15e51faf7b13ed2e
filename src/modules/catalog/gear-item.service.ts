import type { Context } from '../../context';
import { checkFirst, toPage, type Page } from '../common/connection';
import { isInt, isTimestamp } from '../common/cursor';
import type { ItemWithStatsRow } from '../views/reads';
import type { GearItemFilter, GearItemOrder } from './gear-item.inputs';
import { countSql, cursorChecks, cursorScope, normalizeFilter, normalizeOrder, pageSql, sortKeyOf } from './gear-item.query';
import type { GearItemNode } from './gear-item.type';
import type { GearReviewNode } from './gear-review.type';

export interface ListItemsArgs {
  filter?: GearItemFilter | null;
  orderBy?: GearItemOrder[] | null;
  first: number;
  after?: string | null;
}

/**
 * One page of items in one statement. The rows carry the cached aggregates from the same
 * join, so they prime the stats loader (and the item loader) instead of asking again.
 */
export async function listItems(ctx: Context, args: ListItemsArgs): Promise<Page<GearItemNode>> {
  const first = checkFirst(args.first);
  const filter = normalizeFilter(args.filter);
  const terms = normalizeOrder(args.orderBy);
  // Filters that say the same ({} and none, "01" and "1") share cursors; any other refuses them.
  const scope = cursorScope(filter, terms);
  const after = args.after == null ? null : ctx.cursors.decode(args.after, scope, 'after', cursorChecks(terms));

  // first + 1 rows tell hasNextPage, also when first is 0.
  // Unfiltered pages plan the same whatever the cursor: prepared. A filter's best plan
  // depends on its values (a leaf's subtree or a root's, a rare count or a common one).
  const filtered = Object.keys(filter).length > 0;
  const rows = await ctx.sql.rows<ItemWithStatsRow>(pageSql(filter, terms, after, first + 1), { prepared: !filtered });
  return toPage(
    rows,
    first,
    (row) => {
      const stats = { reviewCount: row.reviewCount, reviewRating: row.reviewRating };
      const node: GearItemNode = {
        id: row.id,
        name: row.name,
        description: row.description,
        categoryId: row.categoryId,
        createdAt: row.createdAt,
        stats,
      };
      ctx.loaders.items.prime(row.id, node);
      ctx.loaders.itemStats.prime(row.id, stats);
      return node;
    },
    (row) => ctx.cursors.encode(scope, sortKeyOf(row, terms)),
    async () => {
      const [{ n }] = await ctx.sql.rows<{ n: number }>(countSql(filter));
      return n;
    },
  );
}

/** One page of an item's reviews, newest first; batched across items by the loader. */
export async function listReviews(
  ctx: Context,
  itemId: number,
  args: { first: number; after?: string | null },
): Promise<Page<GearReviewNode>> {
  const first = checkFirst(args.first, 'first');
  const scope = `reviews:${itemId}`;
  let after: { createdAt: string; id: number } | null = null;
  if (args.after != null) {
    const [createdAt, id] = ctx.cursors.decode(args.after, scope, 'after', [isTimestamp, isInt]);
    after = { createdAt: createdAt as string, id: id as number };
  }
  const rows = await ctx.loaders.reviewPages.load({ itemId, limit: first + 1, after });
  return toPage(
    rows,
    first,
    (r) => r,
    (r) => ctx.cursors.encode(scope, [r.createdAt.toISOString(), r.id]),
    () => ctx.loaders.reviewTotals.load(itemId),
  );
}
