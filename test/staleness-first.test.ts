import 'reflect-metadata';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../src/modules/views/ops/notifications';
import { AddReviewDocument, ItemDocument, RefreshViewsDocument } from './generated/graphql';
import { OPS_TOKEN, adminQuery, createTestApp, type TestApp } from './support/app';
import { addCategory, addItem } from './support/fixtures';
import { refreshLog } from './support/ops';
import { waitFor } from './support/wait';

// tally.notify_changes = 'first': a write is announced only when it is the first of its
// backend since the views that read the table were refreshed (docs/freshness.md).

const BOUND_S = 2;

let app: TestApp;
let itemId: number;
const heard: string[] = [];

async function reviewCount(): Promise<number> {
  const res = await app.exec(ItemDocument, { id: String(itemId) });
  expect(res.errors).toBeUndefined();
  return res.data!.gearItem!.reviewCount;
}

beforeAll(async () => {
  app = await createTestApp({ REFRESH_MAX_STALENESS_SECONDS: String(BOUND_S) });
  // Before any of the server's sessions opens, so that they all get it.
  await adminQuery(`alter database ${new URL(app.url).pathname.slice(1)} set tally.notify_changes = 'first'`);
  itemId = await addItem(app.sql, 'Tent', await addCategory(app.sql, 'Outdoor'));
  expect((await app.exec(RefreshViewsDocument, {}, { token: OPS_TOKEN })).errors).toBeUndefined();
  app.services.changes.subscribe((e: ChangeEvent) => {
    if (e.type === 'change' && e.change.kind === 'table') heard.push(e.change.name);
  });
  app.services.changes.start();
  expect(await app.services.changes.ready()).toBe(true);
  await app.services.views.start();
});

afterAll(() => app?.close());

describe("tally.notify_changes = 'first'", () => {
  it('announces a burst a few times, not per write, and still refreshes everything within the bound', async () => {
    const before = (await refreshLog(app.sql)).at(-1)?.id ?? 0;
    const count = await reviewCount();
    heard.length = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 300) {
          next++;
          const res = await app.exec(AddReviewDocument, { input: { gearItemId: String(itemId), rating: 4 } });
          expect(res.errors).toBeUndefined();
        }
      }),
    );
    await waitFor('reviewCount to catch up', async () => (await reviewCount()) === count + 300, 15_000);
    const runs = (await refreshLog(app.sql)).filter((r) => r.id > before && r.view === 'gear_item_stats');
    const announced = heard.filter((t) => t === 'public.gear_review').length;
    // At most once per primary-pool connection and refresh cycle.
    expect(announced).toBeGreaterThanOrEqual(1);
    expect(announced).toBeLessThanOrEqual((runs.length + 1) * app.config.db.primaryPoolMax);
    expect(announced).toBeLessThan(100);
    expect(runs.every((r) => r.by === 'freshness')).toBe(true);
  });

  it('refreshes a single write by the deadline, with no refresh call', async () => {
    await waitFor('no view pending', async () => (await app.services.views.statuses()).every((s) => !s.stale), 15_000);
    const before = (await refreshLog(app.sql)).at(-1)?.id ?? 0;
    const count = await reviewCount();
    await app.exec(AddReviewDocument, { input: { gearItemId: String(itemId), rating: 2 } });
    const committedUs = Number((await app.sql.one<{ us: string }>('select (extract(epoch from clock_timestamp()) * 1e6)::bigint as us'))!.us);
    await waitFor('reviewCount to move', async () => (await reviewCount()) === count + 1, 10_000);
    const [run] = (await refreshLog(app.sql)).filter((r) => r.id > before && r.view === 'gear_item_stats');
    expect(run.startedUs - committedUs).toBeLessThan(BOUND_S * 1e6);
  });

  it('finds a write that was not announced (its run began before a refresh it committed after)', async () => {
    await waitFor('no view stale', async () => (await app.services.views.statuses()).every((s) => !s.stale), 15_000);
    const count = await reviewCount();
    const writer = new Client({ connectionString: app.url });
    await writer.connect();
    try {
      const before = (await refreshLog(app.sql)).at(-1)?.id ?? 0;
      heard.length = 0;
      await writer.query('insert into gear_review (gear_item_id, rating) values ($1, 5)', [itemId]);
      await writer.query('begin');
      // Continues the run the first write began, which no refresh has seen yet: not announced.
      await writer.query('insert into gear_review (gear_item_id, rating) values ($1, 1)', [itemId]);
      await waitFor('the refresh of the first write', async () =>
        (await refreshLog(app.sql)).some((r) => r.id > before && r.view === 'gear_item_stats'),
      );
      await writer.query('commit');
    } finally {
      await writer.end();
    }
    const announced = heard.length;
    expect(announced).toBe(1);
    await waitFor('reviewCount to take in the unannounced write', async () => (await reviewCount()) === count + 2, 10_000);
    expect(heard.filter((h) => h === 'public.gear_review').length).toBe(announced);
  });
});
