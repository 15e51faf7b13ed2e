import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../src/context';
import type { Database } from '../src/database/database';
import { startServer, type RunningServer } from '../src/server';
import { OPS_TOKEN, createTestApp, openInstanceDatabase, type TestApp } from './support/app';
import { addItem, refreshViews } from './support/fixtures';
import { refreshLog } from './support/ops';

// Budgets of cost points per client, shared by instances through PostgreSQL, and refreshes
// that coalesce. Two servers on one database, each with its own local buckets.

let app: TestApp;
let a: RunningServer;
let b: RunningServer;
let other: Database;
let itemId: number;

const env = {
  PORT: '0',
  HOST: '127.0.0.1',
  NODE_ENV: 'production',
  RATE_LIMIT: 'on',
  RATE_LIMIT_POINTS: '450',
  RATE_LIMIT_WINDOW_SECONDS: '60',
  RATE_LIMIT_WRITES: '3',
  RATE_LIMIT_SYNC_MS: '100',
  RATE_LIMIT_KEY_HEADER: 'x-client',
};

beforeAll(async () => {
  app = await createTestApp(env);
  itemId = await addItem(app.sql, 'Trail Stove', null);
  await refreshViews(app.sql);
  // Two instances, each with pools of its own, on one database.
  a = await startServer(createServices(app.db, app.config, app.services.log));
  other = openInstanceDatabase(app.url);
  b = await startServer(createServices(other, app.config, app.services.log));
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await other?.close();
  await app?.close();
});

const post = (server: RunningServer, query: string, headers: Record<string, string> = {}) =>
  fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });

// Costs 1 + 20 × (edges + node + id) = 61 points, plus 50 for the request: four fit in 450.
const PAGE = '{ gearItems { edges { node { id } } } }';

describe('rate limits', () => {
  it('answers 429 with Retry-After and RATE_LIMITED once a client has spent its budget', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await post(a, PAGE, { 'x-client': 'one' })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const res = await post(a, PAGE, { 'x-client': 'one' });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await res.json()) as { errors: { extensions: Record<string, unknown> }[] };
    expect(body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(body.errors[0].extensions.http).toBeUndefined();
    // Another client is not affected; the ops token is exempt.
    expect((await post(a, PAGE, { 'x-client': 'two' })).status).toBe(200);
    expect((await post(a, PAGE, { 'x-client': 'one', authorization: `Bearer ${OPS_TOKEN}` })).status).toBe(200);
  });

  it('charges refused and malformed requests too', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch(a.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-client': 'sloppy' }, body: '{"query": "{ nope }"}' });
      statuses.push(res.status);
    }
    // 50 points each: nine fit in 450.
    expect(statuses).toEqual([...Array(9).fill(400), 429]);
  });

  it('shares the budget between instances through PostgreSQL, without a round trip per request', async () => {
    for (let i = 0; i < 4; i++) expect((await post(a, PAGE, { 'x-client': 'three' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    // The other instance decides its first request of this client alone (no round trip), and
    // learns at its next sync what every instance spent: then the client is refused there too.
    expect((await post(b, PAGE, { 'x-client': 'three' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect((await post(b, PAGE, { 'x-client': 'three' })).status).toBe(429);
    const rows = await app.sql.rows<{ key: string; points: number }>("select key, points from rate_limit where key like 'reads:key:%' order by points desc");
    expect(rows.length).toBeGreaterThan(0);
  });

  it('gives addReview its own budget', async () => {
    const review = `mutation { addReview(input: { gearItemId: "${itemId}", rating: 4 }) { id } }`;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(a, review, { 'x-client': 'writer' })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // Reads of the same client go on.
    expect((await post(a, PAGE, { 'x-client': 'writer' })).status).toBe(200);
    // Four aliased writes in one request are four writes.
    const many = `mutation { ${[1, 2, 3, 4].map((i) => `r${i}: addReview(input: { gearItemId: "${itemId}", rating: 4 }) { id }`).join(' ')} }`;
    expect((await post(a, many, { 'x-client': 'writer2' })).status).toBe(429);
  });
});

describe('heavy requests', () => {
  it('admits at most HEAVY_QUERY_POINTS_PER_SECOND of heavy cost, all clients together; light ones pass', async () => {
    // Cost 1 + 100 × 40 = 4,001: heavy; 5,000 points a second admit one. The ops token is
    // exempt from budgets, not from this.
    const heavy = '{ gearItems(first: 100) { edges { node { id name reviewCount reviewRating category { id name } reviews(first: 10) { edges { node { id } } } } } } }';
    const ops = { authorization: `Bearer ${OPS_TOKEN}` };
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(a, heavy, ops)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBe(1);
    expect(statuses.filter((s) => s === 503).length).toBe(5);
    const busy = answers.find((r) => r.status === 503)!;
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(await busy.json()).toMatchObject({ errors: [{ extensions: { code: 'SERVICE_UNAVAILABLE' } }] });
    expect((await post(a, PAGE, { 'x-client': 'light' })).status).toBe(200);
  });
});

describe('refreshViews coalescing', () => {
  it('runs 50 concurrent refreshes of the same views as at most two', async () => {
    const before = (await refreshLog(app.sql)).length;
    const query = 'mutation { refreshViews(views: ["category_tree"]) { refreshed { name durationMs } } }';
    const results = await Promise.all(Array.from({ length: 50 }, () => app.exec(query, {}, { token: OPS_TOKEN })));
    expect(results.every((r) => !r.errors)).toBe(true);
    const log = (await refreshLog(app.sql)).slice(before).filter((r) => r.view === 'category_tree');
    expect(log.length).toBeGreaterThanOrEqual(1);
    expect(log.length).toBeLessThanOrEqual(2);
  });
});
