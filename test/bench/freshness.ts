import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../../src/config';
import { createServices } from '../../src/context';
import { openDatabase, openScriptDatabase } from '../../src/database/database';
import { migrateUp } from '../../src/database/migrate';
import { seedCatalog } from '../../src/database/seed';
import { sql } from '../../src/database/sql';
import { createLogger } from '../../src/logger';
import { CHANGE_CHANNEL } from '../../src/modules/views/names';
import { refreshAllViews } from '../../src/modules/views/ops/refresh';
import { SCALES, withClient, withDatabase, type Scale } from './dataset';
import { percentile, spread } from './stats';

const USAGE = `npm run bench:freshness -- [--scale small|medium] [--seconds S] [--rounds N] [--samples N] [--bound S] [--out DIR]

The cost of change notifications and the staleness bound (docs/freshness.md), on
DATABASE_URL's server (required), in a database of its own, tally_freshness_<scale>
(created and seeded on first use; each run adds the reviews it writes).

1. Writes per second: 8 clients inserting single reviews, each in its own transaction,
   with the change trigger as migrated (stamp + NOTIFY, one listener connected), the same
   with tally.notify_changes = 'first' in the writers' sessions, the same with nobody listening, the trigger without its NOTIFY (stamp only), and with no trigger;
   interleaved.
2. Commit to refreshed: a server's staleness bound (REFRESH_MAX_STALENESS_SECONDS=--bound)
   in this process; one review at a time on an idle database, then while 8 clients write:
   from the write's commit to the end of the first gear_item_stats refresh that sees it.

  --scale    small: 10k items / 200k reviews; medium: 100k / 2M (default small)
  --seconds  seconds per write-throughput round (default 5)
  --rounds   rounds of each variant (default 3)
  --samples  idle commit-to-refreshed samples (default 8; 0: skip part 2)
  --bound    REFRESH_MAX_STALENESS_SECONDS for part 2 (default 2)
  --out      where freshness-<scale>.md goes (default bench/results)`;

const WRITERS = 8;

type Variant = 'notify' | 'notify first' | 'notify, nobody listening' | 'stamp only' | 'no trigger';

async function main() {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: 'small' },
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      samples: { type: 'string', default: '8' },
      bound: { type: 'string', default: '2' },
      out: { type: 'string', default: 'bench/results' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  const admin = process.env.DATABASE_URL;
  if (!admin) throw new Error('set DATABASE_URL (a role that may create databases)');
  const scale = values.scale as Scale;
  if (scale !== 'small' && scale !== 'medium') throw new Error('--scale: small or medium');
  const [seconds, rounds, samples, bound] = [values.seconds, values.rounds, values.samples, values.bound].map(Number);
  const url = await prepare(admin, scale);
  const log = createLogger('warn');
  const say = (m: string) => console.error(`[freshness] ${m}`);

  const itemCount = (await withClient(url, (c) => c.query<{ n: number }>('select max(id)::int as n from gear_item'))).rows[0].n;
  const original = (
    await withClient(url, (c) => c.query<{ def: string }>(`select pg_get_functiondef('view_source_touch'::regproc) as def`))
  ).rows[0].def;

  // 1. Writes per second.
  const listener = new pg.Client({ connectionString: url, application_name: 'bench-listen' });
  await listener.connect();
  let heard = 0;
  listener.on('notification', () => heard++);
  await listener.query(`listen ${CHANGE_CHANNEL}`);
  const throughput: Record<Variant, number[]> = { notify: [], 'notify first': [], 'notify, nobody listening': [], 'stamp only': [], 'no trigger': [] };
  try {
    for (let r = 0; r < rounds; r++) {
      for (const variant of Object.keys(throughput) as Variant[]) {
        await withClient(url, async (c) => {
          await c.query(original);
          await c.query('alter table gear_review enable trigger view_source_changed');
          // The function as migrated, less its NOTIFY.
          if (variant === 'stamp only') await c.query(original.replace(/perform pg_notify\([^;]*\);/, ''));
          await listener.query(variant === 'notify, nobody listening' ? `unlisten ${CHANGE_CHANNEL}` : `listen ${CHANGE_CHANNEL}`);
          if (variant === 'no trigger') await c.query('alter table gear_review disable trigger view_source_changed');
        });
        const n = await writeFor(url, itemCount, seconds * 1000, variant === 'notify first' ? "set tally.notify_changes = 'first'" : null);
        throughput[variant].push(n / seconds);
        say(`round ${r + 1}, ${variant}: ${(n / seconds).toFixed(0)} writes/s`);
      }
    }
  } finally {
    await withClient(url, async (c) => {
      await c.query(original);
      await c.query('alter table gear_review enable trigger view_source_changed');
    });
    await listener.end();
  }
  say(`the listener heard ${heard} notifications`);

  if (samples === 0) return console.log(JSON.stringify(throughput));
  // 2. Commit to refreshed, with a server's staleness bound running in this process.
  const config = loadConfig({ DATABASE_URL: url, NODE_ENV: 'production', LOG_LEVEL: 'warn', REFRESH_MAX_STALENESS_SECONDS: String(bound) });
  const db = openDatabase({ url, log, ...config.db });
  const services = createServices(db, config, log);
  services.changes.start();
  await services.changes.ready();
  const idle: Sample[] = [];
  const loaded: Sample[] = [];
  let loadedRefreshes = 0;
  let loadedWrites = 0;
  try {
    await services.views.refresh({ views: null }, 'cli');
    await services.views.start();
    for (let i = 0; i < samples; i++) {
      idle.push(await sample(url, itemCount, 30_000));
      say(`idle sample ${i + 1}: ${idle.at(-1)!.latencyMs.toFixed(0)} ms (refresh ${idle.at(-1)!.refreshMs.toFixed(0)} ms)`);
      await sleep(500);
    }
    const before = await lastLogId(url);
    const loadMs = Math.max(10_000, bound * 5000);
    const writing = writeFor(url, itemCount, loadMs);
    const until = Date.now() + loadMs - 1000;
    while (Date.now() < until) {
      loaded.push(await sample(url, itemCount, 60_000));
      say(`sample under load: ${loaded.at(-1)!.latencyMs.toFixed(0)} ms`);
    }
    loadedWrites = await writing;
    loadedRefreshes = (
      await withClient(url, (c) =>
        c.query<{ n: number }>(`select count(*)::int as n from view_refresh_log where id > $1 and view_name = 'gear_item_stats'`, [before]),
      )
    ).rows[0].n;
  } finally {
    services.views.stop();
    await services.changes.close();
    await db.close();
  }

  const report = markdown({ scale, url, seconds, rounds, bound, throughput, idle, loaded, loadedRefreshes, loadedWrites, loadMs: Math.max(10_000, bound * 5000) });
  mkdirSync(values.out!, { recursive: true });
  const file = `${values.out}/freshness-${scale}.md`;
  writeFileSync(file, report);
  console.log(report);
  say(`wrote ${file}`);
}

interface Sample {
  latencyMs: number;
  refreshMs: number;
}

/** 8 clients inserting one review per transaction for `ms`; returns the number committed. */
async function writeFor(url: string, itemCount: number, ms: number, setup: string | null = null): Promise<number> {
  const until = Date.now() + ms;
  const counts = await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      const c = new pg.Client({ connectionString: url, application_name: 'bench-writer' });
      await c.connect();
      if (setup) await c.query(setup);
      let n = 0;
      try {
        while (Date.now() < until) {
          await c.query({
            name: 'bench_review',
            text: 'insert into gear_review (gear_item_id, rating) values ($1, $2)',
            values: [1 + Math.floor(Math.random() * itemCount), 1 + Math.floor(Math.random() * 5)],
          });
          n++;
        }
      } finally {
        await c.end();
      }
      return n;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * One review committed on its own, then the first gear_item_stats refresh whose snapshot
 * sees it: from the commit (the database's clock just after it) to that refresh's end.
 */
async function sample(url: string, itemCount: number, timeoutMs: number): Promise<Sample> {
  return withClient(url, async (c) => {
    const before = (await c.query<{ id: string }>('select coalesce(max(id), 0) as id from view_refresh_log')).rows[0].id;
    await c.query('begin');
    const { xid } = (
      await c.query<{ xid: string }>(
        `insert into gear_review (gear_item_id, rating) values ($1, 5) returning pg_current_xact_id()::text as xid`,
        [1 + Math.floor(Math.random() * itemCount)],
      )
    ).rows[0];
    await c.query('commit');
    const committed = (await c.query<{ at: string }>(`select extract(epoch from clock_timestamp())::float8 * 1000 as at`)).rows[0].at;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await c.query<{ finished: string; duration: number }>(
        `select extract(epoch from finished_at)::float8 * 1000 as finished, duration_ms as duration
           from view_refresh_log
          where id > $1 and view_name = 'gear_item_stats' and pg_visible_in_snapshot($2::xid8, snapshot::pg_snapshot)
          order by id limit 1`,
        [before, xid],
      );
      if (rows.length) return { latencyMs: Number(rows[0].finished) - Number(committed), refreshMs: rows[0].duration };
      if (Date.now() > deadline) throw new Error(`no refresh saw transaction ${xid} within ${timeoutMs} ms`);
      await sleep(20);
    }
  });
}

async function lastLogId(url: string): Promise<string> {
  return (await withClient(url, (c) => c.query<{ id: string }>('select coalesce(max(id), 0) as id from view_refresh_log'))).rows[0].id;
}

/** tally_freshness_<scale> on DATABASE_URL's server: migrated, seeded once, views refreshed. */
async function prepare(admin: string, scale: Scale): Promise<string> {
  const name = `tally_freshness_${scale}`;
  await withClient(admin, async (c) => {
    const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await c.query(`create database ${c.escapeIdentifier(name)}`);
  });
  const url = withDatabase(admin, name);
  const log = createLogger('warn');
  await migrateUp(url, log);
  const db = openScriptDatabase(url, log);
  try {
    const { n } = (await db.primary.one<{ n: number }>(sql.query`select count(*)::int as n from gear_item`))!;
    if (n === 0) {
      console.error(`[freshness] seeding ${name}`);
      await seedCatalog(db.primary, SCALES[scale], (m) => console.error(`[freshness] seeding ${m}`));
      await refreshAllViews(db.primary, { by: 'seed', log, concurrently: false });
      await withClient(url, (c) => c.query('vacuum analyze'));
    }
  } finally {
    await db.close();
  }
  return url;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function markdown(r: {
  scale: Scale;
  url: string;
  seconds: number;
  rounds: number;
  bound: number;
  throughput: Record<Variant, number[]>;
  idle: Sample[];
  loaded: Sample[];
  loadedRefreshes: number;
  loadedWrites: number;
  loadMs: number;
}): string {
  const u = new URL(r.url);
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  const row = (v: Variant) => {
    const s = spread(r.throughput[v])!;
    const base = spread(r.throughput['stamp only'])!.median;
    return `| ${v} | ${s.median.toFixed(0)} | ${s.min.toFixed(0)}–${s.max.toFixed(0)} | ${(s.median / base).toFixed(2)}× |`;
  };
  const lat = (list: Sample[]) => {
    const l = list.map((s) => s.latencyMs).sort((a, b) => a - b);
    const d = list.map((s) => s.refreshMs).sort((a, b) => a - b);
    return l.length
      ? `| ${l.length} | ${percentile(l, 50).toFixed(0)} | ${l[l.length - 1].toFixed(0)} | ${percentile(d, 50).toFixed(0)} | ${d[d.length - 1].toFixed(0)} |`
      : '| 0 | | | | |';
  };
  return `# Freshness cost: ${r.scale} (${SCALES[r.scale].items.toLocaleString('en')} items / ${SCALES[r.scale].reviews.toLocaleString('en')} reviews)

\`npm run bench:freshness -- --scale ${r.scale}\` on ${u.hostname}:${u.port || 5432}, ${new Date().toISOString()}; ${os.cpus().length} CPUs, load average at the end ${load}.

## Writes per second (8 clients, one review per transaction, ${r.rounds} rounds of ${r.seconds} s, interleaved)

| change trigger | writes/s (median) | range | against stamp only |
|---|---|---|---|
${row('notify')}
${row('notify first')}
${row('notify, nobody listening')}
${row('stamp only')}
${row('no trigger')}

## Commit to refreshed (REFRESH_MAX_STALENESS_SECONDS=${r.bound}, default debounce)

From a review's commit to the end of the first \`gear_item_stats\` refresh that sees it (ms).

| | samples | p50 | max | refresh p50 | refresh max |
|---|---|---|---|---|---|
${lat(r.idle).replace(/^\|/, '| idle |')}
${lat(r.loaded).replace(/^\|/, `| 8 writers (${Math.round(r.loadedWrites / (r.loadMs / 1000))} writes/s) |`)}

Refreshes of gear_item_stats during the ${r.loadMs / 1000} s of load: ${r.loadedRefreshes}.
`;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
