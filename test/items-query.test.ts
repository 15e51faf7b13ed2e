import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ItemsPageDocument, type GearItemFilter, type GearItemOrder, type ItemsPageQuery } from './generated/graphql';
import { createTestApp, type TestApp } from './support/app';
import { buildItemsModel, expectedOrder, type ItemsModel } from './support/items-data';

// gearItems filters and sorts, one page of up to 100 (the whole data set), checked against
// the order and the cached figures computed from the base rows (support/items-data.ts).

let app: TestApp;
let model: ItemsModel;

beforeAll(async () => {
  app = await createTestApp();
  model = await buildItemsModel(app.sql);
});

afterAll(() => app?.close());

async function page(filter?: GearItemFilter | null, orderBy?: GearItemOrder[] | null): Promise<ItemsPageQuery['gearItems']> {
  const res = await app.exec(ItemsPageDocument, { first: 100, filter, orderBy });
  expect(res.errors).toBeUndefined();
  return res.data!.gearItems;
}

async function expectItems(filter?: GearItemFilter | null, orderBy?: GearItemOrder[] | null) {
  const got = await page(filter, orderBy);
  const want = expectedOrder(model, filter, orderBy);
  expect(got.edges.map((e) => Number(e.node.id))).toEqual(want.map((i) => i.id));
  expect(got.totalCount).toBe(want.length);
  expect(got.pageInfo.hasNextPage).toBe(false);
  return { got, want };
}

describe('gearItems fields', () => {
  it('carries the cached count and mean, 0 and null for items created after the last refresh', async () => {
    const { got } = await expectItems();
    for (const { node } of got.edges) {
      const item = model.items.find((i) => i.id === Number(node.id))!;
      expect(node.name).toBe(item.name);
      expect(Date.parse(node.createdAt)).toBe(item.createdAt);
      expect(node.category?.id ?? null).toBe(item.categoryId === null ? null : String(item.categoryId));
      expect(node.reviewCount).toBe(item.reviewCount);
      if (item.reviewRating === null) expect(node.reviewRating).toBeNull();
      else expect(node.reviewRating).toBeCloseTo(item.reviewRating, 12);
    }
    // The pending items have reviews in gear_review already; the cached figures do not.
    for (const id of model.pending) {
      const node = got.edges.find((e) => Number(e.node.id) === id)!.node;
      expect(node).toMatchObject({ reviewCount: 0, reviewRating: null });
    }
  });
});

describe('gearItems, whatever it selects', () => {
  // A page reads only the columns its selection needs; every way of asking for a field must
  // still find it (fragments, aliases, a later read of the same item), compiled or not.
  const FULL = `id name description createdAt category { id } reviewCount reviewRating`;
  const byCreated = `orderBy: [{field: CREATED_AT, direction: DESC}]`;

  it('answers the same fields by fragments, inline fragments and aliases as by a full selection', async () => {
    const full = await app.exec<{ gearItems: { edges: { node: Record<string, unknown> }[] } }, Record<string, never>>(
      `{ gearItems(first: 100, ${byCreated}) { edges { node { ${FULL} } } } }`,
    );
    const parts = `query { gearItems(first: 100, ${byCreated}) { edges { node { id ...A ... on GearItem { createdAt c: category { id } } } } } }
      fragment A on GearItem { name ...B reviewCount reviewRating } fragment B on Node { ... on GearItem { description } }`;
    // Run past graphql-jit's compile threshold, so the compiled query is checked too.
    for (let i = 0; i < 12; i++) {
      const res = await app.exec<{ gearItems: { edges: { node: Record<string, unknown> }[] } }, Record<string, never>>(parts);
      expect(res.errors).toBeUndefined();
      expect(res.data!.gearItems.edges.map(({ node: { c, ...rest } }) => ({ ...rest, category: c }))).toEqual(full.data!.gearItems.edges.map((e) => e.node));
    }
  });

  it('gives cursors that page on by the sort key the rows were not asked for', async () => {
    const ids = (await page(null, [{ field: 'CREATED_AT' as never, direction: 'DESC' as never }])).edges.map((e) => e.node.id);
    const first = await app.exec<{ gearItems: { edges: { cursor: string; node: { id: string } }[]; pageInfo: { endCursor: string } } }, Record<string, never>>(
      `{ gearItems(first: 3, ${byCreated}) { edges { cursor node { id } } pageInfo { endCursor } } }`,
    );
    const after = first.data!.gearItems.pageInfo.endCursor;
    const next = await app.exec<{ gearItems: { edges: { node: { id: string } }[] } }, { after: string }>(
      `query($after: String) { gearItems(first: 3, after: $after, ${byCreated}) { edges { node { id } } } }`,
      { after },
    );
    expect([...first.data!.gearItems.edges, ...next.data!.gearItems.edges].map((e) => e.node.id)).toEqual(ids.slice(0, 6));
  });

  it('lets a later read of an item on the page see all of it', async () => {
    await app.sql.rows(`update gear_item set description = 'about ' || name where id % 2 = 0`);
    const descriptions = new Map((await app.sql.rows<{ id: number; description: string | null }>('select id, description from gear_item')).map((r) => [r.id, r.description]));
    const res = await app.exec<{ gearItems: { edges: { node: { id: string; reviews: { edges: { node: { gearItem: Record<string, unknown> } }[] } } }[] } }, Record<string, never>>(
      `{ gearItems(first: 100, ${byCreated}) { edges { node { id reviews(first: 1) { edges { node { gearItem { ${FULL} } } } } } } } }`,
    );
    expect(res.errors).toBeUndefined();
    const seen = res.data!.gearItems.edges.flatMap((e) => e.node.reviews.edges.map((r) => r.node.gearItem));
    expect(seen.length).toBeGreaterThan(0);
    for (const item of seen) {
      const want = model.items.find((i) => i.id === Number(item.id))!;
      expect(item).toMatchObject({ name: want.name, description: descriptions.get(want.id), category: want.categoryId === null ? null : { id: String(want.categoryId) } });
      expect(Date.parse(item.createdAt as string)).toBe(want.createdAt);
    }
  });
});

describe('gearItems filters', () => {
  it('selects by category, directly or by subtree as category_tree holds it', async () => {
    const { cat } = model;
    for (const name of Object.keys(cat)) {
      const direct = await expectItems({ categoryId: String(cat[name]) });
      expect(direct.want.length).toBeGreaterThan(0);
      await expectItems({ inCategory: String(cat[name]) });
    }
    // Outdoor's subtree reaches Domes two levels down.
    expect((await expectItems({ inCategory: String(cat.Outdoor) })).want.some((i) => i.categoryId === cat.Domes)).toBe(true);
    // Rafts came after the last refresh of category_tree: its items match categoryId only.
    expect((await expectItems({ inCategory: String(cat.Rafts) })).got.edges).toEqual([]);
    expect((await expectItems({ inCategory: '999999' })).got.totalCount).toBe(0);
  });

  it('matches nameContains case-insensitively, with %, _ and \\ as plain characters', async () => {
    for (const nameContains of ['alpine', 'ALPINE t', 'same', '%', '100%', '_', 'y_B', '\\', 'k\\s', 'ck', '', 'nothing like it']) {
      await expectItems({ nameContains });
    }
    const names = async (nameContains: string) => (await page({ nameContains })).edges.map((e) => e.node.name).sort();
    expect(await names('%')).toEqual(['100% Wool Sock']);
    expect(await names('y_B')).toEqual(['Dry_Bag']);
    expect(await names('\\')).toEqual(['Back\\slash Pack']);
    expect(await names('')).toHaveLength(model.items.length);
  });

  it('compares the cached count with every operator, new items counting 0', async () => {
    for (const reviewCount of [{ eq: 0 }, { ne: 0 }, { gt: 1 }, { gte: 3 }, { lt: 2 }, { lte: 1 }, { gte: 1, lte: 2 }, { gt: 3, lt: 3 }]) {
      await expectItems({ reviewCount });
    }
    const zero = await page({ reviewCount: { eq: 0 } });
    for (const id of model.pending) expect(zero.edges.some((e) => Number(e.node.id) === id)).toBe(true);
  });

  it('compares the cached mean, never matching a null one, and selects by isNull', async () => {
    for (const reviewRating of [
      { eq: 4 },
      { gt: 4 },
      { gte: 4 },
      { lt: 2.5 },
      { lte: 1.5 },
      { gte: 2, lt: 4.5 },
      { isNull: true },
      { isNull: false },
      { isNull: false, lte: 3 },
      { isNull: true, gte: 1 },
    ]) {
      await expectItems({ reviewRating });
    }
    const nulls = await expectItems({ reviewRating: { isNull: true } });
    expect(nulls.want.map((i) => i.id)).toEqual(expect.arrayContaining(model.pending));
  });

  it('ANDs every term given', async () => {
    const { cat } = model;
    await expectItems({ inCategory: String(cat.Outdoor), reviewRating: { gte: 4 } });
    await expectItems({ inCategory: String(cat.Outdoor), reviewCount: { eq: 0 } });
    await expectItems({ categoryId: String(cat.Bags), nameContains: 'same', reviewRating: { isNull: false } });
    await expectItems({ inCategory: String(cat.Water), categoryId: String(cat.Kayaks), reviewCount: { gte: 2 } });
    await expectItems({ inCategory: String(cat.Water), categoryId: String(cat.Bags) });
    await expectItems({ nameContains: 'a', reviewCount: { gt: 0 }, reviewRating: { lt: 4.5 } }, [
      { field: 'REVIEW_RATING', direction: 'DESC' },
    ]);
  });

  it('refuses malformed ids and text PostgreSQL cannot hold', async () => {
    for (const [filter, field] of [
      [{ categoryId: 'tents' }, 'filter.categoryId'],
      [{ inCategory: '-3' }, 'filter.inCategory'],
      [{ nameContains: 'a\u0000b' }, 'filter.nameContains'],
    ] as const) {
      const res = await app.exec(ItemsPageDocument, { filter });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
  });
});

describe('gearItems order', () => {
  const fields = ['ID', 'NAME', 'CREATED_AT', 'REVIEW_COUNT', 'REVIEW_RATING'] as const;

  it('sorts by every field both ways, then id ascending; null means last either way', async () => {
    for (const field of fields) {
      for (const direction of ['ASC', 'DESC'] as const) {
        const { want } = await expectItems(null, [{ field, direction }]);
        if (field === 'REVIEW_RATING') {
          const firstNull = want.findIndex((i) => i.reviewRating === null);
          expect(firstNull).toBeGreaterThan(0);
          expect(want.slice(firstNull).every((i) => i.reviewRating === null)).toBe(true);
        }
      }
    }
    // direction defaults to ASC; no orderBy, or an empty one, is id ascending.
    await expectItems(null, [{ field: 'REVIEW_COUNT' }]);
    await expectItems(null, []);
    await expectItems(null, null);
  });

  it('applies several terms in turn, breaking the ties of each', async () => {
    const orders: GearItemOrder[][] = [
      [{ field: 'REVIEW_RATING', direction: 'DESC' }, { field: 'REVIEW_COUNT', direction: 'DESC' }],
      [{ field: 'REVIEW_RATING', direction: 'ASC' }, { field: 'NAME', direction: 'DESC' }],
      [{ field: 'NAME', direction: 'ASC' }, { field: 'CREATED_AT', direction: 'DESC' }],
      [{ field: 'CREATED_AT', direction: 'ASC' }, { field: 'REVIEW_RATING', direction: 'DESC' }, { field: 'NAME' }],
      [{ field: 'REVIEW_COUNT', direction: 'ASC' }, { field: 'ID', direction: 'DESC' }, { field: 'NAME' }],
      [{ field: 'NAME', direction: 'DESC' }, { field: 'NAME', direction: 'ASC' }],
    ];
    for (const orderBy of orders) await expectItems(null, orderBy);
    // The data has the ties these orders are about.
    const hasTies = (pick: (i: ItemsModel['items'][number]) => unknown) => new Set(model.items.map(pick)).size < model.items.length;
    expect(hasTies((i) => i.name)).toBe(true);
    expect(hasTies((i) => i.createdAt)).toBe(true);
    expect(hasTies((i) => `${i.reviewRating}/${i.reviewCount}`)).toBe(true);
  });
});
