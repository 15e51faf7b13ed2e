import 'reflect-metadata';
import { Client } from 'pg';
import { migrationsList } from '../../migrations';
import { openOrm } from '../database/migrate';
import { sql } from '../database/sql';
import { createLogger } from '../logger';
import type { ViewVersions } from '../modules/views/names';
import { itemWithStats, itemsWithStatsPage } from '../modules/views/reads';

// `DATABASE_URL=… npm run measure:view-swap`: on a seeded database, runs the newest view
// migration down and up (and leaves it up) while readers query both views as the API does,
// and prints how long each view took to build and how long the readers waited.

const READERS = 4;
// The item page the API sends most (sorted on the view's index), then the category aggregates.
const PAGE_SQL = sql.compile(itemsWithStatsPage([], sql.query`${itemWithStats.reviewCount} desc, ${itemWithStats.id}`, 25)).text;
const CATEGORY_SQL = `select * from category_stats where category_id = any($1::int[])`;

interface Probe {
  latencies: number[];
  errors: string[];
  empty: number;
}

// An ACCESS EXCLUSIVE lock granted on a view readers can see: the old views, from the swap's
// DROP until the commit (the __next builds are invisible to other sessions until then).
const EXCLUSIVE_SQL = `
  select exists (select 1 from pg_locks l join pg_class c on c.oid = l.relation
                  where l.granted and l.mode = 'AccessExclusiveLock' and c.relname = any($1::text[])) as held`;

async function probeWhile(url: string, work: () => Promise<unknown>): Promise<{ ms: number; probe: Probe; exclusiveMs: number }> {
  const probe: Probe = { latencies: [], errors: [], empty: 0 };
  let done = false;
  let firstHeld: number | null = null;
  let lastHeld = 0;
  const watcher = (async () => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      while (!done) {
        const t = performance.now();
        if ((await client.query(EXCLUSIVE_SQL, [['gear_item_stats', 'category_stats', 'category_tree']])).rows[0].held) {
          firstHeld ??= t;
          lastHeld = performance.now();
        }
      }
    } finally {
      await client.end();
    }
  })();
  const readers = Array.from({ length: READERS }, async () => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      while (!done) {
        const t = performance.now();
        try {
          const page = await client.query(PAGE_SQL);
          const cats = await client.query(CATEGORY_SQL, [page.rows.map((r) => r.category_id)]);
          if (!page.rowCount || !cats.rowCount) probe.empty++;
        } catch (err) {
          probe.errors.push((err as Error).message);
        }
        probe.latencies.push(performance.now() - t);
      }
    } finally {
      await client.end();
    }
  });
  await new Promise((r) => setTimeout(r, 500));
  const started = performance.now();
  try {
    await work();
  } finally {
    done = true;
    await Promise.all([...readers, watcher]);
  }
  return { ms: performance.now() - started, probe, exclusiveMs: firstHeld === null ? 0 : lastHeld - firstHeld };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('set DATABASE_URL to a seeded database (docs/changing-a-view.md)');
  const swap = migrationsList.findLast((m) => Object.keys((m.class as { views?: ViewVersions }).views ?? {}).length > 0);
  if (!swap || !('previous' in swap.class)) throw new Error('no generated view migration to measure');
  // Builds at scale take longer than the server's statement timeout allows a request.
  const orm = await openOrm(url, createLogger('silent'));
  try {
    const migrator = orm.getMigrator();
    if ((await migrator.getPendingMigrations()).some((m) => m.name === swap.name)) await migrator.up({ to: swap.name });
    const counts = await orm.em.getConnection().execute(
      'select (select count(*) from gear_item)::int as items, (select count(*) from gear_review)::int as reviews',
    );
    console.log(`${swap.name} on ${counts[0].items} items, ${counts[0].reviews} reviews; ${READERS} readers`);
    for (const step of ['down', 'up'] as const) {
      const since = (await orm.em.getConnection().execute('select coalesce(max(id), 0) as id from view_refresh_log'))[0].id;
      const { ms, probe, exclusiveMs } = await probeWhile(url, () => (step === 'down' ? migrator.down({ migrations: [swap.name] }) : migrator.up({ migrations: [swap.name] })));
      const builds = await orm.em
        .getConnection()
        .execute(`select view_name, duration_ms from view_refresh_log where id > ? and refreshed_by = 'migration' order by id`, [since]);
      console.log(
        `${step}: migration ${ms.toFixed(0)} ms; exclusive lock seen for ${exclusiveMs.toFixed(1)} ms; built ${builds.map((b) => `${b.view_name} ${Number(b.duration_ms).toFixed(0)} ms`).join(', ')}; ` +
          `readers: ${probe.latencies.length} reads, ${probe.errors.length} errors, ${probe.empty} empty, ` +
          `latency p50 ${pct(probe.latencies, 0.5).toFixed(1)} ms, max ${Math.max(...probe.latencies).toFixed(1)} ms`,
      );
      for (const e of new Set(probe.errors)) console.log(`  error: ${e}`);
    }
  } finally {
    await orm.close(true);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
