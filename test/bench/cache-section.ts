import type pg from 'pg';
import { APPLICATION_NAMES, CONTENDER_TITLES, startContender, type ContenderKey, type RunningContender } from './contenders';
import type { BenchDatabase } from './dataset';
import { timedRun, type LoadOptions, type Target } from './load';
import { firstDifference, itemRowsFromSql, liveGroupBySql, type Rows } from './queries';
import { fmt, type CacheLoad, type CacheRun, type CacheSection } from './report';
import { freePort } from './setup';

// The response cache (docs/cache.md) against PostGraphile 4 and 5, the floor and tally without
// it: the same page repeated (the hit path), and a mix of 90% that page and 10% new requests
// (a variable the query ignores makes each a different key: a miss, computed and stored).
// Run at the end of `npm run bench`, or alone by `npm run bench:cache` (cache.ts).

interface Entry {
  key: string;
  title: string;
  /** For ratio rows. */
  short: string;
  contender: ContenderKey;
  env?: Record<string, string>;
}

export const CACHE_ENTRIES: readonly Entry[] = [
  { key: 'tally-cached', title: 'tally, response cache on', short: 'tally cached', contender: 'tally', env: { RESPONSE_CACHE: 'on' } },
  { key: 'tally-uncached', title: 'tally, response cache off', short: 'tally uncached', contender: 'tally', env: { RESPONSE_CACHE: 'off' } },
  { key: 'postgraphile5', title: CONTENDER_TITLES.postgraphile5, short: 'PostGraphile 5', contender: 'postgraphile5' },
  { key: 'postgraphile', title: CONTENDER_TITLES.postgraphile, short: 'PostGraphile 4', contender: 'postgraphile' },
  { key: 'floor', title: CONTENDER_TITLES.floor, short: 'floor', contender: 'floor' },
];

/** In the mix, one request in NEW_EVERY is new; the others repeat the page. */
const NEW_EVERY = 10;

export interface CacheOptions extends LoadOptions {
  warmupS: number;
  rounds: number;
  /** The page's reference rows, when the caller has them (else computed here from gear_review). */
  expected?: Rows;
  /** Servers started here are added to it while they run (for the caller's interrupt handler). */
  running?: RunningContender[];
}

/**
 * Starts every entry (BENCH_CACHE_ONLY=key,key for a subset), checks its answer to the page,
 * then times each, interleaved, round after round: the hit run, then the mix.
 */
export async function cacheFigures(
  db: BenchDatabase,
  rootId: number,
  monitor: pg.Client,
  opts: CacheOptions,
  say: (m: string) => void,
): Promise<CacheSection> {
  const only = process.env.BENCH_CACHE_ONLY?.split(',').map((k) => k.trim());
  const entries = CACHE_ENTRIES.filter((e) => !only || only.includes(e.key));
  if (!entries.length) throw new Error(`BENCH_CACHE_ONLY names none of ${CACHE_ENTRIES.map((e) => e.key).join(', ')}`);
  let expected = opts.expected;
  if (!expected) {
    const q = liveGroupBySql('page');
    expected = itemRowsFromSql((await monitor.query(q.text, q.values)).rows);
  }
  const running = opts.running ?? [];
  const started: { entry: Entry; server: RunningContender; targets: Record<CacheLoad, Target> }[] = [];
  try {
    for (const entry of entries) {
      const server = await startContender(entry.contender, {
        databaseUrl: db.url,
        port: await freePort(),
        rootId,
        logName: `cache-${entry.key}`,
        env: entry.env,
      });
      running.push(server);
      started.push({ entry, server, targets: await targetsOf(entry, server, expected) });
    }
    const cached = started.find((s) => s.entry.key === 'tally-cached');
    const uncached = started.find((s) => s.entry.key === 'tally-uncached');
    if (cached && uncached && cached.targets.hit.expectBody !== uncached.targets.hit.expectBody) {
      throw new Error("tally's answer from the response cache differs from its answer with the cache off");
    }

    const loads: CacheLoad[] = ['hit', 'mix'];
    const run = async (s: (typeof started)[number], load: CacheLoad, round: number, durationS: number): Promise<CacheRun> => {
      const before = await cacheCounters(s.server);
      const f = await timedRun(s.targets[load], { connections: opts.connections, durationS, timeoutS: opts.timeoutS }, monitor, db.name);
      const after = await cacheCounters(s.server);
      const hits = before && after ? after.hits - before.hits : NaN;
      const asked = before && after ? hits + after.misses - before.misses : NaN;
      return { round, load, entry: s.entry.key, ...f, cacheHitShare: asked > 0 ? hits / asked : null };
    };
    say(`warm-up: ${opts.warmupS} s per server and load at ${opts.connections} connections`);
    for (const load of loads) for (const s of started) await run(s, load, 0, opts.warmupS);
    const runs: CacheRun[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      for (const load of loads) {
        for (const s of started) {
          const r = await run(s, load, round, opts.durationS);
          runs.push(r);
          say(
            `round ${round} ${load} ${s.entry.key.padEnd(14)} ${fmt(r.rps, 0).padStart(6)} req/s p50 ${fmt(r.p50, 2)} p99 ${fmt(r.p99, 2)} ms, ` +
              `server CPU ${fmt(r.serverCpuMs, 3)} ms/req` +
              `${r.cacheHitShare == null ? '' : `, ${fmt(r.cacheHitShare * 100, 1)}% from the cache`}${r.errors ? ` ERRORS ${r.errors}` : ''}`,
          );
        }
      }
    }
    return {
      connections: opts.connections,
      durationS: opts.durationS,
      warmupS: opts.warmupS,
      rounds: opts.rounds,
      repeatedShare: 1 - 1 / NEW_EVERY,
      entries: entries.map(({ key, title, short }) => ({ key, title, short })),
      runs,
    };
  } finally {
    for (const { server } of started) {
      await server.stop();
      const at = running.indexOf(server);
      if (at >= 0) running.splice(at, 1);
    }
  }
}

/** The page's two loads for one server, with the answer each request must get. */
async function targetsOf(entry: Entry, server: RunningContender, expected: Rows): Promise<Record<CacheLoad, Target>> {
  const first = await server.fetchRows('page');
  const diff = firstDifference(expected, first.rows);
  if (diff) throw new Error(`${entry.key} answers the page wrongly: ${diff}`);
  // The second answer (tally's first hit) must be the same bytes as the first (computed).
  const again = await server.fetchRows('page');
  if (again.body !== first.body) throw new Error(`${entry.key} answers the page differently the second time`);
  const request = server.request('page');
  const hit: Target = { ...request, expectBody: first.body, pid: server.pid, applicationName: APPLICATION_NAMES[entry.contender] };
  const query = JSON.parse(request.body) as Record<string, unknown>;
  let sent = 0;
  const mix: Target = {
    ...hit,
    nextBody: () => (++sent % NEW_EVERY === 0 ? JSON.stringify({ ...query, variables: { bench: `${entry.key}-${sent}` } }) : request.body),
  };
  return { hit, mix };
}

/** tally's response-cache counters from its /metrics; null for a server without them. */
async function cacheCounters(server: RunningContender): Promise<{ hits: number; misses: number } | null> {
  if (server.key !== 'tally') return null;
  const token = process.env.METRICS_TOKEN;
  const res = await fetch(new URL('/metrics', server.request('page').url), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  if (!res.ok) return null;
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const [hits, misses] = [value('tally_response_cache_hits_total'), value('tally_response_cache_misses_total')];
  return Number.isFinite(hits) && Number.isFinite(misses) ? { hits, misses } : null;
}
