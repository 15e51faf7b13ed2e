import type { Context } from '../../context';
import { BadUserInputError } from '../../errors';
import { checkFirst, toPage, type Page } from '../common/connection';
import type { GearItemFilter, GearItemOrder } from './gear-item.inputs';
import { countQuery, decodeKey, filterConditions, normalizeOrder, pageQuery, sortKeyOf } from './gear-item.query';
import type { GearItemNode } from './gear-item.type';
import type { GearReviewNode } from './gear-review.type';

interface ItemRow {
  id: number;
  name: string;
  description: string | null;
  category_id: number | null;
  created_at: Date;
  review_count: number;
  review_rating: number | null;
}

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
  const filter = filterConditions(args.filter);
  const terms = normalizeOrder(args.orderBy);
  // Bound to the filter as it runs (its SQL and parameters), so filters that say the same
  // ({} and none, "01" and "1") share cursors and any other filter refuses them.
  const scope = `gearItems:${JSON.stringify([filter.conditions, filter.params, terms])}`;
  const after = args.after == null ? null : decodeKey(ctx.cursors.decode(args.after, scope, 'after'), terms, 'after');

  const query = pageQuery(filter, terms, after, first + 1);
  // first + 1 rows tell hasNextPage, also when first is 0.
  // Unfiltered pages plan the same whatever the cursor: prepared. A filter's best plan
  // depends on its values (a leaf's subtree or a root's, a rare count or a common one).
  const rows = await ctx.sql.rows<ItemRow>(query.text, query.params, { prepared: filter.conditions.length === 0 });
  return toPage(
    rows,
    first,
    (row) => {
      const stats = { reviewCount: row.review_count, reviewRating: row.review_rating };
      const node: GearItemNode = {
        id: row.id,
        name: row.name,
        description: row.description,
        categoryId: row.category_id,
        createdAt: row.created_at,
        stats,
      };
      ctx.loaders.items.prime(row.id, node);
      ctx.loaders.itemStats.prime(row.id, stats);
      return node;
    },
    (row) => ctx.cursors.encode(scope, sortKeyOf(row as unknown as Record<string, unknown>, terms)),
    async () => {
      const count = countQuery(filter);
      const [{ n }] = await ctx.sql.rows<{ n: number }>(count.text, count.params);
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
    const key = ctx.cursors.decode(args.after, scope, 'after');
    const [createdAt, id] = key;
    if (key.length !== 2 || typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt)) || !Number.isInteger(id)) {
      throw new BadUserInputError('after is not a cursor from this query', 'after');
    }
    after = { createdAt, id: id as number };
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
