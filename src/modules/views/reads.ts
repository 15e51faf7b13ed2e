import DataLoader from 'dataloader';
import { sql, type Sql, type SqlFragment } from '../../database/sql';
import { inKeyOrder } from '../common/batch';
import type { ManagedViewName } from './names';

// Request time: everything that reads a materialized view goes through here. Other modules
// ask for aggregates, or for SQL that joins a view, and never spell a view's name or
// column themselves. (ops/ and ddl/ are for ops and migrations; requests import only this.)

export interface ItemStats {
  reviewCount: number;
  reviewRating: number | null;
}

export interface CategoryStatsRow {
  itemCount: number;
  reviewCount: number;
  reviewRating: number | null;
}

export interface CategoryTreeEntry {
  id: number;
  parentId: number | null;
  name: string;
  depth: number;
  /** The ids as text: ID values, which GraphQL serialises as strings anyway. */
  path: string[];
}

/** An item with no row in gear_item_stats (created after the last refresh). */
export const NO_ITEM_STATS: ItemStats = Object.freeze({ reviewCount: 0, reviewRating: null });
export const NO_CATEGORY_STATS: CategoryStatsRow = Object.freeze({ itemCount: 0, reviewCount: 0, reviewRating: null });

/** An item with its cached aggregates, as itemsWithStatsPage lists it. */
export interface ItemWithStatsRow {
  id: number;
  name: string;
  description: string | null;
  categoryId: number | null;
  createdAt: Date;
  reviewCount: number;
  reviewRating: number | null;
  /** The generation of the cached data the row was read at (see ItemsGeneration), the same on every row of a page. */
  generation: number | null;
  /** When gear_item_stats was last refreshed, as the same statement saw it. */
  cachedAt: Date | null;
}

/**
 * Which contents of the views an item list read. `generation` is the id of the newest
 * refresh (view_refresh_log) of gear_item_stats or category_tree, the views that decide
 * what an item list holds and in what order: it changes whenever either is refreshed or
 * swapped by a migration. `cachedAt` is when gear_item_stats (the cached figures) was last
 * refreshed. Both null before the first refresh.
 */
export interface ItemsGeneration {
  generation: number | null;
  cachedAt: Date | null;
}

// Uncorrelated scalar subqueries: PostgreSQL runs each once per statement (an InitPlan on
// the log's (view_name, id) index, or a scan of a log small enough not to need it), in the
// statement's own snapshot, so they name exactly the refresh whose rows the page read (a
// refresh writes its log row in its own transaction). The plan of the page is unchanged.
const lastRefresh = (view: ManagedViewName, column: 'id' | 'finished_at') =>
  sql.raw(`(select l.${column} from view_refresh_log l where l.view_name = '${view}' order by l.id desc limit 1)`);
const GENERATION_COLUMNS = sql.query`greatest(${lastRefresh('gear_item_stats', 'id')}, ${lastRefresh('category_tree', 'id')})::float8 as generation,
  ${lastRefresh('gear_item_stats', 'finished_at')} as "cachedAt"`;

/** The generation of the item lists now (for a page that read no rows to carry it). */
export async function readItemsGeneration(db: Sql): Promise<ItemsGeneration> {
  const [row] = await db.rows<ItemsGeneration>(sql.query`select ${GENERATION_COLUMNS}`, { prepared: true });
  return row ?? { generation: null, cachedAt: null };
}

/** The one column list of those rows: the SQL column of each, and its name in the row. */
const ITEM_WITH_STATS_COLUMNS = [
  ['id', 'id'],
  ['name', 'name'],
  ['description', 'description'],
  ['category_id', 'categoryId'],
  ['created_at', 'createdAt'],
  ['review_count', 'reviewCount'],
  ['review_rating', 'reviewRating'],
] as const satisfies readonly (readonly [string, keyof ItemWithStatsRow])[];

const PART_COLUMNS = sql.raw(ITEM_WITH_STATS_COLUMNS.map(([column]) => `x.${column}`).join(', '));

/**
 * What a page's rows may leave out: the columns its client reads nothing from, and the
 * generation (three lookups in the refresh log, sent again on every row) when no cursor,
 * cachedAt or generationChanged is asked. id, name and the aggregates are always read.
 */
export interface ItemColumns {
  description: boolean;
  categoryId: boolean;
  createdAt: boolean;
  generation: boolean;
}
export const ALL_ITEM_COLUMNS: ItemColumns = Object.freeze({ description: true, categoryId: true, createdAt: true, generation: true });

const OPTIONAL_ITEM_COLUMNS = ['description', 'categoryId', 'createdAt'] as const satisfies readonly (keyof ItemColumns)[];

/** The select list of a page's rows, for each set of columns (made once each). */
const rowColumns = new Map<string, SqlFragment>();
function rowColumnsOf(columns: ItemColumns): SqlFragment {
  const id = `${+columns.description}${+columns.categoryId}${+columns.createdAt}${+columns.generation}`;
  let list = rowColumns.get(id);
  if (!list) {
    const kept = ITEM_WITH_STATS_COLUMNS.filter(([, key]) => !(OPTIONAL_ITEM_COLUMNS as readonly string[]).includes(key) || columns[key as keyof ItemColumns]);
    const rows = sql.raw(kept.map(([column, key]) => `x.${column} as "${key}"`).join(', '));
    list = columns.generation ? sql.query`${rows}, ${GENERATION_COLUMNS}` : rows;
    rowColumns.set(id, list);
  }
  return list;
}

/** The columns of those rows, for filters and sort keys over them. */
export const itemWithStats = Object.fromEntries(ITEM_WITH_STATS_COLUMNS.map(([column, key]) => [key, sql.raw(`x.${column}`)])) as Record<
  keyof ItemWithStatsRow,
  SqlFragment
>;

/**
 * Every item with its cached aggregates, as two queries whose UNION ALL lists each item
 * once. Items the view holds come from a join driven by the view (so its sort indexes serve
 * ORDER BY ... LIMIT); items created since the last refresh are listed in
 * gear_item_stats_pending (kept by a trigger) and read as 0 / null. A LEFT JOIN from
 * gear_item would say the same but force a sort of every item. PostgreSQL pushes neither an
 * outer ORDER BY ... LIMIT nor a semi-join (IN (subquery)) into UNION ALL parts that are
 * joins: filter, sort and limit each part on its own, then merge.
 */
const ITEMS_WITH_STATS_PARTS = [
  sql.raw(`select i.id, i.name, i.description, i.category_id, i.created_at, s.review_count, s.review_rating
      from gear_item_stats s
      join gear_item i on i.id = s.gear_item_id`),
  // NO_ITEM_STATS, as SQL: callers decide from it whether their conditions can match this part.
  sql.raw(`select i.id, i.name, i.description, i.category_id, i.created_at, 0 as review_count, null::float8 as review_rating
      from gear_item_stats_pending p
      join gear_item i on i.id = p.gear_item_id
     where not exists (select 1 from gear_item_stats s where s.gear_item_id = p.gear_item_id)`),
];

const whereAll = (conditions: readonly SqlFragment[]) =>
  conditions.length ? sql.query`where ${sql.join([...conditions], ' and ')}` : sql.blank;

/** Which parts of ITEMS_WITH_STATS_PARTS a read needs. */
export interface ItemsWithStatsParts {
  /**
   * Items created since the last refresh (gear_item_stats_pending), read with NO_ITEM_STATS.
   * false only when the conditions can hold for none of them, whatever their own columns
   * (reviewCount gte 1, a rating comparison): the statement is then the view's join alone.
   * PostgreSQL would find that part empty too, but only after planning it, and a filtered
   * page is planned on every call.
   */
  pending: boolean;
}

const ALL_PARTS: ItemsWithStatsParts = { pending: true };
const partsOf = (parts: ItemsWithStatsParts) => (parts.pending ? ITEMS_WITH_STATS_PARTS : ITEMS_WITH_STATS_PARTS.slice(0, 1));

/**
 * One page of items with their aggregates: each part filtered by `where` (conditions on
 * `itemWithStats` columns), sorted by `orderBy` and cut to `limit` on its own, so the
 * view's sort indexes serve it; then the parts' rows merged in the same order and cut again
 * (one part: read as it is, nothing to merge). Each row also carries the generation it was
 * read at (ItemsGeneration). `columns`: what the rows may leave out (ItemColumns); the parts
 * keep every column, for the conditions and sort keys over them.
 */
export function itemsWithStatsPage(where: readonly SqlFragment[], orderBy: SqlFragment, limit: number, parts = ALL_PARTS, columns = ALL_ITEM_COLUMNS): SqlFragment {
  // The limit is written into the text (a checked integer, never client text): with it known,
  // PostgreSQL can reuse a generic plan of a prepared page instead of planning every call.
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`bad page limit ${limit}`);
  const tail = sql.query`order by ${orderBy} limit ${sql.raw(String(limit))}`;
  const filter = whereAll(where);
  const read = partsOf(parts);
  const select = rowColumnsOf(columns);
  if (read.length === 1) return sql.query`select ${select} from (${read[0]}) x ${filter} ${tail}`;
  const limited = read.map((part) => sql.query`(select ${PART_COLUMNS} from (${part}) x ${filter} ${tail})`);
  return sql.query`select ${select} from (${sql.join(limited, ' union all ')}) x ${tail}`;
}

/** How many items match `where`, counted in each part on its own (so it can use their indexes). */
export function itemsWithStatsCount(where: readonly SqlFragment[], parts = ALL_PARTS): SqlFragment {
  const filter = whereAll(where);
  const counts = partsOf(parts).map((part) => sql.query`(select count(*) from (${part}) x ${filter})`);
  return sql.query`select (${sql.join(counts, ' + ')})::int as n`;
}

/**
 * The sort key for a mean rating: nulls become -Infinity descending and +Infinity
 * ascending, so nulls sort last both ways and a keyset bound is one index range. The
 * expressions match the indexes on gear_item_stats.
 */
export function ratingSortKey(expr: SqlFragment, direction: 'ASC' | 'DESC'): SqlFragment {
  return sql.query`coalesce(${expr}, ${sql.raw(direction === 'DESC' ? "'-Infinity'" : "'Infinity'")}::float8)`;
}

/**
 * `column` holds category `id` or one below it (from category_tree): its path holds `id`.
 * Unlike an ord range, the planner's array statistics on path tell a leaf's subtree from a
 * root's, so it can pick between walking a sort index and sorting the few items of a
 * small subtree.
 */
export function inSubtree(column: SqlFragment, id: number): SqlFragment {
  return sql.query`${column} in (select d.id from category_tree d where d.path @> array[${sql.literal(id)}::int])`;
}

export function createViewLoaders(db: Sql) {
  return {
    itemStats: new DataLoader<number, ItemStats>(async (ids) => {
      const rows = await db.rows<{ id: number; review_count: number; review_rating: number | null }>(
        sql.query`select gear_item_id as id, review_count, review_rating from gear_item_stats where gear_item_id = any(${sql.value(ids)}::int[])`,
        { prepared: true },
      );
      return inKeyOrder(ids, rows, (r) => r.id, (r) => ({ reviewCount: r.review_count, reviewRating: r.review_rating }), NO_ITEM_STATS);
    }),
    // gear_item_stats v2 added last_reviewed_at. Read through to_jsonb, the column is null
    // rather than an error while v1 runs (a migration's down, or before its up): readers
    // keep working during a swap either way. Only asked when a client selects the field.
    lastReviewedAt: new DataLoader<number, Date | null>(async (ids) => {
      const rows = await db.rows<{ id: number; last_reviewed_at: Date | null }>(
        sql.query`select gear_item_id as id, (to_jsonb(s) ->> 'last_reviewed_at')::timestamptz as last_reviewed_at
           from gear_item_stats s where gear_item_id = any(${sql.value(ids)}::int[])`,
      );
      return inKeyOrder(ids, rows, (r) => r.id, (r) => r.last_reviewed_at, null);
    }),
    categoryStats: new DataLoader<number, CategoryStatsRow>(async (ids) => {
      const rows = await db.rows<{ id: number; item_count: number; review_count: number; review_rating: number | null }>(
        sql.query`select category_id as id, item_count, review_count, review_rating
           from category_stats where category_id = any(${sql.value(ids)}::int[])`,
        { prepared: true },
      );
      return inKeyOrder(
        ids,
        rows,
        (r) => r.id,
        (r) => ({ itemCount: r.item_count, reviewCount: r.review_count, reviewRating: r.review_rating }),
        NO_CATEGORY_STATS,
      );
    }),
  };
}

export type ViewLoaders = ReturnType<typeof createViewLoaders>;

// Every view loader by name; the type makes a new loader fail to compile until it is listed.
const VIEW_LOADER_KEYS: Record<keyof ViewLoaders, true> = { itemStats: true, lastReviewedAt: true, categoryStats: true };

/** Forgets what the request's view loaders hold (of all its loaders): after a refresh it is out of date. */
export function clearViewLoaders(loaders: ViewLoaders): void {
  for (const key of Object.keys(VIEW_LOADER_KEYS) as (keyof ViewLoaders)[]) loaders[key].clearAll();
}

/**
 * A tree row, with the live category (null if deleted since) and `category`, what
 * CategoryTreeNode.category answers: the live category, or the row itself standing in for
 * a deleted one, with its cached aggregates.
 */
export interface CategoryTreeRead extends CategoryTreeEntry {
  live: { id: number; name: string; parentId: number | null } | null;
  category: { id: number; name: string; parentId: number | null; stats: CategoryStatsRow };
}

/**
 * The tree in depth-first pre-order, from `rootId` (itself included) or from every root,
 * down to `maxDepth` levels below the start (null: all levels). Each row comes with what
 * CategoryTreeNode.category usually asks next, from the same statement: the live category
 * and its row of category_stats, so a tree read is one statement.
 */
export async function readCategoryTree(db: Sql, rootId: number | null, maxDepth: number | null): Promise<CategoryTreeRead[]> {
  const depth = sql.value(maxDepth);
  const start =
    rootId === null
      ? { from: sql.raw('category_tree d'), where: sql.query`(${depth}::int is null or d.depth <= ${depth})` }
      : {
          from: sql.raw('category_tree r join category_tree d on d.ord between r.ord and r.subtree_end'),
          where: sql.query`r.id = ${sql.value(rootId)} and (${depth}::int is null or d.depth <= r.depth + ${depth})`,
        };
  // The whole tree as one json value (one array per node): node-postgres decodes every
  // column of every row on its own (a string from the buffer, a type parser, a row object:
  // 310 values for a 31-node tree), where one value is one string and one JSON.parse.
  // json prints ints and float8 as their text does, so the values are the same.
  const [{ tree }] = await db.rows<{ tree: TreeJsonRow[] | null }>(
    sql.query`select json_agg(json_build_array(d.id, d.parent_id, d.name, d.depth, d.path::text[],
                              c.name, c.parent_id, cs.item_count, cs.review_count, cs.review_rating) order by d.ord) as tree
       from ${start.from}
       left join gear_category c on c.id = d.id
       left join category_stats cs on cs.category_id = d.id
      where ${start.where}`,
    { prepared: true },
  );
  // Every object in its final shape, written out whole: a spread or a rest pattern here gave
  // V8 a new hidden class per row (a cost per request, in the tree's hottest loop).
  return (tree ?? []).map(([id, parentId, name, depth, path, liveName, liveParentId, itemCount, reviewCount, reviewRating]) => {
    const stats: CategoryStatsRow = itemCount === null ? NO_CATEGORY_STATS : { itemCount, reviewCount: reviewCount ?? 0, reviewRating };
    const live = liveName === null ? null : { id, name: liveName, parentId: liveParentId };
    const category = live === null ? { id, name, parentId, stats } : { id, name: live.name, parentId: live.parentId, stats };
    return { id, parentId, name, depth, path, live, category };
  });
}

/** A node as readCategoryTree's statement sends it: tree columns, the live category's, its aggregates'. */
type TreeJsonRow = [
  id: number,
  parentId: number | null,
  name: string,
  depth: number,
  path: string[],
  liveName: string | null,
  liveParentId: number | null,
  itemCount: number | null,
  reviewCount: number | null,
  reviewRating: number | null,
];
