import type { TestSql as Sql } from './sql';
import { createLogger } from '../../src/logger';
import { refreshAllViews } from '../../src/modules/views/ops/refresh';

/** Inserts a category and returns its id. */
export async function addCategory(sql: Sql, name: string, parentId: number | null = null): Promise<number> {
  const row = await sql.one<{ id: number }>('insert into gear_category (name, parent_id) values ($1, $2) returning id', [
    name,
    parentId,
  ]);
  return row!.id;
}

export async function addItem(
  sql: Sql,
  name: string,
  categoryId: number | null,
  opts: { createdAt?: Date; description?: string | null } = {},
): Promise<number> {
  const row = await sql.one<{ id: number }>(
    'insert into gear_item (name, category_id, description, created_at) values ($1, $2, $3, coalesce($4, now())) returning id',
    [name, categoryId, opts.description ?? null, opts.createdAt ?? null],
  );
  return row!.id;
}

export async function addReviews(sql: Sql, itemId: number, ratings: number[], start = new Date('2026-01-01T00:00:00Z')) {
  for (const [i, rating] of ratings.entries()) {
    await sql.rows('insert into gear_review (gear_item_id, rating, created_at) values ($1, $2, $3)', [
      itemId,
      rating,
      new Date(start.getTime() + i * 60_000),
    ]);
  }
}

/** Refreshes every view as the server would (locks, log), quietly. */
export const refreshViews = (sql: Sql) => refreshAllViews(sql, { by: 'seed', log: createLogger('silent') });
