import type { ApolloServer } from '@apollo/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config';
import { createContext, type Context } from '../src/context';
import type { JitCounters } from '../src/execution/jit-gateway';
import { createApollo } from '../src/server';
import { OPS_TOKEN, createTestApp, type TestApp } from './support/app';
import { addCategory, addItem, addReviews, refreshViews } from './support/fixtures';

// The graphql-jit executor against graphql-js on the same database: every answer, errors and
// HTTP status included, must be the same text; the ones it compiles must send the same SQL
// statements (batching kept); the ones graphql-jit would answer differently must not run on it.

let app: TestApp;
let js: ApolloServer<Context>;
let jit: ApolloServer<Context>;
let counters: JitCounters;
let ids: { root: number; child: number; items: number[] };

async function apolloWith(jitConfig: Config['jit'], limits: Partial<Config['limits']> = {}, c?: JitCounters) {
  const config = { ...app.config, jit: jitConfig, limits: { ...app.config.limits, ...limits } };
  const apollo = await createApollo({ ...app.services, config }, undefined, [], c);
  await apollo.start();
  return apollo;
}

interface Answer {
  text: string;
  status: number | undefined;
  statements: number;
}

async function ask(apollo: ApolloServer<Context>, query: string, variables?: Record<string, unknown>, operationName?: string, token?: string): Promise<Answer> {
  const contextValue = createContext(app.services, { authorization: token ? `Bearer ${token}` : undefined });
  const res = await apollo.executeOperation({ query, variables, operationName }, { contextValue });
  if (res.body.kind !== 'single') throw new Error('expected a single result');
  return { text: JSON.stringify(res.body.singleResult), status: res.http.status, statements: contextValue.statements.count };
}

type Way = 'jit' | 'graphql-js' | 'rerun';

/** Fails with where two answers part, not with a diff of two long lines. */
function sameText(got: string, expected: string, what: string): void {
  if (got === expected) return;
  let i = 0;
  while (got[i] === expected[i]) i++;
  const at = (t: string) => t.slice(Math.max(0, i - 80), i + 80);
  expect.fail(`answers part at ${i} for ${what}\n  jit:        ${at(got)}\n  graphql-js: ${at(expected)}`);
}

/** Asks both servers (the jit one twice: compiled, then from its cache); the answers must match. */
async function same(query: string, variables?: Record<string, unknown>, operationName?: string, token?: string): Promise<{ answer: string; way: Way }> {
  const expected = await ask(js, query, variables, operationName, token);
  let way: Way = 'graphql-js';
  for (let i = 0; i < 2; i++) {
    const before = { ...counters };
    const got = await ask(jit, query, variables, operationName, token);
    sameText(got.text, expected.text, query);
    expect(got.status).toBe(expected.status);
    way = counters.jit > before.jit ? 'jit' : counters.rerun > before.rerun ? 'rerun' : 'graphql-js';
    // A compiled run batches as graphql-js does.
    if (way !== 'rerun') expect(got.statements).toBe(expected.statements);
  }
  return { answer: expected.text, way };
}

beforeAll(async () => {
  app = await createTestApp();
  const root = await addCategory(app.sql, 'Camping');
  const child = await addCategory(app.sql, 'Tents', root);
  await addCategory(app.sql, 'Stoves', root);
  const items: number[] = [];
  for (let i = 0; i < 8; i++) {
    const id = await addItem(app.sql, `Item ${i}`, i % 2 ? child : root, { description: i % 3 ? `About ${i}` : null });
    items.push(id);
    await addReviews(app.sql, id, [1 + (i % 5), 5, 3].slice(0, 1 + (i % 3)));
  }
  await refreshViews(app.sql);
  ids = { root, child, items };
  counters = { compiled: 0, jit: 0, graphqlJs: 0, rerun: 0 };
  js = await apolloWith(null);
  jit = await apolloWith({ compileAfter: 1, maxSelections: 500, cacheSelections: 20_000 }, {}, counters);
});

afterAll(async () => {
  await jit?.stop();
  await js?.stop();
  await app?.close();
});

const PAGE = '{ gearItems(first: 50, orderBy: [{field: REVIEW_RATING, direction: DESC}]) { edges { node { id name reviewCount reviewRating } } } }';

describe('graphql-jit executor', () => {
  it('answers compiled queries as graphql-js does, with the same statements', async () => {
    const cases: [string, Record<string, unknown>?][] = [
      [PAGE],
      [`{ categoryTree(rootId: "${0}", maxDepth: 2) { id name parentId depth path category { itemCount reviewCount reviewRating } } }`],
      ['{ categoryTree { id depth path category { name parent { name } children { name itemCount } } } }'],
      [
        `query ItemsPage($first: Int, $after: String, $count: IntFilter, $orderBy: [GearItemOrder!]) {
          gearItems(first: $first, after: $after, filter: { reviewCount: $count, or: [{ nameContains: "Item" }, { categoryId: null }] }, orderBy: $orderBy) {
            totalCount pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
            edges { cursor node { __typename id name description createdAt lastReviewedAt reviewCount reviewRating nodeId category { id name } } }
          }
        }`,
        { first: 3, orderBy: [{ field: 'NAME', direction: 'DESC' }], count: { gte: 1 } },
      ],
      ['query($first: Int = 3, $o: [GearItemOrder!] = [{field: NAME}]) { gearItems(first: $first, orderBy: $o) { totalCount edges { node { name } } } }', {}],
      ['query($id: ID!) { gearItem(id: $id) { id name reviews(first: 2) { totalCount edges { node { id rating body gearItem { id name } } } } } }', { id: 0 }],
      [
        `{ a: gearItems(first: 2) { ...page } b: gearItems(first: 2, orderBy: [{field: ID, direction: DESC}]) { ...page edges { node { name } } } __typename }
         fragment page on GearItemConnection { edges { node { id ... on GearItem { name reviewCount } } } pageInfo { endCursor } }`,
      ],
      ['{ gearItems(first: 4, filter: { not: { nameContains: "1" }, reviewRating: { gte: 1.5 } }) { edges { node { id reviewRating } } } }'],
      ['{ gearItems(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage } } }'],
      ['{ materializedViews { name dependsOn populated lastRefreshedAt lastRefreshStartedAt lastRefreshDurationMs stale staleSince maxStalenessSeconds lastRefreshError { message failedAt } } }'],
      // Fragments on the interface, spread where the type is known.
      ['{ gearItems(first: 3) { edges { node { ... on Node { nodeId } ...n id } } } } fragment n on Node { nodeId ... on GearItem { name } }'],
      ['{ categoryTree(maxDepth: 1) { category { ... on Node { nodeId } name } } }'],
      ['{ gearItem(id: "999999") { id } category(id: "999999") { id } }'],
    ];
    for (const [query, variables] of cases) {
      const q = query.replace('"0"', `"${ids.root}"`);
      const v = variables && 'id' in variables ? { ...variables, id: String(ids.items[1]) } : variables;
      const { answer, way } = await same(q, v);
      expect(answer).not.toContain('"errors"');
      expect(way, q).toBe('jit');
    }
  });

  it('takes the client operationName among several operations', async () => {
    const doc = 'query A { gearItems(first: 1) { totalCount } } query B { categoryTree { id } }';
    expect((await same(doc, undefined, 'B')).way).toBe('jit');
    expect((await same(doc, undefined, 'A')).way).toBe('jit');
    // Which one, graphql-js says.
    expect((await same(doc)).answer).toContain('Must provide operation name');
  });

  it('answers errors as graphql-js does: messages, paths, locations, codes, null propagation', async () => {
    const cases: [string, Record<string, unknown>?][] = [
      ['{ gearItems(first: 101) { totalCount } }'],
      ['{ gearItems(after: "not-a-cursor") { totalCount } categoryTree { id } }'],
      ['{ a: gearItem(id: "abc") { id } b: gearItem(id: "-1") { id } c: categoryTree(maxDepth: -1) { id } }'],
      ['{ gearItems(first: 1, last: 1) { totalCount } }'],
      ['{ x: categoryTree(maxDepth: -1) { id } y: gearItems(first: 1) { edges { node { id } } } }'],
      ['query($id: ID!) { gearItem(id: $id) { id } }', { id: 'abc' }],
      ['query($first: Int) { gearItems(first: $first) { totalCount } }', { first: 500 }],
    ];
    for (const [query, variables] of cases) {
      const { answer, way } = await same(query, variables);
      expect(answer).toContain('"errors"');
      expect(way).toBe('rerun');
    }
  });

  it('leaves variable coercion errors to graphql-js (messages, BAD_USER_INPUT, status 400)', async () => {
    const q = 'query($first: Int, $orderBy: [GearItemOrder!], $n: String, $r: FloatFilter) { gearItems(first: $first, orderBy: $orderBy, filter: { nameContains: $n, reviewRating: $r }) { totalCount } }';
    for (const variables of [
      { first: 'ten' },
      { first: 2 ** 31 },
      { orderBy: [{ field: 'COLOUR' }] },
      { orderBy: [null] },
      { orderBy: { field: 'NAME', direction: 'UP' } },
      { n: 5 },
      { r: { unknown: 1 } },
      { r: { gte: 'NaN' } },
    ]) {
      const { answer, way } = await same(q, variables);
      expect(answer).toContain('BAD_USER_INPUT');
      expect(way).toBe('graphql-js');
    }
    // A nested variable not given: graphql-js leaves the field out, graphql-jit would pass null.
    const nested = 'query($c: ID, $n: String) { gearItems(first: 3, filter: { categoryId: $c, nameContains: $n }) { totalCount } }';
    expect((await same(nested, { n: 'Item' })).way).toBe('graphql-js');
    expect((await same(nested, { n: 'Item', c: String(ids.child) })).way).toBe('jit');
    expect((await same(nested, { n: 'Item', c: null })).way).toBe('jit');
  });

  it('runs on graphql-js what graphql-jit would answer differently', async () => {
    const { items } = ids;
    const node = Buffer.from(JSON.stringify(['GearItem', items[0]])).toString('base64');
    const cases: [string, Record<string, unknown>?, string?][] = [
      // A variable of a recursive input type: graphql-jit would never finish compiling it.
      ['query($f: GearItemFilter) { gearItems(first: 5, filter: $f) { totalCount } }', { f: { or: [{ nameContains: 'Item' }] } }],
      ['query($f: [GearItemFilter!]) { gearItems(first: 5, filter: { and: $f }) { totalCount } }', { f: [] }],
      // Interfaces: type-graphql's resolveType is async.
      [`{ node(nodeId: "${node}") { __typename nodeId ... on GearItem { name } } }`],
      [`{ nodes(nodeIds: ["${node}", "bad"]) { nodeId } }`],
      // @skip/@include: graphql-js orders fields by the spread it took first.
      ['query($s: Boolean!) { gearItems(first: 1) { ...f @skip(if: $s) totalCount ...f } } fragment f on GearItemConnection { pageInfo { endCursor } }', { s: true }],
      ['{ gearItems(first: 1) { totalCount @include(if: false) } }'],
      // graphql-jit builds objects with literals, where __proto__ sets the prototype.
      ['{ __proto__: gearItems(first: 1) { totalCount } }'],
      // Introspection.
      ['{ __schema { queryType { name } } __type(name: "GearItem") { name } }'],
      // Mutations: serial, with side effects; graphql-js as before.
      ['mutation { createCategory(input: { name: "Jit" }) { name parent { id } } }', undefined, OPS_TOKEN],
    ];
    for (const [query, variables, token] of cases) {
      const { answer, way } = await same(query, variables, undefined, token);
      expect(way, query).toBe('graphql-js');
      if (query.includes('__proto__')) expect(answer).toContain('"__proto__":{"totalCount"');
    }
  });

  it('never turns a string argument into code', async () => {
    const marker = '__MAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d';
    const g = globalThis as { __tallyJitInjected?: number };
    for (const payload of [`${marker}0),x:(globalThis.__tallyJitInjected=1),y:(0`, `${marker}0`, '__MAGIC_NAN__57f286b9_4c20_487f_b409_79804ddcb4f8']) {
      const query = `{ gearItems(first: 2, filter: { nameContains: ${JSON.stringify(payload)} }) { totalCount } }`;
      const { way } = await same(query);
      expect(way).toBe('graphql-js');
    }
    // In a variable it is a value, never code.
    expect((await same('query($n: String) { gearItems(first: 2, filter: { nameContains: $n }) { totalCount } }', { n: `${marker}0),x:(globalThis.__tallyJitInjected=1),y:(0` })).way).toBe('jit');
    expect(g.__tallyJitInjected).toBeUndefined();
  });

  it('keeps the execution budget: the same single coded error past the field cap', async () => {
    const c: JitCounters = { compiled: 0, jit: 0, graphqlJs: 0, rerun: 0 };
    const small = await apolloWith(null, { maxResponseFields: 100 });
    const smallJit = await apolloWith({ compileAfter: 1, maxSelections: 500, cacheSelections: 20_000 }, { maxResponseFields: 100 }, c);
    try {
      const big = '{ a: gearItems(first: 8) { edges { node { id name reviewCount reviewRating description createdAt } } } b: gearItems(first: 8) { edges { node { id name reviewCount reviewRating description createdAt } } } }';
      const fits = '{ gearItems(first: 8) { edges { node { id name } } } }';
      // Fields read straight off their parent have no resolver to count them: they are counted by the list above them.
      const plain = `{ gearItems(first: 8) { edges { ...E } } } fragment E on GearItemEdge { node { ${Array.from({ length: 12 }, (_, i) => `f${i}: name`).join(' ')} } }`;
      for (const q of [big, fits, big, plain]) {
        const expected = await ask(small, q);
        const got = await ask(smallJit, q);
        sameText(got.text, expected.text, q);
        expect(got.status).toBe(expected.status);
      }
      expect((await ask(smallJit, big)).text).toContain('RESPONSE_TOO_LARGE');
      expect((await ask(smallJit, plain)).text).toContain('RESPONSE_TOO_LARGE');
      expect((await ask(small, plain)).text).toContain('RESPONSE_TOO_LARGE');
      expect(c.rerun).toBeGreaterThan(0);
      expect(c.jit).toBeGreaterThan(0);
    } finally {
      await small.stop();
      await smallJit.stop();
    }
  });

  it('leaves operations past GRAPHQL_JIT_MAX_SELECTIONS (fragments expanded) to graphql-js', async () => {
    const c: JitCounters = { compiled: 0, jit: 0, graphqlJs: 0, rerun: 0 };
    const capped = await apolloWith({ compileAfter: 1, maxSelections: 6, cacheSelections: 20_000 }, {}, c);
    try {
      // gearItems, edges, node and its 4 fields: 7 selections, 3 of them through the fragment.
      const spread = '{ gearItems(first: 2) { edges { node { ...f } } } } fragment f on GearItem { id name reviewCount reviewRating }';
      await ask(capped, spread);
      await ask(capped, '{ gearItems(first: 2) { edges { node { id name reviewCount } } } }');
      expect(c).toMatchObject({ compiled: 1, jit: 1, graphqlJs: 1 });
    } finally {
      await capped.stop();
    }
  });

  it('compiles a query only when it is asked again (GRAPHQL_JIT_COMPILE_AFTER)', async () => {
    const c: JitCounters = { compiled: 0, jit: 0, graphqlJs: 0, rerun: 0 };
    const lazy = await apolloWith({ compileAfter: 2, maxSelections: 500, cacheSelections: 20_000 }, {}, c);
    try {
      await ask(lazy, PAGE);
      expect(c).toMatchObject({ compiled: 0, jit: 0, graphqlJs: 1 });
      await ask(lazy, PAGE);
      await ask(lazy, PAGE);
      expect(c).toMatchObject({ compiled: 1, jit: 2, graphqlJs: 1 });
    } finally {
      await lazy.stop();
    }
  });
});
