import DataLoader from 'dataloader';
import { sql, type Sql } from '../../database/sql';
import { groupedInKeyOrder, inKeyOrder } from '../common/batch';
import type { GearItemNode } from './gear-item.type';
import type { GearReviewNode } from './gear-review.type';

/** The columns of an item row (GearItemNode) of gear_item `i`. */
export const ITEM_COLUMNS = sql.raw(`i.id, i.name, i.description, i.category_id as "categoryId", i.created_at as "createdAt"`);

/** The columns of a review row (GearReviewNode) of gear_review `r`. */
export const REVIEW_COLUMNS = sql.raw(`r.id, r.rating, r.body, r.created_at as "createdAt", r.gear_item_id as "gearItemId"`);

/** A review's position in its item's list: (createdAt, id), newest first. */
export interface ReviewKey {
  createdAt: string;
  id: number;
}

/**
 * One page of one item's reviews: up to `limit` rows after `after` and before `before`
 * (newest first); `backward`, the ones nearest `before`, read oldest first.
 */
export interface ReviewPageKey {
  itemId: number;
  limit: number;
  after: ReviewKey | null;
  before: ReviewKey | null;
  backward: boolean;
}

export function createCatalogLoaders(db: Sql) {
  return {
    items: new DataLoader<number, GearItemNode | null>(async (ids) => {
      const rows = await db.rows<GearItemNode>(sql.query`select ${ITEM_COLUMNS} from gear_item i where i.id = any(${sql.value(ids)}::int[])`, {
        prepared: true,
      });
      return inKeyOrder(ids, rows, (r) => r.id, (r) => r, null);
    }),

    reviews: new DataLoader<number, GearReviewNode | null>(async (ids) => {
      const rows = await db.rows<GearReviewNode>(sql.query`select ${REVIEW_COLUMNS} from gear_review r where r.id = any(${sql.value(ids)}::int[])`, {
        prepared: true,
      });
      return inKeyOrder(ids, rows, (r) => r.id, (r) => r, null);
    }),

    // All the pages asked for in one tick, in one statement per direction (one, nearly
    // always): a lateral index scan per item on (gear_item_id, created_at, id), whatever
    // mix of page sizes and cursors.
    reviewPages: new DataLoader<ReviewPageKey, GearReviewNode[], string>(
      async (keys) => {
        const pages = new Map<ReviewPageKey, GearReviewNode[]>();
        for (const backward of [false, true]) {
          const group = keys.filter((k) => k.backward === backward);
          if (!group.length) continue;
          const found = await reviewPagesSql(db, group, backward);
          group.forEach((k, i) => pages.set(k, found[i]));
        }
        return keys.map((k) => pages.get(k)!);
      },
      {
        cacheKeyFn: (k) =>
          `${k.itemId}:${k.limit}:${k.after?.createdAt ?? ''}:${k.after?.id ?? ''}:${k.before?.createdAt ?? ''}:${k.before?.id ?? ''}:${k.backward}`,
      },
    ),

    reviewTotals: new DataLoader<number, number>(async (ids) => {
      const rows = await db.rows<{ id: number; n: number }>(
        sql.query`select gear_item_id as id, count(*)::int as n from gear_review where gear_item_id = any(${sql.value(ids)}::int[]) group by gear_item_id`,
        { prepared: true },
      );
      return inKeyOrder(ids, rows, (r) => r.id, (r) => r.n, 0);
    }),
  };
}

async function reviewPagesSql(db: Sql, keys: readonly ReviewPageKey[], backward: boolean): Promise<GearReviewNode[][]> {
  const dir = sql.raw(backward ? 'asc' : 'desc');
  const rows = await db.rows<GearReviewNode & { k: number }>(
    sql.query`select k.ord as k, ${REVIEW_COLUMNS}
       from unnest(${sql.value(keys.map((k) => k.itemId))}::int[], ${sql.value(keys.map((k) => k.limit))}::int[],
                   ${sql.value(keys.map((k) => k.after?.createdAt ?? null))}::timestamptz[], ${sql.value(keys.map((k) => k.after?.id ?? null))}::int[],
                   ${sql.value(keys.map((k) => k.before?.createdAt ?? null))}::timestamptz[], ${sql.value(keys.map((k) => k.before?.id ?? null))}::int[])
            with ordinality as k(item_id, lim, after_at, after_id, before_at, before_id, ord)
       cross join lateral (
         select * from gear_review r
          where r.gear_item_id = k.item_id
            and (k.after_at is null or (r.created_at, r.id) < (k.after_at, k.after_id))
            and (k.before_at is null or (r.created_at, r.id) > (k.before_at, k.before_id))
          order by r.created_at ${dir}, r.id ${dir}
          limit k.lim
       ) r
      order by k.ord, r.created_at ${dir}, r.id ${dir}`,
    { prepared: true },
  );
  return groupedInKeyOrder(
    keys.map((_, i) => i + 1),
    rows,
    (r) => Number(r.k),
  ).map((group) => group.map(({ k: _k, ...review }) => review));
}
