import { parse, type GraphQLSchema } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSchema } from '../src/schema';
import type { CostBounds } from '../src/security/cost-bounds';
import { operationCost } from '../src/security/cost-limit';

// The table of examples in docs/security.md, checked: what each query costs under the cost
// model for a given catalog. No database: the figures are given.

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await createSchema();
});

/** 6 roots, 3 children each, 4 levels (240 categories); `items` items; at most 60 reviews per item. */
const catalog = (items: number): CostBounds => ({
  items,
  maxReviewsPerItem: 60,
  categories: 240,
  maxFanout: 3,
  maxDepth: 3,
  nodesUpToDepth: [6, 24, 78, 240],
  largestSubtree: 40,
});

const examples: [string, string, number, number][] = [
  ['an item', '{ gearItem(id: "1") { id name reviewCount reviewRating } }', 5, 5],
  ['a page of 20', '{ gearItems { edges { node { id name reviewCount } } } }', 101, 101],
  ['a page of 20 with totalCount', '{ gearItems { totalCount edges { node { id name reviewCount } } } }', 1101, 5101],
  ['30 aliased totalCounts, first: 0', `{ ${Array.from({ length: 30 }, (_, i) => `c${i}: gearItems(first: 0, filter: { nameContains: "a" }) { totalCount }`).join(' ')} }`, 36_030, 180_030],
  ['a page of 100, 5 reviews each', '{ gearItems(first: 100) { edges { node { id reviews(first: 5) { totalCount edges { node { rating } } } } } } }', 2201, 2201],
  ['the whole tree', '{ categoryTree { id name depth } }', 721, 721],
  ['the tree to depth 1', '{ categoryTree(maxDepth: 1) { id name } }', 49, 49],
  ['a subtree to depth 2', '{ categoryTree(rootId: "1", maxDepth: 2) { id name } }', 27, 27],
  ['path of every node', '{ categoryTree { path } }', 1201, 1201],
  ['children of children', '{ category(id: "1") { children { id children { id } } } }', 17, 17],
  [
    'parent/children walk, aliased (issue 10)',
    `{ categoryTree { category { ${(() => {
      let w = 'id name';
      for (let i = 0; i < 4; i++) w = `parent { a: children { ${w} } b: children { ${w} } }`;
      return w;
    })()} } } }`,
    0,
    0,
  ],
];

describe('cost model', () => {
  it('prices the documented examples', () => {
    const rows: string[] = ['| query | 20,000 items | 100,000 items |', '|---|---:|---:|'];
    for (const [label, query, at20k, at100k] of examples) {
      const c20 = operationCost(schema, parse(query), {}, { bounds: catalog(20_000), countRowsPerPoint: 20 });
      const c100 = operationCost(schema, parse(query), {}, { bounds: catalog(100_000), countRowsPerPoint: 20 });
      rows.push(`| ${label} | ${c20.toLocaleString('en')} | ${c100.toLocaleString('en')} |`);
      if (process.env.COST_TABLE_PRINT_ONLY) continue;
      if (at20k) {
        expect([label, c20, c100]).toEqual([label, at20k, at100k]);
      } else {
        expect(c20).toBeGreaterThan(10_000);
      }
    }
    console.info(rows.join('\n'));
  });
});
