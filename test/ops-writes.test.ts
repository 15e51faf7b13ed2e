import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddReviewDocument,
  CategoryDocument,
  CreateCategoryDocument,
  CreateGearItemDocument,
  ItemDocument,
  RefreshViewsDocument,
} from './generated/graphql';
import { OPS_TOKEN, createTestApp, type TestApp } from './support/app';
import { addCategory, addItem, addReviews, refreshViews } from './support/fixtures';
import { errorOf, refreshLog } from './support/ops';
import { requireOpsToken } from '../src/modules/auth/ops-token';

let app: TestApp;
let noToken: TestApp;
let categoryId: number;
let itemId: number;

/** Rows in each table a write could touch: an error must leave every count as it was. */
async function counts(a: TestApp = app) {
  return a.sql.one<{ categories: number; items: number; reviews: number; pending: number; refreshes: number }>(
    `select (select count(*)::int from gear_category) as categories, (select count(*)::int from gear_item) as items,
            (select count(*)::int from gear_review) as reviews, (select count(*)::int from gear_item_stats_pending) as pending,
            (select count(*)::int from view_refresh_log) as refreshes`,
  );
}

beforeAll(async () => {
  [app, noToken] = await Promise.all([createTestApp(), createTestApp({ OPS_TOKEN: '' })]);
  categoryId = await addCategory(app.sql, 'Outdoor');
  itemId = await addItem(app.sql, 'Tent', categoryId);
  await addReviews(app.sql, itemId, [4, 5]);
  await refreshViews(app.sql);
});

afterAll(async () => {
  await Promise.all([app?.close(), noToken?.close()]);
});

const guarded = [
  { name: 'createCategory', doc: CreateCategoryDocument, vars: { input: { name: 'Guarded' } } },
  { name: 'createGearItem', doc: CreateGearItemDocument, vars: { input: { name: 'Guarded' } } },
  { name: 'refreshViews', doc: RefreshViewsDocument, vars: {} },
] as const;

describe('the ops token', () => {
  for (const op of guarded) {
    it(`${op.name}: UNAUTHENTICATED without a bearer token, FORBIDDEN with a wrong one, nothing done`, async () => {
      const before = await counts();
      const cases: Array<[{ token?: string; authorization?: string }, string]> = [
        [{}, 'UNAUTHENTICATED'],
        [{ authorization: '' }, 'UNAUTHENTICATED'],
        [{ authorization: 'Bearer' }, 'UNAUTHENTICATED'],
        [{ authorization: `Basic ${Buffer.from(`ops:${OPS_TOKEN}`).toString('base64')}` }, 'UNAUTHENTICATED'],
        [{ token: 'wrong' }, 'FORBIDDEN'],
        [{ token: `${OPS_TOKEN}x` }, 'FORBIDDEN'],
        [{ token: OPS_TOKEN.slice(0, -1) }, 'FORBIDDEN'],
        [{ token: OPS_TOKEN.toUpperCase() }, 'FORBIDDEN'],
      ];
      for (const [opts, code] of cases) {
        const res = await app.exec(op.doc as never, op.vars as never, opts);
        expect(errorOf(res.errors).code, JSON.stringify(opts)).toBe(code);
        expect(res.data).toBeNull();
      }
      expect(await counts()).toEqual(before);
    });

    it(`${op.name}: FORBIDDEN for every token when the server has no OPS_TOKEN`, async () => {
      const before = await counts(noToken);
      for (const token of [OPS_TOKEN, 'anything', '']) {
        const res = await noToken.exec(op.doc as never, op.vars as never, { authorization: `Bearer ${token}` });
        expect(errorOf(res.errors).code).toBe(token ? 'FORBIDDEN' : 'UNAUTHENTICATED');
      }
      expect(errorOf((await noToken.exec(op.doc as never, op.vars as never)).errors).code).toBe('UNAUTHENTICATED');
      expect(await counts(noToken)).toEqual(before);
    });
  }

  it('accepts the scheme in any case and the token exactly', () => {
    expect(() => requireOpsToken(`bearer ${OPS_TOKEN}`, OPS_TOKEN)).not.toThrow();
    expect(() => requireOpsToken(`Bearer   ${OPS_TOKEN}  `, OPS_TOKEN)).not.toThrow();
    expect(() => requireOpsToken(`Bearer ${OPS_TOKEN} extra`, OPS_TOKEN)).toThrow(/Authorization/);
  });

  it('leaves addReview open to clients', async () => {
    const res = await app.exec(AddReviewDocument, { input: { gearItemId: String(itemId), rating: 3 } });
    expect(res.errors).toBeUndefined();
  });
});

describe('createCategory', () => {
  const create = (input: { name: string; parentId?: string | null }) => app.exec(CreateCategoryDocument, { input }, { token: OPS_TOKEN });

  it('stores a trimmed name under an existing parent; its cached figures are 0 until a refresh', async () => {
    const res = await create({ name: '  Tents \n', parentId: String(categoryId) });
    expect(res.errors).toBeUndefined();
    const made = res.data!.createCategory;
    expect(made).toMatchObject({ name: 'Tents', parent: { id: String(categoryId) }, itemCount: 0, reviewCount: 0, reviewRating: null });
    const row = await app.sql.one<{ name: string; parent_id: number }>('select name, parent_id from gear_category where id = $1', [made.id]);
    expect(row).toEqual({ name: 'Tents', parent_id: categoryId });
    const root = await create({ name: 'Water' });
    expect(root.data!.createCategory.parent).toBeNull();
    const read = await app.exec(CategoryDocument, { id: made.id });
    expect(read.data!.category).toMatchObject({ name: 'Tents', parent: { id: String(categoryId) } });
  });

  it('takes 200 characters after trimming, and refuses more, empty, NUL, a bad or missing parent: nothing written', async () => {
    const ok = await create({ name: `  ${'n'.repeat(200)}  ` });
    expect(ok.errors).toBeUndefined();
    const before = await counts();
    const missing = (await app.sql.one<{ id: number }>('select max(id) + 1000 as id from gear_category'))!.id;
    const cases: Array<[{ name: string; parentId?: string | null }, string]> = [
      [{ name: 'n'.repeat(201) }, 'input.name'],
      [{ name: '' }, 'input.name'],
      [{ name: ' \t\n ' }, 'input.name'],
      [{ name: 'a\u0000b' }, 'input.name'],
      [{ name: 'Fine', parentId: 'abc' }, 'input.parentId'],
      [{ name: 'Fine', parentId: '0' }, 'input.parentId'],
      [{ name: 'Fine', parentId: '99999999999' }, 'input.parentId'],
      [{ name: 'Fine', parentId: String(missing) }, 'input.parentId'],
    ];
    for (const [input, field] of cases) {
      const res = await create(input);
      const e = errorOf(res.errors);
      expect([e.code, e.field], JSON.stringify(input)).toEqual(['BAD_USER_INPUT', field]);
    }
    expect(await counts()).toEqual(before);
  });
});

describe('createGearItem', () => {
  const create = (input: { name: string; description?: string | null; categoryId?: string | null }) =>
    app.exec(CreateGearItemDocument, { input }, { token: OPS_TOKEN });

  it('stores the item at once; its cached figures are 0 / null until a refresh', async () => {
    const res = await create({ name: ' Stove ', description: 'Gas, 2 burners', categoryId: String(categoryId) });
    expect(res.errors).toBeUndefined();
    const item = res.data!.createGearItem;
    expect(item).toMatchObject({
      name: 'Stove',
      description: 'Gas, 2 burners',
      category: { id: String(categoryId) },
      reviewCount: 0,
      reviewRating: null,
    });
    const row = await app.sql.one<{ created_at: Date }>('select created_at from gear_item where id = $1', [item.id]);
    expect(new Date(item.createdAt).getTime()).toBe(row!.created_at.getTime());
    const read = await app.exec(ItemDocument, { id: item.id });
    expect(read.data!.gearItem).toMatchObject({ name: 'Stove', reviewCount: 0, reviewRating: null, reviews: { totalCount: 0 } });
    expect((await create({ name: 'No category' })).data!.createGearItem).toMatchObject({ category: null, description: null });
  });

  it('refuses a bad name, description or category: nothing written', async () => {
    const before = await counts();
    const missing = (await app.sql.one<{ id: number }>('select max(id) + 1000 as id from gear_category'))!.id;
    const cases: Array<[{ name: string; description?: string | null; categoryId?: string | null }, string]> = [
      [{ name: '   ' }, 'input.name'],
      [{ name: 'x'.repeat(201) }, 'input.name'],
      [{ name: 'x\u0000' }, 'input.name'],
      [{ name: 'Fine', description: 'bad\u0000text' }, 'input.description'],
      [{ name: 'Fine', categoryId: '-1' }, 'input.categoryId'],
      [{ name: 'Fine', categoryId: String(missing) }, 'input.categoryId'],
    ];
    for (const [input, field] of cases) {
      const e = errorOf((await create(input)).errors);
      expect([e.code, e.field], JSON.stringify(input)).toEqual(['BAD_USER_INPUT', field]);
    }
    expect(await counts()).toEqual(before);
  });
});

describe('addReview', () => {
  const add = (input: { gearItemId: string; rating: number; body?: string | null }) => app.exec(AddReviewDocument, { input });

  it('changes the table at once and the cached figures only at the next refresh', async () => {
    await refreshViews(app.sql);
    const before = (await app.exec(ItemDocument, { id: String(itemId) })).data!.gearItem!;
    const res = await add({ gearItemId: String(itemId), rating: 1, body: 'Leaks in the rain' });
    expect(res.errors).toBeUndefined();
    expect(res.data!.addReview).toMatchObject({
      rating: 1,
      body: 'Leaks in the rain',
      gearItem: { id: String(itemId), reviewCount: before.reviewCount, reviewRating: before.reviewRating },
    });
    const after = (await app.exec(ItemDocument, { id: String(itemId) })).data!.gearItem!;
    expect(after.reviews.totalCount).toBe(before.reviews.totalCount + 1);
    expect(after.reviews.edges[0].node).toMatchObject({ id: res.data!.addReview.id, rating: 1 });
    expect([after.reviewCount, after.reviewRating]).toEqual([before.reviewCount, before.reviewRating]);

    await app.exec(RefreshViewsDocument, { views: ['gear_item_stats'] }, { token: OPS_TOKEN });
    const ratings = (await app.sql.rows<{ rating: number }>('select rating from gear_review where gear_item_id = $1', [itemId])).map(
      (r) => r.rating,
    );
    const fresh = (await app.exec(ItemDocument, { id: String(itemId) })).data!.gearItem!;
    expect(fresh.reviewCount).toBe(ratings.length);
    expect(fresh.reviewRating).toBeCloseTo(ratings.reduce((a, b) => a + b, 0) / ratings.length, 12);
  });

  it('takes a body of 10,000 characters or none', async () => {
    expect((await add({ gearItemId: String(itemId), rating: 5, body: 'b'.repeat(10_000) })).errors).toBeUndefined();
    expect((await add({ gearItemId: String(itemId), rating: 5, body: null })).data!.addReview.body).toBeNull();
    expect((await add({ gearItemId: String(itemId), rating: 5, body: '' })).data!.addReview.body).toBe('');
  });

  it('refuses a rating outside 1..5, a long or NUL body, a bad or missing item: nothing written', async () => {
    const before = await counts();
    const missing = (await app.sql.one<{ id: number }>('select max(id) + 1000 as id from gear_item'))!.id;
    const item = String(itemId);
    const cases: Array<[{ gearItemId: string; rating: number; body?: string | null }, string]> = [
      [{ gearItemId: item, rating: 0 }, 'input.rating'],
      [{ gearItemId: item, rating: 6 }, 'input.rating'],
      [{ gearItemId: item, rating: -3 }, 'input.rating'],
      [{ gearItemId: item, rating: 4, body: 'b'.repeat(10_001) }, 'input.body'],
      [{ gearItemId: item, rating: 4, body: 'nul\u0000' }, 'input.body'],
      [{ gearItemId: 'tent', rating: 4 }, 'input.gearItemId'],
      [{ gearItemId: String(missing), rating: 4 }, 'input.gearItemId'],
    ];
    for (const [input, field] of cases) {
      const e = errorOf((await add(input)).errors);
      expect([e.code, e.field], JSON.stringify(input).slice(0, 80)).toEqual(['BAD_USER_INPUT', field]);
    }
    // Not an Int at all: GraphQL refuses it before the resolver runs.
    const fractional = await app.exec(AddReviewDocument, { input: { gearItemId: item, rating: 4.5 } });
    expect(errorOf(fractional.errors).code).toBe('BAD_USER_INPUT');
    expect(await counts()).toEqual(before);
    expect((await refreshLog(app.sql)).length).toBe(before!.refreshes);
  });
});
