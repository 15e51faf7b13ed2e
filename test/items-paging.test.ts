import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ItemDocument,
  ItemsPageDocument,
  ItemsPageLeanDocument,
  type GearItemFilter,
  type GearItemOrder,
} from './generated/graphql';
import { createTestApp, type TestApp } from './support/app';
import { buildItemsModel, expectedOrder, WALK_ORDERS, type ItemsModel } from './support/items-data';
import { walkForward } from './support/items-walk';

// Keyset pagination of gearItems: walking every page in small steps gives the unpaginated
// order computed from the base rows; cursors are bound to their filter and order; a page
// costs the same statements whatever its size.

let app: TestApp;
let model: ItemsModel;

beforeAll(async () => {
  app = await createTestApp();
  model = await buildItemsModel(app.sql);
});

afterAll(() => app?.close());

const badInput = (field: string) => ({ code: 'BAD_USER_INPUT', field });

const walk = (filter: GearItemFilter | null, orderBy: GearItemOrder[] | null, first: number) => walkForward(app, filter, orderBy, first);

async function firstPageCursor(filter: GearItemFilter | null, orderBy: GearItemOrder[] | null) {
  const res = await app.exec(ItemsPageDocument, { first: 2, filter, orderBy });
  expect(res.errors).toBeUndefined();
  return res.data!.gearItems.pageInfo.endCursor!;
}

describe('walking gearItems page by page', () => {
  const filters: (GearItemFilter | null)[] = [
    null,
    { reviewRating: { isNull: false } },
    { reviewCount: { lte: 1 } },
    { nameContains: 'a' },
    { reviewRating: { gte: 2 }, reviewCount: { gte: 1 } },
  ];

  it('returns every matching item once, in the unpaginated order, for every filter and order', async () => {
    for (const filter of filters) {
      for (const orderBy of WALK_ORDERS) {
        const want = expectedOrder(model, filter, orderBy).map((i) => i.id);
        for (const first of [1, 3]) {
          const { ids, pages } = await walk(filter, orderBy, first);
          expect(ids, JSON.stringify({ filter, orderBy, first })).toEqual(want);
          expect(pages.every((p) => p.totalCount === want.length)).toBe(true);
          // Full pages until the last; the last has no next page.
          expect(pages.slice(0, -1).every((p) => p.size === first && p.hasNextPage)).toBe(true);
        }
      }
    }
  });

  it('walks subtrees best rated first, across items old and new', async () => {
    for (const name of ['Outdoor', 'Water', 'Tents']) {
      const filter = { inCategory: String(model.cat[name]) };
      const orderBy: GearItemOrder[] = [{ field: 'REVIEW_RATING', direction: 'DESC' }];
      expect((await walk(filter, orderBy, 2)).ids).toEqual(expectedOrder(model, filter, orderBy).map((i) => i.id));
    }
  });

  it('answers first: 0 with no edges, and whether any item matches', async () => {
    for (const filter of [null, { nameContains: 'no such gear' }]) {
      const res = await app.exec(ItemsPageDocument, { first: 0, filter });
      const want = expectedOrder(model, filter, null).length;
      expect(res.data!.gearItems).toMatchObject({ edges: [], totalCount: want, pageInfo: { hasNextPage: want > 0, endCursor: null } });
    }
  });

  it('accepts first up to 100 and refuses -1 and 101', async () => {
    const all = await app.exec(ItemsPageDocument, { first: 100 });
    expect(all.data!.gearItems.edges).toHaveLength(model.items.length);
    for (const first of [-1, 101]) {
      const res = await app.exec(ItemsPageDocument, { first });
      expect(res.errors?.[0].extensions).toMatchObject(badInput('first'));
      expect(res.data).toBeNull();
    }
  });
});

describe('gearItems cursors', () => {
  const byRating: GearItemOrder[] = [{ field: 'REVIEW_RATING', direction: 'DESC' }];
  const expectRefused = async (after: string, filter: GearItemFilter | null, orderBy: GearItemOrder[] | null) => {
    const res = await app.exec(ItemsPageDocument, { first: 2, after, filter, orderBy });
    expect(res.errors?.[0].extensions, after).toMatchObject(badInput('after'));
    expect(res.errors?.[0].message).not.toMatch(/select|sql|postgres/i);
  };

  it('refuses malformed and tampered cursors', async () => {
    const cursor = await firstPageCursor(null, byRating);
    const [format, body, mac] = cursor.split('.');
    const decoded = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown[];
    const forged = Buffer.from(JSON.stringify([0.5, ...decoded.slice(1)])).toString('base64url');
    const flipped = `${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
    const v = `${format}.`;
    for (const after of ['', 'nonsense', '.', v + body, `${v}${body}.`, `${v}.${mac}`, `${v}${forged}.${mac}`, `${v}${body}.${flipped}`, `${cursor}.x`, 'x'.repeat(5000), `${body}.${mac}`]) {
      await expectRefused(after, null, byRating);
    }
  });

  it('refuses a cursor from another orderBy or another filter', async () => {
    const filter = { reviewCount: { gte: 1 } };
    const cursor = await firstPageCursor(filter, byRating);
    await expectRefused(cursor, filter, [{ field: 'REVIEW_RATING', direction: 'ASC' }]);
    await expectRefused(cursor, filter, [{ field: 'REVIEW_COUNT', direction: 'DESC' }]);
    await expectRefused(cursor, filter, [...byRating, { field: 'NAME' }]);
    await expectRefused(cursor, filter, null);
    await expectRefused(cursor, null, byRating);
    await expectRefused(cursor, { reviewCount: { gte: 2 } }, byRating);
    await expectRefused(cursor, { ...filter, nameContains: 'a' }, byRating);
    // The same query takes it; an id term at the end is the tie-breaker said out loud.
    const same = await app.exec(ItemsPageDocument, { first: 2, after: cursor, filter, orderBy: byRating });
    expect(same.errors).toBeUndefined();
    const explicit = await app.exec(ItemsPageDocument, { first: 2, after: cursor, filter, orderBy: [...byRating, { field: 'ID' }] });
    expect(explicit.data!.gearItems.edges).toEqual(same.data!.gearItems.edges);
  });

  it('takes a cursor under a filter that says the same', async () => {
    const bags = String(model.cat.Bags);
    for (const [from, to] of [
      [{}, null],
      [{ nameContains: '' }, null],
      [{ categoryId: bags, reviewRating: { gte: 1, lt: null } }, { categoryId: `0${bags}`, reviewRating: { gte: 1.0 } }],
    ] as [GearItemFilter, GearItemFilter | null][]) {
      const res = await app.exec(ItemsPageDocument, { first: 1, after: await firstPageCursor(from, byRating), filter: to, orderBy: byRating });
      expect(res.errors).toBeUndefined();
      const want = expectedOrder(model, to, byRating).map((i) => String(i.id));
      expect(res.data!.gearItems.edges.map((e) => e.node.id)).toEqual(want.slice(2, 3));
    }
  });

  it('keeps working across releases that reword the SQL: a cursor is bound to what was asked, not to the statement', async () => {
    // Issued by the release that introduced cursor format v1 (default CURSOR_SECRET) for
    // filter { reviewRating: { gte: 1 } }, orderBy REVIEW_RATING DESC, after the key
    // (rating 3.5, id 1). Later releases must keep reading it, whatever SQL they run.
    const issuedByV1 = 'v1.WzMuNSwxXQ.Gjrq2A-Sslwjvvkcd6FbJl';
    const filter = { reviewRating: { gte: 1 } };
    const res = await app.exec(ItemsPageDocument, { first: 5, after: issuedByV1, filter, orderBy: byRating });
    expect(res.errors).toBeUndefined();
    const after = expectedOrder(model, filter, byRating).filter((i) => i.reviewRating! < 3.5 || (i.reviewRating === 3.5 && i.id > 1));
    expect(after.length).toBeGreaterThan(5);
    expect(res.data!.gearItems.edges.map((e) => Number(e.node.id))).toEqual(after.slice(0, 5).map((i) => i.id));
  });

  it('refuses a reviews cursor as a gearItems cursor, and the other way round', async () => {
    const item = model.items.find((i) => i.reviewCount > 2)!;
    const reviews = await app.exec(ItemDocument, { id: String(item.id), reviewsFirst: 1 });
    const reviewCursor = reviews.data!.gearItem!.reviews.pageInfo.endCursor!;
    await expectRefused(reviewCursor, null, null);
    const itemCursor = await firstPageCursor(null, null);
    const res = await app.exec(ItemDocument, { id: String(item.id), reviewsFirst: 1, reviewsAfter: itemCursor });
    expect(res.errors?.[0].extensions).toMatchObject(badInput('after'));
  });
});

describe('GearItem.reviews cursors', () => {
  it('refuses malformed and tampered cursors and first outside 0..100', async () => {
    const item = model.items.find((i) => i.reviewCount > 2)!;
    const page = await app.exec(ItemDocument, { id: String(item.id), reviewsFirst: 1 });
    const cursor = page.data!.gearItem!.reviews.pageInfo.endCursor!;
    const next = await app.exec(ItemDocument, { id: String(item.id), reviewsFirst: 1, reviewsAfter: cursor });
    expect(next.errors).toBeUndefined();
    const [body, mac] = cursor.split('.');
    const forged = Buffer.from(JSON.stringify(['2030-01-01T00:00:00.000Z', 1])).toString('base64url');
    for (const bad of ['', 'nonsense', body, `${forged}.${mac}`, `${body}.${mac.slice(1)}`]) {
      const res = await app.exec(ItemDocument, { id: String(item.id), reviewsFirst: 1, reviewsAfter: bad });
      expect(res.errors?.[0].extensions).toMatchObject(badInput('after'));
    }
    for (const reviewsFirst of [-1, 101]) {
      const res = await app.exec(ItemDocument, { id: String(item.id), reviewsFirst });
      expect(res.errors?.[0].extensions).toMatchObject(badInput('first'));
    }
  });
});

describe('statements per page', () => {
  const orderBy: GearItemOrder[] = [{ field: 'REVIEW_RATING', direction: 'DESC' }, { field: 'NAME' }];

  it('sends one statement for a filtered, sorted page with its cached figures, whatever its size', async () => {
    const withFilter: GearItemFilter = { inCategory: String(model.cat.Outdoor), nameContains: 'a', reviewRating: { gte: 1 } };
    for (const first of [1, 2, 5, 100]) {
      const lean = await app.exec(ItemsPageLeanDocument, { first, filter: withFilter, orderBy });
      expect(lean.errors).toBeUndefined();
      expect(lean.data!.gearItems.edges).toHaveLength(Math.min(first, expectedOrder(model, withFilter, orderBy).length));
      expect(lean.statements).toBe(1);
      // With categories (one batch) and totalCount (one count): three, still.
      const full = await app.exec(ItemsPageDocument, { first, filter: withFilter, orderBy });
      expect(full.statements).toBe(3);
    }
    // A later page costs the same as the first.
    const first = await app.exec(ItemsPageDocument, { first: 2, filter: withFilter, orderBy });
    const next = await app.exec(ItemsPageDocument, { first: 2, filter: withFilter, orderBy, after: first.data!.gearItems.pageInfo.endCursor });
    expect(next.errors).toBeUndefined();
    expect(next.statements).toBe(first.statements);
  });
});
