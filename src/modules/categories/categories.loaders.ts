import DataLoader from 'dataloader';
import { sql, type Sql } from '../../database/sql';
import { groupedInKeyOrder, inKeyOrder } from '../common/batch';
import type { CategoryNode } from './category.type';

/** The columns of a category row (CategoryNode) of gear_category `c`. */
export const CATEGORY_COLUMNS = sql.raw(`c.id, c.name, c.parent_id as "parentId"`);

export function createCategoryLoaders(db: Sql) {
  return {
    categories: new DataLoader<number, CategoryNode | null>(async (ids) => {
      const rows = await db.rows<CategoryNode>(sql.query`select ${CATEGORY_COLUMNS} from gear_category c where c.id = any(${sql.value(ids)}::int[])`, {
        prepared: true,
      });
      return inKeyOrder(ids, rows, (r) => r.id, (r) => r, null);
    }),
    /** Direct children by name, then id; served by (parent_id, name, id). */
    children: new DataLoader<number, CategoryNode[]>(async (parentIds) => {
      const rows = await db.rows<CategoryNode>(
        sql.query`select ${CATEGORY_COLUMNS} from gear_category c where c.parent_id = any(${sql.value(parentIds)}::int[]) order by c.parent_id, c.name, c.id`,
        { prepared: true },
      );
      return groupedInKeyOrder(parentIds, rows, (r) => r.parentId as number);
    }),
  };
}
