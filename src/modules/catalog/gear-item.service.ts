import type { Context } from '../../context';
import { toPage, type Page, type PageRequest } from '../common/connection';
import type { Selection } from '../common/selection';
import { isInt, isTimestamp, type CursorCheck, type DecodedCursor } from '../common/cursor';
import { parseTimestamptz } from '../../database/sql';
import { readItemsGeneration, type ItemStats, type ItemsGeneration, type ItemWithStatsRow } from '../views/reads';
import type { ReviewKey } from './catalog.loaders';
import type { GearItemFilter, GearItemOrder } from './gear-item.inputs';
import { countSql, cursorChecks, cursorScope, filterIsLiteral, normalizeFilter, normalizeOrder, pageColumns, pageSql, sortKeyOf } from './gear-item.query';
import type { GearItemNode } from './gear-item.type';
import type { GearReviewNode } from './gear-review.type';

export interface ListItemsArgs {
  filter?: GearItemFilter | null;
  orderBy?: GearItemOrder[] | null;
  page: PageRequest;
  /** What the client selects below the connection: the rows carry only the columns it reads. */
  selection?: Selection;
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
  // Prepared (planned once per connection, not on every call) unless the filter sends text as
  // a parameter: see filterIsLiteral. The cursor's bound plans the same whatever its value.
  const columns = pageColumns(args.selection, terms);
  const rows = await ctx.sql.rows<RawItemRow>(
    pageSql(filter, terms, { after: after?.key ?? null, before: before?.key ?? null, backward: page.backward }, page.size + 1, columns),
    { prepared: filterIsLiteral(filter), rawTimestamps: true },
  );
  const read: ItemsGeneration | null = rows.length && columns.generation ? { generation: rows[0].generation, cachedAt: dateOrNull(rows[0].cachedAt) } : null;
  // Only a whole item may stand in for the item loader's own read (`gearItem(id)` later in the request).
  const whole = columns.description && columns.categoryId && columns.createdAt;
  let lazy: Promise<ItemsGeneration> | undefined;
  const items = toPage(
    rows,
    page,
    (row) => {
      const stats = { reviewCount: row.reviewCount, reviewRating: row.reviewRating };
      const node: GearItemNode = new PageItem(row, stats);
      if (whole) ctx.loaders.items.prime(row.id, node);
      ctx.loaders.itemStats.prime(row.id, stats);
      return node;
    },
    // createdAt is read when a term sorts by it, and then the row has it (pageColumns).
    (row) => ctx.cursors.encode(scope, sortKeyOf({ ...row, createdAt: dateOrNull(row.createdAt)!, cachedAt: null }, terms), row.generation),
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

/**
 * A page's row as read: its timestamps still PostgreSQL's text (`rawTimestamps`); the
 * columns its client reads nothing from left out (pageColumns), undefined here.
 */
type RawItemRow = Omit<ItemWithStatsRow, 'createdAt' | 'cachedAt'> & { createdAt: string; cachedAt: string | null };

const dateOrNull = (text: string | null | undefined) => (text == null ? null : parseTimestamptz(text));

/**
 * An item of a page, its createdAt parsed when first read: a page that does not select it
 * (or sort by it) makes no Date per row.
 */
class PageItem implements GearItemNode {
  readonly id: number;
  readonly name: string;
  readonly description: string | null;
  readonly categoryId: number | null;
  readonly stats: ItemStats;
  #createdAtText: string;
  #createdAt: Date | undefined;

  constructor(row: RawItemRow, stats: ItemStats) {
    this.id = row.id;
    this.name = row.name;
    this.description = row.description;
    this.categoryId = row.categoryId;
    this.stats = stats;
    this.#createdAtText = row.createdAt;
  }

  get createdAt(): Date {
    return (this.#createdAt ??= parseTimestamptz(this.#createdAtText));
  }
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
