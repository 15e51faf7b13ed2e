import 'reflect-metadata';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { openScriptDatabase } from '../../src/database/database';
import { migrateUp } from '../../src/database/migrate';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/database/embedded';
import { seedCatalog } from '../../src/database/seed';
import { createLogger } from '../../src/logger';
import { refreshAllViews } from '../../src/modules/views/ops/refresh';
import { replicationUnavailable, startReplicationPair, type ReplicationPair } from '../support/replication';
import {
  OPS_TOKEN,
  closedLoop,
  countBy,
  fmt,
  freePort,
  gql,
  now,
  percentile,
  readyz,
  sleep,
  startServerProcess,
  stopServerProcess,
  type Outcome,
  type ServerProcess,
} from './harness';

// npm run reliability: load while the views refresh, two servers refreshing at once, the
// database stopped and started under load, SIGTERM under load, reads from a hot standby
// (paused, resumed, stopped) under load. Everything on loopback, on
// clusters this script starts under .data/, every loop bounded in time and count. Prints
// the figures and exits non-zero when a check fails.

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const CLIENTS = env('RELIABILITY_CLIENTS', 8);
const PHASE_S = env('RELIABILITY_PHASE_SECONDS', 8);
const ITEMS = env('RELIABILITY_ITEMS', 20_000);
const REVIEWS = env('RELIABILITY_REVIEWS', 200_000);
const DATA_DIR = '.data/reliability-pg';
const SHUTDOWN_DATA_DIR = '.data/reliability-embedded';
const DB = 'tally_reliability';

const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

const PAGE = `query($after: String) { gearItems(first: 20, after: $after, orderBy: [{ field: REVIEW_RATING, direction: DESC }]) {
  totalCount pageInfo { endCursor hasNextPage }
  edges { node { id name reviewCount reviewRating category { name itemCount reviewCount reviewRating } } } } }`;
const BUSY = `{ gearItems(first: 20, filter: { reviewCount: { gte: 5 } }, orderBy: [{ field: REVIEW_COUNT, direction: DESC }]) {
  totalCount edges { node { id reviewCount reviewRating } } } }`;
const TREE = '{ categoryTree(maxDepth: 2) { id depth category { itemCount reviewCount reviewRating } } }';
const REFRESH = 'mutation($c: Boolean) { refreshViews(concurrently: $c) { refreshed { name concurrently durationMs } } }';

/** A reader: walks up to five pages by cursor, with a filtered page and the tree in between. */
function reader(base: string, opts: { reuse?: boolean; timeoutMs?: number } = {}) {
  const cursors = new Map<number, string | null>();
  return async (client: number, i: number, localAddress?: string): Promise<Outcome> => {
    const o2 = localAddress ? { ...opts, localAddress } : opts;
    if (i % 7 === 5) return gql(base, BUSY, {}, o2);
    if (i % 7 === 6) return gql(base, TREE, {}, o2);
    const after = i % 35 === 0 ? null : (cursors.get(client) ?? null);
    const o = await gql(base, PAGE, { after }, o2);
    const page = (o.data as { gearItems?: { pageInfo: { endCursor: string | null; hasNextPage: boolean } } } | undefined)?.gearItems;
    cursors.set(client, page?.pageInfo.hasNextPage ? page.pageInfo.endCursor : null);
    return o;
  };
}

function latencyLine(label: string, outcomes: Outcome[], seconds: number) {
  const ok = outcomes.filter((o) => o.code === 'ok').map((o) => o.ms);
  const errors = outcomes.length - ok.length;
  console.log(
    `  ${label.padEnd(34)} requests ${String(outcomes.length).padStart(6)}  ${(outcomes.length / seconds).toFixed(0).padStart(5)}/s` +
      `  errors ${errors}  p50 ${fmt(percentile(ok, 50))} ms  p99 ${fmt(percentile(ok, 99))} ms  max ${fmt(Math.max(...ok))} ms`,
  );
  return { requests: outcomes.length, errors, codes: countBy(outcomes.filter((o) => o.code !== 'ok')), p50: percentile(ok, 50), p99: percentile(ok, 99) };
}

/** Readers for PHASE_S seconds; with `refresh` set, a refresher loop on `refreshers` meanwhile. */
async function phase(readersOn: string[], refresh?: { concurrently: boolean; refreshers: string[] }) {
  const until = now() + PHASE_S * 1000;
  const readers = readersOn.map((b) => reader(b));
  const reads = closedLoop(CLIENTS, until, (c, i) => readers[c % readersOn.length](c, i));
  const refreshes = refresh
    ? Promise.all(refresh.refreshers.map((base) => closedLoop(1, until, () => gql(base, REFRESH, { c: refresh.concurrently }, { token: OPS_TOKEN }), 200)))
    : Promise.resolve([]);
  return { reads: await reads, refreshes: (await refreshes).flat() };
}

async function partLoad(url: string) {
  console.log(`\n1. Load while refreshing (${CLIENTS} clients, ${PHASE_S} s per phase, ${ITEMS} items, ${REVIEWS} reviews)`);
  const a = await startServerProcess({ DATABASE_URL: url, NODE_ENV: 'production', RATE_LIMIT: 'off' });
  try {
    await phase([a.base]); // warm-up: plans, pool, JIT
    const idle = await phase([a.base]);
    const conc = await phase([a.base], { concurrently: true, refreshers: [a.base] });
    const plain = await phase([a.base], { concurrently: false, refreshers: [a.base] });
    latencyLine('idle', idle.reads, PHASE_S);
    const figures = {
      concurrently: latencyLine('during REFRESH ... CONCURRENTLY', conc.reads, PHASE_S),
      plain: latencyLine('during plain REFRESH', plain.reads, PHASE_S),
    };
    const refreshOk = (r: Outcome[]) => `${r.filter((o) => o.code === 'ok').length}/${r.length}`;
    console.log(`  refresh rounds (all views) that succeeded: concurrently ${refreshOk(conc.refreshes)}, plain ${refreshOk(plain.refreshes)}`);
    check(figures.concurrently.errors === 0, `no reader error during concurrent refreshes (${JSON.stringify(figures.concurrently.codes)})`);
    check(figures.plain.errors === 0, `no reader error during plain refreshes (${JSON.stringify(figures.plain.codes)})`);
    check(conc.refreshes.length > 0 && conc.refreshes.every((o) => o.code === 'ok'), 'every concurrent refresh round succeeded');

    console.log('\n   Two server processes on one database, both refreshing all views in a loop, under load');
    const b = await startServerProcess({ DATABASE_URL: url, NODE_ENV: 'production', RATE_LIMIT: 'off' });
    try {
      const monitor = new Client({ connectionString: url });
      await monitor.connect();
      try {
        const stat = async () =>
          (await monitor.query<{ deadlocks: string }>('select deadlocks::text from pg_stat_database where datname = current_database()')).rows[0].deadlocks;
        const deadlocksBefore = await stat();
        const since = (await monitor.query<{ t: Date }>('select clock_timestamp() as t')).rows[0].t;
        const two = await phase([a.base, b.base], { concurrently: true, refreshers: [a.base, b.base, a.base, b.base] });
        latencyLine('two servers, 4 refresh loops', two.reads, PHASE_S);
        const { rows } = await monitor.query<{ view_name: string; started_at: Date; finished_at: Date }>(
          'select view_name, started_at, finished_at from view_refresh_log where started_at >= $1 order by view_name, started_at',
          [since],
        );
        let overlaps = 0;
        for (let i = 1; i < rows.length; i++) {
          if (rows[i].view_name === rows[i - 1].view_name && rows[i].started_at < rows[i - 1].finished_at) overlaps++;
        }
        const perView = countBy(rows.map((r) => ({ at: 0, ms: 0, code: r.view_name })));
        console.log(`  refresh rounds ${two.refreshes.length} (${JSON.stringify(countBy(two.refreshes))}); logged refreshes per view ${JSON.stringify(perView)}`);
        check(two.refreshes.every((o) => o.code === 'ok'), 'every refresh round of both servers succeeded');
        check(two.reads.every((o) => o.code === 'ok'), 'no reader error with two servers refreshing');
        check(rows.length > 0 && overlaps === 0, `each view refreshed by one at a time: ${overlaps} overlapping intervals in ${rows.length} logged refreshes`);
        check((await stat()) === deadlocksBefore, 'no deadlock (pg_stat_database.deadlocks unchanged)');
      } finally {
        await monitor.end();
      }
    } finally {
      check((await stopServerProcess(b)) === 0, 'second server stopped with exit code 0');
    }
  } finally {
    await stopServerProcess(a);
  }
}

async function viewDigests(client: Client): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const v of ['gear_item_stats', 'category_tree', 'category_stats']) {
    const { rows } = await client.query<{ md5: string }>(`select md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) as md5 from ${v} t`);
    out[v] = rows[0].md5;
  }
  return out;
}

async function partOutage(start: () => Promise<EmbeddedDatabase>, cluster: EmbeddedDatabase, url: string) {
  console.log('\n2. The database stopped and started under load');
  const OUTAGE_MS = 6000;
  const server = await startServerProcess({ DATABASE_URL: url, NODE_ENV: 'production', RATE_LIMIT: 'off' });
  const admin = new Client({ connectionString: url });
  await admin.connect();
  const itemId = (await admin.query<{ id: number }>('select min(id) as id from gear_item')).rows[0].id;
  const until = now() + 3000 + OUTAGE_MS + 10_000;
  const probes: { at: number; status: number; ms: number }[] = [];
  const writes: { kind: 'review' | 'item'; marker: string; outcome: Outcome }[] = [];
  let stoppedAt = NaN;
  // The outage proper: from the cluster's stop having returned to its start being called.
  let downAt = NaN;
  let upCalledAt = NaN;
  let startedAt = NaN;
  let refresh: Outcome | undefined;
  let caught = false;
  let before: Record<string, string> = {};
  let logRowsBefore = 0;
  let readsDone: Outcome[] = [];
  try {
    const reads = closedLoop(4, until, reader(server.base, { timeoutMs: 30_000 }));
    const probing = (async () => {
      for (let i = 0; i < 500 && now() < until; i++) {
        const at = now();
        probes.push({ at, ...(await readyz(server.base)) });
        await sleep(200);
      }
    })();
    const writing = closedLoop(1, until, async (_c, i) => {
      const marker = `outage-${process.pid}-${i}`;
      const kind = i % 2 ? 'item' : 'review';
      const outcome =
        kind === 'review'
          ? await gql(server.base, 'mutation($i: ID!, $b: String) { addReview(input: { gearItemId: $i, rating: 4, body: $b }) { id } }', { i: String(itemId), b: marker })
          : await gql(server.base, 'mutation($n: String!) { createGearItem(input: { name: $n }) { id } }', { n: marker }, { token: OPS_TOKEN });
      writes.push({ kind, marker, outcome });
      return outcome;
    });

    await sleep(3000);
    // A refresh caught mid-way by the outage: the view contents and log as they were before.
    before = await viewDigests(admin);
    logRowsBefore = Number((await admin.query<{ n: string }>('select count(*) as n from view_refresh_log')).rows[0].n);
    const refreshing = gql(server.base, REFRESH, { c: true }, { token: OPS_TOKEN, timeoutMs: 60_000 }).then((o) => (refresh = o));
    for (let i = 0; i < 500 && !caught; i++) {
      const { rows } = await admin.query("select 1 from pg_stat_activity where state = 'active' and query ilike 'refresh materialized view%'");
      caught = rows.length > 0;
      if (!caught) await sleep(5);
    }
    await admin.end().catch(() => {});
    stoppedAt = now();
    await cluster.stop();
    downAt = now();
    console.log(`  database stopped at ${(stoppedAt / 1000).toFixed(1)} s (stop took ${fmt(downAt - stoppedAt)} ms), refresh caught running: ${caught}`);
    await sleep(OUTAGE_MS);
    upCalledAt = now();
    cluster = await start();
    startedAt = now();
    console.log(`  database started again at ${(startedAt / 1000).toFixed(1)} s`);
    await Promise.all([reads.then((r) => (readsDone = r)), probing, writing, refreshing]);
  } finally {
    await stopServerProcess(server);
  }

  const during = readsDone.filter((o) => o.at >= downAt && o.at < upCalledAt);
  const beforeOutage = readsDone.filter((o) => o.at < stoppedAt - 200);
  const firstOk = readsDone.filter((o) => o.at >= startedAt && o.code === 'ok').map((o) => o.at + o.ms).sort((x, y) => x - y)[0];
  const afterRecovery = readsDone.filter((o) => o.at >= startedAt + 3000);
  const probesDuring = probes.filter((p) => p.at >= downAt && p.at < upCalledAt);
  const readyAgain = probes.find((p) => p.at >= startedAt && p.status === 200);
  latencyLine('before the outage', beforeOutage, 3);
  console.log(
    `  during the outage: ${during.length} requests, answers ${JSON.stringify(countBy(during))}, ` +
      `p50 ${fmt(percentile(during.map((o) => o.ms), 50))} ms, max ${fmt(Math.max(...during.map((o) => o.ms)))} ms`,
  );
  console.log(
    `  /readyz during: ${JSON.stringify(countBy(probesDuring.map((p) => ({ at: 0, ms: 0, code: String(p.status) }))))}, slowest ${fmt(Math.max(...probesDuring.map((p) => p.ms)))} ms; ` +
      `200 again ${fmt((readyAgain?.at ?? NaN) - startedAt)} ms after the database was up; first read served ${fmt(firstOk - startedAt)} ms after`,
  );
  latencyLine('from 3 s after the restart', afterRecovery, (until - startedAt - 3000) / 1000);
  check(during.length > 0 && during.every((o) => o.code === 'SERVICE_UNAVAILABLE'), 'every request during the outage answered SERVICE_UNAVAILABLE');
  check(during.every((o) => o.ms < 11_000), 'none waited longer than the 10 s pool acquire timeout');
  check(probesDuring.length > 0 && probesDuring.every((p) => p.status === 503 && p.ms < 2500), '/readyz answered 503 within its 2 s limit during the outage');
  check(readyAgain !== undefined, '/readyz answered 200 again without a restart');
  check(afterRecovery.length > 0 && afterRecovery.every((o) => o.code === 'ok'), 'the pool recovered: no error from 3 s after the restart');
  check(refresh !== undefined && refresh.code !== 'ok' && caught, `the refresh caught by the outage failed (${refresh?.code})`);

  const check2 = new Client({ connectionString: url });
  await check2.connect();
  try {
    const after = await viewDigests(check2);
    const loggedViews = (await check2.query<{ view_name: string }>('select view_name from view_refresh_log order by id offset $1', [logRowsBefore])).rows.map(
      (r) => r.view_name,
    );
    const unchanged = Object.keys(before).filter((v) => !loggedViews.includes(v));
    check(
      unchanged.length > 0 && unchanged.every((v) => after[v] === before[v]),
      `views whose refresh did not commit kept their old contents (${unchanged.join(', ')}; committed: ${loggedViews.join(', ') || 'none'})`,
    );
    const reviews = new Set(
      (await check2.query<{ body: string }>("select body from gear_review where body like 'outage-%'")).rows.map((r) => r.body),
    );
    const items = new Set((await check2.query<{ name: string }>("select name from gear_item where name like 'outage-%'")).rows.map((r) => r.name));
    const exists = (w: (typeof writes)[number]) => (w.kind === 'review' ? reviews : items).has(w.marker);
    const succeeded = writes.filter((w) => w.outcome.code === 'ok');
    const failed = writes.filter((w) => w.outcome.code !== 'ok');
    console.log(`  writes: ${succeeded.length} answered success, ${failed.length} failed (${JSON.stringify(countBy(failed.map((w) => w.outcome)))})`);
    check(succeeded.every(exists), 'every write that answered success is in the database');
    check(failed.filter(exists).length === 0, `no write that answered an error was applied (${failed.filter(exists).length} were)`);
    // The item list reads new items through the pending table: a half-applied create would be missing there.
    const pending = await check2.query<{ n: string }>(
      `select count(*) as n from gear_item i where i.name like 'outage-%'
        and not exists (select 1 from gear_item_stats s where s.gear_item_id = i.id)
        and not exists (select 1 from gear_item_stats_pending p where p.gear_item_id = i.id)`,
    );
    check(pending.rows[0].n === '0', 'every created item is either in gear_item_stats or pending (no half-applied create)');
  } finally {
    await check2.end();
  }
  return cluster;
}

async function partShutdown() {
  console.log('\n3. SIGTERM under load, on the embedded default');
  rmSync(SHUTDOWN_DATA_DIR, { recursive: true, force: true });
  for (const suffix of ['.password', '.ops-token']) rmSync(`${SHUTDOWN_DATA_DIR}${suffix}`, { force: true });
  const pgPort = await freePort();
  const envFor = { EMBEDDED_PG_PORT: String(pgPort), EMBEDDED_PG_DATA_DIR: SHUTDOWN_DATA_DIR, NODE_ENV: 'production', LOG_LEVEL: 'info', RATE_LIMIT: 'off' };
  let server: ServerProcess = await startServerProcess(envFor, 240_000);
  const until = now() + 60_000;
  let stopAt = Infinity;
  const created = new Map<string, string>();
  const notCreated: string[] = [];
  let exitCode: number | null = null;
  let exitMs = NaN;
  const outcomes = await (async () => {
    const read = reader(server.base, { reuse: false });
    const reads = closedLoop(CLIENTS, until, async (c, i) => (now() > stopAt + 2000 ? skip() : read(c, i)));
    const writes = closedLoop(2, until, async (c, i) => {
      if (now() > stopAt + 2000) return skip();
      const name = `shutdown-${c}-${i}`;
      const o = await gql(server.base, 'mutation($n: String!) { createCategory(input: { name: $n }) { id name } }', { n: name }, { token: OPS_TOKEN, reuse: false });
      const id = (o.data as { createCategory?: { id: string } } | null)?.createCategory?.id;
      if (o.code === 'ok' && id) created.set(id, name);
      else if (o.code !== 'SKIPPED') notCreated.push(name);
      return o;
    });
    await sleep(3000);
    stopAt = now();
    server.child.kill('SIGTERM');
    exitCode = await server.exited;
    exitMs = now() - stopAt;
    return [...(await reads), ...(await writes)].filter((o) => o.code !== 'SKIPPED');
  })();
  const inFlight = outcomes.filter((o) => o.at < stopAt && o.at + o.ms > stopAt);
  const afterStop = outcomes.filter((o) => o.at >= stopAt);
  console.log(
    `  SIGTERM after ${outcomes.filter((o) => o.at < stopAt).length} requests; exit code ${exitCode} after ${fmt(exitMs)} ms; ` +
      `${inFlight.length} in flight: ${JSON.stringify(countBy(inFlight))}; sent after: ${JSON.stringify(countBy(afterStop))}`,
  );
  check(exitCode === 0, 'exit code 0');
  check(exitMs < 10_000 + 3000, 'exited within the 10 s drain limit');
  // A connection the server had accepted but not yet read a request from (or one still in
  // the listen backlog) is reset when the listener closes: the client sees ECONNRESET
  // with no answer, and nothing ran (checked on the writes below).
  check(inFlight.every((o) => o.code === 'ok' || o.code === 'ECONNRESET'), 'every request in flight at SIGTERM was answered in full, or reset unread');
  check(outcomes.filter((o) => o.at < stopAt && o.at + o.ms <= stopAt).every((o) => o.code === 'ok'), 'no error before SIGTERM');
  check(afterStop.every((o) => ['ok', 'ECONNREFUSED', 'ECONNRESET'].includes(o.code)), 'requests after SIGTERM were served, refused or reset unread');
  const stoppedLine = server.logs.some((l) => l.includes('embedded PostgreSQL stopped'));
  check(stoppedLine && !existsSync(join(resolve(SHUTDOWN_DATA_DIR), 'postmaster.pid')), 'the embedded database stopped cleanly (logged, no postmaster.pid left)');

  server = await startServerProcess(envFor, 120_000);
  try {
    const ids = [...created.keys()];
    let found = 0;
    for (let i = 0; i < ids.length; i += 25) {
      const chunk = ids.slice(i, i + 25);
      const q = `{ ${chunk.map((id, k) => `c${k}: category(id: "${id}") { name }`).join(' ')} }`;
      const o = await gql(server.base, q);
      const data = (o.data ?? {}) as Record<string, { name: string } | null>;
      found += chunk.filter((id, k) => data[`c${k}`]?.name === created.get(id)).length;
    }
    // The tree is cached (refreshed later), so ask the table itself.
    const password = readFileSync(`${SHUTDOWN_DATA_DIR}.password`, 'utf8').trim();
    const db = new Client({ connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/tally` });
    await db.connect();
    const rows = (await db.query<{ name: string }>("select name from gear_category where name like 'shutdown-%'").finally(() => db.end())).rows;
    const names = new Set(rows.map((r) => r.name));
    const applied = notCreated.filter((n) => names.has(n));
    console.log(`  after restart: ${found} of ${ids.length} committed creates found; ${applied.length} of ${notCreated.length} unanswered ones applied`);
    check(ids.length > 0 && found === ids.length, 'restart finds every committed write');
    check(applied.length === 0, 'no write that was reset unanswered was applied');
  } finally {
    check((await stopServerProcess(server)) === 0, 'the restarted server stopped with exit code 0');
  }
}

/** Catalog statements each server ran since the last reset (pg_stat_statements is per server). */
async function servedBy(pair: ReplicationPair, reset = false): Promise<{ primary: number; standby: number }> {
  const q = reset
    ? 'select pg_stat_statements_reset()::text as n'
    : `select coalesce(sum(calls), 0)::int as n from pg_stat_statements
        where query ~ 'gear_(item|category)|category_(tree|stats)|view_refresh_log' and query !~* '^\\s*(insert|refresh|analyze|delete|with t as)|pg_stat'`;
  const [p] = await pair.onPrimary<{ n: number }>(q, [], DB);
  const [st] = await pair.onStandby<{ n: number }>(q, [], DB).catch(() => [{ n: NaN }]);
  return { primary: p.n, standby: st.n };
}

async function partReplica() {
  console.log(`\n4. Reads from a hot standby (${CLIENTS} clients, ${PHASE_S} s per phase)`);
  const why = replicationUnavailable();
  if (why) {
    console.log(`  skipped: no primary + hot standby can be started here: ${why}`);
    return;
  }
  const pair = await startReplicationPair();
  let server: ServerProcess | undefined;
  try {
    await pair.onPrimary(`create database ${DB}`);
    await pair.onPrimary('create extension pg_stat_statements', [], DB);
    const url = pair.primaryUrl(DB);
    await migrateUp(url, log);
    const db = openScriptDatabase(url, log);
    try {
      const t = now();
      await seedCatalog(db.primary, { roots: 6, branching: 3, depth: 4, items: ITEMS, reviews: REVIEWS, unreviewedShare: 0.1 });
      await refreshAllViews(db.primary, { by: 'seed', log });
      await pair.waitForReplay(120_000);
      console.log(`  primary :${pair.primaryPort}, standby :${pair.standbyPort} (PostgreSQL 15); seeded, refreshed and replayed in ${fmt(now() - t)} ms`);
    } finally {
      await db.close();
    }
    server = await startServerProcess({
      DATABASE_URL: url,
      DATABASE_REPLICA_URLS: pair.standbyUrl(DB),
      REPLICA_MAX_LAG_SECONDS: '2',
      REPLICA_LAG_CHECK_MS: '250',
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
    });
    const base = server.base;
    const logged = (msg: string) => server!.logs.filter((l) => l.includes(msg)).map((l) => JSON.parse(l) as Record<string, unknown>);
    const retries = () => logged('retried on the primary').length;
    const where = (s: { primary: number; standby: number }) => `statements on the standby ${s.standby}, on the primary ${s.primary}`;
    await phase([base]); // warm-up

    await servedBy(pair, true);
    const idle = await phase([base]);
    const idleServed = await servedBy(pair);
    latencyLine('idle, reading the standby', idle.reads, PHASE_S);
    console.log(`  ${where(idleServed)}`);
    check(idle.reads.every((o) => o.code === 'ok'), 'no error reading the standby');
    check(idleServed.standby > 0 && idleServed.primary === 0, 'every read served by the standby');

    const variants = [
      { concurrently: true, delay: '30s' },
      { concurrently: false, delay: '30s' },
      // Replay waits at most 100 ms for a reader: conflicting reads are cancelled, and retried.
      { concurrently: false, delay: '100ms' },
    ];
    for (const { concurrently, delay } of variants) {
      await pair.configureStandby({ max_standby_streaming_delay: delay });
      const conflictsBefore = await pair.onStandby<Record<string, string>>('select * from pg_stat_database_conflicts where datname = $1', [DB]);
      const retriedBefore = retries();
      await servedBy(pair, true);
      const during = await phase([base], { concurrently, refreshers: [base] });
      const served = await servedBy(pair);
      const conflictsAfter = await pair.onStandby<Record<string, string>>('select * from pg_stat_database_conflicts where datname = $1', [DB]);
      const delta = Object.fromEntries(
        ['confl_lock', 'confl_snapshot', 'confl_bufferpin'].map((k) => [k, Number(conflictsAfter[0][k]) - Number(conflictsBefore[0][k])]),
      );
      const label = `${concurrently ? 'CONCURRENTLY' : 'plain'}, delay ${delay}`;
      latencyLine(`refreshing ${label}`, during.reads, PHASE_S);
      console.log(
        `  ${during.refreshes.filter((o) => o.code === 'ok').length} refresh rounds on the primary; ${where(served)}; ` +
          `standby conflicts ${JSON.stringify(delta)}; reads retried on the primary ${retries() - retriedBefore}`,
      );
      check(during.reads.every((o) => o.code === 'ok'), `no reader error on the standby during ${label} refreshes`);
    }
    await pair.configureStandby({ max_standby_streaming_delay: '30s' });

    // Paused a third of the way in, resumed at two thirds, while a writer and a refresher move the primary on.
    await servedBy(pair, true);
    const until = now() + PHASE_S * 1000;
    const outSince = server.logs.length;
    const readers = reader(base);
    const reads = closedLoop(CLIENTS, until, readers);
    const writes = closedLoop(1, until, async (_c, i) =>
      i % 5 === 4
        ? gql(base, REFRESH, { c: true }, { token: OPS_TOKEN })
        : gql(base, 'mutation { addReview(input: { gearItemId: "1", rating: 4 }) { id } }'),
    );
    await sleep((PHASE_S * 1000) / 3);
    const pausedAt = now();
    const pausedWall = Date.now();
    await pair.pauseReplay();
    await sleep((PHASE_S * 1000) / 3);
    const resumedAt = now();
    const resumedWall = Date.now();
    await pair.resumeReplay();
    const [paused, writeOutcomes] = await Promise.all([reads, writes]);
    const pausedServed = await servedBy(pair);
    const transitions = server.logs.slice(outSince).filter((l) => l.includes('rotation'));
    latencyLine('standby paused, then resumed', paused, PHASE_S);
    console.log(
      `  paused at ${fmt(pausedAt / 1000)} s, resumed at ${fmt(resumedAt / 1000)} s; ${writeOutcomes.length} writes and refreshes ` +
        `(${JSON.stringify(countBy(writeOutcomes))}); ${where(pausedServed)}`,
    );
    for (const l of transitions) {
      const e = JSON.parse(l) as { time: number; msg: string; lagSeconds: number | null };
      const since = e.time >= resumedWall ? `${e.time - resumedWall} ms after the resume` : `${e.time - pausedWall} ms after the pause`;
      console.log(`    ${e.msg} (lag ${e.lagSeconds === null ? '-' : e.lagSeconds.toFixed(2)} s), ${since}`);
    }
    check(paused.every((o) => o.code === 'ok'), 'no reader error while the standby was paused and resumed');
    check(transitions.some((l) => l.includes('out of rotation: lagging')), 'the paused standby was taken out of rotation');
    check(transitions.some((l) => l.includes('replica in rotation')), 'it came back once it caught up');
    check(pausedServed.primary > 0 && pausedServed.standby > 0, 'reads went to the primary while it lagged');

    // Stopped (fast shutdown) for a third of the phase, then started again.
    const retriedBefore = retries();
    const until2 = now() + PHASE_S * 1000;
    const reads2 = closedLoop(CLIENTS, until2, reader(base));
    await sleep((PHASE_S * 1000) / 3);
    const stopAt = now();
    await pair.stopStandby('fast');
    const stoppedIn = now() - stopAt;
    await sleep((PHASE_S * 1000) / 3);
    const startAt = now();
    // Taken before the start: a lag check may find it up before pg_ctl returns.
    const startedWall = Date.now();
    await pair.startStandby();
    const stopped = await reads2;
    latencyLine('standby stopped, then started', stopped, PHASE_S);
    let back: number | undefined;
    for (let i = 0; i < 100 && back === undefined; i++) {
      back = logged('replica in rotation').map((e) => e.time as number).find((t) => t >= startedWall);
      if (back === undefined) await sleep(100);
    }
    const down = logged('out of rotation: down').length;
    console.log(
      `  stopped at ${fmt(stopAt / 1000)} s (took ${fmt(stoppedIn)} ms), started at ${fmt(startAt / 1000)} s; ` +
        `marked down ${down} time(s); reads retried on the primary ${retries() - retriedBefore}; errors ${JSON.stringify(countBy(stopped.filter((o) => o.code !== 'ok')))}` +
        `; back in rotation ${back === undefined ? 'not within 10 s' : `${back - startedWall} ms after the start began`}`,
    );
    check(back !== undefined, 'the restarted standby came back into rotation');
    check(stopped.every((o) => o.code === 'ok'), 'no reader error when the standby stopped (in-flight reads retried on the primary)');
  } finally {
    if (server) check((await stopServerProcess(server)) === 0, 'the replica-reading server stopped with exit code 0');
    await pair.close();
  }
}


// ---- 4. attack -------------------------------------------------------------------------

const ATTACKERS = env('RELIABILITY_ATTACKERS', 8);
const HONEST = env('RELIABILITY_HONEST', 4);
/** Think time of an honest client between two requests (ms). */
const HONEST_PAUSE_MS = env('RELIABILITY_HONEST_PAUSE_MS', 400);
const RSS_LIMIT_MB = env('RELIABILITY_RSS_LIMIT_MB', 512);
/** Long enough for a p99 of a few hundred honest requests at that pace. */
const ATTACK_PHASE_S = env('RELIABILITY_ATTACK_PHASE_SECONDS', 20);

/** The heaviest requests the server accepts (each near the cost limit), and ones it refuses. */
function attackRequests(): { label: string; query: string }[] {
  const counts = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `c${i}: gearItems(first: 0, filter: { nameContains: "${'aeiou'[i % 5]}" }) { totalCount }`).join(' ')} }`;
  let walk = 'id name';
  for (let i = 0; i < 4; i++) walk = `parent { a: children { ${walk} } b: children { ${walk} } }`;
  const levels = 40;
  const frags = Array.from({ length: levels }, (_, i) =>
    i === levels - 1 ? `fragment F${i} on Category { id name }` : `fragment F${i} on Category { ...F${i + 1} parent { ...F${i + 1} } }`,
  );
  return [
    // accepted, heavy
    { label: 'counts', query: counts(9) },
    { label: 'big page with reviews', query: '{ gearItems(first: 100, orderBy: [{ field: NAME, direction: DESC }]) { edges { node { id name description reviewCount reviewRating lastReviewedAt category { name itemCount reviewCount } reviews(first: 8) { edges { node { rating body createdAt } } } } } } }' },
    { label: 'whole tree', query: '{ categoryTree { id name depth path parentId category { name itemCount reviewCount reviewRating children { id name } } } }' },
    { label: 'filtered sorted page', query: '{ gearItems(first: 100, filter: { nameContains: "e", reviewRating: { gte: 1 } }, orderBy: [{ field: REVIEW_RATING, direction: DESC }, { field: REVIEW_COUNT }]) { totalCount edges { node { id name reviewRating } } } }' },
    // refused
    { label: 'tree walk', query: `{ categoryTree { category { ${walk} } } }` },
    { label: 'fragment doubling', query: `{ category(id: "1") { ...F0 } } ${frags.join(' ')}` },
    { label: 'field repeated', query: `{ gearItem(id: "1") { ${'id '.repeat(985)} } }` },
    { label: 'field repeated 33,000 times', query: `{ ${'__typename '.repeat(33_000)} }` },
    { label: 'counts', query: counts(30) },
  ];
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function partAttack(url: string) {
  console.log(`\n4. Attack: ${ATTACKERS} attackers sending the heaviest accepted and refused requests, ${HONEST} honest clients reading pages (${ATTACK_PHASE_S} s per phase, rate limits on)`);
  const server = await startServerProcess({ DATABASE_URL: url, NODE_ENV: 'production' });
  const pid = server.child.pid!;
  let peakRss = rssMb(pid);
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(pid))), 100);
  try {
    // Each client has its own loopback address: the server sees (and budgets) it as its own IP.
    const honestFrom = (c: number) => `127.0.1.${c + 1}`;
    const attackerFrom = (c: number) => `127.0.2.${c + 1}`;
    const honestPhase = async () => {
      const read = reader(server.base);
      const until = now() + ATTACK_PHASE_S * 1000;
      return closedLoop(HONEST, until, async (c, i) => {
        const o = await readAs(read, c, i, honestFrom(c));
        await sleep(HONEST_PAUSE_MS);
        return o;
      });
    };
    await honestPhase(); // warm-up
    const idle = await honestPhase();
    const requests = attackRequests();
    const attackUntil = now() + ATTACK_PHASE_S * 1000 + 1000;
    const attacks = closedLoop(ATTACKERS, attackUntil, (c, i) => {
      const r = requests[(c + i) % requests.length];
      return gql(server.base, r.query, {}, { localAddress: attackerFrom(c), timeoutMs: 30_000 }).then((o) => ({ ...o, code: `${r.label}: ${o.code}` }));
    });
    await sleep(1000);
    const health: number[] = [];
    const probing = (async () => {
      while (now() < attackUntil - 500) {
        const t0 = performance.now();
        const res = await fetch(`${server.base}/healthz`, { signal: AbortSignal.timeout(10_000) }).catch(() => null);
        health.push(res?.ok ? performance.now() - t0 : Infinity);
        await sleep(100);
      }
    })();
    const underAttack = await honestPhase();
    const attacked = await attacks;
    await probing;
    const idleFig = latencyLine('honest clients, idle', idle, ATTACK_PHASE_S);
    const attackFig = latencyLine('honest clients, under attack', underAttack, ATTACK_PHASE_S);
    const p95 = (o: Outcome[]) => fmt(percentile(o.filter((x) => x.code === 'ok').map((x) => x.ms), 95));
    console.log(`  honest p95: idle ${p95(idle)} ms, under attack ${p95(underAttack)} ms; idle errors ${JSON.stringify(idleFig.codes)}`);
    const accepted = attacked.filter((o) => o.code.endsWith(': ok'));
    console.log(`  attack requests accepted and run: ${accepted.length}, p50 ${fmt(percentile(accepted.map((o) => o.ms), 50))} ms, max ${fmt(Math.max(...accepted.map((o) => o.ms)))} ms`);
    console.log(`  attackers: ${attacked.length} requests, ${JSON.stringify(countBy(attacked))}`);
    console.log(`  /healthz during the attack: ${health.length} probes, slowest ${fmt(Math.max(...health))} ms; server peak RSS ${fmt(peakRss)} MB`);
    check(attackFig.errors === 0, `honest clients saw no error under attack (${JSON.stringify(attackFig.codes)})`);
    check(attackFig.p99 <= 3 * idleFig.p99, `honest p99 under attack ${fmt(attackFig.p99)} ms is at most 3× idle p99 ${fmt(idleFig.p99)} ms`);
    check(health.length > 0 && health.every((ms) => ms < 1000), '/healthz answered within a second throughout');
    check(peakRss < RSS_LIMIT_MB, `server RSS stayed under ${RSS_LIMIT_MB} MB (peak ${fmt(peakRss)} MB)`);
    check(server.child.exitCode === null, 'the server did not crash');
    check(!attacked.some((o) => /INTERNAL_SERVER_ERROR|HTTP_5\d\d|NOT_JSON|ECONNRESET|CLIENT_TIMEOUT/.test(o.code)), 'every attack request got a coded answer: no internal error, reset or silence');
  } finally {
    clearInterval(sampler);
    check((await stopServerProcess(server)) === 0, 'the attacked server stopped with exit code 0');
  }
}

/** One honest read from `localAddress`. */
function readAs(read: ReturnType<typeof reader>, c: number, i: number, localAddress: string): Promise<Outcome> {
  return read(c, i, localAddress);
}

const skip = async (): Promise<Outcome> => {
  await sleep(50);
  return { at: now(), ms: 0, code: 'SKIPPED' };
};

async function main() {
  if (!existsSync('dist/src/main.js')) throw new Error('build first: npm run build');
  const parts = (process.env.RELIABILITY_PARTS ?? 'load,outage,shutdown,attack,replica').split(',');
  if (!parts.some((p) => ['load', 'outage', 'shutdown', 'attack'].includes(p))) {
    if (parts.includes('replica')) await partReplica();
    console.log(failures.length ? `\n${failures.length} check(s) failed` : '\nall checks passed');
    process.exit(failures.length ? 1 : 0);
  }
  const port = env('RELIABILITY_PG_PORT', await freePort());
  const start = () => startEmbeddedPostgres({ dataDir: DATA_DIR, port }, log);
  let cluster = await start();
  try {
    await cluster.dropDatabase(DB);
    await cluster.ensureDatabase(DB);
    const url = cluster.urlFor(DB);
    await migrateUp(url, log);
    const db = openScriptDatabase(url, log);
    try {
      const sql = db.primary;
      const t = now();
      await seedCatalog(sql, { roots: 6, branching: 3, depth: 4, items: ITEMS, reviews: REVIEWS, unreviewedShare: 0.1 });
      await refreshAllViews(sql, { by: 'seed', log });
      console.log(`seeded and refreshed in ${fmt(now() - t)} ms (embedded PostgreSQL on 127.0.0.1:${port})`);
    } finally {
      await db.close();
    }
    if (parts.includes('attack')) await partAttack(url);
    if (parts.includes('load')) await partLoad(url);
    if (parts.includes('outage')) cluster = await partOutage(start, cluster, url);
    if (parts.includes('shutdown')) await partShutdown();
    if (parts.includes('replica')) await partReplica();
  } finally {
    await cluster.stop().catch(() => {});
  }
  console.log(failures.length ? `\n${failures.length} check(s) failed` : '\nall checks passed');
  process.exit(failures.length ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
