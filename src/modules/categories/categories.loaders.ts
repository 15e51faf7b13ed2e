import DataLoader from 'dataloader';
import type { Sql } from '../../database/database';
import { groupedInKeyOrder, inKeyOrder } from '../common/batch';
import type { CategoryNode } from './category.type';

const CATEGORY_COLUMNS = `c.id, c.name, c.parent_id as "parentId"`;

export function createCategoryLoaders(sql: Sql) {
  return {
    categories: new DataLoader<number, CategoryNode | null>(async (ids) => {
      const rows = await sql.rows<CategoryNode>(`select ${CATEGORY_COLUMNS} from gear_category c where c.id = any($1::int[])`, [ids], { prepared: true });
      return inKeyOrder(ids, rows, (r) => r.id, (r) => r, null);
    }),
    /** Direct children by name, then id; served by (parent_id, name, id). */
    children: new DataLoader<number, CategoryNode[]>(async (parentIds) => {
      const rows = await sql.rows<CategoryNode>(
        `select ${CATEGORY_COLUMNS} from gear_category c where c.parent_id = any($1::int[]) order by c.parent_id, c.name, c.id`,
        [parentIds],
        { prepared: true },
      );
      return groupedInKeyOrder(parentIds, rows, (r) => r.parentId as number);
    }),
  };
}
