import 'reflect-metadata';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type AppServices } from '../src/context';
import { createLogger } from '../src/logger';
import { AddReviewDocument, ItemDocument, RefreshViewsDocument, ViewFreshnessDocument, type ViewFreshnessQuery } from './generated/graphql';
import { OPS_TOKEN, createTestApp, instanceViews, openInstanceDatabase, type TestApp } from './support/app';
import { addCategory, addItem } from './support/fixtures';
import { refreshLog, type LogRow } from './support/ops';
import { sleep, waitFor } from './support/wait';

type Freshness = ViewFreshnessQuery['materializedViews'][number];

const BOUND_S = 2;
const DEBOUNCE_MS = 300;
const REFRESH_TIMEOUT_MS = 1500;

let app: TestApp;
let categoryId: number;
let itemId: number;
const others: { services: AppServices; close(): Promise<void> }[] = [];

async function freshness(): Promise<Record<string, Freshness>> {
  const res = await app.exec(ViewFreshnessDocument);
  expect(res.errors).toBeUndefined();
  return Object.fromEntries(res.data!.materializedViews.map((s) => [s.name, s]));
}

async function reviewCount(): Promise<number> {
  const res = await app.exec(ItemDocument, { id: String(itemId) });
  expect(res.errors).toBeUndefined();
  return res.data!.gearItem!.reviewCount;
}

const reviewsInTable = async () => (await app.sql.one<{ n: number }>('select count(*)::int as n from gear_review where gear_item_id = $1', [itemId]))!.n;

/** Every view fresh, and no refresh for a while (nothing left in anyone's queue). */
async function settle(): Promise<void> {
  await waitFor('every view fresh', async () => Object.values(await freshness()).every((s) => !s.stale), 20_000);
  let count = -1;
  await waitFor('the refresh log to stop growing', async () => {
    const n = (await refreshLog(app.sql)).length;
    const quiet = n === count;
    count = n;
    return quiet;
  }, 20_000, 700);
}

async function addReview(rating = 4) {
  const res = await app.exec(AddReviewDocument, { input: { gearItemId: String(itemId), rating } });
  expect(res.errors).toBeUndefined();
}

/** The database's clock, in microseconds (the refresh log's unit). */
async function dbNowUs(): Promise<number> {
  return Number((await app.sql.one<{ us: string }>('select (extract(epoch from clock_timestamp()) * 1e6)::bigint as us'))!.us);
}

const newRows = async (after: number, view?: string): Promise<LogRow[]> =>
  (await refreshLog(app.sql)).filter((r) => r.id > after && (!view || r.view === view));
const lastId = async () => (await refreshLog(app.sql)).at(-1)?.id ?? 0;

/** Another server instance on the same database: its own pools, listener and scheduler. */
async function startInstance(): Promise<AppServices> {
  const db = openInstanceDatabase(app.url);
  const services = createServices(db, app.config, createLogger('silent'));
  services.changes.start();
  await services.changes.ready();
  await services.views.start();
  others.push({
    services,
    close: async () => {
      services.views.stop();
      await services.changes.close();
      await db.close();
    },
  });
  return services;
}

beforeAll(async () => {
  app = await createTestApp({
    REFRESH_MAX_STALENESS_SECONDS: String(BOUND_S),
    REFRESH_DEBOUNCE_MS: String(DEBOUNCE_MS),
    REFRESH_STATEMENT_TIMEOUT_MS: String(REFRESH_TIMEOUT_MS),
  });
  categoryId = await addCategory(app.sql, 'Outdoor');
  itemId = await addItem(app.sql, 'Tent', await addCategory(app.sql, 'Tents', categoryId));
  expect((await app.exec(RefreshViewsDocument, {}, { token: OPS_TOKEN })).errors).toBeUndefined();
  app.services.changes.start();
  expect(await app.services.changes.ready()).toBe(true);
  await app.services.views.start();
});

afterAll(async () => {
  for (const o of others) await o.close();
  await app?.close();
});

describe('REFRESH_MAX_STALENESS_SECONDS', () => {
  it('reflects addReview in reviewCount within the bound plus the refresh time, with no refresh call', async () => {
    await settle();
    const before = await lastId();
    const count = await reviewCount();
    await addReview();
    const committedUs = await dbNowUs();
    const staleSince = (await freshness()).gear_item_stats.staleSince;
    await waitFor('reviewCount to move', async () => (await reviewCount()) === count + 1, 10_000);
    const [run] = await newRows(before, 'gear_item_stats');
    expect(run.by).toBe('freshness');
    // Started within the bound of the commit (the commit came before committedUs).
    expect(run.startedUs - committedUs).toBeLessThan(BOUND_S * 1e6);
    // staleSince (if the query above ran before the refresh) is the write's time.
    if (staleSince) expect(Date.parse(staleSince) * 1000).toBeLessThanOrEqual(committedUs);
    const now = await freshness();
    expect(now.gear_item_stats).toMatchObject({ stale: false, staleSince: null, maxStalenessSeconds: BOUND_S, lastRefreshError: null });
    expect(now.category_stats.stale).toBe(false);
  });

  it('coalesces a burst of 500 reviews into a handful of refreshes', async () => {
    await settle();
    const before = await lastId();
    const count = await reviewCount();
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 500) {
          next++;
          await addReview((next % 5) + 1);
        }
      }),
    );
    const burstMs = Date.now() - started;
    await waitFor('reviewCount to catch up', async () => (await reviewCount()) === count + 500, 15_000);
    await settle();
    const runs = await newRows(before, 'gear_item_stats');
    // About one per bound while writes keep coming, and one after the last.
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.length).toBeLessThanOrEqual(Math.ceil(burstMs / 1000 / (BOUND_S * 0.9)) + 3);
    expect(runs.length).toBeLessThan(50);
    expect(runs.every((r) => r.by === 'freshness')).toBe(true);
  });

  it('cannot be postponed past the bound by a steady trickle of writes', async () => {
    await settle();
    const before = await lastId();
    const startUs = await dbNowUs();
    // A write every 100 ms, each inside the debounce of the one before, for 5 s.
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      await addReview();
      await sleep(100);
    }
    const endUs = await dbNowUs();
    const during = (await newRows(before, 'gear_item_stats')).filter((r) => r.startedUs < endUs);
    // Debounce alone would wait for the end; the bound refreshes about every 2 s.
    expect(during.length).toBeGreaterThanOrEqual(2);
    expect(during[0].startedUs - startUs).toBeLessThan((BOUND_S + 1) * 1e6);
    await settle();
    expect(await reviewCount()).toBe(await reviewsInTable());
  });

  it('with two instances on one database, refreshes a write through one of them once, and both call the views fresh', async () => {
    const other = await startInstance();
    await settle();
    const before = await lastId();
    const count = await reviewCount();
    await addReview();
    await waitFor('reviewCount to move', async () => (await reviewCount()) === count + 1, 10_000);
    await waitFor('both instances to call every view fresh', async () => {
      const [mine, theirs] = [await freshness(), await other.views.statuses()];
      return Object.values(mine).every((s) => !s.stale) && theirs.every((s) => !s.stale);
    });
    // Give the other instance time to find the views fresh (or, wrongly, refresh them again).
    await sleep(1500);
    const runs = await newRows(before);
    expect(runs.map((r) => r.view).sort()).toEqual(['category_stats', 'gear_item_stats']);
  });

  it('hears again after its listening connection is killed, and misses nothing written meanwhile', async () => {
    await settle();
    const count = await reviewCount();
    const epoch = app.services.changes.dataVersions().epoch;
    const killed = await app.sql.one<{ n: number }>(
      `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
        where application_name = 'tally-listen' and datname = current_database()`,
    );
    // This server's and the other instance's.
    expect(killed!.n).toBe(2);
    await addReview();
    await addReview();
    await waitFor('reviewCount to move', async () => (await reviewCount()) === count + 2, 10_000);
    await waitFor('the listeners to reconnect', () => app.services.changes.connected && others.every((o) => o.services.changes.connected));
    expect(app.services.changes.dataVersions().epoch).toBeGreaterThan(epoch);
    // Listening again: the next write is heard and refreshed too.
    await addReview();
    await waitFor('reviewCount to move again', async () => (await reviewCount()) === count + 3, 10_000);
  });

  it('retries a failing refresh with backoff, reports it on every instance, and refreshes the other views meanwhile', async () => {
    await settle();
    for (const o of others.splice(0)) await o.close();
    const before = await lastId();
    const blocker = new Client({ connectionString: app.url });
    await blocker.connect();
    try {
      // gear_item_stats reads gear_review: its refresh waits for this lock until the refresh
      // statement timeout cancels it. category_tree does not read gear_review.
      await blocker.query('begin');
      await blocker.query('lock table gear_review in access exclusive mode');
      await addItem(app.sql, 'Stove', categoryId);
      await addCategory(app.sql, 'Water', categoryId);
      const failing = await waitFor('the failure to be reported', async () => {
        const f = await freshness();
        return f.gear_item_stats.lastRefreshError && !f.category_tree.stale ? f : undefined;
      }, 15_000);
      expect(failing.gear_item_stats.stale).toBe(true);
      expect(failing.gear_item_stats.lastRefreshError!.message).toContain(`longer than ${REFRESH_TIMEOUT_MS} ms`);
      // Another instance reads it from the database.
      const db = openInstanceDatabase(app.url);
      try {
        const theirs = await instanceViews(db, app.config).statuses();
        expect(theirs.find((s) => s.name === 'gear_item_stats')!.lastRefreshError?.message).toBe(failing.gear_item_stats.lastRefreshError!.message);
      } finally {
        await db.close();
      }
      const tree = (await newRows(before, 'category_tree')).filter((r) => r.by === 'freshness');
      expect(tree.length).toBe(1);
      // Retried: a second failure is recorded later than the first.
      const first = Date.parse(failing.gear_item_stats.lastRefreshError!.failedAt);
      await waitFor('a retry', async () => Date.parse((await freshness()).gear_item_stats.lastRefreshError?.failedAt ?? '0') > first, 15_000);
    } finally {
      await blocker.query('rollback').catch(() => {});
      await blocker.end();
    }
    const after = await waitFor('gear_item_stats refreshed after the lock went', async () => {
      const f = await freshness();
      return !f.gear_item_stats.stale && !f.category_stats.stale ? f : undefined;
    }, 60_000);
    expect(after.gear_item_stats.lastRefreshError).toBeNull();
    const runs = await newRows(before, 'gear_item_stats');
    expect(runs.length).toBe(1);
    expect(runs[0].by).toBe('freshness');
  });
});
