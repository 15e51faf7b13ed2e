import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ItemsPageDocument, ItemsWindowDocument, type GearItemFilter, type GearItemOrder } from './generated/graphql';
import { createTestApp, type TestApp } from './support/app';
import { addCategory, addItem, addReviews, refreshViews } from './support/fixtures';
import { cursorScope, normalizeFilter, normalizeOrder } from '../src/modules/catalog/gear-item.query';

// A walk across a refresh: keyset pages over cached data that changed may repeat or skip
// items; the connection says which generation it read (cachedAt) and whether the cursor
// came from another one (generationChanged). Also: or/not against SQL on the base tables.

let app: TestApp;
let items: number[];
let cat: { a: number; b: number };

beforeAll(async () => {
  app = await createTestApp();
  cat = { a: await addCategory(app.sql, 'A'), b: 0 };
  cat.b = await addCategory(app.sql, 'B', cat.a);
  items = [];
  const ratings = [[5], [4, 5], [4], [3, 4], [3], [2], [1, 2], [], [1], []];
  for (const [i, r] of ratings.entries()) {
    const id = await addItem(app.sql, `Item ${i}`, i % 3 === 0 ? null : i % 3 === 1 ? cat.a : cat.b);
    await addReviews(app.sql, id, r);
    items.push(id);
  }
  await refreshViews(app.sql);
});

afterAll(() => app?.close());

const byRating: GearItemOrder[] = [{ field: 'REVIEW_RATING', direction: 'DESC' }];

const lastRefresh = async () =>
  (await app.sql.one<{ finished_at: Date }>("select finished_at from view_refresh_log where view_name = 'gear_item_stats' order by id desc limit 1"))!
    .finished_at;

const page = async (vars: { first?: number; after?: string | null; last?: number; before?: string | null; filter?: GearItemFilter }) => {
  const res = await app.exec(ItemsWindowDocument, { orderBy: byRating, withTotal: false, ...vars });
  expect(res.errors).toBeUndefined();
  return { ...res.data!.gearItems, statements: res.statements };
};

describe('a walk across a refresh', () => {
  it('reads cachedAt in the page statement and reports a cursor from an older generation', async () => {
    const first = await page({ first: 3 });
    expect(first.statements).toBe(1);
    expect(first.generationChanged).toBe(false);
    expect(Date.parse(first.cachedAt!)).toBe((await lastRefresh()).getTime());
    const second = await page({ first: 3, after: first.pageInfo.endCursor });
    expect(second.generationChanged).toBe(false);
    expect(second.cachedAt).toBe(first.cachedAt);
    expect(second.statements).toBe(1);

    // Ratings change and the views are refreshed mid-walk: the worst item becomes the best.
    await addReviews(app.sql, items[8], [5, 5, 5, 5, 5, 5]);
    await addReviews(app.sql, items[0], [1, 1, 1, 1, 1, 1, 1]); // 5 → 1.5
    await refreshViews(app.sql);

    const third = await page({ first: 3, after: second.pageInfo.endCursor });
    expect(third.generationChanged).toBe(true);
    expect(Date.parse(third.cachedAt!)).toBe((await lastRefresh()).getTime());
    expect(Date.parse(third.cachedAt!)).toBeGreaterThan(Date.parse(first.cachedAt!));
    // The walk goes on with the new generation's cursors, without the flag.
    const fourth = await page({ first: 3, after: third.pageInfo.endCursor });
    expect(fourth.generationChanged).toBe(false);

    // What the flag is about: the old walk skipped items[8] (now first) and repeats items[0].
    const walked = [first, second, third, fourth].flatMap((p) => p.edges.map((e) => Number(e.node.id)));
    expect(walked).not.toContain(items[8]);
    expect(walked.filter((id) => id === items[0])).toHaveLength(2);

    // Backward, and a page with no rows, say the same; a cursor made before the generation
    // existed (v1, no generation) counts as changed.
    expect((await page({ last: 2, before: second.pageInfo.endCursor })).generationChanged).toBe(true);
    expect((await page({ last: 2, before: fourth.pageInfo.endCursor })).generationChanged).toBe(false);
    const empty = await page({ first: 0, after: first.pageInfo.endCursor });
    expect(empty.edges).toEqual([]);
    expect(empty.generationChanged).toBe(true);
    expect(empty.cachedAt).toBe(third.cachedAt);
    const scope = cursorScope(normalizeFilter(null), normalizeOrder(byRating as Parameters<typeof normalizeOrder>[0]));
    const v1 = app.services.cursors.encode(scope, [5, items[0]]);
    expect(v1.startsWith('v1.')).toBe(true);
    expect((await page({ first: 2, after: v1 })).generationChanged).toBe(true);
  });

  it('counts a refresh of category_tree alone as a new generation', async () => {
    const filter = { inCategory: String(cat.a) };
    const first = await page({ first: 1, filter });
    await app.exec('mutation { refreshViews(views: ["category_tree"]) { refreshed { name } } }', {}, { token: 'test-ops-token-0123456789' });
    const next = await page({ first: 1, after: first.pageInfo.endCursor, filter });
    expect(next.generationChanged).toBe(true);
    expect(next.cachedAt).toBe(first.cachedAt);
  });
});

describe('or and not against SQL on the base tables', () => {
  it('match the same items as hand-written SQL over gear_item, gear_review and gear_category', async () => {
    await refreshViews(app.sql); // the cached figures equal the live ones
    const stats = `(select i.id, i.category_id, i.name, count(r.id)::int as n, avg(r.rating)::float8 as rating
                      from gear_item i left join gear_review r on r.gear_item_id = i.id group by i.id) s`;
    const cases: [GearItemFilter, string][] = [
      [{ not: { reviewRating: { gte: 3 } } }, 'not coalesce(s.rating >= 3, false)'],
      [{ not: { reviewRating: { lt: 3 } } }, 'not coalesce(s.rating < 3, false)'],
      [{ or: [{ reviewRating: { gte: 4.5 } }, { reviewCount: { eq: 0 } }] }, 's.rating >= 4.5 or s.n = 0'],
      [{ not: { categoryId: String(cat.a) } }, `s.category_id is distinct from ${cat.a}`],
      [
        { not: { inCategory: String(cat.a) } },
        `not coalesce(s.category_id in (with recursive t as (select id from gear_category where id = ${cat.a}
           union all select c.id from gear_category c join t on c.parent_id = t.id) select id from t), false)`,
      ],
      [{ or: [{ not: { reviewRating: { isNull: false } } }, { and: [{ reviewCount: { gte: 2 } }, { not: { reviewRating: { gt: 4 } } }] }] }, 's.rating is null or (s.n >= 2 and not coalesce(s.rating > 4, false))'],
    ];
    for (const [filter, where] of cases) {
      const want = (await app.sql.rows<{ id: number }>(`select s.id from ${stats} where ${where} order by s.id`)).map((r) => String(r.id));
      const res = await app.exec(ItemsPageDocument, { first: 100, filter });
      expect(res.errors).toBeUndefined();
      expect(res.data!.gearItems.edges.map((e) => e.node.id), JSON.stringify(filter)).toEqual(want);
      expect(want.length).toBeGreaterThan(0);
    }
  });
});
