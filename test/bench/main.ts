import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openScriptDatabase } from '../../src/database/database';
import { createLogger } from '../../src/logger';
import { cacheFigures } from './cache-section';
import { APPLICATION_NAMES, CONTENDERS, startContender, type ContenderKey, type RunningContender } from './contenders';
import { CREATE_POSTGRAPHILE_INDEX, POSTGRAPHILE_INDEX, prepareDatabase, withClient, type BenchDatabase } from './dataset';
import { timedRun, type LoadOptions, type RunFigures } from './load';
import { machineInfo } from './proc';
import {
  CASES,
  PAGE_SIZE,
  correlatedSql,
  firstDifference,
  floorStatement,
  itemRowsFromSql,
  liveGroupBySql,
  rowsFromTally,
  treeRowsFromSql,
  type CaseName,
  type Rows,
} from './queries';
import { refreshAll, refreshingDuring, type RefreshTimes } from './refresh';
import { fmt, goals, markdown, type CacheSection, type Report, type Run, type Timing, type Verification } from './report';
import { spread } from './stats';
import { ensurePostgraphileInstalled, freePort, positive, scaleOf, timingOptions } from './setup';
import { startWireCounter } from './wire-counter';

const USAGE = `npm run bench -- [--scale small|medium|large] [--duration S] [--warmup S] [--rounds N] [--connections 1,8] [--out DIR] [--no-cache-section]

Generates (or reuses) the data set tally_bench_<scale> on DATABASE_URL's server, or on an
embedded PostgreSQL of the bench's own under .data/bench-pg when DATABASE_URL is unset; checks
that tally, the node-postgres floor and PostGraphile return the same rows; times them
interleaved; times the views' refreshes and a reader during them; then the response cache
(the page repeated, and a 90/10 mix, at the largest connection count; \`npm run bench:cache\`
runs this section alone); writes DIR/<scale>.md and DIR/<scale>.json (default DIR: bench/results).

  --scale        small: 10k items / 200k reviews; medium: 100k / 2M; large: 100k / 20M (default small)
  --duration     seconds per timed run (default 6)
  --warmup       seconds of warm-up per contender and query (default 3)
  --rounds       rounds of every contender at every load (default 3)
  --connections  concurrent connections, comma-separated (default 1,8)
  --baselines    also time the live GROUP BY and correlated-subquery SQL (default: at medium only)
  --no-cache-section  skip the response cache section`;

const STATEMENT_SAMPLE = 20;
const POOL_MAX = 10;

async function main() {
  const { values } = parseArgs({
    options: {
      ...timingOptions('1,8'),
      baselines: { type: 'boolean' },
      'no-cache-section': { type: 'boolean', default: false },
    },
  });
  if (values.help) return void console.log(USAGE);
  const scale = scaleOf(values.scale);
  const durationS = positive(values.duration!, '--duration');
  const warmupS = positive(values.warmup!, '--warmup');
  const rounds = positive(values.rounds!, '--rounds');
  const connections = values.connections!.split(',').map((n) => positive(n, '--connections'));
  const withBaselines = values.baselines ?? scale === 'medium';
  const t0 = Date.now();
  const say = (msg: string) => console.log(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
  const startedAt = new Date().toISOString();
  const load1 = os.loadavg()[0];

  ensurePostgraphileInstalled(say);
  const db = await prepareDatabase(scale, say);
  const monitor = new pg.Client({ connectionString: db.url, application_name: 'bench-monitor' });
  await monitor.connect();
  const running: RunningContender[] = [];
  const stopAll = async () => {
    await Promise.allSettled(running.splice(0).map((c) => c.stop()));
  };
  process.once('SIGINT', () => {
    console.error('interrupted: stopping the servers');
    void stopAll().finally(() => db.close().finally(() => process.exit(130)));
  });

  try {
    const rootId = (await monitor.query<{ id: number }>('select id from category_tree where depth = 0 order by ord limit 1')).rows[0].id;

    say('reference rows: aggregates computed live from gear_review, and the tree from the views');
    const expected = {} as Record<CaseName, Rows>;
    for (const c of CASES) {
      const q = c === 'tree' ? floorStatement(c, rootId) : liveGroupBySql(c);
      const { rows } = await monitor.query(q.text, q.values);
      expected[c] = c === 'tree' ? treeRowsFromSql(rows) : itemRowsFromSql(rows);
      if (c !== 'tree' && expected[c].length !== PAGE_SIZE) say(`  note: ${c} has ${expected[c].length} rows, fewer than ${PAGE_SIZE}`);
    }

    say('verifying every contender and counting its SQL statements (through a counting relay)');
    const { verification, statementChecks } = await verify(db, rootId, expected, say);

    say('starting the contenders for timing');
    const targets = {} as Record<ContenderKey, RunningContender>;
    for (const key of CONTENDERS) {
      targets[key] = await startContender(key, { databaseUrl: db.url, port: await freePort(), rootId, logName: key });
      running.push(targets[key]);
    }
    // The exact answer each must keep giving under load (checked against the reference again).
    const bodies = {} as Record<ContenderKey, Record<CaseName, string>>;
    for (const key of CONTENDERS) {
      bodies[key] = {} as Record<CaseName, string>;
      for (const c of CASES) {
        const { rows, body } = await targets[key].fetchRows(c);
        const diff = firstDifference(expected[c], rows);
        if (diff) throw new Error(`${key}, ${c}: ${diff}`);
        bodies[key][c] = body;
      }
    }
    for (const c of CASES) {
      const [a, b] = [bodies.tally[c], bodies.floor[c]];
      let at = 0;
      while (at < a.length && a[at] === b[at]) at++;
      if (a !== b) throw new Error(`the floor's ${c} answer differs from tally's at byte ${at}: …${b.slice(at - 40, at + 40)}… vs …${a.slice(at - 40, at + 40)}…`);
    }
    const run = (key: ContenderKey, c: CaseName, opts: LoadOptions) =>
      timedRun(
        { ...targets[key].request(c), expectBody: bodies[key][c], pid: targets[key].pid, applicationName: APPLICATION_NAMES[key] },
        opts,
        monitor,
        db.name,
      );

    say(`warm-up: ${warmupS} s per contender and query at ${Math.max(...connections)} connections`);
    for (const c of CASES) for (const key of CONTENDERS) await run(key, c, { connections: Math.max(...connections), durationS: warmupS });

    const runs: Run[] = [];
    const total = rounds * CASES.length * connections.length * CONTENDERS.length;
    for (let round = 1; round <= rounds; round++) {
      for (const c of CASES) {
        for (const conns of connections) {
          for (const key of CONTENDERS) {
            const f = await run(key, c, { connections: conns, durationS });
            runs.push({ round, case: c, connections: conns, contender: key, ...f });
            say(
              `run ${runs.length}/${total} round ${round} ${c} ${conns} conn ${key.padEnd(12)} ` +
                `${fmt(f.rps, 0).padStart(6)} req/s p50 ${fmt(f.p50, 2)} p99 ${fmt(f.p99, 2)} ms` +
                `${f.errors ? ` ERRORS ${f.errors}` : ''} (others used ${fmt(f.othersCpuShare * 100, 0)}% CPU)`,
            );
          }
        }
      }
    }
    for (const key of ['floor', 'postgraphile', 'postgraphile5'] as const) {
      await targets[key].stop();
      running.splice(running.indexOf(targets[key]), 1);
    }

    say('refresh: plain vs CONCURRENTLY, and a reader meanwhile');
    const refresh = await refreshFigures(db, rounds, durationS, (opts) => run('tally', 'page', opts), say);

    let baselines: Timing[] | null = null;
    if (withBaselines) {
      say('what the views save: the same rows computed live, in plain SQL');
      baselines = await sqlBaselines(monitor, rootId, expected, say);
    }
    await stopAll();

    let cache: CacheSection | null = null;
    if (!values['no-cache-section']) {
      say(`response cache: the page repeated and a 90/10 mix at ${Math.max(...connections)} connections`);
      cache = await cacheFigures(
        db,
        rootId,
        monitor,
        { connections: Math.max(...connections), durationS, warmupS, rounds, expected: expected.page, running },
        (m) => say(`  ${m}`),
      );
    }

    const report: Report = {
      scale,
      command: `npm run bench -- ${process.argv.slice(2).join(' ') || `--scale ${scale}`}`,
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: machineInfo(),
      database: { server: db.server, version: db.serverVersion, counts: db.counts, seedSeconds: db.seedSeconds },
      settings: { durationS, warmupS, rounds, connections, poolMax: POOL_MAX },
      verification,
      statementChecks,
      runs,
      refresh,
      baselines,
      cache,
      notes: [],
    };
    report.notes = noiseNotes(runs, load1);
    mkdirSync(values.out!, { recursive: true });
    const base = join(values.out!, scale);
    writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
    writeFileSync(`${base}.md`, markdown(report));
    say(`wrote ${base}.md and ${base}.json`);
    for (const g of goals(report)) console.log(`  ${g.met == null ? '?' : g.met ? 'met ' : 'MISS'}  ${g.goal}: ${g.measured}`);
  } finally {
    await stopAll();
    await monitor.end().catch(() => {});
    await db.close();
  }
}

/**
 * Each contender, on fresh processes whose database connections go through the counting
 * relay: its answers must equal the reference rows; then the statements it sends per request.
 */
async function verify(db: BenchDatabase, rootId: number, expected: Record<CaseName, Rows>, say: (m: string) => void) {
  const u = new URL(db.url);
  const relay = await startWireCounter({ host: u.hostname, port: Number(u.port || 5432) });
  u.hostname = '127.0.0.1';
  u.port = String(relay.port);
  const verification = {} as Report['verification'];
  const statementChecks: Report['statementChecks'] = [];
  const count = async (send: () => Promise<unknown>) => {
    relay.reset();
    for (let i = 0; i < 3; i++) await send();
    const [statements, parses] = [relay.statements, relay.parses];
    for (let i = 0; i < STATEMENT_SAMPLE; i++) await send();
    return {
      statements: (relay.statements - statements) / STATEMENT_SAMPLE,
      parses: (relay.parses - parses) / STATEMENT_SAMPLE,
      texts: [...relay.texts],
    };
  };
  try {
    for (const key of CONTENDERS) {
      const c = await startContender(key, { databaseUrl: u.toString(), port: await freePort(), rootId, logName: `${key}-verify` });
      try {
        verification[key] = {} as Record<CaseName, Verification>;
        for (const cs of CASES) {
          const { rows } = await c.fetchRows(cs);
          const diff = firstDifference(expected[cs], rows);
          if (diff) throw new Error(`${key} answers ${cs} wrongly: ${diff}`);
          const n = await count(() => c.fetchRows(cs));
          verification[key][cs] = { rows: rows.length, statementsPerRequest: n.statements, parsesPerRequest: n.parses, statementTexts: n.texts };
          say(`  ${key} ${cs}: ${rows.length} rows as expected; ${fmt(n.statements, 2)} statements, ${fmt(n.parses, 2)} parses per request`);
        }
        if (key === 'tally') {
          // The statement goal holds whatever the page size and order.
          for (const [title, query] of [
            ['default order (id), first: 10', '{ gearItems(first: 10) { edges { node { id name reviewCount reviewRating } } } }'],
            ['default order (id), first: 100', '{ gearItems(first: 100) { edges { node { id name reviewCount reviewRating } } } }'],
            ['by name, first: 100, with totalCount', '{ gearItems(first: 100, orderBy: [{field: NAME}]) { totalCount edges { node { id name reviewCount reviewRating } } } }'],
            ['by reviewRating desc, first: 100', '{ gearItems(first: 100, orderBy: [{field: REVIEW_RATING, direction: DESC}]) { edges { node { id name reviewCount reviewRating } } } }'],
          ] as const) {
            const request = c.request('page');
            const send = async () => {
              const res = await fetch(request.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
              rowsFromTally('page', await res.json());
            };
            statementChecks.push({ title, statementsPerRequest: (await count(send)).statements });
          }
        }
      } finally {
        await c.stop();
      }
    }
  } finally {
    await relay.close();
  }
  return { verification, statementChecks };
}

async function refreshFigures(
  db: BenchDatabase,
  rounds: number,
  durationS: number,
  reader: (opts: LoadOptions) => Promise<RunFigures>,
  say: (m: string) => void,
): Promise<Report['refresh']> {
  const log = createLogger('warn');
  const database = openScriptDatabase(db.url, log);
  // PostGraphile's index is not tally's: out of the way while tally's refresh is timed.
  await withClient(db.url, (c) => c.query(`drop index if exists ${POSTGRAPHILE_INDEX}`));
  try {
    const sql = database.primary;
    const plain: RefreshTimes[] = [];
    const concurrently: RefreshTimes[] = [];
    for (let i = 0; i < rounds; i++) {
      plain.push(await refreshAll(sql, log, false));
      concurrently.push(await refreshAll(sql, log, true));
      say(`  refresh round ${i + 1}: plain ${fmt(plain[i].all, 0)} ms, concurrently ${fmt(concurrently[i].all, 0)} ms`);
    }
    // Long enough to span at least two whole refreshes.
    const slowest = Math.max(spread(plain.map((t) => t.all))!.median, spread(concurrently.map((t) => t.all))!.median);
    const readS = Math.min(60, Math.max(durationS, Math.ceil((2.5 * slowest) / 1000)));
    const opts: LoadOptions = { connections: 1, durationS: readS, timeoutS: 120 };
    const idle = { ...(await reader(opts)), refreshes: 0 };
    const during = async (conc: boolean) => {
      const { result, refreshes } = await refreshingDuring(() => refreshAll(sql, log, conc), () => reader(opts));
      return { ...result, refreshes };
    };
    const conc = await during(true);
    const blocking = await during(false);
    say(
      `  reader p99: idle ${fmt(idle.p99, 2)} ms, during CONCURRENTLY ${fmt(conc.p99, 2)} ms (max ${fmt(conc.max, 1)}), ` +
        `during plain ${fmt(blocking.p99, 2)} ms (max ${fmt(blocking.max, 1)})`,
    );
    return { plain, concurrently, readerConnections: 1, readers: { idle, concurrently: conc, plain: blocking } };
  } finally {
    await withClient(db.url, (c) => c.query(CREATE_POSTGRAPHILE_INDEX));
    await database.close();
  }
}

/** The same pages computed from gear_review on every request: what the views save. */
async function sqlBaselines(client: pg.Client, rootId: number, expected: Record<CaseName, Rows>, say: (m: string) => void): Promise<Timing[]> {
  const cases = [
    ['page from the view (the floor\'s statement)', 'page', floorStatement('page', rootId)],
    ['page, live GROUP BY over gear_review', 'page', liveGroupBySql('page')],
    ['page, correlated subqueries per item', 'page', correlatedSql('page')],
    ['filtered from the view (the floor\'s statement)', 'filtered', floorStatement('filtered', rootId)],
    ['filtered, live GROUP BY … HAVING', 'filtered', liveGroupBySql('filtered')],
    ['filtered, correlated subqueries per item', 'filtered', correlatedSql('filtered')],
  ] as const;
  const out: Timing[] = [];
  for (const [title, c, q] of cases) {
    const query = { name: `baseline_${out.length}`, text: q.text, values: q.values };
    const { rows } = await client.query(query);
    const diff = firstDifference(expected[c], itemRowsFromSql(rows));
    if (diff) throw new Error(`${title}: ${diff}`);
    const ms: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await client.query(query);
      ms.push(performance.now() - t);
    }
    out.push({ title, rows: rows.length, ms: spread(ms) });
    say(`  ${title}: ${fmt(spread(ms)!.median, 1)} ms`);
  }
  return out;
}

function noiseNotes(runs: Run[], load1Before: number): string[] {
  const others = spread(runs.map((r) => r.othersCpuShare * 100));
  const worst = runs.reduce((a, b) => (b.othersCpuShare > a.othersCpuShare ? b : a), runs[0]);
  const spreads = new Map<string, number[]>();
  for (const r of runs) {
    const k = `${r.case}/${r.connections}/${r.contender}`;
    spreads.set(k, [...(spreads.get(k) ?? []), r.rps]);
  }
  const widths = [...spreads.values()].map((v) => {
    const s = spread(v)!;
    return ((s.max - s.min) / s.median) * 100;
  });
  const w = spread(widths);
  return [
    `Other processes (not the server under test, its backends or the load generator) used ${fmt(others?.median, 0)}% of the machine's CPU during the median run, ` +
      `up to ${fmt(others?.max, 0)}% (${worst.case}, ${worst.connections} conn, ${worst.contender}, round ${worst.round}).`,
    `Requests/s of one contender at one load varied across rounds by ${fmt(w?.median, 0)}% (median of max−min over median), up to ${fmt(w?.max, 0)}%.`,
    `Load average (1 min) ${fmt(load1Before, 2)} at the start, ${fmt(os.loadavg()[0], 2)} at the end.`,
  ];
}



main().catch((err) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});

