// What each contender is asked, and how its answer is brought to one shape for comparison.
// The three servers read the same materialized views; the reference rows come from the
// base tables (a live GROUP BY), so a stale or wrong view would show up as a mismatch.

export type CaseName = 'page' | 'filtered' | 'tree';
export const CASES: readonly CaseName[] = ['page', 'filtered', 'tree'];
export const PAGE_SIZE = 50;
/** The filtered variant: reviewCount gte 50, reviewRating gte 4. */
export const MIN_COUNT = 50;
export const MIN_RATING = 4;
/** The tree read: the first root's subtree, two levels below it. */
export const TREE_DEPTH = 2;

export const CASE_TITLES: Record<CaseName, string> = {
  page: `50-item page by reviewRating desc`,
  filtered: `same page, filtered (reviewCount ≥ ${MIN_COUNT}, reviewRating ≥ ${MIN_RATING})`,
  tree: `categoryTree of a root, maxDepth ${TREE_DEPTH}, with subtree aggregates`,
};

export interface ItemRow {
  id: number;
  name: string;
  reviewCount: number;
  reviewRating: number | null;
}

export interface TreeRow {
  id: number;
  name: string;
  parentId: number | null;
  depth: number;
  path: number[];
  itemCount: number;
  reviewCount: number;
  reviewRating: number | null;
}

export type Rows = ItemRow[] | TreeRow[];

const ITEM_FIELDS = 'edges { node { id name reviewCount reviewRating } }';

/** tally's public API, as a client would ask. */
export function tallyQuery(c: CaseName, rootId: number): string {
  switch (c) {
    case 'page':
      return `{ gearItems(first: ${PAGE_SIZE}, orderBy: [{field: REVIEW_RATING, direction: DESC}]) { ${ITEM_FIELDS} } }`;
    case 'filtered':
      return `{ gearItems(first: ${PAGE_SIZE}, orderBy: [{field: REVIEW_RATING, direction: DESC}], filter: {reviewCount: {gte: ${MIN_COUNT}}, reviewRating: {gte: ${MIN_RATING}}}) { ${ITEM_FIELDS} } }`;
    case 'tree':
      return `{ categoryTree(rootId: "${rootId}", maxDepth: ${TREE_DEPTH}) { id name parentId depth path category { itemCount reviewCount reviewRating } } }`;
  }
}

/**
 * PostGraphile's natural way to the same rows: the view as a connection (its primary key and
 * its relation to gear_item from smart tags), ordered nulls last (orderByNullsLast),
 * filtered with postgraphile-plugin-connection-filter.
 */
export function postgraphileQuery(c: CaseName, rootId: number): string {
  const items = `edges { node { reviewCount reviewRating gearItemByGearItemId { id name } } }`;
  switch (c) {
    case 'page':
      return `{ allGearItemStats(first: ${PAGE_SIZE}, orderBy: [REVIEW_RATING_DESC, GEAR_ITEM_ID_ASC]) { ${items} } }`;
    case 'filtered':
      return `{ allGearItemStats(first: ${PAGE_SIZE}, orderBy: [REVIEW_RATING_DESC, GEAR_ITEM_ID_ASC], filter: {reviewCount: {greaterThanOrEqualTo: ${MIN_COUNT}}, reviewRating: {greaterThanOrEqualTo: ${MIN_RATING}}}) { ${items} } }`;
    case 'tree':
      return `{ allCategoryTrees(orderBy: ORD_ASC, filter: {path: {contains: [${rootId}]}, depth: {lessThanOrEqualTo: ${TREE_DEPTH}}}) { nodes { id name parentId depth path categoryStatByCategoryId { itemCount reviewCount reviewRating } } } }`;
  }
}

/**
 * The floor's SQL: one prepared statement per case over the same views and indexes, the
 * least a server must ask of PostgreSQL for these rows. (tally also lists items created
 * since the last refresh, a second branch that is empty here.)
 */
export function floorStatement(c: CaseName, rootId: number): { text: string; values: unknown[] } {
  const items = (where: string) => `select i.id, i.name, s.review_count, s.review_rating
      from gear_item_stats s join gear_item i on i.id = s.gear_item_id ${where}
     order by coalesce(s.review_rating, '-Infinity'::float8) desc, s.gear_item_id
     limit $1`;
  switch (c) {
    case 'page':
      return { text: items(''), values: [PAGE_SIZE] };
    case 'filtered':
      return { text: items('where s.review_count >= $2 and s.review_rating >= $3'), values: [PAGE_SIZE, MIN_COUNT, MIN_RATING] };
    case 'tree':
      return {
        text: `select d.id, d.name, d.parent_id, d.depth, d.path,
                      coalesce(s.item_count, 0) as item_count, coalesce(s.review_count, 0) as review_count, s.review_rating
                 from category_tree r
                 join category_tree d on d.ord between r.ord and r.subtree_end
                 left join category_stats s on s.category_id = d.id
                where r.id = $1 and d.depth <= r.depth + $2
                order by d.ord`,
        values: [rootId, TREE_DEPTH],
      };
  }
}

/**
 * The floor's answer, byte for byte what tally answers: the rows as GraphQL would shape them,
 * and the newline Apollo ends its JSON with.
 */
export function floorJson(c: CaseName, rows: Record<string, unknown>[]): string {
  return itemsOrTreeJson(c, rows) + '\n';
}

function itemsOrTreeJson(c: CaseName, rows: Record<string, unknown>[]): string {
  if (c === 'tree') {
    return JSON.stringify({
      data: {
        categoryTree: rows.map((r) => ({
          id: String(r.id),
          name: r.name,
          parentId: r.parent_id == null ? null : String(r.parent_id),
          depth: r.depth,
          path: (r.path as number[]).map(String),
          category: { itemCount: r.item_count, reviewCount: r.review_count, reviewRating: r.review_rating },
        })),
      },
    });
  }
  return JSON.stringify({
    data: {
      gearItems: {
        edges: rows.map((r) => ({
          node: { id: String(r.id), name: r.name, reviewCount: r.review_count, reviewRating: r.review_rating },
        })),
      },
    },
  });
}

/**
 * The reference, from the base tables: aggregates computed live (the view's own
 * expressions, so the floats agree to the bit). Also timed as the "live GROUP BY" baseline.
 */
export function liveGroupBySql(c: 'page' | 'filtered'): { text: string; values: unknown[] } {
  return {
    text: `select i.id, i.name, count(r.id)::int as review_count, avg(r.rating)::float8 as review_rating
             from gear_item i left join gear_review r on r.gear_item_id = i.id
            group by i.id
           ${c === 'filtered' ? 'having count(r.id) >= $2 and avg(r.rating)::float8 >= $3' : ''}
            order by coalesce(avg(r.rating)::float8, '-Infinity'::float8) desc, i.id
            limit $1`,
    values: c === 'filtered' ? [PAGE_SIZE, MIN_COUNT, MIN_RATING] : [PAGE_SIZE],
  };
}

/** The aggregates read per item by two correlated subqueries: a read without the views. */
export function correlatedSql(c: 'page' | 'filtered'): { text: string; values: unknown[] } {
  return {
    text: `select * from (
             select i.id, i.name,
                    (select count(*) from gear_review r where r.gear_item_id = i.id)::int as review_count,
                    (select avg(r.rating)::float8 from gear_review r where r.gear_item_id = i.id) as review_rating
               from gear_item i) x
           ${c === 'filtered' ? 'where x.review_count >= $2 and x.review_rating >= $3' : ''}
            order by x.review_rating desc nulls last, x.id
            limit $1`,
    values: c === 'filtered' ? [PAGE_SIZE, MIN_COUNT, MIN_RATING] : [PAGE_SIZE],
  };
}

export function itemRowsFromSql(rows: Record<string, unknown>[]): ItemRow[] {
  return rows.map((r) => ({
    id: Number(r.id),
    name: String(r.name),
    reviewCount: Number(r.review_count),
    reviewRating: r.review_rating as number | null,
  }));
}

export function treeRowsFromSql(rows: Record<string, unknown>[]): TreeRow[] {
  return rows.map((r) => ({
    id: Number(r.id),
    name: String(r.name),
    parentId: r.parent_id == null ? null : Number(r.parent_id),
    depth: Number(r.depth),
    path: (r.path as number[]).map(Number),
    itemCount: Number(r.item_count),
    reviewCount: Number(r.review_count),
    reviewRating: r.review_rating as number | null,
  }));
}

/** A GraphQL answer; a missing field throws while it is read, which fails the check. */
type Json = any;

/** tally's (and the floor's) response as rows; throws on GraphQL errors. */
export function rowsFromTally(c: CaseName, body: Json): Rows {
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  if (c === 'tree') {
    return body.data.categoryTree.map((n: Json) => ({
      id: Number(n.id),
      name: n.name,
      parentId: n.parentId == null ? null : Number(n.parentId),
      depth: n.depth,
      path: n.path.map(Number),
      itemCount: n.category.itemCount,
      reviewCount: n.category.reviewCount,
      reviewRating: n.category.reviewRating,
    }));
  }
  return body.data.gearItems.edges.map((e: Json) => ({
    id: Number(e.node.id),
    name: e.node.name,
    reviewCount: e.node.reviewCount,
    reviewRating: e.node.reviewRating,
  }));
}

export function rowsFromPostgraphile(c: CaseName, body: Json): Rows {
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  if (c === 'tree') {
    return body.data.allCategoryTrees.nodes.map((n: Json) => ({
      id: n.id,
      name: n.name,
      parentId: n.parentId,
      depth: n.depth,
      path: n.path,
      itemCount: n.categoryStatByCategoryId?.itemCount ?? 0,
      reviewCount: n.categoryStatByCategoryId?.reviewCount ?? 0,
      reviewRating: n.categoryStatByCategoryId?.reviewRating ?? null,
    }));
  }
  return body.data.allGearItemStats.edges.map((e: Json) => ({
    id: e.node.gearItemByGearItemId.id,
    name: e.node.gearItemByGearItemId.name,
    reviewCount: e.node.reviewCount,
    reviewRating: e.node.reviewRating,
  }));
}

/** Where two row lists first differ, or null when they are the same. */
export function firstDifference(expected: Rows, actual: Rows): string | null {
  if (expected.length !== actual.length) return `${actual.length} rows, expected ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    const e = JSON.stringify(expected[i]);
    const a = JSON.stringify(actual[i]);
    if (e !== a) return `row ${i + 1}: ${a}, expected ${e}`;
  }
  return null;
}
