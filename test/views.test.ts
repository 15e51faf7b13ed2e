import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CategoryDocument, CategoryTreeDocument, ItemDocument } from './generated/graphql';
import { createTestApp, type TestApp } from './support/app';
import { addCategory, addItem, addReviews, refreshViews } from './support/fixtures';

// What the materialized views hold, read through the API and checked against the base
// rows: every expectation here is computed from gear_category / gear_item / gear_review.

interface CategoryRow {
  id: number;
  parent_id: number | null;
  name: string;
}

let app: TestApp;
let categories: CategoryRow[];
let unreviewed: number;

beforeAll(async () => {
  app = await createTestApp();
  const { sql } = app;
  const outdoor = await addCategory(sql, 'Outdoor');
  const water = await addCategory(sql, 'Water');
  const tents = await addCategory(sql, 'Tents', outdoor);
  const bags = await addCategory(sql, 'Bags', outdoor);
  // Same name as a sibling: ties are broken by id.
  const bags2 = await addCategory(sql, 'Bags', outdoor);
  const domes = await addCategory(sql, 'Domes', tents);
  const kayaks = await addCategory(sql, 'Kayaks', water);
  // A cycle and a self-loop: unreachable from any root, so never in the tree.
  const loopA = await addCategory(sql, 'Loop');
  const loopB = await addCategory(sql, 'Loop', loopA);
  await sql.rows('update gear_category set parent_id = $1 where id = $2', [loopB, loopA]);
  const self = await addCategory(sql, 'Selfish');
  await sql.rows('update gear_category set parent_id = id where id = $1', [self]);

  const ratings: Array<[number | null, number[]]> = [
    [domes, [5, 4, 4]],
    [domes, [1]],
    [tents, [3, 3, 4, 5, 2]],
    [bags, []],
    [bags2, [2, 2]],
    [outdoor, [5]],
    [kayaks, [4, 5, 5, 1]],
    [water, []],
    [null, [3]],
    [loopA, [5, 5]],
  ];
  for (const [i, [category, rs]] of ratings.entries()) {
    const id = await addItem(sql, `Item ${i}`, category);
    await addReviews(sql, id, rs);
  }
  await refreshViews(sql);
  categories = await sql.rows<CategoryRow>('select id, parent_id, name from gear_category');
  unreviewed = (await sql.one<{ id: number }>("select id from gear_item where name = 'Item 3'"))!.id;
});

afterAll(() => app?.close());

/** Depth-first pre-order from the roots, siblings by name then id, as the contract says. */
function expectedPreOrder(rows: CategoryRow[], rootId: number | null) {
  const children = (parent: number | null) =>
    rows
      .filter((r) => r.parent_id === parent && r.id !== parent)
      .sort((a, b) => (a.name === b.name ? a.id - b.id : a.name < b.name ? -1 : 1));
  const out: { id: number; depth: number; path: number[] }[] = [];
  const walk = (row: CategoryRow, depth: number, path: number[]) => {
    out.push({ id: row.id, depth, path: [...path, row.id] });
    for (const c of children(row.id)) walk(c, depth + 1, [...path, row.id]);
  };
  const starts = rootId === null ? children(null) : rows.filter((r) => r.id === rootId);
  for (const s of starts) walk(s, 0, []);
  return out;
}

async function baseReviews() {
  return app.sql.rows<{ gear_item_id: number; rating: number; category_id: number | null }>(
    'select r.gear_item_id, r.rating, i.category_id from gear_review r join gear_item i on i.id = r.gear_item_id',
  );
}

describe('gear_item_stats', () => {
  it('holds each item’s count and unrounded mean, 0 and null without reviews', async () => {
    const items = await app.sql.rows<{ id: number }>('select id from gear_item');
    const reviews = await baseReviews();
    for (const { id } of items) {
      const mine = reviews.filter((r) => r.gear_item_id === id).map((r) => r.rating);
      const res = await app.exec(ItemDocument, { id: String(id) });
      expect(res.errors).toBeUndefined();
      expect(res.data?.gearItem?.reviewCount).toBe(mine.length);
      if (mine.length === 0) expect(res.data?.gearItem?.reviewRating).toBeNull();
      else expect(res.data?.gearItem?.reviewRating).toBeCloseTo(mine.reduce((a, b) => a + b, 0) / mine.length, 12);
    }
    const none = await app.exec(ItemDocument, { id: String(unreviewed) });
    expect(none.data?.gearItem).toMatchObject({ reviewCount: 0, reviewRating: null });
  });

  it('keeps the cached figures until a refresh, while the tables change at once', async () => {
    const before = await app.exec(ItemDocument, { id: String(unreviewed) });
    await addReviews(app.sql, unreviewed, [5]);
    const stale = await app.exec(ItemDocument, { id: String(unreviewed) });
    expect(stale.data?.gearItem?.reviewCount).toBe(before.data?.gearItem?.reviewCount);
    expect(stale.data?.gearItem?.reviews.totalCount).toBe(1);
    await refreshViews(app.sql);
    const fresh = await app.exec(ItemDocument, { id: String(unreviewed) });
    expect(fresh.data?.gearItem).toMatchObject({ reviewCount: 1, reviewRating: 5 });
  });
});

describe('category_tree', () => {
  it('lists every reachable category in pre-order with depth and path, leaving cycles out', async () => {
    const res = await app.exec(CategoryTreeDocument, {});
    expect(res.errors).toBeUndefined();
    const got = res.data!.categoryTree.map((n) => ({ id: Number(n.id), depth: n.depth, path: n.path.map(Number) }));
    expect(got).toEqual(expectedPreOrder(categories, null));
    const inTree = new Set(got.map((n) => n.id));
    for (const loop of categories.filter((c) => c.name === 'Loop' || c.name === 'Selfish')) expect(inTree.has(loop.id)).toBe(false);
    for (const node of res.data!.categoryTree) {
      const row = categories.find((c) => c.id === Number(node.id))!;
      expect(node.parentId === null ? null : Number(node.parentId)).toBe(row.parent_id);
      expect(node.name).toBe(row.name);
      expect(node.category.id).toBe(node.id);
    }
  });

  it('reads the tree with each category and its aggregates in one statement', async () => {
    const res = await app.exec(CategoryTreeDocument, {});
    expect(res.errors).toBeUndefined();
    expect(res.data!.categoryTree.length).toBeGreaterThan(3);
    expect(res.statements).toBe(1);
  });

  it('starts at rootId and stops at maxDepth', async () => {
    const outdoor = categories.find((c) => c.name === 'Outdoor')!.id;
    const full = expectedPreOrder(categories, outdoor);
    for (const maxDepth of [0, 1, 2, undefined]) {
      const res = await app.exec(CategoryTreeDocument, { rootId: String(outdoor), maxDepth });
      const want = full.filter((n) => maxDepth === undefined || n.depth - full[0].depth <= maxDepth);
      expect(res.data!.categoryTree.map((n) => Number(n.id))).toEqual(want.map((n) => n.id));
    }
    const roots = await app.exec(CategoryTreeDocument, { maxDepth: 0 });
    expect(roots.data!.categoryTree.map((n) => n.depth)).toEqual(
      expectedPreOrder(categories, null)
        .filter((n) => n.depth === 0)
        .map(() => 0),
    );
  });

  it('answers an unknown root with an empty list and a negative maxDepth with BAD_USER_INPUT', async () => {
    const unknown = await app.exec(CategoryTreeDocument, { rootId: '999999' });
    expect(unknown.data!.categoryTree).toEqual([]);
    const cyclic = categories.find((c) => c.name === 'Loop')!.id;
    expect((await app.exec(CategoryTreeDocument, { rootId: String(cyclic) })).data!.categoryTree).toEqual([]);
    const negative = await app.exec(CategoryTreeDocument, { maxDepth: -1 });
    expect(negative.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('gives each node its live category: renamed since the refresh, or the row itself for one deleted since', async () => {
    const water = categories.find((c) => c.name === 'Water')!.id;
    const renamed = await addCategory(app.sql, 'Before', water);
    const deleted = await addCategory(app.sql, 'Doomed', water);
    await refreshViews(app.sql);
    try {
      await app.sql.rows('update gear_category set name = $1 where id = $2', ['After', renamed]);
      await app.sql.rows('delete from gear_category where id = $1', [deleted]);
      const res = await app.exec(CategoryTreeDocument, { rootId: String(water) });
      expect(res.errors).toBeUndefined();
      expect(res.statements).toBe(1);
      const node = (id: number) => res.data!.categoryTree.find((n) => n.id === String(id))!;
      expect(node(renamed)).toMatchObject({ name: 'Before', parentId: String(water), category: { id: String(renamed), name: 'After', itemCount: 0, reviewCount: 0, reviewRating: null } });
      expect(node(deleted)).toMatchObject({ name: 'Doomed', parentId: String(water), category: { id: String(deleted), name: 'Doomed', itemCount: 0, reviewCount: 0, reviewRating: null } });
    } finally {
      await app.sql.rows('delete from gear_category where id = any($1::int[])', [[renamed, deleted]]);
      await refreshViews(app.sql);
    }
  });
});

describe('category_stats', () => {
  it('aggregates items and reviews over each whole subtree', async () => {
    await refreshViews(app.sql);
    const items = await app.sql.rows<{ id: number; category_id: number | null }>('select id, category_id from gear_item');
    const reviews = await baseReviews();
    const tree = expectedPreOrder(categories, null);
    for (const c of categories) {
      const below = new Set(tree.filter((n) => n.path.includes(c.id)).map((n) => n.id));
      const subtreeItems = items.filter((i) => i.category_id !== null && below.has(i.category_id));
      const ratings = reviews.filter((r) => r.category_id !== null && below.has(r.category_id)).map((r) => r.rating);
      const res = await app.exec(CategoryDocument, { id: String(c.id) });
      expect(res.errors).toBeUndefined();
      const got = res.data!.category!;
      expect(got.itemCount).toBe(subtreeItems.length);
      expect(got.reviewCount).toBe(ratings.length);
      if (ratings.length === 0) expect(got.reviewRating).toBeNull();
      else expect(got.reviewRating).toBeCloseTo(ratings.reduce((a, b) => a + b, 0) / ratings.length, 12);
      expect(got.children.map((k) => Number(k.id))).toEqual(
        categories
          .filter((k) => k.parent_id === c.id)
          .sort((a, b) => (a.name === b.name ? a.id - b.id : a.name < b.name ? -1 : 1))
          .map((k) => k.id),
      );
      expect(got.parent ? Number(got.parent.id) : null).toBe(c.parent_id);
    }
  });

  it('answers null for an unknown category and BAD_USER_INPUT for a malformed id', async () => {
    expect((await app.exec(CategoryDocument, { id: '424242' })).data!.category).toBeNull();
    const bad = await app.exec(CategoryDocument, { id: 'tents' });
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
  });
});
