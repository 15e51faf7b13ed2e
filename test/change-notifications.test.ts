import 'reflect-metadata';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger';
import { ChangeListener, type ChangeEvent } from '../src/modules/views/ops/notifications';
import { AddReviewDocument, RefreshViewsDocument } from './generated/graphql';
import { OPS_TOKEN, createTestApp, type TestApp } from './support/app';
import { addCategory, addItem } from './support/fixtures';
import { sleep, waitFor } from './support/wait';

let app: TestApp;
let itemId: number;
let listener: ChangeListener;
const events: ChangeEvent[] = [];

const changes = () => events.flatMap((e) => (e.type === 'change' ? [`${e.change.kind}:${e.change.name}`] : []));

beforeAll(async () => {
  app = await createTestApp();
  itemId = await addItem(app.sql, 'Tent', await addCategory(app.sql, 'Outdoor'));
  // A slow reconnect, so that the test can write while the listener is away.
  listener = new ChangeListener({
    url: app.url,
    log: createLogger('silent'),
    applicationName: 'tally-listen-test',
    backoff: { initialMs: 1500, maxMs: 1500 },
  });
  listener.subscribe((e) => events.push(e));
  listener.start();
  expect(await listener.ready()).toBe(true);
});

afterAll(async () => {
  await listener?.close();
  await app?.close();
});

describe('the change listener', () => {
  it('hears a committed write to a table a view reads, and moves that table’s version only', async () => {
    const review = listener.versionOf(['public.gear_review']);
    const category = listener.versionOf(['public.gear_category']);
    expect(review).not.toBeNull();
    events.length = 0;
    const res = await app.exec(AddReviewDocument, { input: { gearItemId: String(itemId), rating: 4 } });
    expect(res.errors).toBeUndefined();
    await waitFor('the notification', () => changes().includes('table:public.gear_review'));
    expect(listener.versionOf(['public.gear_review'])).not.toBe(review);
    expect(listener.versionOf(['public.gear_category'])).toBe(category);
    // A set of relations moves when any of them does.
    expect(listener.versionOf(['public.gear_category', 'public.gear_review'])).toBe(listener.versionOf(['public.gear_review']));
  });

  it('announces nothing for a rolled-back write, and a committed one only at commit, once per transaction', async () => {
    const writer = new Client({ connectionString: app.url });
    await writer.connect();
    try {
      events.length = 0;
      await writer.query('begin');
      await writer.query('insert into gear_review (gear_item_id, rating) values ($1, 4)', [itemId]);
      await writer.query('rollback');
      await writer.query('begin');
      for (let i = 0; i < 5; i++) await writer.query('insert into gear_review (gear_item_id, rating) values ($1, 5)', [itemId]);
      await sleep(300);
      expect(changes()).toEqual([]);
      await writer.query('commit');
      await waitFor('the commit’s notification', () => changes().length > 0);
      await sleep(300);
      expect(changes()).toEqual(['table:public.gear_review']);
    } finally {
      await writer.end();
    }
  });

  it('hears each refreshed view, from the refresh transaction', async () => {
    const before = listener.versionOf(['gear_item_stats']);
    events.length = 0;
    const res = await app.exec(RefreshViewsDocument, { views: ['gear_item_stats'] }, { token: OPS_TOKEN });
    expect(res.errors).toBeUndefined();
    await waitFor('both views', () => changes().includes('view:category_stats') && changes().includes('view:gear_item_stats'));
    expect(listener.versionOf(['gear_item_stats'])).not.toBe(before);
    expect(listener.dataVersions().views).toHaveProperty('category_stats');
  });

  it('knows nothing while its connection is gone, reconnects, and starts a new epoch', async () => {
    const before = listener.versionOf(['public.gear_review']);
    const epoch = listener.dataVersions().epoch;
    events.length = 0;
    const killed = await app.sql.one<{ n: number }>(
      `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
        where application_name = 'tally-listen-test' and datname = current_database()`,
    );
    expect(killed!.n).toBe(1);
    await waitFor('the disconnection', () => events.some((e) => e.type === 'disconnected'));
    expect(listener.connected).toBe(false);
    expect(listener.versionOf(['public.gear_review'])).toBeNull();
    // Written while nobody listens: the notification is lost, the new epoch covers it.
    await app.sql.rows('insert into gear_review (gear_item_id, rating) values ($1, 3)', [itemId]);
    await waitFor('the reconnection', () => listener.connected, 15_000);
    expect(events.map((e) => e.type)).toEqual(['disconnected', 'connected']);
    expect(listener.dataVersions().epoch).toBe(epoch + 1);
    const after = listener.versionOf(['public.gear_review']);
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
    // And it hears writes again.
    events.length = 0;
    await app.sql.rows('insert into gear_review (gear_item_id, rating) values ($1, 3)', [itemId]);
    await waitFor('a notification after reconnecting', () => changes().includes('table:public.gear_review'));
  });

  it('closes its connection when closed', async () => {
    const other = new ChangeListener({ url: app.url, log: createLogger('silent'), applicationName: 'tally-listen-close' });
    other.start();
    expect(await other.ready()).toBe(true);
    await other.close();
    expect(other.versionOf([])).toBeNull();
    await waitFor('the backend to go', async () => {
      const row = await app.sql.one<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where application_name = 'tally-listen-close' and datname = current_database()`,
      );
      return row!.n === 0;
    });
  });
});
