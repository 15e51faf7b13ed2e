import 'reflect-metadata';
import type { Migrator } from '@mikro-orm/migrations';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsList } from '../migrations';
import { seedCatalog } from '../src/database/seed';
import { migratedViewVersions } from '../src/database/migrate';
import { loadDefinitions, parseDefinition as parseWith, type ViewDefinition } from '../src/modules/views/ddl/definitions.v1';
import { planViewMigration, type ViewMigrationClass } from '../src/modules/views/ddl/plan';
import { REFRESH_LOCK_CLASS, type ViewVersions } from '../src/modules/views/names';
import { loadViewRegistry } from '../src/modules/views/ops/registry';
import { readViewVersions as readVersionsAgainst } from '../src/modules/views/ops/versions';
import { RefreshViewsDocument, SwapReaderPageDocument, ViewStatusesDocument } from './generated/graphql';
import { OPS_TOKEN, createTestApp, type TestApp } from './support/app';

let app: TestApp;
let migrator: Migrator;

// The migration that moves gear_item_stats to its newest version, run down and up by itself (later
// migrations, which the running code needs, stay applied).
const swap = migrationsList.findLast(
  (m) => ((m.class as { views?: ViewVersions }).views?.gear_item_stats?.version ?? 0) > 1,
)!;
/** The versions of gear_item_stats that migration moves between. */
const { previous, views } = swap.class as unknown as { previous: ViewVersions; views: ViewVersions };
const [from, to] = [previous.gear_item_stats.version, views.gear_item_stats.version];
const itemStatsVersions = loadDefinitions().get('gear_item_stats')!;
const parseDefinition = (file: string, text: string) => parseWith(file, text, [...loadDefinitions().keys()]);
/** The versions the views run, against what this release's migrations build (the start-up check). */
const readViewVersions = (sql: TestApp['sql']) => readVersionsAgainst(sql, migratedViewVersions());

interface ReaderReport {
  reads: number;
  errors: string[];
  emptyPages: number;
}

/**
 * Clients reading item pages sorted on the view's indexes, with item and category
 * aggregates (both views, through the loaders), as fast as they can until `work` is done.
 */
async function whileReading(work: () => Promise<unknown>): Promise<ReaderReport> {
  const report: ReaderReport = { reads: 0, errors: [], emptyPages: 0 };
  let done = false;
  const reader = async (direction: 'ASC' | 'DESC') => {
    while (!done) {
      const res = await app.exec(SwapReaderPageDocument, {
        first: 25,
        orderBy: [{ field: 'REVIEW_COUNT', direction }],
      });
      report.reads++;
      if (res.errors) report.errors.push(...res.errors.map((e) => e.message));
      else if (!res.data?.gearItems.edges.length || !res.data.gearItems.totalCount) report.emptyPages++;
    }
  };
  const readers = [reader('DESC'), reader('ASC'), reader('DESC')];
  // Let the readers get going before the work starts, and keep them going during all of it.
  await new Promise((r) => setTimeout(r, 50));
  try {
    await work();
  } finally {
    done = true;
    await Promise.all(readers);
  }
  return report;
}

const oidOf = async (name: string) =>
  (await app.sql.one<{ oid: number }>(`select to_regclass($1)::oid::int as oid`, [name]))!.oid;

/** Index names on a view, and whether each is valid. */
const indexesOf = (view: string) =>
  app.sql.rows<{ name: string; valid: boolean; unique: boolean }>(
    `select c.relname as name, i.indisvalid as valid, i.indisunique as unique
       from pg_index i join pg_class c on c.oid = i.indexrelid
      where i.indrelid = to_regclass($1) order by 1`,
    [view],
  );

/** What every check after a swap expects, computed from the tables and the definition files. */
async function expectViewsAt(version: number) {
  const versions = await readViewVersions(app.sql);
  expect(versions.find((v) => v.name === 'gear_item_stats')!.version).toBe(version);
  for (const v of versions.filter((v) => v.name !== 'gear_item_stats')) expect(v.problem).toBeNull();

  // Indexes: exactly those the definition declares, valid; nothing left under a temporary name.
  const def = itemStatsVersions[version - 1];
  expect((await indexesOf('gear_item_stats')).map((i) => i.name)).toEqual(def.indexes.map((i) => i.name).sort());
  expect((await indexesOf('gear_item_stats')).every((i) => i.valid)).toBe(true);
  expect((await indexesOf('category_stats')).map((i) => i.name)).toEqual(['category_stats_category_id_uidx']);
  expect(await app.sql.rows(`select relname from pg_class where relname like '%\\_\\_next'`)).toEqual([]);

  // The registry, read afresh from the catalog, sees category_stats reading the new view.
  const registry = await loadViewRegistry(app.sql);
  expect(registry.get('category_stats')!.dependsOn).toContain('gear_item_stats');

  // What clients read matches the tables.
  const page = await app.exec(SwapReaderPageDocument, { first: 50, orderBy: [{ field: 'REVIEW_COUNT', direction: 'DESC' }] });
  expect(page.errors).toBeUndefined();
  const nodes = page.data!.gearItems.edges.map((e) => e.node);
  const truth = await app.sql.rows<{ id: string; count: number; last: Date | null }>(
    `select i.id::text as id, count(r.id)::int as count, max(r.created_at) as last
       from gear_item i left join gear_review r on r.gear_item_id = i.id
      where i.id = any($1::int[]) group by i.id`,
    [nodes.map((n) => Number(n.id))],
  );
  for (const n of nodes) {
    const t = truth.find((r) => r.id === n.id)!;
    expect(n.reviewCount).toBe(t.count);
    // v1 has no last_reviewed_at: the field reads null rather than failing.
    expect(n.lastReviewedAt ? new Date(n.lastReviewedAt).getTime() : null).toBe(
      version >= 2 && t.last ? t.last.getTime() : null,
    );
  }
  const categoryTruth = await app.sql.rows<{ id: string; items: number }>(
    `select a.id::text as id, count(i.id)::int as items
       from category_tree a join category_tree d on d.path @> array[a.id] join gear_item i on i.category_id = d.id
      group by a.id`,
  );
  for (const n of nodes.filter((n) => n.category)) {
    expect(n.category!.itemCount).toBe(categoryTruth.find((c) => c.id === n.category!.id)?.items ?? 0);
  }
}

/** A new review makes the views stale; a CONCURRENTLY refresh of all of them brings it in. */
async function expectRefreshWorks() {
  const statusBefore = await app.exec(ViewStatusesDocument);
  expect(statusBefore.errors).toBeUndefined();
  expect(statusBefore.data!.materializedViews.filter((s) => s.stale)).toEqual([]);

  const [item] = await app.sql.rows<{ id: number }>('select id from gear_item order by id limit 1');
  await app.sql.rows(`insert into gear_review (gear_item_id, rating, body, created_at) values ($1, 5, 'after the swap', now())`, [item.id]);
  const stale = await app.exec(ViewStatusesDocument);
  expect(stale.data!.materializedViews.find((s) => s.name === 'gear_item_stats')!.stale).toBe(true);

  const refreshed = await app.exec(RefreshViewsDocument, { views: null, concurrently: true }, { token: OPS_TOKEN });
  expect(refreshed.errors).toBeUndefined();
  expect(refreshed.data!.refreshViews.refreshed.map((r) => [r.name, r.concurrently])).toEqual(
    (await loadViewRegistry(app.sql)).names.map((n) => [n, true]),
  );
  const fresh = await app.exec(ViewStatusesDocument);
  expect(fresh.data!.materializedViews.filter((s) => s.stale)).toEqual([]);
}

async function migrateWhileReading(work: () => Promise<unknown>) {
  const itemStatsOid = await oidOf('gear_item_stats');
  const categoryStatsOid = await oidOf('category_stats');
  const started = Date.now();
  const report = await whileReading(work);
  const tookMs = Date.now() - started;
  expect(report.errors).toEqual([]);
  expect(report.emptyPages).toBe(0);
  expect(report.reads, `readers ran during the ${tookMs} ms migration`).toBeGreaterThan(3);
  // Both views are new objects: gear_item_stats swapped, category_stats rebuilt on it.
  expect(await oidOf('gear_item_stats')).not.toBe(itemStatsOid);
  expect(await oidOf('category_stats')).not.toBe(categoryStatsOid);
  // category_tree does not read gear_item_stats and is left alone.
}

describe('changing a view while clients read', () => {
  beforeAll(async () => {
    app = await createTestApp();
    await seedCatalog(app.sql, { roots: 4, branching: 3, depth: 3, items: 3000, reviews: 60000, unreviewedShare: 0.2 });
    migrator = app.orm.getMigrator();
    const res = await app.exec(RefreshViewsDocument, { views: null }, { token: OPS_TOKEN });
    expect(res.errors).toBeUndefined();
  });
  afterAll(() => app?.close());

  it('starts at the newest version, and reports a database left behind by a definition', async () => {
    await expectViewsAt(itemStatsVersions.length);
    expect((await readViewVersions(app.sql)).map((v) => v.problem)).toEqual([null, null, null]);
    // The start-up check: nothing to report at the newest version.
    await expect(app.services.views.start()).resolves.toBeUndefined();
  });

  it(`goes back to v${from} side by side (down), readers unaffected`, async () => {
    await migrateWhileReading(() => migrator.down({ migrations: [swap.name] }));
    await expectViewsAt(from);
    const problem = (await readViewVersions(app.sql)).find((v) => v.name === 'gear_item_stats')!.problem;
    expect(problem).toContain(`runs v${from}, migrations/views has v${itemStatsVersions.length}`);
    await expect(app.services.views.start()).rejects.toThrow(`runs v${from}`);
    await expectRefreshWorks();
  });

  it(`moves to v${to} side by side (up), readers unaffected`, async () => {
    await migrateWhileReading(() => migrator.up({ migrations: [swap.name] }));
    await expectViewsAt(to);
    await expectRefreshWorks();
  });

  it('goes down again the same way', async () => {
    await migrateWhileReading(() => migrator.down({ migrations: [swap.name] }));
    await expectViewsAt(from);
    await expectRefreshWorks();
    await migrator.up();
    await expectViewsAt(itemStatsVersions.length);
  });

  it('waits for a refresh in progress before it swaps, and readers keep reading meanwhile', async () => {
    const refresher = new Client({ connectionString: app.url });
    await refresher.connect();
    try {
      await refresher.query('begin');
      // What a refresh run holds while it refreshes gear_item_stats (refresh.ts).
      await refresher.query(`select pg_advisory_xact_lock($1, 'gear_item_stats'::regclass::oid::int)`, [REFRESH_LOCK_CLASS]);
      const before = await oidOf('gear_item_stats');
      let migrated = false;
      const report = await whileReading(async () => {
        const migration = migrator.down({ migrations: [swap.name] }).then(() => (migrated = true));
        await new Promise((r) => setTimeout(r, 1500));
        expect(migrated).toBe(false);
        expect(await oidOf('gear_item_stats')).toBe(before);
        await refresher.query('commit');
        await migration;
      });
      expect(report.errors).toEqual([]);
      expect(report.emptyPages).toBe(0);
      expect(await oidOf('gear_item_stats')).not.toBe(before);
      await migrator.up();
    } finally {
      await refresher.end();
    }
  });

  it('goes back through every swap to v1, where lastReviewedAt reads null, and up again', async () => {
    const swaps = migrationsList.filter((m) => ((m.class as { views?: ViewVersions }).views?.gear_item_stats?.version ?? 0) > 1).reverse();
    for (const m of swaps) await migrateWhileReading(() => migrator.down({ migrations: [m.name] }));
    await expectViewsAt(1);
    await expectRefreshWorks();
    await migrator.up();
    await expectViewsAt(itemStatsVersions.length);
  });

  it('reports a view whose query was changed by hand', async () => {
    // category_stats recreated with another query, its comment copied over.
    const [{ comment }] = await app.sql.rows<{ comment: string }>(
      `select obj_description('category_stats'::regclass, 'pg_class') as comment`,
    );
    await app.sql.rows(`drop materialized view category_stats`);
    await app.sql.rows(`create materialized view category_stats as select 1 as category_id`);
    await app.sql.rows(`comment on materialized view category_stats is '${comment}'`);
    const problem = (await readViewVersions(app.sql)).find((v) => v.name === 'category_stats')!.problem;
    expect(problem).toMatch(/changed by hand/);
  });
});

describe('npm run migration:views (its plan)', () => {
  const migrations = migrationsList.map((m) => m.class as ViewMigrationClass);
  const withItemStats = (defs: ViewDefinition[]) => new Map([...loadDefinitions(), ['gear_item_stats', defs]]);
  const nextVersion = (text: string) =>
    parseDefinition(`gear_item_stats.v${itemStatsVersions.length + 1}.sql`, text);
  const newestText = () => {
    const last = itemStatsVersions[itemStatsVersions.length - 1];
    return `${last.create};\n${last.indexes.map((i) => `${i.sql};`).join('\n')}\n`;
  };

  it('has nothing to do when the migrations apply every newest definition', () => {
    expect(planViewMigration(loadDefinitions(), migrations)).toEqual({ kind: 'current' });
  });

  it('plans the changed view and every view that reads it, from the applied versions to the newest', () => {
    const next = nextVersion(newestText().replace('as review_count,', 'as review_count, -- changed\n'));
    const plan = planViewMigration(withItemStats([...itemStatsVersions, next]), migrations);
    const applied = itemStatsVersions[itemStatsVersions.length - 1];
    const readers = [...loadDefinitions().values()].map((d) => d[d.length - 1]).filter((d) => d.reads.includes('gear_item_stats'));
    expect(plan).toEqual({
      kind: 'needed',
      changed: ['gear_item_stats'],
      to: {
        gear_item_stats: { version: next.version, sha256: next.sha256 },
        ...Object.fromEntries(readers.map((d) => [d.view, { version: d.version, sha256: d.sha256 }])),
      },
      from: {
        gear_item_stats: { version: applied.version, sha256: applied.sha256 },
        ...Object.fromEntries(readers.map((d) => [d.view, { version: d.version, sha256: d.sha256 }])),
      },
    });
  });

  it('refuses a definition edited after a migration applied it', () => {
    const edited = itemStatsVersions.map((d, i) =>
      i === 0 ? parseDefinition(d.file, `-- edited\n${d.create};\n${d.indexes.map((x) => `${x.sql};`).join('\n')}`) : d,
    );
    const plan = planViewMigration(withItemStats(edited), migrations);
    expect(plan.kind).toBe('invalid');
    expect(plan.kind === 'invalid' && plan.problems).toEqual([
      expect.stringMatching(/gear_item_stats\.v1\.sql changed after a migration applied it/),
    ]);
  });
});
