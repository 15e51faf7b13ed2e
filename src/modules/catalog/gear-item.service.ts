import type { Context } from '../../context';
import { toPage, type Page, type PageRequest } from '../common/connection';
import { isInt, isTimestamp, type CursorCheck, type DecodedCursor } from '../common/cursor';
import { readItemsGeneration, type ItemsGeneration, type ItemWithStatsRow } from '../views/reads';
import type { ReviewKey } from './catalog.loaders';
import type { GearItemFilter, GearItemOrder } from './gear-item.inputs';
import { countSql, cursorChecks, cursorScope, normalizeFilter, normalizeOrder, pageSql, sortKeyOf } from './gear-item.query';
import type { GearItemNode } from './gear-item.type';
import type { GearReviewNode } from './gear-review.type';

export interface ListItemsArgs {
  filter?: GearItemFilter | null;
  orderBy?: GearItemOrder[] | null;
  page: PageRequest;
}

/** A page of items, and which generation of the cached data it was read from. */
export interface ItemsPage extends Page<GearItemNode> {
  /** The page's generation: from its own rows, or (an empty page) read when asked. */
  generation(): ItemsGeneration | Promise<ItemsGeneration>;
  /** The generations of the `after` and `before` cursors given (null: a v1 cursor, which has none). */
  cursorGenerations: (number | null)[];
}

/**
 * One page of items in one statement. The rows carry the cached aggregates from the same
 * join, so they prime the stats loader (and the item loader) instead of asking again.
 */
export async function listItems(ctx: Context, args: ListItemsArgs): Promise<ItemsPage> {
  const { page } = args;
  const filter = normalizeFilter(args.filter);
  const terms = normalizeOrder(args.orderBy);
  // Filters that say the same ({} and none, "01" and "1") share cursors; any other refuses them.
  const scope = cursorScope(filter, terms);
  const checks = cursorChecks(terms);
  const after = page.after == null ? null : ctx.cursors.decodeWithGeneration(page.after, scope, 'after', checks);
  const before = page.before == null ? null : ctx.cursors.decodeWithGeneration(page.before, scope, 'before', checks);

  // size + 1 rows tell whether more follow, also when the size is 0.
  // Unfiltered pages plan the same whatever the cursor: prepared. A filter's best plan
  // depends on its values (a leaf's subtree or a root's, a rare count or a common one).
  const filtered = Object.keys(filter).length > 0;
  const rows = await ctx.sql.rows<ItemWithStatsRow>(
    pageSql(filter, terms, { after: after?.key ?? null, before: before?.key ?? null, backward: page.backward }, page.size + 1),
    { prepared: !filtered },
  );
  const read: ItemsGeneration | null = rows.length ? { generation: rows[0].generation, cachedAt: rows[0].cachedAt } : null;
  let lazy: Promise<ItemsGeneration> | undefined;
  const items = toPage(
    rows,
    page,
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
    (row) => ctx.cursors.encode(scope, sortKeyOf(row, terms), row.generation),
    async () => {
      const [{ n }] = await ctx.sql.rows<{ n: number }>(countSql(filter));
      return n;
    },
  );
  return {
    ...items,
    generation: () => read ?? (lazy ??= readItemsGeneration(ctx.sql)),
    cursorGenerations: [after, before].filter((c): c is DecodedCursor => c !== null).map((c) => c.generation),
  };
}

const REVIEW_CURSOR: CursorCheck[] = [isTimestamp, isInt];

/** One page of an item's reviews, newest first; batched across items by the loader. */
export async function listReviews(ctx: Context, itemId: number, page: PageRequest): Promise<Page<GearReviewNode>> {
  const scope = `reviews:${itemId}`;
  const position = (cursor: string | null, field: string): ReviewKey | null => {
    if (cursor == null) return null;
    const [createdAt, id] = ctx.cursors.decode(cursor, scope, field, REVIEW_CURSOR);
    return { createdAt: createdAt as string, id: id as number };
  };
  const after = position(page.after, 'after');
  const before = position(page.before, 'before');
  const rows = await ctx.loaders.reviewPages.load({ itemId, limit: page.size + 1, after, before, backward: page.backward });
  return toPage(
    rows,
    page,
    (r) => r,
    (r) => ctx.cursors.encode(scope, [r.createdAt.toISOString(), r.id]),
    () => ctx.loaders.reviewTotals.load(itemId),
  );
}
