import DataLoader from 'dataloader';
import { sql, type Sql } from '../../database/sql';
import { groupedInKeyOrder, inKeyOrder } from '../common/batch';
import type { GearItemNode } from './gear-item.type';
import type { GearReviewNode } from './gear-review.type';

/** The columns of an item row (GearItemNode) of gear_item `i`. */
export const ITEM_COLUMNS = sql.raw(`i.id, i.name, i.description, i.category_id as "categoryId", i.created_at as "createdAt"`);

/** The columns of a review row (GearReviewNode) of gear_review `r`. */
export const REVIEW_COLUMNS = sql.raw(`r.id, r.rating, r.body, r.created_at as "createdAt", r.gear_item_id as "gearItemId"`);

/** One page of one item's reviews: up to `limit` rows after (createdAt, id), newest first. */
export interface ReviewPageKey {
  itemId: number;
  limit: number;
  after: { createdAt: string; id: number } | null;
}

export function createCatalogLoaders(db: Sql) {
  return {
    items: new DataLoader<number, GearItemNode | null>(async (ids) => {
      const rows = await db.rows<GearItemNode>(sql.query`select ${ITEM_COLUMNS} from gear_item i where i.id = any(${sql.value(ids)}::int[])`, {
        prepared: true,
      });
      return inKeyOrder(ids, rows, (r) => r.id, (r) => r, null);
    }),

    // All the pages asked for in one tick, in one statement: a lateral index scan per item
    // on (gear_item_id, created_at, id), whatever mix of page sizes and cursors.
    reviewPages: new DataLoader<ReviewPageKey, GearReviewNode[], string>(
      async (keys) => {
        const rows = await db.rows<GearReviewNode & { k: number }>(
          sql.query`select k.ord as k, ${REVIEW_COLUMNS}
             from unnest(${sql.value(keys.map((k) => k.itemId))}::int[], ${sql.value(keys.map((k) => k.limit))}::int[],
                         ${sql.value(keys.map((k) => k.after?.createdAt ?? null))}::timestamptz[], ${sql.value(keys.map((k) => k.after?.id ?? null))}::int[])
                  with ordinality as k(item_id, lim, after_at, after_id, ord)
             cross join lateral (
               select * from gear_review r
                where r.gear_item_id = k.item_id
                  and (k.after_at is null or (r.created_at, r.id) < (k.after_at, k.after_id))
                order by r.created_at desc, r.id desc
                limit k.lim
             ) r
            order by k.ord, r.created_at desc, r.id desc`,
          { prepared: true },
        );
        return groupedInKeyOrder(
          keys.map((_, i) => i + 1),
          rows,
          (r) => Number(r.k),
        ).map((group) => group.map(({ k: _k, ...review }) => review));
      },
      { cacheKeyFn: (k) => `${k.itemId}:${k.limit}:${k.after?.createdAt ?? ''}:${k.after?.id ?? ''}` },
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
