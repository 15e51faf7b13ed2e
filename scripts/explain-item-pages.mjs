// Prints EXPLAIN (ANALYZE, BUFFERS) of the page statements gearItems sends, built by the
// server's own code (dist/, so run `npm run build` first) with real parameters; page 2 of
// each case uses the keyset of page 1's last row, as the cursor would carry it.
// Not part of `npm test`. See docs/query-plans.md.
//
//   npm run build && DATABASE_URL=postgres://… node scripts/explain-item-pages.mjs [--sql] [case…]
//
// A case is JSON: '{"filter":{"nameContains":"x"},"orderBy":[{"field":"NAME","direction":"DESC"}]}';
// without any, the cases of docs/query-plans.md run.
import 'reflect-metadata';
import pg from 'pg';
import query from '../dist/src/modules/catalog/gear-item.query.js';

const { countQuery, filterConditions, normalizeOrder, pageQuery, sortKeyOf } = query;
const FIRST = 20;
const args = process.argv.slice(2);
const showSql = args.includes('--sql');
const given = args.filter((a) => a !== '--sql').map((a) => ({ title: a, ...JSON.parse(a) }));

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('Set DATABASE_URL to a seeded database (see docs/query-plans.md).');
  process.exit(1);
}
const client = new pg.Client({ connectionString: url });
await client.connect();

// A whole root, a category one level below a root, and a leaf at the deepest level.
const { rows: picks } = await client.query(
  `select (select id from category_tree where depth = 0 order by ord limit 1) as root,
          (select id from category_tree where depth = 1 order by ord limit 1) as branch,
          (select id from category_tree where depth = (select max(depth) from category_tree) order by ord limit 1) as leaf`,
);
const { root, branch, leaf } = picks[0];

const standard = [
  { title: 'top 20 by REVIEW_RATING DESC', orderBy: [{ field: 'REVIEW_RATING', direction: 'DESC' }] },
  {
    title: 'top 20 by REVIEW_COUNT DESC with reviewRating gte 4',
    filter: { reviewRating: { gte: 4 } },
    orderBy: [{ field: 'REVIEW_COUNT', direction: 'DESC' }],
  },
  {
    title: `best rated in a category subtree (inCategory ${leaf}, a leaf)`,
    filter: { inCategory: String(leaf) },
    orderBy: [{ field: 'REVIEW_RATING', direction: 'DESC' }],
  },
  {
    title: `best rated in a category subtree (inCategory ${branch}, depth 1)`,
    filter: { inCategory: String(branch) },
    orderBy: [{ field: 'REVIEW_RATING', direction: 'DESC' }],
  },
  {
    title: `best rated in a category subtree (inCategory ${root}, a root)`,
    filter: { inCategory: String(root) },
    orderBy: [{ field: 'REVIEW_RATING', direction: 'DESC' }],
  },
  { title: 'first 20 by NAME ASC', orderBy: [{ field: 'NAME', direction: 'ASC' }] },
  { title: 'newest 20 (CREATED_AT DESC)', orderBy: [{ field: 'CREATED_AT', direction: 'DESC' }] },
  {
    title: 'most reviewed whose name contains "tent 7"',
    filter: { nameContains: 'tent 7' },
    orderBy: [{ field: 'REVIEW_COUNT', direction: 'DESC' }],
  },
];
const cases = given.length ? given : standard;

async function explain(q) {
  // Warm the cache first, so the timings compare plans rather than disk reads.
  await client.query(q.text, q.params);
  const { rows } = await client.query(`explain (analyze, buffers) ${q.text}`, q.params);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

const executionTime = (plan) => plan.match(/Execution Time: .*/)[0];

const { rows: [{ server_version: version }] } = await client.query('show server_version');
const { rows: [sizes] } = await client.query(
  `select (select count(*) from gear_item) as items, (select count(*) from gear_review) as reviews,
          (select count(*) from gear_item_stats_pending) as pending`,
);
console.log(`PostgreSQL ${version}; ${sizes.items} items, ${sizes.reviews} reviews, ${sizes.pending} pending\n`);

for (const c of cases) {
  const filter = filterConditions(c.filter ?? null);
  const terms = normalizeOrder(c.orderBy);
  const page1 = pageQuery(filter, terms, null, FIRST + 1);
  const { rows } = await client.query(page1.text, page1.params);
  const pages = [['page 1', page1]];
  if (rows.length > FIRST) pages.push(['page 2 (keyset)', pageQuery(filter, terms, sortKeyOf(rows[FIRST - 1], terms), FIRST + 1)]);
  for (const [label, q] of pages) {
    console.log(`### ${c.title}: ${label}\n`);
    console.log(`filter: ${JSON.stringify(c.filter ?? null)}  orderBy: ${JSON.stringify(c.orderBy)}  params: ${JSON.stringify(q.params)}\n`);
    if (showSql) console.log(`${q.text}\n`);
    console.log(await explain(q));
    console.log();
  }
  // totalCount, asked separately and only when selected: every match is counted.
  console.log(`### ${c.title}: totalCount ${executionTime(await explain(countQuery(filter)))}\n`);
}
await client.end();
