import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { Metrics } from '../src/metrics/metrics';
import { OPS_TOKEN, createTestApp, type TestApp } from './support/app';
import { addCategory, addItem, addReviews, refreshViews } from './support/fixtures';
import { postGraphql, startInstance, type HttpInstance } from './support/http-servers';

// CORS for browser clients, and /metrics as Prometheus scrapes it, on two server instances
// of one database: a refresh made through one must show in the other's view gauges.

const ALLOWED = 'https://app.example.com';
const METRICS_TOKEN = 'metrics-token-0123456789';
let app: TestApp;
let a: HttpInstance;
let b: HttpInstance;
let itemId: number;

beforeAll(async () => {
  app = await createTestApp();
  const cat = await addCategory(app.sql, 'Tents');
  itemId = await addItem(app.sql, 'Alpine Tent', cat);
  await addReviews(app.sql, itemId, [4, 5]);
  await refreshViews(app.sql);
  a = await startInstance(app.url, { CORS_ORIGINS: `${ALLOWED}, http://localhost:5173` });
  b = await startInstance(app.url, { METRICS_TOKEN });
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await app?.close();
});

const preflight = (origin: string, base = a.base) =>
  fetch(`${base}/graphql`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
  });

describe('CORS', () => {
  it('answers an allowed origin’s preflight 204 with the Access-Control headers, credentials off', async () => {
    const res = await preflight(ALLOWED);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')?.toLowerCase()).toContain('origin');
  });

  it('tells any other origin nothing', async () => {
    for (const origin of ['https://evil.example', 'https://app.example.com.evil.example', 'null']) {
      const res = await preflight(origin);
      expect(res.status).toBe(204);
      expect([...res.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
    // A server without CORS_ORIGINS allows no origin at all.
    const none = await preflight(ALLOWED, b.base);
    expect([...none.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('labels the answers to allowed origins only, and keeps Apollo’s CSRF prevention', async () => {
    const ok = await postGraphql(a.base, '{ __typename }', undefined, { origin: ALLOWED });
    expect(ok.res.status).toBe(200);
    expect(ok.res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(ok.res.headers.get('access-control-expose-headers')).toContain('x-request-id');
    const other = await postGraphql(a.base, '{ __typename }', undefined, { origin: 'https://evil.example' });
    expect(other.res.headers.get('access-control-allow-origin')).toBeNull();
    // A "simple" request (no preflight) is still refused by Apollo, allowed origin or not.
    const simple = await fetch(`${a.base}/graphql`, { method: 'POST', headers: { origin: ALLOWED, 'content-type': 'text/plain' }, body: '{"query":"{ __typename }"}' });
    expect(simple.status).toBe(400);
  });

  it('checks CORS_ORIGINS at start-up', () => {
    expect(loadConfig({ CORS_ORIGINS: '*' }).cors.origins).toBe('*');
    expect(() => loadConfig({ CORS_ORIGINS: '*', NODE_ENV: 'production' })).toThrow(/CORS_ORIGINS: "\*" is refused in production/);
    expect(() => loadConfig({ CORS_ORIGINS: 'app.example.com' })).toThrow(/not an origin/);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/path' })).toThrow(/not an origin/);
    expect(() => loadConfig({ CORS_ORIGINS: '*', CORS_CREDENTIALS: 'true' })).toThrow(/CORS_CREDENTIALS/);
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example/, http://localhost:3000', CORS_CREDENTIALS: 'true' }).cors).toEqual({
      origins: ['https://a.example', 'http://localhost:3000'],
      credentials: true,
    });
  });
});

type Sample = { name: string; labels: Record<string, string>; value: number };

/** Parses the Prometheus text format strictly enough to fail on anything malformed. */
function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  // Values as Go's ParseFloat reads them (prom-client writes NaN as "Nan").
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:[0-9.e+-]+|Inf|\+Inf|NaN|Nan))(?: -?\d+)?$/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(type);
      types.set(name, type);
      continue;
    }
    const m = sampleLine.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      label.lastIndex = 0;
      while (label.lastIndex < m[2].length) {
        const l = label.exec(m[2]);
        if (!l) throw new Error(`bad labels: ${line}`);
        labels[l[1]] = l[2];
      }
    }
    samples.push({ name: m[1], labels, value: Number(m[3].replace('+Inf', 'Infinity')) });
  }
  return { samples, types };
}

async function scrape(inst: HttpInstance, headers: Record<string, string> = {}) {
  const res = await fetch(`${inst.base}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}
const value = (m: { samples: Sample[] }, name: string, labels: Record<string, string> = {}) =>
  m.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
const auth = { authorization: `Bearer ${METRICS_TOKEN}` };
// The view gauges are read from the database at most once a second.
const pastCache = () => new Promise((r) => setTimeout(r, 1100));

describe('/metrics', () => {
  it('is Prometheus text with tally’s metrics, pool gauges and Node’s process metrics', async () => {
    const m = await scrape(a);
    for (const [name, type] of [
      ['tally_graphql_request_duration_seconds', 'histogram'],
      ['tally_graphql_errors_total', 'counter'],
      ['tally_view_refresh_duration_seconds', 'histogram'],
      ['tally_view_refresh_failures_total', 'counter'],
      ['tally_view_age_seconds', 'gauge'],
      ['tally_view_stale', 'gauge'],
      ['tally_db_pool_connections_in_use', 'gauge'],
      ['tally_db_pool_connections_idle', 'gauge'],
      ['tally_db_pool_waiting', 'gauge'],
      ['process_cpu_user_seconds_total', 'counter'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
    ]) {
      expect(m.types.get(name), name).toBe(type);
    }
    expect(value(m, 'tally_view_status_up')).toBe(1);
    for (const view of ['category_tree', 'gear_item_stats', 'category_stats']) {
      expect(value(m, 'tally_view_stale', { view })).toBe(0);
      expect(value(m, 'tally_view_age_seconds', { view })).toBeGreaterThanOrEqual(0);
    }
  });

  it('asks for METRICS_TOKEN when one is set', async () => {
    expect((await fetch(`${b.base}/metrics`)).status).toBe(401);
    expect((await fetch(`${b.base}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(403);
    await scrape(b, auth);
  });

  it('times GraphQL requests by operation (anonymous and unknown folded) and counts errors by code', async () => {
    await postGraphql(a.base, 'query ItemName($id: ID!) { gearItem(id: $id) { name } }', { id: String(itemId) });
    await postGraphql(a.base, '{ __typename }');
    await postGraphql(a.base, '{ gearItem(id: "x") { name } }');
    await postGraphql(a.base, '{ nope');
    const m = await scrape(a);
    expect(value(m, 'tally_graphql_request_duration_seconds_count', { operation: 'ItemName', outcome: 'ok' })).toBe(1);
    expect(value(m, 'tally_graphql_request_duration_seconds_count', { operation: 'anonymous', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(value(m, 'tally_graphql_request_duration_seconds_count', { operation: 'anonymous', outcome: 'error' })).toBeGreaterThanOrEqual(1);
    expect(value(m, 'tally_graphql_request_duration_seconds_count', { operation: 'unknown', outcome: 'error' })).toBe(1);
    expect(value(m, 'tally_graphql_errors_total', { code: 'BAD_USER_INPUT' })).toBeGreaterThanOrEqual(1);
    expect(value(m, 'tally_graphql_errors_total', { code: 'GRAPHQL_PARSE_FAILED' })).toBe(1);
  });

  it('shows on one instance the staleness and refresh that another instance saw and made', async () => {
    // A review through instance A makes gear_item_stats (and category_stats) stale...
    const added = await postGraphql(a.base, 'mutation($input: AddReviewInput!) { addReview(input: $input) { id } }', {
      input: { gearItemId: String(itemId), rating: 2 },
    });
    expect(added.body.errors).toBeUndefined();
    await pastCache();
    const stale = await scrape(a);
    expect(value(stale, 'tally_view_stale', { view: 'gear_item_stats' })).toBe(1);
    expect(value(stale, 'tally_view_stale', { view: 'category_stats' })).toBe(1);
    expect(value(stale, 'tally_view_stale', { view: 'category_tree' })).toBe(0);

    // ...and instance B refreshes it: A's gauges follow, B alone observed the refresh.
    const refreshStarted = Date.now();
    const refreshed = await postGraphql(b.base, 'mutation { refreshViews(views: ["gear_item_stats"]) { refreshed { name } } }', undefined, {
      authorization: `Bearer ${OPS_TOKEN}`,
    });
    expect(refreshed.body.data.refreshViews.refreshed.map((r: { name: string }) => r.name)).toEqual(['gear_item_stats', 'category_stats']);
    await pastCache();
    const after = await scrape(a);
    expect(value(after, 'tally_view_stale', { view: 'gear_item_stats' })).toBe(0);
    expect(value(after, 'tally_view_stale', { view: 'category_stats' })).toBe(0);
    // Its age counts from B's refresh (clocks of Node and PostgreSQL on one machine).
    const sinceRefresh = (Date.now() - refreshStarted) / 1000;
    expect(value(after, 'tally_view_age_seconds', { view: 'gear_item_stats' })).toBeLessThan(sinceRefresh + 0.05);
    expect(value(after, 'tally_view_refresh_duration_seconds_count', { view: 'gear_item_stats', trigger: 'mutation' })).toBeUndefined();
    const onB = await scrape(b, auth);
    expect(value(onB, 'tally_view_refresh_duration_seconds_count', { view: 'gear_item_stats', trigger: 'mutation' })).toBe(1);
    expect(value(onB, 'tally_view_refresh_duration_seconds_count', { view: 'category_stats', trigger: 'mutation' })).toBe(1);
  });

  it('counts a failed refresh by view and trigger', async () => {
    await app.sql.rows('alter materialized view category_stats rename to category_stats_away');
    try {
      const res = await postGraphql(b.base, 'mutation { refreshViews(views: ["category_stats"]) { refreshed { name } } }', undefined, {
        authorization: `Bearer ${OPS_TOKEN}`,
      });
      expect(res.body.errors?.[0].extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await app.sql.rows('alter materialized view category_stats_away rename to category_stats');
    }
    const m = await scrape(b, auth);
    expect(value(m, 'tally_view_refresh_failures_total', { view: 'category_stats', trigger: 'mutation' })).toBe(1);
  });

  it('says when it cannot read the views’ freshness, leaving the view gauges out, and tries again next time', async () => {
    let fail = true;
    const metrics = new Metrics({
      log: createLogger('silent'),
      viewStatuses: async () => {
        if (fail) throw new Error('connection refused');
        return [{ name: 'v', dependsOn: [], populated: true, stale: true, lastRefreshedAt: null, lastRefreshStartedAt: null, lastRefreshDurationMs: null, staleSince: null, lastRefreshError: null }];
      },
      poolStats: () => ({ reads: { inUse: 1, idle: 2, waiting: 3 } }),
    });
    const down = parsePrometheus(await metrics.registry.metrics());
    expect(value(down, 'tally_view_status_up')).toBe(0);
    expect(down.samples.filter((x) => x.name.startsWith('tally_view_stale'))).toEqual([]);
    expect(value(down, 'tally_db_pool_waiting', { pool: 'reads' })).toBe(3);
    fail = false;
    const up = parsePrometheus(await metrics.registry.metrics());
    expect(value(up, 'tally_view_status_up')).toBe(1);
    expect(value(up, 'tally_view_stale', { view: 'v' })).toBe(1);
    // Never refreshed: no age sample rather than a made-up one.
    expect(value(up, 'tally_view_age_seconds', { view: 'v' })).toBeUndefined();
  });
});
