import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNodeId } from '../src/modules/common/node';
import { OPS_TOKEN, adminQuery, createTestApp, type TestApp } from './support/app';
import { addCategory, addItem, addReviews, refreshViews } from './support/fixtures';
import { postGraphql, startInstance, type HttpInstance } from './support/http-servers';
import { waitFor } from './support/wait';

// Two cached instances (A, B) and one with the cache off (C, the reference) on one database.
let app: TestApp;
let a: HttpInstance;
let b: HttpInstance;
let c: HttpInstance;
const itemIds: number[] = [];
const categoryIds: number[] = [];
let database: string;

const ops = { authorization: `Bearer ${OPS_TOKEN}` };

/** A deterministic generator (mulberry32), so that a failing run can be replayed by its seed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function metric(inst: HttpInstance, name: string): Promise<number> {
  const text = await (await fetch(`${inst.base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/**
 * Notifications reach A and B late (as over a slow network; in order), so that the writer's own
 * reads right after a write rely on its local version bump, not on the notification's speed.
 */
const NOTIFICATION_DELAY_MS = 25;

async function listening(inst: HttpInstance, delayed = false) {
  if (delayed) {
    const changes = inst.services.changes as unknown as { heard(payload: string): void };
    const heard = changes.heard.bind(changes);
    changes.heard = (payload) => void setTimeout(() => heard(payload), NOTIFICATION_DELAY_MS);
  }
  inst.services.changes.start();
  expect(await inst.services.changes.ready()).toBe(true);
}

let barrierSeq = 0;
/** Waits until A and B have heard everything committed so far (notifications arrive in commit order). */
async function barrier() {
  const name = `test.barrier_${++barrierSeq}`;
  const heard = [a, b].map(
    (inst) =>
      new Promise<void>((resolve) => {
        const off = inst.services.changes.subscribe((e) => {
          if ((e.type === 'change' && e.change.name === name) || e.type === 'connected') {
            off();
            resolve();
          }
        });
      }),
  );
  await app.sql.rows(`select pg_notify('tally_changes', $1)`, [`t:${name}`]);
  await Promise.all(heard);
}

const ITEMS = `query Items($first: Int, $filter: GearItemFilter, $orderBy: [GearItemOrder!]) {
  gearItems(first: $first, filter: $filter, orderBy: $orderBy) {
    totalCount cachedAt
    edges { cursor node { id name reviewCount reviewRating lastReviewedAt category { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const AGGREGATES = `query Aggregates { gearItems(first: 10, orderBy: [{field: REVIEW_COUNT, direction: DESC}]) { edges { node { id name reviewCount reviewRating } } } }`;
const ITEM = `query Item($id: ID!) { gearItem(id: $id) { id name description reviewCount reviews(first: 5) { totalCount edges { node { id rating body createdAt } } } } }`;
const CATEGORY = `query Category($id: ID!) { category(id: $id) { id name itemCount reviewCount reviewRating parent { id name } children { id name itemCount } } }`;
const TREE = `query Tree { categoryTree { id name depth parentId path category { name itemCount reviewRating } } }`;
const NODES = `query Nodes($ids: [ID!]!) { nodes(nodeIds: $ids) { nodeId ... on GearItem { name reviewCount reviews(first: 2) { totalCount } } ... on Category { name children { id } } ... on GearReview { rating gearItem { name } } } }`;

beforeAll(async () => {
  app = await createTestApp();
  database = new URL(app.url).pathname.slice(1);
  const root = await addCategory(app.sql, 'Outdoor');
  categoryIds.push(root);
  for (const name of ['Tents', 'Stoves', 'Packs']) categoryIds.push(await addCategory(app.sql, name, root));
  for (let i = 0; i < 24; i++) {
    const id = await addItem(app.sql, `Item ${i}`, categoryIds[i % categoryIds.length]);
    itemIds.push(id);
    await addReviews(app.sql, id, [1 + (i % 5), 1 + ((i * 3) % 5)].slice(0, i % 3));
  }
  await refreshViews(app.sql);
  [a, b, c] = await Promise.all([startInstance(app.url), startInstance(app.url), startInstance(app.url, { RESPONSE_CACHE: 'off' })]);
  await Promise.all([listening(a, true), listening(b, true), listening(c)]);
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), c?.close()]);
  await app?.close();
});

describe('the response cache', () => {
  it('serves what the server would compute, over thousands of random reads, writes and refreshes on two instances', async () => {
    const seed = Number(process.env.CACHE_TEST_SEED ?? Date.now() % 1_000_000);
    const random = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    const reviewIds: number[] = [];

    const reads: (() => [string, Record<string, unknown>])[] = [
      () => [ITEMS, { first: pick([5, 10]) }],
      () => [ITEMS, { first: 10, orderBy: [{ field: pick(['REVIEW_RATING', 'REVIEW_COUNT', 'NAME', 'CREATED_AT']), direction: pick(['ASC', 'DESC']) }] }],
      () => [ITEMS, { first: 10, filter: { inCategory: String(pick(categoryIds.slice(0, 4))) } }],
      () => [ITEMS, { first: 10, filter: { reviewCount: { gte: 1 } }, orderBy: [{ field: 'REVIEW_RATING', direction: 'DESC' }] }],
      () => [AGGREGATES, {}],
      () => [ITEM, { id: String(pick(itemIds.slice(0, 12))) }],
      () => [CATEGORY, { id: String(pick(categoryIds.slice(0, 6))) }],
      () => [TREE, {}],
      () => [
        NODES,
        {
          ids: [
            encodeNodeId('GearItem', pick(itemIds.slice(0, 12))),
            encodeNodeId('Category', pick(categoryIds.slice(0, 6))),
            ...(reviewIds.length ? [encodeNodeId('GearReview', pick(reviewIds.slice(0, 10)))] : []),
          ],
        },
      ],
    ];

    let compared = 0;
    let differences = 0;
    const read = async (inst: HttpInstance) => {
      const [query, variables] = pick(reads)();
      const cached = await postGraphql(inst.base, query, variables);
      const reference = await postGraphql(c.base, query, variables);
      expect(cached.res.status).toBe(200);
      expect(reference.body.errors).toBeUndefined();
      compared++;
      if (JSON.stringify(cached.body) !== JSON.stringify(reference.body)) {
        differences++;
        expect({ seed, query, variables, cached: cached.body }).toEqual({ seed, query, variables, cached: reference.body });
      }
    };

    const OPERATIONS = 2000;
    let writes = 0;
    let refreshes = 0;
    for (let i = 0; i < OPERATIONS; i++) {
      const r = random();
      const inst = random() < 0.5 ? a : b;
      if (r < 0.9) {
        await read(inst);
        continue;
      }
      if (r < 0.975) {
        writes++;
        const w = random();
        if (w < 0.6) {
          const res = await postGraphql(inst.base, `mutation($input: AddReviewInput!) { addReview(input: $input) { id } }`, {
            input: { gearItemId: String(pick(itemIds.slice(0, 12))), rating: 1 + Math.floor(random() * 5), body: `r${i}` },
          });
          expect(res.body.errors).toBeUndefined();
          reviewIds.push(Number(res.body.data.addReview.id));
        } else if (w < 0.8) {
          const res = await postGraphql(
            inst.base,
            `mutation($input: CreateGearItemInput!) { createGearItem(input: $input) { id } }`,
            { input: { name: `New ${i}`, categoryId: String(pick(categoryIds)) } },
            ops,
          );
          expect(res.body.errors).toBeUndefined();
          itemIds.push(Number(res.body.data.createGearItem.id));
        } else {
          const res = await postGraphql(
            inst.base,
            `mutation($input: CreateCategoryInput!) { createCategory(input: $input) { id } }`,
            { input: { name: `Cat ${i}`, parentId: String(pick(categoryIds.slice(0, 4))) } },
            ops,
          );
          expect(res.body.errors).toBeUndefined();
          categoryIds.push(Number(res.body.data.createCategory.id));
        }
      } else {
        refreshes++;
        const res = await postGraphql(inst.base, `mutation { refreshViews { refreshed { name } } }`, undefined, ops);
        expect(res.body.errors).toBeUndefined();
      }
      // The writer serves its own change at once: read there before the other has heard of it.
      await read(inst);
      await read(inst);
      // The other instance, once the notification has arrived.
      await barrier();
    }
    const hits = (await metric(a, 'tally_response_cache_hits_total')) + (await metric(b, 'tally_response_cache_hits_total'));
    const misses = (await metric(a, 'tally_response_cache_misses_total')) + (await metric(b, 'tally_response_cache_misses_total'));
    console.log(`response cache, seed ${seed}: ${OPERATIONS} operations (${writes} writes, ${refreshes} refreshes), ${compared} answers compared, ${differences} differences; hits ${hits}, misses ${misses}`);
    expect(differences).toBe(0);
    expect(compared).toBeGreaterThan(1800);
    // Not vacuous: a good share was answered from the cache.
    expect(hits).toBeGreaterThan(compared / 5);
    // About 30-40 s alone; more beside the rest of the suite on a busy machine.
  }, 300_000);

  it('addReview keeps a page of aggregates cached, and recomputes a page that shows reviews', async () => {
    const item = String(itemIds[0]);
    const aggregates = () => postGraphql(b.base, AGGREGATES);
    const withReviews = () => postGraphql(b.base, ITEM, { id: item });
    await aggregates();
    await withReviews();
    const before = (await withReviews()).body;
    const hits0 = await metric(b, 'tally_response_cache_hits_total');
    // Written through the other instance.
    const res = await postGraphql(a.base, `mutation { addReview(input: {gearItemId: "${item}", rating: 5, body: "fresh"}) { id } }`);
    expect(res.body.errors).toBeUndefined();
    await barrier();
    const page = await aggregates();
    expect(await metric(b, 'tally_response_cache_hits_total')).toBe(hits0 + 1);
    expect(page.body).toEqual((await postGraphql(c.base, AGGREGATES)).body);
    const after = (await withReviews()).body;
    expect(await metric(b, 'tally_response_cache_hits_total')).toBe(hits0 + 1);
    expect(after.data.gearItem.reviews.totalCount).toBe(before.data.gearItem.reviews.totalCount + 1);
    expect(after.data.gearItem.reviews.edges[0].node.body).toBe('fresh');
  });

  it('serves nothing from the cache while its listening connection is down', async () => {
    const query = () => postGraphql(b.base, TREE);
    await query();
    const warm = await query();
    const hits0 = await metric(b, 'tally_response_cache_hits_total');
    await query();
    expect(await metric(b, 'tally_response_cache_hits_total')).toBe(hits0 + 1);
    // No new connection to the database until allowed again, then end the listening ones.
    await adminQuery(`alter database ${database} allow_connections false`);
    try {
      await adminQuery(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${database}' and application_name = 'tally-listen'`);
      await waitFor('the listener to notice', () => !b.services.changes.connected);
      for (let i = 0; i < 3; i++) {
        const res = await query();
        if (res.res.status === 200 && !res.body.errors) expect(res.body).toEqual(warm.body);
      }
      expect(await metric(b, 'tally_response_cache_hits_total')).toBe(hits0 + 1);
    } finally {
      await adminQuery(`alter database ${database} allow_connections true`);
    }
    await waitFor('the listener to reconnect', () => b.services.changes.connected, 20_000);
    await query();
    await query();
    expect(await metric(b, 'tally_response_cache_hits_total')).toBe(hits0 + 2);
  });

  it('answers a hit with the headers of an uncached answer, and charges it to the caller’s budget', async () => {
    // No base points per request: only the query's cost is charged, so only a charged hit can spend the budget.
    const limited = await startInstance(app.url, { RATE_LIMIT: 'on', RATE_LIMIT_POINTS: '40', RATE_LIMIT_REQUEST_POINTS: '0' });
    try {
      await listening(limited);
      const query = `{ category(id: "${categoryIds[1]}") { id name } }`;
      const post = () => fetch(`${limited.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
      const miss = await post();
      const missBody = await miss.text();
      const hits0 = await metric(limited, 'tally_response_cache_hits_total');
      const hit = await post();
      expect(await hit.text()).toBe(missBody);
      expect(await metric(limited, 'tally_response_cache_hits_total')).toBe(hits0 + 1);
      const names = (r: Response) => [...r.headers.keys()].filter((k) => k !== 'date').sort();
      expect(names(hit)).toEqual(names(miss));
      for (const h of ['content-type', 'etag', 'content-length', 'ratelimit-policy']) expect(hit.headers.get(h)).toBe(miss.headers.get(h));
      expect(hit.headers.get('x-request-id')).toMatch(/./);
      expect(miss.status).toBe(200);
      let status = 200;
      for (let i = 0; i < 100 && status === 200; i++) status = (await post()).status;
      expect(status).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it("stays off where tally.notify_changes = 'first' (writes are not all announced)", async () => {
    expect(a.server.responseCache).not.toBeNull();
    await adminQuery(`alter database ${database} set tally.notify_changes = 'first'`);
    try {
      const first = await startInstance(app.url);
      try {
        expect(first.server.responseCache).toBeNull();
      } finally {
        await first.close();
      }
    } finally {
      await adminQuery(`alter database ${database} reset tally.notify_changes`);
    }
  });
});
