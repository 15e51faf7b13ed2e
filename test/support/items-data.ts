import type { GearItemFilter, GearItemOrder } from '../generated/graphql';
import type { TestSql as Sql } from './sql';
import { addCategory, addItem, addReviews, refreshViews } from './fixtures';

// A small catalog built to hit every edge of gearItems (ties, nulls, LIKE metacharacters,
// items created after the last refresh), and a model of what the API must answer,
// computed in JavaScript from the base rows: only name order is asked of PostgreSQL, as
// it depends on the database's collation.

export interface ModelItem {
  id: number;
  name: string;
  categoryId: number | null;
  createdAt: number;
  /** As of the last refresh: 0 / null for an item created after it. */
  reviewCount: number;
  reviewRating: number | null;
  /** Rank of the name in the database's collation (equal names, equal ranks). */
  nameRank: number;
}

export interface ItemsModel {
  items: ModelItem[];
  /** Category ids by name (unique in this data set). */
  cat: Record<string, number>;
  /** Each category's subtree as category_tree held it at the last refresh. */
  subtree: Map<number, Set<number>>;
  /** Items created after the last refresh. */
  pending: number[];
}

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

/** [name, category name or null, minutes after T0, ratings] */
type Spec = [string, string | null, number, number[]];

const BEFORE_REFRESH: Spec[] = [
  ['Alpine Tent', 'Tents', 0, [5, 4, 3]], // mean 4, 3 reviews
  ['alpine tent', 'Domes', 0, [4]], // mean 4, 1 review; same time as above
  ['ALPINE TARP', 'Tents', 1, [3, 5]], // mean 4, 2 reviews
  ['Dome 2P', 'Domes', 2, [5, 5]],
  ['Dome 3P', 'Domes', 2, [2]],
  ['Same Name', 'Bags', 3, [1, 2]], // mean 1.5
  ['Same Name', 'Bags', 3, [3]],
  ['Same Name', null, 4, []], // never reviewed: count 0, rating null
  ['100% Wool Sock', 'Outdoor', 5, [4, 4, 4]], // mean 4, 3 reviews: ties Alpine Tent on both
  ['100 Wool Sock', 'Outdoor', 5, []],
  ['Dry_Bag', 'Bags', 6, [2, 3]],
  ['Dry Bag', 'Bags', 6, [5]],
  ['DryXBag', 'Kayaks', 7, [1]],
  ['Back\\slash Pack', 'Water', 8, []],
  ['Backslash Pack', 'Water', 8, [3, 3, 3, 3]],
  ['Kayak Paddle', 'Kayaks', 9, [5, 4, 5, 4]], // mean 4.5
  ['Kayak Skirt', 'Kayaks', 9, [4, 5]], // mean 4.5
  ['Headlamp', null, 10, [2, 2, 3]],
  ['Stove', 'Outdoor', 11, []],
  ['Bottle', 'Water', 12, [5]],
];

export async function buildItemsModel(sql: Sql): Promise<ItemsModel> {
  const cat: Record<string, number> = {};
  cat.Outdoor = await addCategory(sql, 'Outdoor');
  cat.Water = await addCategory(sql, 'Water');
  cat.Tents = await addCategory(sql, 'Tents', cat.Outdoor);
  cat.Bags = await addCategory(sql, 'Bags', cat.Outdoor);
  cat.Domes = await addCategory(sql, 'Domes', cat.Tents);
  cat.Kayaks = await addCategory(sql, 'Kayaks', cat.Water);

  for (const [name, category, minutes, ratings] of BEFORE_REFRESH) {
    const id = await addItem(sql, name, category === null ? null : cat[category], { createdAt: at(minutes) });
    await addReviews(sql, id, ratings);
  }
  await refreshViews(sql);

  const categories = await sql.rows<{ id: number; parent_id: number | null }>('select id, parent_id from gear_category');
  const reviews = await sql.rows<{ gear_item_id: number; rating: number }>('select gear_item_id, rating from gear_review');

  // After the refresh: the views do not see these yet. A new category (not in category_tree),
  // items that tie existing ones on name and createdAt, reviews on new and old items.
  cat.Rafts = await addCategory(sql, 'Rafts', cat.Water);
  const pending = [
    await addItem(sql, 'Same Name', cat.Bags, { createdAt: at(3) }),
    await addItem(sql, 'Alpine Tent', cat.Domes, { createdAt: at(0) }),
    await addItem(sql, 'Raft', cat.Rafts, { createdAt: at(13) }),
  ];
  await addReviews(sql, pending[0], [5, 5]);
  await addReviews(sql, pending[1], [1]);
  const stove = await sql.one<{ id: number }>("select id from gear_item where name = 'Stove'");
  await addReviews(sql, stove!.id, [5]);

  const rows = await sql.rows<{ id: number; name: string; category_id: number | null; created_at: Date; name_rank: number }>(
    'select id, name, category_id, created_at, (rank() over (order by name))::int as name_rank from gear_item',
  );
  const items = rows.map((r): ModelItem => {
    const ratings = pending.includes(r.id) ? [] : reviews.filter((v) => v.gear_item_id === r.id).map((v) => v.rating);
    return {
      id: r.id,
      name: r.name,
      categoryId: r.category_id,
      createdAt: r.created_at.getTime(),
      reviewCount: ratings.length,
      reviewRating: ratings.length ? ratings.reduce((a, b) => a + b, 0) / ratings.length : null,
      nameRank: r.name_rank,
    };
  });

  const subtree = new Map<number, Set<number>>();
  for (const c of categories) {
    const ids = new Set([c.id]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const d of categories) {
        if (d.parent_id !== null && ids.has(d.parent_id) && !ids.has(d.id)) {
          ids.add(d.id);
          grew = true;
        }
      }
    }
    subtree.set(c.id, ids);
  }
  return { items, cat, subtree, pending };
}

type Compare = { eq?: number | null; ne?: number | null; gt?: number | null; gte?: number | null; lt?: number | null; lte?: number | null };

/** SQL semantics: a comparison never holds for null. */
function compares(value: number | null, f: Compare & { isNull?: boolean | null }): boolean {
  if (f.isNull != null && (value === null) !== f.isNull) return false;
  const ops: [number | null | undefined, (v: number, x: number) => boolean][] = [
    [f.eq, (v, x) => v === x],
    [f.ne, (v, x) => v !== x],
    [f.gt, (v, x) => v > x],
    [f.gte, (v, x) => v >= x],
    [f.lt, (v, x) => v < x],
    [f.lte, (v, x) => v <= x],
  ];
  return ops.every(([x, holds]) => x == null || (value !== null && holds(value, x)));
}

export function matches(model: ItemsModel, item: ModelItem, filter: GearItemFilter | null | undefined): boolean {
  if (!filter) return true;
  if (filter.categoryId != null && item.categoryId !== Number(filter.categoryId)) return false;
  if (filter.inCategory != null) {
    const ids = model.subtree.get(Number(filter.inCategory));
    if (!ids || item.categoryId === null || !ids.has(item.categoryId)) return false;
  }
  if (filter.nameContains != null && !item.name.toLowerCase().includes(filter.nameContains.toLowerCase())) return false;
  if (filter.reviewCount && !compares(item.reviewCount, filter.reviewCount)) return false;
  if (filter.reviewRating && !compares(item.reviewRating, filter.reviewRating)) return false;
  // Combinators: two-valued, as the contract says (`not X` is exactly what X does not match).
  if (filter.and && !filter.and.every((f) => matches(model, item, f))) return false;
  if (filter.or && !filter.or.some((f) => matches(model, item, f))) return false;
  if (filter.not && matches(model, item, filter.not)) return false;
  return true;
}

/** The contract's order: the terms in turn (null ratings last either way), then id ascending. */
export function expectedOrder(model: ItemsModel, filter: GearItemFilter | null | undefined, orderBy: GearItemOrder[] | null | undefined) {
  const key: Record<string, (i: ModelItem) => number | null> = {
    ID: (i) => i.id,
    NAME: (i) => i.nameRank,
    CREATED_AT: (i) => i.createdAt,
    REVIEW_COUNT: (i) => i.reviewCount,
    REVIEW_RATING: (i) => i.reviewRating,
  };
  const terms = [...(orderBy ?? []), { field: 'ID' as const, direction: 'ASC' as const }];
  return model.items
    .filter((i) => matches(model, i, filter))
    .sort((a, b) => {
      for (const t of terms) {
        const [x, y] = [key[t.field](a), key[t.field](b)];
        if (x === y) continue;
        if (x === null) return 1;
        if (y === null) return -1;
        return (x < y ? -1 : 1) * (t.direction === 'DESC' ? -1 : 1);
      }
      return 0;
    });
}

/** Orders the paging walks cover: every field both ways, ties broken by later terms, repeats. */
export const WALK_ORDERS: (GearItemOrder[] | null)[] = [
  null,
  [{ field: 'ID', direction: 'DESC' }],
  [{ field: 'NAME', direction: 'ASC' }],
  [{ field: 'NAME', direction: 'DESC' }],
  [{ field: 'CREATED_AT', direction: 'ASC' }],
  [{ field: 'CREATED_AT', direction: 'DESC' }],
  [{ field: 'REVIEW_COUNT', direction: 'ASC' }],
  [{ field: 'REVIEW_COUNT', direction: 'DESC' }],
  [{ field: 'REVIEW_RATING', direction: 'ASC' }],
  [{ field: 'REVIEW_RATING', direction: 'DESC' }],
  [{ field: 'REVIEW_RATING', direction: 'DESC' }, { field: 'REVIEW_COUNT', direction: 'ASC' }],
  [{ field: 'REVIEW_COUNT', direction: 'DESC' }, { field: 'NAME', direction: 'DESC' }, { field: 'CREATED_AT' }],
  [{ field: 'CREATED_AT', direction: 'DESC' }, { field: 'REVIEW_RATING', direction: 'ASC' }],
  [{ field: 'NAME', direction: 'DESC' }, { field: 'NAME', direction: 'ASC' }, { field: 'REVIEW_COUNT' }],
];
