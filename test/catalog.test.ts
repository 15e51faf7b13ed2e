import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ItemDocument, ItemsPageDocument, ItemsWithReviewsDocument, type ItemQuery, type ItemsPageQuery } from './generated/graphql';
import { createTestApp, type ExecResult, type TestApp } from './support/app';
import { addItem, addReviews, refreshViews } from './support/fixtures';
import { seedCatalog } from '../src/database/seed';

let app: TestApp;

beforeAll(async () => {
  app = await createTestApp();
  await seedCatalog(app.sql, { roots: 3, branching: 3, depth: 3, items: 240, reviews: 3000, unreviewedShare: 0.2 });
  await refreshViews(app.sql);
});

afterAll(() => app?.close());

describe('batching', () => {
  it('serves a page with reviewCount, reviewRating and category in a constant number of statements', async () => {
    const counts: number[] = [];
    for (const first of [1, 10, 50, 100]) {
      const res = await app.exec(ItemsPageDocument, { first });
      expect(res.errors).toBeUndefined();
      expect(res.data!.gearItems.edges).toHaveLength(first);
      expect(res.data!.gearItems.edges.some((e) => e.node.category)).toBe(true);
      counts.push(res.statements);
    }
    // The page (with the aggregates from its own join), the categories in one batch, and
    // totalCount: the same three whatever the page size.
    expect(new Set(counts)).toEqual(new Set([3]));
  });

  it('batches every item’s reviews page into one statement', async () => {
    const small = await app.exec(ItemsWithReviewsDocument, { first: 5, reviewsFirst: 3 });
    const large = await app.exec(ItemsWithReviewsDocument, { first: 50, reviewsFirst: 3 });
    expect(large.errors).toBeUndefined();
    expect(large.statements).toBe(small.statements);
    for (const edge of large.data!.gearItems.edges) {
      const reviews = edge.node.reviews.edges.map((e) => e.node);
      expect(reviews.length).toBe(Math.min(3, edge.node.reviews.totalCount));
      const times = reviews.map((r) => Date.parse(r.createdAt));
      expect([...times].sort((a, b) => b - a)).toEqual(times);
    }
  });
});

describe('gearItems in the default order', () => {
  it('walks every item exactly once, by id, page after page', async () => {
    const all = await app.sql.rows<{ id: number }>('select id from gear_item order by id');
    const seen: string[] = [];
    let after: string | null | undefined = null;
    for (;;) {
      const res: ExecResult<ItemsPageQuery> = await app.exec(ItemsPageDocument, { first: 37, after });
      expect(res.errors).toBeUndefined();
      const page = res.data!.gearItems;
      expect(page.totalCount).toBe(all.length);
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(all.map((r) => String(r.id)));
  });

  it('answers first: 0 with no edges but whether any item exists', async () => {
    const res = await app.exec(ItemsPageDocument, { first: 0 });
    expect(res.data!.gearItems).toMatchObject({ edges: [], pageInfo: { hasNextPage: true, endCursor: null } });
  });

  it('rejects first outside 0..100 and cursors it did not make', async () => {
    for (const first of [-1, 101]) {
      const res = await app.exec(ItemsPageDocument, { first });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    }
    const page = await app.exec(ItemsPageDocument, { first: 2 });
    const cursor = page.data!.gearItems.pageInfo.endCursor!;
    const [body, mac] = cursor.split('.');
    const forged = Buffer.from(JSON.stringify([1])).toString('base64url');
    for (const after of ['nonsense', `${forged}.${mac}`, `${body}.${mac.slice(1)}x`, '', `${body}`]) {
      const res = await app.exec(ItemsPageDocument, { first: 2, after });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    }
  });
});

describe('gearItem', () => {
  it('pages an item’s reviews newest first and counts them live', async () => {
    const item = await app.sql.one<{ id: number; n: number }>(
      'select gear_item_id as id, count(*)::int as n from gear_review group by 1 order by 2 desc limit 1',
    );
    const want = await app.sql.rows<{ id: number }>(
      'select id from gear_review where gear_item_id = $1 order by created_at desc, id desc',
      [item!.id],
    );
    const got: string[] = [];
    let after: string | null | undefined = null;
    for (;;) {
      const res: ExecResult<ItemQuery> = await app.exec(ItemDocument, { id: String(item!.id), reviewsFirst: 4, reviewsAfter: after });
      expect(res.errors).toBeUndefined();
      const reviews = res.data!.gearItem!.reviews;
      expect(reviews.totalCount).toBe(item!.n);
      got.push(...reviews.edges.map((e) => e.node.id));
      reviews.edges.forEach((e) => expect(e.node.gearItem.id).toBe(String(item!.id)));
      if (!reviews.pageInfo.hasNextPage) break;
      after = reviews.pageInfo.endCursor;
    }
    expect(got).toEqual(want.map((r) => String(r.id)));
  });

  it('refuses a reviews cursor taken from another item', async () => {
    const [a, b] = await app.sql.rows<{ id: number }>(
      'select gear_item_id as id from gear_review group by 1 having count(*) > 2 order by 1 limit 2',
    );
    const first = await app.exec(ItemDocument, { id: String(a.id), reviewsFirst: 1 });
    const cursor = first.data!.gearItem!.reviews.pageInfo.endCursor;
    const res = await app.exec(ItemDocument, { id: String(b.id), reviewsFirst: 1, reviewsAfter: cursor });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('shows an item created after the last refresh with 0 reviews and a null rating', async () => {
    const id = await addItem(app.sql, 'Brand new lantern', null);
    await addReviews(app.sql, id, [5, 4]);
    const res = await app.exec(ItemDocument, { id: String(id) });
    expect(res.data!.gearItem).toMatchObject({ name: 'Brand new lantern', reviewCount: 0, reviewRating: null, category: null });
    expect(res.data!.gearItem!.reviews.totalCount).toBe(2);
    const last = await app.exec(ItemsPageDocument, { first: 100, orderBy: [{ field: 'ID', direction: 'DESC' }] });
    expect(last.data!.gearItems.edges[0].node).toMatchObject({ id: String(id), reviewCount: 0, reviewRating: null });
    await refreshViews(app.sql);
    const fresh = await app.exec(ItemDocument, { id: String(id) });
    expect(fresh.data!.gearItem).toMatchObject({ reviewCount: 2, reviewRating: 4.5 });
  });

  it('answers null for an unknown id and BAD_USER_INPUT for a malformed one', async () => {
    expect((await app.exec(ItemDocument, { id: '2147483647' })).data!.gearItem).toBeNull();
    for (const id of ['abc', '-1', '0', '1.5', '99999999999']) {
      const res = await app.exec(ItemDocument, { id });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    }
  });
});
