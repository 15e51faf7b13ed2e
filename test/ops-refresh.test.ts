import 'reflect-metadata';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import type { Database } from '../src/database/database';
import { seedCatalog } from '../src/database/seed';
import { refreshErrorToPublic } from '../src/errors';
import { createLogger } from '../src/logger';
import { MANAGED_VIEW_NAMES, REFRESH_LOCK_CLASS } from '../src/modules/views/names';
import type { ViewService } from '../src/modules/views/ops/views.service';
import { loadViewRegistry } from '../src/modules/views/ops/registry';
import {
  ItemDocument,
  RefreshViewsDocument,
  ReviewRefreshAndReadDocument,
  ViewFreshnessDocument,
  ViewStatusesDocument,
  type ViewStatusesQuery,
} from './generated/graphql';
import { OPS_TOKEN, createTestApp, instanceViews, openInstanceDatabase, type TestApp } from './support/app';
import { errorOf, expectNoOverlap, refreshLog } from './support/ops';

const silent = createLogger('silent');
type Status = ViewStatusesQuery['materializedViews'][number];

let app: TestApp;

async function statuses(): Promise<Status[]> {
  const res = await app.exec(ViewStatusesDocument);
  expect(res.errors).toBeUndefined();
  return res.data!.materializedViews;
}

async function refresh(views?: string[] | null, concurrently?: boolean) {
  return app.exec(RefreshViewsDocument, { views, concurrently }, { token: OPS_TOKEN });
}

/** The views and, transitively, every view that reads them, from what materializedViews says. */
function withDependants(all: Status[], names: string[]): Set<string> {
  const out = new Set(names);
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of all) {
      if (!out.has(s.name) && s.dependsOn.some((d) => out.has(d))) {
        out.add(s.name);
        grew = true;
      }
    }
  }
  return out;
}

function expectDependencyOrder(ran: string[], all: Status[]) {
  for (const [i, name] of ran.entries()) {
    for (const dep of all.find((s) => s.name === name)!.dependsOn) {
      if (ran.includes(dep)) expect(ran.indexOf(dep), `${dep} must run before ${name}`).toBeLessThan(i);
    }
  }
}

beforeAll(async () => {
  app = await createTestApp();
  // Enough rows that a refresh takes a little while, so that overlapping calls really overlap.
  await seedCatalog(app.sql, { roots: 3, branching: 3, depth: 3, items: 3000, reviews: 30000, unreviewedShare: 0.1 });
});

afterAll(() => app?.close());

describe('the view registry', () => {
  it('lists every managed view with the views it reads, as the catalog has them, each after what it reads', async () => {
    const all = await statuses();
    expect(all.map((s) => s.name).sort()).toEqual([...MANAGED_VIEW_NAMES].sort());
    const byName = Object.fromEntries(all.map((s) => [s.name, s.dependsOn]));
    // What the migration's SQL reads (README, "How the views are laid out").
    expect(byName).toEqual({ gear_item_stats: [], category_tree: [], category_stats: ['category_tree', 'gear_item_stats'] });
    expectDependencyOrder(
      all.map((s) => s.name),
      all,
    );
  });

  it('costs one statement per materializedViews query', async () => {
    await statuses();
    const res = await app.exec(ViewStatusesDocument);
    expect(res.statements).toBe(1);
  });
});

describe('refreshViews', () => {
  it('refreshes every view when none is named, each after the views it reads from', async () => {
    const all = await statuses();
    const before = (await refreshLog(app.sql)).length;
    const res = await refresh();
    expect(res.errors).toBeUndefined();
    const ran = res.data!.refreshViews.refreshed;
    expect(ran.map((r) => r.name).sort()).toEqual(all.map((s) => s.name).sort());
    expectDependencyOrder(
      ran.map((r) => r.name),
      all,
    );
    const log = (await refreshLog(app.sql)).slice(before);
    expect(log.map((l) => l.view)).toEqual(ran.map((r) => r.name));
    for (const r of ran) {
      expect(r.concurrently).toBe(true);
      expect(r.durationMs).toBeGreaterThan(0);
    }
    // In the order they ran: each began after the one before it finished.
    for (let i = 1; i < log.length; i++) expect(log[i].startedUs).toBeGreaterThanOrEqual(log[i - 1].finishedUs);
  });

  it('adds every view that reads a named one, directly or through other views', async () => {
    const all = await statuses();
    for (const s of all) {
      const res = await refresh([s.name]);
      expect(res.errors).toBeUndefined();
      const ran = res.data!.refreshViews.refreshed.map((r) => r.name);
      expect(new Set(ran)).toEqual(withDependants(all, [s.name]));
      expect(ran.length).toBe(new Set(ran).size);
      expectDependencyOrder(ran, all);
    }
    // The view on views: naming only its source still refreshes it.
    const res = await refresh(['gear_item_stats', 'gear_item_stats']);
    expect(res.data!.refreshViews.refreshed.map((r) => r.name)).toEqual(['gear_item_stats', 'category_stats']);
  });

  it('rejects an unknown name before anything runs', async () => {
    const logBefore = await refreshLog(app.sql);
    for (const views of [
      ['gear_item_stats', 'no_such_view'],
      ['GEAR_ITEM_STATS'],
      ['category_stats; drop table gear_item; --'],
      ['gear_item'], // a table, not a managed view
    ]) {
      const res = await refresh(views);
      const e = errorOf(res.errors);
      expect(e.code).toBe('BAD_USER_INPUT');
      expect(e.field).toBe('views');
      expect(e.message).toContain(JSON.stringify(views[views.length - 1]));
      expect(res.data).toBeNull();
    }
    expect(await refreshLog(app.sql)).toEqual(logBefore);
    expect((await app.sql.one<{ n: number }>('select count(*)::int as n from gear_item'))!.n).toBeGreaterThan(0);
  });

  it('refreshes nothing for an empty list', async () => {
    const res = await refresh([]);
    expect(res.errors).toBeUndefined();
    expect(res.data!.refreshViews.refreshed).toEqual([]);
  });

  it('refreshes a never-populated view without CONCURRENTLY and says so', async () => {
    await app.sql.rows('refresh materialized view category_stats with no data');
    const unpopulated = (await statuses()).find((s) => s.name === 'category_stats')!;
    expect(unpopulated).toMatchObject({ populated: false, stale: true });

    const res = await refresh(['category_tree']);
    expect(res.errors).toBeUndefined();
    expect(res.data!.refreshViews.refreshed.map((r) => [r.name, r.concurrently])).toEqual([
      ['category_tree', true],
      ['category_stats', false],
    ]);
    const now = (await statuses()).find((s) => s.name === 'category_stats')!;
    expect(now).toMatchObject({ populated: true, stale: false });
    const log = await refreshLog(app.sql);
    expect(log[log.length - 1]).toMatchObject({ view: 'category_stats', concurrently: false, by: 'mutation' });
  });

  it('runs without CONCURRENTLY when asked', async () => {
    const res = await refresh(null, false);
    expect(res.errors).toBeUndefined();
    expect(res.data!.refreshViews.refreshed.every((r) => !r.concurrently)).toBe(true);
  });

  it('leaves every page of the views it refreshed marked all-visible, so their indexes can answer alone', async () => {
    const unmarked = async () =>
      app.sql.rows<{ name: string; pages: number; visible: number }>(
        `select relname as name, relpages as pages, relallvisible as visible from pg_class
          where relkind = 'm' and relname = any($1::text[]) and relallvisible < relpages`,
        [[...MANAGED_VIEW_NAMES]],
      );
    for (const concurrently of [false, true]) {
      // New reviews, so that a CONCURRENTLY refresh changes pages (and clears their mark).
      await app.sql.rows(`insert into gear_review (gear_item_id, rating, body) select id, 5, 'again' from gear_item where id % 7 = 0`);
      const res = await refresh(null, concurrently);
      expect(res.errors).toBeUndefined();
      expect(await unmarked(), `after a ${concurrently ? 'CONCURRENTLY' : 'plain'} refresh`).toEqual([]);
    }
  });

  it('clears the request’s view loaders, so later fields of the same request read the new contents', async () => {
    const item = (await app.sql.one<{ id: number }>('select min(id) as id from gear_item'))!.id;
    await refresh();
    const cached = (await app.exec(ItemDocument, { id: String(item) })).data!.gearItem!.reviewCount;
    const res = await app.exec(ReviewRefreshAndReadDocument, { input: { gearItemId: String(item), rating: 4 } }, { token: OPS_TOKEN });
    expect(res.errors).toBeUndefined();
    expect(res.data!.before.gearItem.reviewCount).toBe(cached);
    // The first review is in the refreshed view; the second one is not yet.
    expect(res.data!.after.gearItem.reviewCount).toBe(cached + 1);
  });

  it('lets two overlapping calls on one server both succeed, never refreshing a view twice at once', async () => {
    const before = (await refreshLog(app.sql)).length;
    const [a, b] = await Promise.all([refresh(), refresh(['gear_item_stats'])]);
    expect(a.errors).toBeUndefined();
    expect(b.errors).toBeUndefined();
    const log = (await refreshLog(app.sql)).slice(before);
    expect(log.length).toBe(a.data!.refreshViews.refreshed.length + b.data!.refreshViews.refreshed.length);
    expectNoOverlap(log);
  });
});

describe('refreshes from several servers on one database', () => {
  let dbs: Database[];
  let servers: ViewService[];

  beforeAll(async () => {
    // Each "server" has its own pool and its own ViewService, as separate processes would.
    dbs = [1, 2, 3].map(() => openInstanceDatabase(app.url));
    servers = dbs.map((db) => instanceViews(db, app.config));
  });

  afterAll(async () => {
    await Promise.all((dbs ?? []).map((db) => db.close()));
  });

  it('all succeed, without deadlocks, and never refresh one view at the same time', async () => {
    const before = (await refreshLog(app.sql)).length;
    const requests: Array<{ views: string[] | null; concurrently: boolean }> = [
      { views: null, concurrently: true },
      { views: ['gear_item_stats'], concurrently: false },
      { views: ['category_tree'], concurrently: true },
      { views: ['category_stats'], concurrently: false },
      { views: ['category_tree', 'gear_item_stats'], concurrently: true },
      { views: null, concurrently: false },
    ];
    const results = await Promise.all(requests.map((r, i) => servers[i % servers.length].refresh(r, 'mutation')));
    const log = (await refreshLog(app.sql)).slice(before);
    expect(log.length).toBe(results.reduce((n, r) => n + r.length, 0));
    expectNoOverlap(log);
    // Every view of every call ran, in its call's dependency order.
    const all = await statuses();
    for (const [i, r] of results.entries()) {
      expect(new Set(r.map((x) => x.name))).toEqual(withDependants(all, requests[i].views ?? all.map((s) => s.name)));
      expectDependencyOrder(
        r.map((x) => x.name),
        all,
      );
    }
  });

  it('refresh each stale view once on a schedule, whichever server gets there first', async () => {
    await refresh();
    const item = (await app.sql.one<{ id: number }>('select max(id) as id from gear_item'))!.id;
    await app.sql.rows('insert into gear_review (gear_item_id, rating) values ($1, 5)', [item]);
    const stale = (await statuses()).filter((s) => s.stale).map((s) => s.name);
    expect(stale.sort()).toEqual(['category_stats', 'gear_item_stats']);

    const before = (await refreshLog(app.sql)).length;
    await Promise.all(servers.map((s) => s.refreshStale('schedule')));
    const log = (await refreshLog(app.sql)).slice(before);
    expect(log.map((l) => l.view).sort()).toEqual(stale.sort());
    expect(log.every((l) => l.by === 'schedule')).toBe(true);
    expect((await statuses()).every((s) => !s.stale)).toBe(true);
  });

  it('refreshes on REFRESH_INTERVAL_SECONDS, and not when nothing changed', async () => {
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: app.url, REFRESH_INTERVAL_SECONDS: '1' });
    const scheduled = instanceViews(dbs[0], config);
    await refresh();
    const item = (await app.sql.one<{ id: number }>('select min(id) as id from gear_item'))!.id;
    await app.sql.rows('insert into gear_review (gear_item_id, rating) values ($1, 1)', [item]);
    const before = (await refreshLog(app.sql)).length;
    await scheduled.start();
    try {
      const deadline = Date.now() + 15_000;
      while ((await statuses()).some((s) => s.stale) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect((await statuses()).some((s) => s.stale)).toBe(false);
      // Two more periods with nothing changed: nothing more is refreshed.
      await new Promise((r) => setTimeout(r, 2500));
    } finally {
      scheduled.stop();
    }
    const log = (await refreshLog(app.sql)).slice(before);
    expect(log.map((l) => l.view).sort()).toEqual(['category_stats', 'gear_item_stats']);
    expect(log.every((l) => l.by === 'schedule')).toBe(true);
  });
});

describe('a refresh that fails', () => {
  let slow: TestApp;
  beforeAll(async () => {
    slow = await createTestApp({ REFRESH_STATEMENT_TIMEOUT_MS: '500' });
    const { sql } = slow;
    await seedCatalog(sql, { roots: 2, branching: 2, depth: 2, items: 50, reviews: 300, unreviewedShare: 0.2 });
    await slow.exec(RefreshViewsDocument, {}, { token: OPS_TOKEN });
  });
  afterAll(() => slow?.close());

  it('is cancelled at the statement timeout, names the view, and leaves the old contents readable', async () => {
    const item = (await slow.sql.one<{ id: number }>('select min(id) as id from gear_item'))!.id;
    // Only the cached field: gear_item and gear_item_stats, not gear_review (locked below).
    const read = async () =>
      (await slow.exec<{ gearItem: { reviewCount: number } }, Record<string, never>>(`{ gearItem(id: "${item}") { reviewCount } }`)).data
        ?.gearItem.reviewCount;
    const old = (await slow.sql.one<{ n: number }>('select count(*)::int as n from gear_review where gear_item_id = $1', [item]))!.n;
    expect(await slow.exec(ItemDocument, { id: String(item) }).then((r) => r.data!.gearItem!.reviewCount)).toBe(old);
    await slow.sql.rows('insert into gear_review (gear_item_id, rating) values ($1, 3)', [item]);
    const logBefore = await refreshLog(slow.sql);
    const statusBefore = (await slow.exec(ViewStatusesDocument)).data!.materializedViews;

    // Another session holds gear_review exclusively: the refresh cannot read it in time.
    const blocker = new Client({ connectionString: slow.url });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query('lock table gear_review in access exclusive mode');
      const res = await slow.exec(RefreshViewsDocument, { views: ['gear_item_stats'] }, { token: OPS_TOKEN });
      const e = errorOf(res.errors);
      expect(e.code).toBe('SERVICE_UNAVAILABLE');
      expect(e.view).toBe('gear_item_stats');
      expect(e.message).toContain('gear_item_stats');
      expect(e.message).not.toMatch(/select|refresh materialized/i);
      // Readers of the view are not blocked, and see the old contents.
      expect(await read()).toBe(old);
    } finally {
      await blocker.query('rollback');
      await blocker.end();
    }
    expect(await read()).toBe(old);
    expect(await refreshLog(slow.sql)).toEqual(logBefore);
    const statusAfter = (await slow.exec(ViewStatusesDocument)).data!.materializedViews;
    expect(statusAfter.map((s) => [s.name, s.lastRefreshedAt])).toEqual(statusBefore.map((s) => [s.name, s.lastRefreshedAt]));
    expect(statusAfter.find((s) => s.name === 'gear_item_stats')!.stale).toBe(true);
    // The failure outlived the rollback, with the message the client got.
    const failed = (await slow.exec(ViewFreshnessDocument)).data!.materializedViews.find((s) => s.name === 'gear_item_stats')!;
    expect(failed.lastRefreshError?.message).toContain('took longer than');
    expect(failed.lastRefreshError?.message).not.toMatch(/select|refresh materialized/i);

    const again = await slow.exec(RefreshViewsDocument, { views: ['gear_item_stats'] }, { token: OPS_TOKEN });
    expect(again.errors).toBeUndefined();
    expect(await read()).toBe(old + 1);
    const cleared = (await slow.exec(ViewFreshnessDocument)).data!.materializedViews.find((s) => s.name === 'gear_item_stats')!;
    expect(cleared.lastRefreshError).toBeNull();
  });

  it('waits at most REFRESH_LOCK_TIMEOUT_MS for another refresher, then refreshes nothing', async () => {
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: slow.url, REFRESH_LOCK_TIMEOUT_MS: '300' });
    const impatient = instanceViews(slow.db, config);
    const logBefore = await refreshLog(slow.sql);
    // A refresher elsewhere holds category_stats' lock (the key README documents).
    const other = new Client({ connectionString: slow.url });
    await other.connect();
    try {
      await other.query('begin');
      await other.query("select pg_advisory_xact_lock($1, 'category_stats'::regclass::oid::int)", [REFRESH_LOCK_CLASS]);
      const err = await impatient.refresh({ views: ['gear_item_stats'] }, 'mutation').catch((e) => e);
      expect(refreshErrorToPublic(err).extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', view: 'category_stats' });
      expect(refreshErrorToPublic(err).message).toContain('Another refresh of category_stats');
    } finally {
      await other.query('rollback');
      await other.end();
    }
    expect(await refreshLog(slow.sql)).toEqual(logBefore);
  });
});

describe('the start-up check', () => {
  let broken: TestApp;
  beforeAll(async () => {
    broken = await createTestApp();
  });
  afterAll(() => broken?.close());

  it('follows plain views to the tables they read', async () => {
    const { sql } = broken;
    await sql.rows('create table ext_source (id int primary key, v int)');
    await sql.rows('create view ext_middle as select id, v * 2 as v2 from ext_source');
    await sql.rows('create materialized view ext_a as select id, v2 from ext_middle');
    await sql.rows('create unique index on ext_a (id)');
    await sql.rows('create materialized view ext_b as select a.id, i.name from ext_a a join gear_item i on i.id = a.id');
    await sql.rows('create unique index on ext_b (id)');
    const load = (names: string[]) => loadViewRegistry(sql, names);

    await expect(load(['ext_a', 'ext_b'])).rejects.toThrow(/table public\.ext_source \(read by ext_a\) has no view_source_changed trigger/);
    await expect(load(['ext_b'])).rejects.toThrow(/ext_b reads materialized view public\.ext_a, which tally does not manage/);
    await sql.rows('create trigger view_source_changed after insert or update or delete or truncate on ext_source for each statement execute function view_source_touch()');
    const registry = await load(['ext_b', 'ext_a']);
    expect(registry.views).toEqual([
      { name: 'ext_a', dependsOn: [], tables: ['public.ext_source'] },
      { name: 'ext_b', dependsOn: ['ext_a'], tables: ['public.gear_item'] },
    ]);
  });

  it('fails fast, naming every view or index or trigger that is missing', async () => {
    const { sql } = broken;
    await sql.rows('drop index category_stats_category_id_uidx');
    await sql.rows('drop trigger view_source_changed on gear_review');
    await sql.rows('drop materialized view category_tree cascade'); // takes category_stats with it
    const service = instanceViews(broken.db, broken.config);
    const err = await service.start().catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toContain('materialized view category_tree is missing');
    expect(message).toContain('materialized view category_stats is missing');
    expect(message).toContain('table public.gear_review (read by gear_item_stats) has no view_source_changed trigger');

    // With the views back but an index short, the message names the index.
    await sql.rows('create materialized view category_tree as select id, parent_id, name from gear_category');
    await sql.rows('create unique index on category_tree (id)');
    await sql.rows('create materialized view category_stats as select id as category_id from category_tree');
    await sql.rows('create trigger view_source_changed after insert or update or delete or truncate on gear_review for each statement execute function view_source_touch()');
    const second = await instanceViews(broken.db, broken.config).start().catch((e: Error) => e);
    expect((second as Error).message).toMatch(/materialized view category_stats has no unique index/);
    expect((second as Error).message).not.toContain('category_tree');
  });
});
