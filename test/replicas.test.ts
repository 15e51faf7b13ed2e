import type { ApolloServer } from '@apollo/server';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { createContext, createServices, type Context } from '../src/context';
import { openDatabase, type Database } from '../src/database/database';
import { migrateUp } from '../src/database/migrate';
import type { Replica } from '../src/database/replicas';
import { seedCatalog } from '../src/database/seed';
import { Sql, sql } from '../src/database/sql';
import { replicaReadFailure } from '../src/errors';
import { createLogger } from '../src/logger';
import { refreshAllViews } from '../src/modules/views/ops/refresh';
import { createApollo } from '../src/server';
import { OPS_TOKEN } from './support/app';
import { replicationUnavailable, startReplicationPair, type ReplicationPair } from './support/replication';

// A real primary and hot standby (Debian's PostgreSQL 15, on loopback), and tally instances
// reading from the standby. Statements are counted where they ran: pg_stat_statements of
// each server (it is per server: a standby counts what it ran itself).

const unavailable = replicationUnavailable();
if (unavailable) console.warn(`test/replicas.test.ts skipped: no primary + hot standby can be started here: ${unavailable}`);

const DB = 'tally';

interface Instance {
  db: Database;
  apollo: ApolloServer<Context>;
  replica: Replica;
  // Results are checked field by field, so untyped.
  exec<T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<{ data: T; errors?: readonly { message: string; extensions?: Record<string, unknown> }[]; target: string }>;
  close(): Promise<void>;
}

describe.skipIf(unavailable !== null)('reads from a hot standby', () => {
  let pair: ReplicationPair;
  let strict: Instance; // out of rotation past 1 s of lag
  let lenient: Instance; // keeps reading a standby however far behind
  let itemId: string;

  async function instance(env: Record<string, string>): Promise<Instance> {
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: pair.primaryUrl(DB),
      DATABASE_REPLICA_URLS: pair.standbyUrl(DB),
      REPLICA_LAG_CHECK_MS: '100',
      OPS_TOKEN,
      LOG_LEVEL: 'silent',
      ...env,
    });
    const db = openDatabase({ url: config.databaseUrl!, log: createLogger('silent'), ...config.db, replicas: config.replicas });
    const services = createServices(db, config, createLogger('silent'));
    const apollo = await createApollo(services);
    await apollo.start();
    await db.router.checkNow();
    return {
      db,
      apollo,
      replica: db.router.replicas[0] as Replica,
      async exec(query, variables, token) {
        const contextValue = createContext(services, { authorization: token ? `Bearer ${token}` : undefined });
        const res = await apollo.executeOperation({ query, variables }, { contextValue });
        if (res.body.kind !== 'single') throw new Error('expected a single result');
        return { data: res.body.singleResult.data as never, errors: res.body.singleResult.errors as never, target: contextValue.reads.target.name };
      },
      async close() {
        await apollo.stop();
        await db.close();
      },
    };
  }

  /** Statements on the catalog's tables that a server ran (its own pg_stat_statements). */
  const catalogStatements = async (on: 'primary' | 'standby') => {
    const q = `select coalesce(sum(calls), 0)::int as n from pg_stat_statements
                where query ~ 'gear_(item|category|review)|category_(tree|stats)|view_refresh_log'
                  and query !~* 'pg_stat_statements|^\\s*(insert|update|delete|refresh|analyze|with t as)'`;
    const rows = on === 'primary' ? await pair.onPrimary<{ n: number }>(q, [], DB) : await pair.onStandby<{ n: number }>(q, [], DB);
    return rows[0].n;
  };

  const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const ITEM = 'query($id: ID!) { gearItem(id: $id) { id reviewCount } }';
  const VIEWS = '{ materializedViews { name stale lastRefreshedAt } }';
  const PAGE = '{ gearItems(first: 10, orderBy: [{ field: REVIEW_RATING, direction: DESC }]) { edges { node { id name reviewCount category { name itemCount } } } } }';
  const stats = (data: { materializedViews: { name: string; stale: boolean; lastRefreshedAt: string }[] }) =>
    data.materializedViews.find((v) => v.name === 'gear_item_stats')!;

  beforeAll(async () => {
    pair = await startReplicationPair({ standbySettings: { hot_standby_feedback: 'off', max_standby_streaming_delay: '30s' } });
    await pair.onPrimary(`create database ${DB}`);
    await pair.onPrimary('create extension pg_stat_statements', [], DB);
    const log = createLogger('silent');
    await migrateUp(pair.primaryUrl(DB), log);
    const seeding = openDatabase({ url: pair.primaryUrl(DB), log, poolMax: 1, primaryPoolMax: 1, readStatementTimeoutMs: 0, statementTimeoutMs: 0 });
    try {
      await seedCatalog(seeding.primary, { roots: 2, branching: 2, depth: 3, items: 200, reviews: 2000, unreviewedShare: 0.1 });
      await refreshAllViews(seeding.primary, { by: 'seed', log });
    } finally {
      await seeding.close();
    }
    itemId = String((await pair.onPrimary<{ id: number }>('select min(id) as id from gear_item', [], DB))[0].id);
    await pair.waitForReplay();
    strict = await instance({ REPLICA_MAX_LAG_SECONDS: '1' });
    lenient = await instance({ REPLICA_MAX_LAG_SECONDS: '3600' });
  }, 120_000);

  afterAll(async () => {
    await strict?.close().catch(() => {});
    await lenient?.close().catch(() => {});
    await pair?.close();
  });

  it('serves reads from the standby: counted on the standby, not on the primary', async () => {
    expect(strict.replica.state).toBe('in');
    const [standbyBefore, primaryBefore] = [await catalogStatements('standby'), await catalogStatements('primary')];
    const countedBefore = strict.replica.statements;
    for (let i = 0; i < 10; i++) {
      const page = await strict.exec(PAGE);
      expect(page.errors).toBeUndefined();
      expect(page.target).toBe('replica 1');
      expect(page.data.gearItems.edges).toHaveLength(10);
      const views = await strict.exec(VIEWS);
      expect(views.data.materializedViews.every((v: { stale: boolean }) => !v.stale)).toBe(true);
    }
    const sent = strict.replica.statements - countedBefore;
    expect(sent).toBeGreaterThanOrEqual(30); // a page, its categories, the statuses
    expect((await catalogStatements('standby')) - standbyBefore).toBe(sent);
    expect((await catalogStatements('primary')) - primaryBefore).toBe(0);
    const names = await pair.onStandby<{ application_name: string }>(
      "select distinct application_name from pg_stat_activity where datname = $1 and backend_type = 'client backend'",
      [DB],
    );
    expect(names.map((n) => n.application_name)).toContain('tally-replica');
  });

  it('writes on the primary; a mutation reads its payload there while queries read the standby', async () => {
    await pair.pauseReplay();
    try {
      const parent = await lenient.exec('mutation { createCategory(input: { name: "Written while the standby is paused" }) { id name } }', {}, OPS_TOKEN);
      expect(parent.errors).toBeUndefined();
      expect(parent.target).toBe('primary');
      const id = parent.data.createCategory.id;
      expect(await pair.onPrimary('select 1 from gear_category where id = $1', [id], DB)).toHaveLength(1);
      // A query reads the paused standby: the new row is not there yet.
      const read = await lenient.exec('query($id: ID!) { category(id: $id) { name } }', { id });
      expect(read.target).toBe('replica 1');
      expect(read.data.category).toBeNull();
      // A mutation's payload reads the primary: its parent, written a moment ago, is there.
      const child = await lenient.exec(
        'mutation($p: ID!) { createCategory(input: { name: "Its child", parentId: $p }) { name parent { id name } } }',
        { p: id },
        OPS_TOKEN,
      );
      expect(child.errors).toBeUndefined();
      expect(child.data.createCategory.parent).toEqual({ id, name: 'Written while the standby is paused' });
    } finally {
      await pair.resumeReplay();
    }
    await pair.waitForReplay();
  });

  it('a refresh on the primary reaches the standby through replay; materializedViews answers for the standby, also when it lags', async () => {
    const before = (await strict.exec(ITEM, { id: itemId })).data.gearItem.reviewCount;
    const review = await strict.exec('mutation($i: ID!) { addReview(input: { gearItemId: $i, rating: 5 }) { id } }', { i: itemId });
    expect(review.errors).toBeUndefined();
    await pair.waitForReplay();
    // The standby has the review, not yet the refresh: stale there, as on the primary.
    const staleOnStandby = await strict.exec(VIEWS);
    expect(staleOnStandby.target).toBe('replica 1');
    expect(stats(staleOnStandby.data).stale).toBe(true);

    await pair.pauseReplay();
    try {
      const refreshed = await strict.exec('mutation { refreshViews(views: ["gear_item_stats"]) { refreshed { name refreshedAt } } }', {}, OPS_TOKEN);
      expect(refreshed.errors).toBeUndefined();
      const refreshedAt = refreshed.data.refreshViews.refreshed[0].refreshedAt;
      // The lenient instance keeps reading the paused standby: the old counts, and it says so.
      const lagging = await lenient.exec(VIEWS);
      expect(lagging.target).toBe('replica 1');
      expect(stats(lagging.data).stale).toBe(true);
      expect(new Date(stats(lagging.data).lastRefreshedAt).getTime()).toBeLessThan(new Date(refreshedAt).getTime());
      expect((await lenient.exec(ITEM, { id: itemId })).data.gearItem.reviewCount).toBe(before);

      // The strict one takes the standby out of rotation once it is 1 s behind, and reads the
      // primary: the new counts, fresh, as the primary has them.
      await until('the standby out of rotation', () => strict.replica.state === 'lagging');
      expect(strict.replica.replayPaused).toBe(true);
      const primaryBefore = await catalogStatements('primary');
      const item = await strict.exec(ITEM, { id: itemId });
      expect(item.target).toBe('primary');
      expect(item.data.gearItem.reviewCount).toBe(before + 1);
      const views = await strict.exec(VIEWS);
      expect(views.target).toBe('primary');
      expect(stats(views.data)).toMatchObject({ stale: false, lastRefreshedAt: refreshedAt });
      expect(await catalogStatements('primary')).toBeGreaterThan(primaryBefore);
    } finally {
      await pair.resumeReplay();
    }
    await pair.waitForReplay();
    const replayed = await lenient.exec(VIEWS);
    expect(replayed.target).toBe('replica 1');
    expect(stats(replayed.data).stale).toBe(false);
    expect((await lenient.exec(ITEM, { id: itemId })).data.gearItem.reviewCount).toBe(before + 1);
    await until('the standby back in rotation', () => strict.replica.state === 'in');
    expect((await strict.exec(ITEM, { id: itemId })).target).toBe('replica 1');
  });

  it('a read the standby cancels for a replayed REFRESH lock is retried once on the primary', async () => {
    await pair.configureStandby({ max_standby_streaming_delay: '100ms' });
    // What a plain client on the standby meets: the conflict's SQLSTATE, for real.
    const plain = new Client({ connectionString: pair.standbyUrl(DB) });
    await plain.connect();
    const plainRead = plain.query('select pg_sleep(2), count(*) from gear_item_stats').then(
      () => null,
      (err: { code?: string; message: string }) => err,
    );
    // The same read through tally's router, on the standby.
    const session = lenient.db.readSession();
    expect(session.target.name).toBe('replica 1');
    const conflictsBefore = lenient.replica.retried.conflict;
    const routed = new Sql(session).rows<{ n: number }>(sql.query`select pg_sleep(2), count(*)::int as n from gear_item_stats`);
    await new Promise((r) => setTimeout(r, 300));
    await pair.onPrimary('refresh materialized view gear_item_stats', [], DB);
    const err = await plainRead;
    await plain.end().catch(() => {});
    expect(err?.message).toMatch(/conflict with recovery/);
    expect(err?.code).toBe('40001');
    expect(replicaReadFailure(err)).toBe('conflict');
    const rows = await routed;
    expect(rows[0].n).toBeGreaterThan(0);
    expect(lenient.replica.retried.conflict).toBe(conflictsBefore + 1);
    expect(session.target.name).toBe('primary');
    await pair.configureStandby({ max_standby_streaming_delay: '30s' });
  });

  it('vacuum after REFRESH CONCURRENTLY cancels an old standby snapshot unless hot_standby_feedback is on', async () => {
    await pair.configureStandby({ max_standby_streaming_delay: '100ms' });
    const snapshotConflicts = async () =>
      Number((await pair.onStandby<{ n: string }>('select confl_snapshot as n from pg_stat_database_conflicts where datname = $1', [DB]))[0].n);
    /** A standby reader holding one snapshot while the primary refreshes and vacuums: did it survive? */
    const attempt = async () => {
      const reader = new Client({ connectionString: pair.standbyUrl(DB) });
      await reader.connect();
      // Idle in a transaction, the session is terminated (FATAL) rather than its statement
      // cancelled; the next query then finds the connection gone.
      reader.on('error', () => {});
      try {
        await reader.query('begin isolation level repeatable read');
        await reader.query('select count(*) from gear_item_stats');
        // hot_standby_feedback reports the standby's oldest snapshot with each status message (1 s here).
        await new Promise((r) => setTimeout(r, 1500));
        // CONCURRENTLY rewrites only the rows that changed: change some, so there is something to vacuum.
        await pair.onPrimary('insert into gear_review (gear_item_id, rating) select id, 3 from gear_item order by id limit 50', [], DB);
        await pair.onPrimary('refresh materialized view concurrently gear_item_stats', [], DB);
        await pair.onPrimary('vacuum gear_item_stats', [], DB);
        await pair.waitForReplay();
        await reader.query('select count(*) from gear_item_stats');
        await reader.query('commit');
        return 'survived';
      } catch {
        return 'cancelled';
      } finally {
        await reader.end().catch(() => {});
      }
    };
    const before = await snapshotConflicts();
    expect(await attempt()).toBe('cancelled');
    expect(await snapshotConflicts()).toBe(before + 1);
    await pair.configureStandby({ hot_standby_feedback: 'on' });
    expect(await attempt()).toBe('survived');
    expect(await snapshotConflicts()).toBe(before + 1);
    await pair.configureStandby({ hot_standby_feedback: 'off', max_standby_streaming_delay: '30s' });
  });

  it('the standby stopped under load: no client error, reads move to the primary', async () => {
    expect(strict.replica.state).toBe('in');
    const deadline = Date.now() + 3000;
    const outcomes: { ok: boolean; target: string; error?: string }[] = [];
    const clients = Array.from({ length: 6 }, async (_, c) => {
      for (let i = 0; Date.now() < deadline; i++) {
        const res = await strict.exec(i % 2 ? PAGE : ITEM, i % 2 ? {} : { id: itemId });
        outcomes.push({ ok: !res.errors, target: res.target, error: res.errors?.[0]?.message });
        if (c === 0 && i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    });
    await new Promise((r) => setTimeout(r, 1000));
    await pair.stopStandby('fast');
    await Promise.all(clients);
    const failed = outcomes.filter((o) => !o.ok);
    expect(failed, JSON.stringify(failed.slice(0, 3))).toHaveLength(0);
    expect(strict.replica.state).toBe('down');
    expect(outcomes.some((o) => o.target === 'replica 1')).toBe(true);
    expect(outcomes.at(-1)!.target).toBe('primary');
    console.log(
      `standby stopped under load: ${outcomes.length} requests, ${failed.length} errors, ` +
        `reads retried on the primary: ${JSON.stringify(strict.replica.retried)}`,
    );
    await pair.startStandby();
    await until('the standby back in rotation', () => strict.replica.state === 'in', 20_000);
  });
});
