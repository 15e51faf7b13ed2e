import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ItemNodeIdsDocument,
  ItemReviewsWindowDocument,
  ItemsBackwardDocument,
  ItemsBothSizesDocument,
  ItemsPageDocument,
  ItemsWindowDocument,
  NodeDocument,
  NodesDocument,
  type GearItemFilter,
  type GearItemOrder,
  type ItemsBackwardQuery,
  type ItemReviewsWindowQuery,
} from './generated/graphql';
import { createTestApp, type ExecResult, type TestApp } from './support/app';
import { buildItemsModel, expectedOrder, WALK_ORDERS, type ItemsModel } from './support/items-data';
import { walkForward } from './support/items-walk';
import { normalizeFilter } from '../src/modules/catalog/gear-item.query';

// What a Relay or Apollo Client frontend needs, through the server with typed operations,
// checked against the model computed from the base tables (support/items-data.ts): global
// ids, backward pages, and/or/not, aliased lookups counted in the cost.

let app: TestApp;
let model: ItemsModel;

beforeAll(async () => {
  app = await createTestApp();
  model = await buildItemsModel(app.sql);
});

afterAll(() => app?.close());

const badInput = (field: string) => ({ code: 'BAD_USER_INPUT', field });
const nodeId = (type: string, id: number | string) => Buffer.from(JSON.stringify([type, Number(id)])).toString('base64');

describe('Relay global ids', () => {
  it('gives every item, review and category a type-tagged nodeId that node() refetches', async () => {
    const res = await app.exec(ItemNodeIdsDocument, { first: 30 });
    expect(res.errors).toBeUndefined();
    const seen = new Set<string>();
    const checks: [string, string, string][] = [];
    for (const { node: item } of res.data!.gearItems.edges) {
      checks.push(['GearItem', item.id, item.nodeId]);
      if (item.category) checks.push(['Category', item.category.id, item.category.nodeId]);
      for (const { node: review } of item.reviews.edges) checks.push(['GearReview', review.id, review.nodeId]);
    }
    expect(new Set(checks.map((c) => c[0]))).toEqual(new Set(['GearItem', 'Category', 'GearReview']));
    for (const [type, id, global] of checks) {
      expect(global).toBe(nodeId(type, id));
      seen.add(global);
    }
    // Ids are per type; global ids are not: item 1 and category 1 differ.
    expect(nodeId('GearItem', 1)).not.toBe(nodeId('Category', 1));

    for (const [type, id, global] of checks.filter((_, i) => i % 7 === 0)) {
      const one = await app.exec(NodeDocument, { nodeId: global });
      expect(one.errors).toBeUndefined();
      expect(one.data!.node).toMatchObject({ __typename: type, nodeId: global, id });
    }
  });

  it('answers node() with null for unknown and malformed ids', async () => {
    for (const bad of [nodeId('GearItem', 999999), nodeId('Category', 999999), nodeId('GearReview', 999999), nodeId('Nope', 1), '', 'x', '1', '!!!', Buffer.from('["GearItem",1.5]').toString('base64'), Buffer.from('["GearItem",-1]').toString('base64'), Buffer.from('{"a":1}').toString('base64'), 'W10=']) {
      const res = await app.exec(NodeDocument, { nodeId: bad });
      expect(res.errors, bad).toBeUndefined();
      expect(res.data!.node, bad).toBeNull();
    }
  });

  it('answers nodes() in order, nulls in place, batched: one statement per type', async () => {
    const item = model.items.find((i) => i.reviewCount > 0)!;
    const [review] = await app.sql.rows<{ id: number; rating: number }>('select id, rating from gear_review where gear_item_id = $1 order by id limit 1', [item.id]);
    const category = model.cat.Domes;
    const ids = [
      nodeId('Category', category),
      'garbage',
      nodeId('GearItem', item.id),
      nodeId('GearReview', review.id),
      nodeId('GearItem', 999999),
      nodeId('GearItem', item.id),
      ...model.items.slice(0, 10).map((i) => nodeId('GearItem', i.id)),
    ];
    const res = await app.exec(NodesDocument, { nodeIds: ids });
    expect(res.errors).toBeUndefined();
    const got = res.data!.nodes;
    expect(got).toHaveLength(ids.length);
    expect(got[0]).toMatchObject({ __typename: 'Category', id: String(category), name: 'Domes' });
    expect(got[1]).toBeNull();
    expect(got[2]).toMatchObject({ __typename: 'GearItem', id: String(item.id), name: item.name });
    expect(got[3]).toMatchObject({ __typename: 'GearReview', id: String(review.id), rating: review.rating, gearItem: { id: String(item.id) } });
    expect(got[4]).toBeNull();
    expect(got[5]).toEqual(got[2]);
    expect(got.slice(6).map((n) => n && 'name' in n && n.name)).toEqual(model.items.slice(0, 10).map((i) => i.name));
    // Items, categories, reviews: three statements (the review's gearItem is a loaded item).
    expect(res.statements).toBe(3);
    expect((await app.exec(NodesDocument, { nodeIds: [] })).data!.nodes).toEqual([]);
  });

  it('refuses more than 100 ids', async () => {
    const ok = await app.exec(NodesDocument, { nodeIds: Array.from({ length: 100 }, (_, i) => nodeId('GearItem', i + 1)) });
    expect(ok.errors).toBeUndefined();
    const res = await app.exec(NodesDocument, { nodeIds: Array.from({ length: 101 }, (_, i) => nodeId('GearItem', i + 1)) });
    expect(res.errors?.[0].extensions).toMatchObject(badInput('nodeIds'));
  });
});

/** From the end: `last` items at a time, `before` the page's startCursor, while hasPreviousPage. */
async function walkBackward(filter: GearItemFilter | null, orderBy: GearItemOrder[] | null, last: number) {
  const pages: number[][] = [];
  let before: string | null = null;
  for (let guard = 0; guard < 100; guard++) {
    const res: ExecResult<ItemsBackwardQuery> = await app.exec(ItemsBackwardDocument, { last, before, filter, orderBy });
    expect(res.errors).toBeUndefined();
    const page = res.data!.gearItems;
    pages.unshift(page.edges.map((e) => Number(e.node.id)));
    expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor ?? null);
    expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
    expect(page.pageInfo.hasNextPage).toBe(before !== null);
    if (!page.pageInfo.hasPreviousPage) return { ids: pages.flat(), pages };
    expect(page.edges).toHaveLength(last);
    before = page.pageInfo.startCursor!;
  }
  throw new Error('the walk did not end');
}

describe('backward paging', () => {
  const filters: (GearItemFilter | null)[] = [
    null,
    { reviewRating: { isNull: false } },
    { nameContains: 'a', reviewCount: { lte: 3 } },
    { or: [{ reviewRating: { gte: 4 } }, { not: { reviewCount: { gt: 0 } } }] },
  ];

  it('walks every order and some filters from the end: the forward walk reversed', async () => {
    for (const filter of filters) {
      for (const orderBy of WALK_ORDERS) {
        const want = expectedOrder(model, filter, orderBy).map((i) => i.id);
        const forward = (await walkForward(app, filter, orderBy, 4)).ids;
        expect(forward).toEqual(want);
        for (const last of [1, 3]) {
          const { ids } = await walkBackward(filter, orderBy, last);
          expect(ids, JSON.stringify({ filter, orderBy, last })).toEqual(forward);
        }
      }
    }
  });

  it('takes cursors from forward pages as before, and after and before together as a window', async () => {
    const orderBy: GearItemOrder[] = [{ field: 'REVIEW_RATING', direction: 'DESC' }];
    const want = expectedOrder(model, null, orderBy).map((i) => String(i.id));
    const all = await app.exec(ItemsWindowDocument, { first: 100, orderBy });
    const cursors = all.data!.gearItems.edges.map((e) => e.cursor);
    const window = async (vars: { first?: number; last?: number; after?: string; before?: string }) => {
      const res = await app.exec(ItemsWindowDocument, { ...vars, orderBy });
      expect(res.errors).toBeUndefined();
      return res.data!.gearItems;
    };
    // The 3 items before the 10th.
    const back = await window({ last: 3, before: cursors[9] });
    expect(back.edges.map((e) => e.node.id)).toEqual(want.slice(6, 9));
    expect(back.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
    // Between the 3rd and the 12th: forward from the start of the window, backward from its end.
    const between = want.slice(3, 11);
    expect((await window({ after: cursors[2], before: cursors[11] })).edges.map((e) => e.node.id)).toEqual(between);
    expect((await window({ first: 2, after: cursors[2], before: cursors[11] })).edges.map((e) => e.node.id)).toEqual(between.slice(0, 2));
    expect((await window({ last: 2, after: cursors[2], before: cursors[11] })).edges.map((e) => e.node.id)).toEqual(between.slice(-2));
    // Forward with after: hasPreviousPage is true (the cheap answer the Relay spec allows).
    expect((await window({ first: 2, after: cursors[0] })).pageInfo.hasPreviousPage).toBe(true);
    expect((await window({ first: 2 })).pageInfo.hasPreviousPage).toBe(false);
    // last: 0 says whether anything comes before; the default first with only last pages backward.
    const zero = await window({ last: 0 });
    expect(zero).toMatchObject({ edges: [], pageInfo: { hasPreviousPage: true, startCursor: null, endCursor: null } });
    expect((await window({ last: 2 })).edges.map((e) => e.node.id)).toEqual(want.slice(-2));
  });

  it('refuses first and last both given, last outside 0..100, and a before cursor from another query', async () => {
    for (const res of [await app.exec(ItemsBothSizesDocument, { last: 2 }), await app.exec(ItemsWindowDocument, { first: 20, last: 2 })]) {
      expect(res.errors?.[0].extensions).toMatchObject(badInput('last'));
    }
    // A first variable that is not sent, or sent as null, is not "given".
    expect((await app.exec(ItemsWindowDocument, { first: null, last: 2 })).errors).toBeUndefined();
    expect((await app.exec(ItemsBothSizesDocument, { last: null })).errors).toBeUndefined();
    for (const last of [-1, 101]) expect((await app.exec(ItemsBackwardDocument, { last })).errors?.[0].extensions).toMatchObject(badInput('last'));
    const cursor = (await app.exec(ItemsWindowDocument, { first: 1, filter: { nameContains: 'a' } })).data!.gearItems.pageInfo.endCursor!;
    const res = await app.exec(ItemsBackwardDocument, { last: 2, before: cursor });
    expect(res.errors?.[0].extensions).toMatchObject(badInput('before'));
  });

  it('pages reviews backward: the forward walk reversed, with windows and the same refusals', async () => {
    const item = [...model.items].sort((a, b) => b.reviewCount - a.reviewCount)[0];
    const id = String(item.id);
    const all = await app.exec(ItemReviewsWindowDocument, { id, first: 100 });
    const want = all.data!.gearItem!.reviews.edges.map((e) => e.node.id);
    const cursors = all.data!.gearItem!.reviews.edges.map((e) => e.cursor);
    expect(want.length).toBeGreaterThanOrEqual(3);
    const pages: string[][] = [];
    let before: string | null = null;
    for (let guard = 0; guard < 20; guard++) {
      const res: ExecResult<ItemReviewsWindowQuery> = await app.exec(ItemReviewsWindowDocument, { id, last: 2, before });
      expect(res.errors).toBeUndefined();
      const page: NonNullable<ItemReviewsWindowQuery['gearItem']>['reviews'] = res.data!.gearItem!.reviews;
      pages.unshift(page.edges.map((e) => e.node.id));
      expect(page.totalCount).toBe(want.length);
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor ?? null;
    }
    expect(pages.flat()).toEqual(want);
    const between = await app.exec(ItemReviewsWindowDocument, { id, after: cursors[0], before: cursors[want.length - 1] });
    expect(between.data!.gearItem!.reviews.edges.map((e) => e.node.id)).toEqual(want.slice(1, -1));
    expect((await app.exec(ItemReviewsWindowDocument, { id, first: 1, last: 1 })).errors?.[0].extensions).toMatchObject(badInput('last'));
    const itemCursor = (await app.exec(ItemsWindowDocument, { first: 1 })).data!.gearItems.pageInfo.endCursor!;
    expect((await app.exec(ItemReviewsWindowDocument, { id, last: 1, before: itemCursor })).errors?.[0].extensions).toMatchObject(badInput('before'));
  });
});

describe('filter combinators', () => {
  const filters = (): GearItemFilter[] => {
    const c = model.cat;
    return [
      { or: [{ categoryId: String(c.Bags) }, { categoryId: String(c.Kayaks) }] },
      { or: [{ reviewRating: { gte: 4.5 } }, { reviewCount: { eq: 0 } }] },
      { not: { reviewRating: { gte: 4 } } },
      { not: { reviewRating: { lt: 3 } } },
      { not: { categoryId: String(c.Bags) } },
      { not: { inCategory: String(c.Outdoor) } },
      { not: { nameContains: 'same' } },
      { not: { not: { reviewRating: { gte: 4 } } } },
      { not: { or: [{ reviewRating: { gte: 4 } }, { reviewCount: { gte: 2 } }] } },
      { and: [{ inCategory: String(c.Outdoor) }, { not: { reviewRating: { isNull: true } } }] },
      { inCategory: String(c.Water), or: [{ nameContains: 'kayak' }, { not: { reviewCount: { gt: 1 } } }] },
      { or: [] },
      { and: [] },
      { not: {} },
      { or: [{}, { reviewCount: { eq: 1 } }] },
      { or: [{ and: [{ reviewCount: { gte: 2 } }, { reviewRating: { lt: 4 } }] }, { and: [{ not: { categoryId: String(c.Tents) } }, { nameContains: 'alpine' }] }] },
    ];
  };

  it('matches what the model computes from the base tables; not X is the exact complement of X', async () => {
    const orderBy: GearItemOrder[] = [{ field: 'REVIEW_RATING', direction: 'DESC' }];
    for (const filter of filters()) {
      const res = await app.exec(ItemsPageDocument, { first: 100, filter, orderBy });
      expect(res.errors, JSON.stringify(filter)).toBeUndefined();
      const want = expectedOrder(model, filter, orderBy).map((i) => i.id);
      expect(res.data!.gearItems.edges.map((e) => Number(e.node.id)), JSON.stringify(filter)).toEqual(want);
      expect(res.data!.gearItems.totalCount).toBe(want.length);
      if (filter.not) continue;
      // The complement: every item is in exactly one of X and not X, null ratings included.
      const not = await app.exec(ItemsPageDocument, { first: 100, filter: { not: filter }, orderBy });
      const both = [...res.data!.gearItems.edges, ...not.data!.gearItems.edges].map((e) => Number(e.node.id)).sort((a, b) => a - b);
      expect(both).toEqual(model.items.map((i) => i.id).sort((a, b) => a - b));
    }
    // Items without a rating are in `not` of any rating comparison.
    const unrated = model.items.filter((i) => i.reviewRating === null).map((i) => String(i.id));
    const notHigh = await app.exec(ItemsPageDocument, { first: 100, filter: { not: { reviewRating: { gte: 4 } } } });
    expect(notHigh.data!.gearItems.edges.map((e) => e.node.id)).toEqual(expect.arrayContaining(unrated));
  });

  it('binds cursors to the normalised filter, combinators included', async () => {
    const a: GearItemFilter = { or: [{ reviewRating: { gte: 4 } }, { reviewCount: { eq: 0 } }] };
    const cursor = (await app.exec(ItemsPageDocument, { first: 2, filter: a })).data!.gearItems.pageInfo.endCursor!;
    // The same filter reworded: taken.
    const same = await app.exec(ItemsPageDocument, { first: 2, after: cursor, filter: { ...a, and: [{}], nameContains: '' } });
    expect(same.errors).toBeUndefined();
    for (const other of [{ not: a }, { or: [...a.or!].reverse() }, { or: a.or!.slice(0, 1) }, null] as (GearItemFilter | null)[]) {
      const res = await app.exec(ItemsPageDocument, { first: 2, after: cursor, filter: other });
      expect(res.errors?.[0].extensions, JSON.stringify(other)).toMatchObject(badInput('after'));
    }
    // Nothing that filters normalises to the unfiltered request (the prepared page).
    expect(normalizeFilter({ and: [{}, { and: [] }], or: [{ nameContains: '' }, { reviewCount: { eq: 1 } }] })).toEqual({});
    expect(Object.keys(normalizeFilter({ or: [] }))).toEqual(['or']);
    expect(Object.keys(normalizeFilter({ not: {} }))).toEqual(['not']);
  });

  it('bounds nesting depth and terms, naming the field', async () => {
    let deep: GearItemFilter = { reviewCount: { gte: 1 } };
    for (let i = 0; i < 5; i++) deep = { not: deep };
    expect((await app.exec(ItemsPageDocument, { filter: deep })).errors).toBeUndefined();
    const tooDeep = await app.exec(ItemsPageDocument, { filter: { and: [deep] } });
    expect(tooDeep.errors?.[0].extensions).toMatchObject(badInput('filter.and[0].not.not.not.not.not'));
    // Each nested filter and each field in it is a term: 25 of these are 50.
    const wide = { or: Array.from({ length: 25 }, (_, i) => ({ reviewCount: { eq: i } })) };
    expect((await app.exec(ItemsPageDocument, { filter: wide })).errors).toBeUndefined();
    const tooWide = await app.exec(ItemsPageDocument, { filter: { ...wide, nameContains: 'a' } });
    expect(tooWide.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(tooWide.errors?.[0].message).toMatch(/more than 50 terms/);
    const badLeaf = await app.exec(ItemsPageDocument, { filter: { or: [{}, { not: { categoryId: 'x' } }] } });
    expect(badLeaf.errors?.[0].extensions).toMatchObject(badInput('filter.or[1].not.categoryId'));
  });
});

describe('aliased lookups and the query cost', () => {
  const lookups = (n: number, ids: number[]) =>
    `query { ${Array.from({ length: n }, (_, i) => `a${i}: gearItem(id: "${ids[i % ids.length]}") { id name reviewCount reviewRating }`).join(' ')} }`;

  it('passes 60 aliased gearItem lookups of cheap fields, batched', async () => {
    const ids = model.items.map((i) => i.id);
    const res = await app.exec<Record<string, { id: string; name: string }>, Record<string, never>>(lookups(60, ids));
    expect(res.errors).toBeUndefined();
    expect(Object.keys(res.data!)).toHaveLength(60);
    expect(res.data!.a0.name).toBe(model.items[0].name);
    expect(res.statements).toBe(2);
  });

  it('refuses an expensive aliased query by its cost, and counts nodes by the ids given', async () => {
    const heavy = `query { ${Array.from({ length: 3 }, (_, i) => `h${i}: gearItems(first: 100) { edges { node { id reviews(first: 50) { edges { node { id rating } } } } } }`).join(' ')} }`;
    const res = await app.exec(heavy);
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(res.errors?.[0].message).toMatch(/costs \d+, over the limit/);
    // Backward pages cost what forward ones do.
    const heavyBack = heavy.replaceAll('first: 100', 'last: 100');
    expect((await app.exec(heavyBack)).errors?.[0].message).toMatch(/costs \d+, over the limit/);
    const many = Array.from({ length: 100 }, (_, i) => nodeId('GearItem', i + 1));
    const cheapNodes = await app.exec(NodesDocument, { nodeIds: many });
    expect(cheapNodes.errors).toBeUndefined();
    const pricey = await app.exec(
      'query($ids: [ID!]!) { nodes(nodeIds: $ids) { nodeId ... on GearItem { reviews(first: 100) { edges { node { id rating body } } } } } }',
      { ids: many },
    );
    expect(pricey.errors?.[0].message).toMatch(/costs \d+, over the limit/);
  });
});
