import 'reflect-metadata';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadViewRegistry } from '../src/modules/views/ops/registry';
import {
  AddReviewDocument,
  CategoryDocument,
  CreateCategoryDocument,
  CreateGearItemDocument,
  RefreshViewsDocument,
  ViewFreshnessDocument,
  ViewStatusesDocument,
  type ViewStatusesQuery,
} from './generated/graphql';
import { OPS_TOKEN, createTestApp, type TestApp } from './support/app';
import { addCategory, addItem, addReviews } from './support/fixtures';
import { refreshLog } from './support/ops';

type Status = ViewStatusesQuery['materializedViews'][number];

let app: TestApp;
let categoryId: number;
let itemId: number;

async function statuses(): Promise<Record<string, Status>> {
  const res = await app.exec(ViewStatusesDocument);
  expect(res.errors).toBeUndefined();
  return Object.fromEntries(res.data!.materializedViews.map((s) => [s.name, s]));
}

async function staleViews(): Promise<string[]> {
  return Object.values(await statuses())
    .filter((s) => s.stale)
    .map((s) => s.name)
    .sort();
}

async function refresh(views?: string[]) {
  const res = await app.exec(RefreshViewsDocument, { views }, { token: OPS_TOKEN });
  expect(res.errors).toBeUndefined();
  return res.data!.refreshViews.refreshed;
}

/** The views reading `table`, directly or through other views, per the catalog. */
async function readersOf(table: string): Promise<string[]> {
  const registry = await loadViewRegistry(app.sql);
  const out = new Set<string>();
  for (const v of registry.views) {
    if (v.tables.includes(`public.${table}`) || v.dependsOn.some((d) => out.has(d))) out.add(v.name);
  }
  return [...out].sort();
}

beforeAll(async () => {
  app = await createTestApp();
  categoryId = await addCategory(app.sql, 'Outdoor');
  const child = await addCategory(app.sql, 'Tents', categoryId);
  itemId = await addItem(app.sql, 'Tent', child);
  await addReviews(app.sql, itemId, [5, 3]);
});

afterAll(() => app?.close());

describe('materializedViews', () => {
  it('calls every view stale until it is first refreshed, whatever it holds', async () => {
    for (const s of Object.values(await statuses())) {
      expect(s).toMatchObject({ populated: true, stale: true, lastRefreshedAt: null, lastRefreshStartedAt: null, lastRefreshDurationMs: null });
    }
  });

  it('reports each view’s last refresh as the refresh reported it', async () => {
    const ran = await refresh();
    const now = await statuses();
    for (const r of ran) {
      const s = now[r.name];
      expect(s).toMatchObject({ populated: true, stale: false, lastRefreshedAt: r.refreshedAt, lastRefreshDurationMs: r.durationMs });
      expect(Date.parse(s.lastRefreshStartedAt!)).toBeLessThanOrEqual(Date.parse(s.lastRefreshedAt!));
    }
    expect(await staleViews()).toEqual([]);
  });
});

describe('stale', () => {
  it('flips after addReview for every view that reads reviews, and back after a refresh', async () => {
    await refresh();
    const res = await app.exec(AddReviewDocument, { input: { gearItemId: String(itemId), rating: 1 } });
    expect(res.errors).toBeUndefined();
    const readers = await readersOf('gear_review');
    expect(readers).toEqual(['category_stats', 'gear_item_stats']);
    expect(await staleViews()).toEqual(readers);
    await refresh(['gear_item_stats']);
    expect(await staleViews()).toEqual([]);
  });

  it('reaches category_stats through gear_item_stats: it stays stale while that view is', async () => {
    await refresh();
    const registry = await loadViewRegistry(app.sql);
    // category_stats does not read gear_review itself; the change reaches it through gear_item_stats.
    expect(registry.get('category_stats')!.tables).not.toContain('public.gear_review');
    expect(registry.get('category_stats')!.dependsOn).toContain('gear_item_stats');

    await app.exec(AddReviewDocument, { input: { gearItemId: String(itemId), rating: 2 } });
    expect((await statuses()).category_stats.stale).toBe(true);
    // Refreshing category_stats alone re-reads the old gear_item_stats: still stale.
    await refresh(['category_stats']);
    expect(await staleViews()).toEqual(['category_stats', 'gear_item_stats']);
    const cached = (await app.exec(CategoryDocument, { id: String(categoryId) })).data!.category!;
    const reviews = await app.sql.one<{ n: number }>('select count(*)::int as n from gear_review');
    expect(cached.reviewCount).toBe(reviews!.n - 1);
    await refresh(['gear_item_stats']);
    expect(await staleViews()).toEqual([]);
    expect((await app.exec(CategoryDocument, { id: String(categoryId) })).data!.category!.reviewCount).toBe(reviews!.n);
  });

  it('follows createCategory and createGearItem to the views that read those tables', async () => {
    await refresh();
    await app.exec(CreateCategoryDocument, { input: { name: 'Water', parentId: String(categoryId) } }, { token: OPS_TOKEN });
    expect(await staleViews()).toEqual(await readersOf('gear_category'));
    expect(await staleViews()).toEqual(['category_stats', 'category_tree']);
    await refresh(['category_tree']);
    expect(await staleViews()).toEqual([]);

    await app.exec(CreateGearItemDocument, { input: { name: 'Paddle', categoryId: String(categoryId) } }, { token: OPS_TOKEN });
    expect(await staleViews()).toEqual(await readersOf('gear_item'));
    await refresh();
    expect(await staleViews()).toEqual([]);
  });

  it('counts a write that began before a refresh and committed after it as a change after the refresh', async () => {
    await refresh();
    const writer = new Client({ connectionString: app.url });
    await writer.connect();
    try {
      await writer.query('begin');
      await writer.query('insert into gear_review (gear_item_id, rating) values ($1, 4)', [itemId]);
      // The refresh cannot see the uncommitted review, and is not blocked by it.
      await refresh();
      expect(await staleViews()).toEqual([]);
      await writer.query('commit');
    } finally {
      await writer.end();
    }
    expect(await staleViews()).toEqual(await readersOf('gear_review'));
    await refresh();
    expect(await staleViews()).toEqual([]);
  });

  it('ignores a write that was rolled back', async () => {
    await refresh();
    const writer = new Client({ connectionString: app.url });
    await writer.connect();
    try {
      await writer.query('begin');
      await writer.query('insert into gear_review (gear_item_id, rating) values ($1, 4)', [itemId]);
      await writer.query('rollback');
    } finally {
      await writer.end();
    }
    expect(await staleViews()).toEqual([]);
  });

  it('calls a view stale when it holds no data', async () => {
    await refresh();
    await app.sql.rows('refresh materialized view category_tree with no data');
    const now = await statuses();
    expect(now.category_tree).toMatchObject({ populated: false, stale: true });
    // category_stats still answers from what it holds, but that came from the tree now gone.
    expect(now.category_stats.stale).toBe(true);
    const ran = await refresh(['category_tree']);
    expect(ran.map((r) => [r.name, r.concurrently])).toEqual([
      ['category_tree', false],
      ['category_stats', true],
    ]);
    expect(await staleViews()).toEqual([]);
  });

  it('dates staleness from the first write a view has not seen, through the views that read it', async () => {
    await refresh();
    const freshness = async () =>
      Object.fromEntries((await app.exec(ViewFreshnessDocument)).data!.materializedViews.map((s) => [s.name, s]));
    for (const s of Object.values(await freshness())) expect(s).toMatchObject({ stale: false, staleSince: null, maxStalenessSeconds: null });
    const before = (await app.sql.one<{ at: Date }>('select clock_timestamp() as at'))!.at;
    await app.exec(AddReviewDocument, { input: { gearItemId: String(itemId), rating: 3 } });
    const after = (await app.sql.one<{ at: Date }>('select clock_timestamp() as at'))!.at;
    await app.exec(AddReviewDocument, { input: { gearItemId: String(itemId), rating: 4 } });
    const first = await freshness();
    const since = Date.parse(first.gear_item_stats.staleSince!);
    expect(since).toBeGreaterThanOrEqual(before.getTime());
    expect(since).toBeLessThanOrEqual(after.getTime());
    // category_stats reads reviews through gear_item_stats: stale since the same write.
    expect(first.category_stats.staleSince).toBe(first.gear_item_stats.staleSince);
    expect(first.category_tree.staleSince).toBeNull();
    // Refreshing category_stats alone: it is still behind gear_item_stats' changes.
    await refresh(['category_stats']);
    expect((await freshness()).category_stats.staleSince).toBe(first.gear_item_stats.staleSince);
    await refresh(['gear_item_stats']);
    for (const s of Object.values(await freshness())) expect(s.staleSince).toBeNull();
    // Seen by every view that reads the table, the old writes no longer date anything.
    const later = (await app.sql.one<{ at: Date }>('select clock_timestamp() as at'))!.at;
    await app.exec(AddReviewDocument, { input: { gearItemId: String(itemId), rating: 5 } });
    expect(Date.parse((await freshness()).gear_item_stats.staleSince!)).toBeGreaterThanOrEqual(later.getTime());
    await refresh();
  });

  it('keeps the log short: one row per refresh, written by the refresh', async () => {
    const before = (await refreshLog(app.sql)).length;
    const ran = await refresh();
    const log = (await refreshLog(app.sql)).slice(before);
    expect(log.map((l) => [l.view, l.concurrently, l.by])).toEqual(ran.map((r) => [r.name, r.concurrently, 'mutation']));
  });
});
