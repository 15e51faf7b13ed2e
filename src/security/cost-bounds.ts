import { sql, type Sql } from '../database/sql';

/**
 * What the lists of the schema can return, as the database last said: the sizes the cost
 * model multiplies by. Read in one statement (`readCostBounds`), kept in memory, reloaded
 * after each view refresh and at most every `maxAgeMs` otherwise (without blocking a request:
 * the last known figures are used while the next ones load).
 */
export interface CostBounds {
  /** Items a count over gear_item may touch (the whole table, pending items included). */
  items: number;
  /** The most reviews any one item has (a reviews count touches at most this many). */
  maxReviewsPerItem: number;
  /** Categories in gear_category (live). */
  categories: number;
  /** The most direct children any category has (live gear_category). */
  maxFanout: number;
  /** Deepest node of category_tree (0: roots only). */
  maxDepth: number;
  /** Nodes of category_tree with depth ≤ d, index d (cumulative). */
  nodesUpToDepth: number[];
  /** The most nodes any one subtree of category_tree holds, its root included. */
  largestSubtree: number;
}

export const NO_BOUNDS: CostBounds = {
  items: 0,
  maxReviewsPerItem: 0,
  categories: 0,
  maxFanout: 0,
  maxDepth: 0,
  nodesUpToDepth: [0],
  largestSubtree: 0,
};

/** The one statement the cost model needs at run time (kept small so it ports as it is). */
export async function readCostBounds(db: Sql): Promise<CostBounds> {
  const row = await db.one<{
    items: number;
    max_reviews: number;
    categories: number;
    max_fanout: number;
    per_depth: number[];
    largest_subtree: number;
  }>(
    sql.query`select (select count(*) from gear_item)::int as items,
            (select coalesce(max(review_count), 0) from gear_item_stats)::int as max_reviews,
            (select count(*) from gear_category)::int as categories,
            (select coalesce(max(n), 0) from (select count(*) as n from gear_category where parent_id is not null group by parent_id) f)::int as max_fanout,
            (select coalesce(array_agg(n order by depth), '{}') from (select depth, count(*)::int as n from category_tree group by depth) d) as per_depth,
            (select coalesce(max(subtree_end - ord + 1), 0) from category_tree)::int as largest_subtree`,
  );
  if (!row) return NO_BOUNDS;
  const nodesUpToDepth: number[] = [];
  let sum = 0;
  for (const n of row.per_depth) nodesUpToDepth.push((sum += n));
  return {
    items: row.items,
    maxReviewsPerItem: row.max_reviews,
    categories: row.categories,
    maxFanout: row.max_fanout,
    maxDepth: Math.max(0, nodesUpToDepth.length - 1),
    nodesUpToDepth: nodesUpToDepth.length ? nodesUpToDepth : [0],
    largestSubtree: row.largest_subtree,
  };
}

/**
 * Nodes `categoryTree(rootId, maxDepth)` can return. Without rootId: the nodes down to
 * maxDepth (exact, from the per-depth counts). With one: the largest subtree, and no more
 * than a full tree of the largest fan-out down to maxDepth levels.
 */
export function treeNodesBound(b: CostBounds, rooted: boolean, maxDepth: number | null): number {
  const depth = maxDepth == null || maxDepth < 0 ? b.maxDepth : Math.min(maxDepth, b.maxDepth);
  if (!rooted) return b.nodesUpToDepth[Math.min(depth, b.nodesUpToDepth.length - 1)] ?? 0;
  let full = 1;
  let level = 1;
  for (let d = 1; d <= depth && full < b.largestSubtree; d++) full += level *= Math.max(b.maxFanout, 1);
  return Math.min(b.largestSubtree, full);
}

/** Keeps the bounds fresh; `current` never waits for the database. */
export class CostBoundsCache {
  private value: CostBounds = NO_BOUNDS;
  private version = 0;
  private loadedAt = -Infinity;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly sql: () => Sql,
    private readonly maxAgeMs = 10_000,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** The figures and a number that changes with them (part of the cost cache's key). */
  current(): { bounds: CostBounds; version: number } {
    if (performance.now() - this.loadedAt > this.maxAgeMs) void this.reload();
    return { bounds: this.value, version: this.version };
  }

  /** Loads now (start-up, after a refresh); concurrent calls share one statement. */
  reload(): Promise<void> {
    this.loading ??= readCostBounds(this.sql())
      .then((b) => {
        this.value = b;
        this.version++;
        this.loadedAt = performance.now();
      })
      .catch((err) => {
        // Keep the last figures; try again at the next request after maxAgeMs.
        this.loadedAt = performance.now();
        this.onError(err);
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }
}
