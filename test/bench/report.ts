import { CONTENDER_TITLES, CONTENDERS, POSTGRAPHILES, type ContenderKey } from './contenders';
import type { RunFigures } from './load';
import { CASE_TITLES, CASES, type CaseName } from './queries';
import type { RefreshTimes } from './refresh';
import { spread, type Spread } from './stats';

export interface Run extends RunFigures {
  round: number;
  case: CaseName;
  connections: number;
  contender: ContenderKey;
}

export interface Verification {
  rows: number;
  statementsPerRequest: number;
  parsesPerRequest: number;
  statementTexts: string[];
}

export interface ReaderFigures extends RunFigures {
  refreshes: number;
}

export interface Timing {
  title: string;
  rows: number;
  ms: Spread | null;
}

export interface Report {
  scale: string;
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: Record<string, string | number>;
  database: { server: string; version: string; counts: Record<string, number>; seedSeconds: number | null };
  settings: { durationS: number; warmupS: number; rounds: number; connections: number[]; poolMax: number };
  verification: Record<ContenderKey, Record<CaseName, Verification>>;
  /** Extra statement counts for tally: other orders and page sizes. */
  statementChecks: { title: string; statementsPerRequest: number }[];
  runs: Run[];
  refresh: {
    plain: RefreshTimes[];
    concurrently: RefreshTimes[];
    readerConnections: number;
    readers: { idle: ReaderFigures; concurrently: ReaderFigures; plain: ReaderFigures } | null;
  } | null;
  baselines: Timing[] | null;
  /** The response cache section (cache-section.ts); null when skipped (--no-cache-section). */
  cache: CacheSection | null;
  notes: string[];
}

/** The two loads of the response cache section. */
export type CacheLoad = 'hit' | 'mix';
export const CACHE_LOAD_TITLES: Record<CacheLoad, string> = { hit: 'same page', mix: '90/10 mix' };

export interface CacheRun extends RunFigures {
  round: number;
  load: CacheLoad;
  /** A key of CacheSection.entries. */
  entry: string;
  /** Share of the answers tally's response cache gave (its /metrics counters); null for a server without one. */
  cacheHitShare: number | null;
}

export interface CacheSection {
  connections: number;
  durationS: number;
  warmupS: number;
  rounds: number;
  /** In the mix, the share of requests that repeat the page (the rest are new each). */
  repeatedShare: number;
  entries: { key: string; title: string; short: string }[];
  runs: CacheRun[];
}

const FIGURES = ['rps', 'p50', 'p99', 'serverCpuMs', 'dbCpuMs', 'rssMiB', 'errors'] as const;
type Figure = (typeof FIGURES)[number];

export function summarize(runs: Run[]) {
  const out: Record<string, Record<Figure, Spread | null>> = {};
  for (const r of runs) {
    const key = `${r.case}/${r.connections}/${r.contender}`;
    if (out[key]) continue;
    const same = runs.filter((x) => x.case === r.case && x.connections === r.connections && x.contender === r.contender);
    out[key] = Object.fromEntries(FIGURES.map((f) => [f, spread(same.map((x) => x[f]))])) as Record<Figure, Spread | null>;
  }
  return out;
}

/** a/b per round (the runs of one round are next to each other in time), then the median and range. */
export function pairedRatio(runs: Run[], c: CaseName, conns: number, figure: Figure, a: ContenderKey, b: ContenderKey): Spread | null {
  const rounds = [...new Set(runs.map((r) => r.round))];
  const pick = (round: number, who: ContenderKey) =>
    runs.find((r) => r.round === round && r.case === c && r.connections === conns && r.contender === who)?.[figure];
  return spread(rounds.map((round) => (pick(round, a) ?? NaN) / (pick(round, b) ?? NaN)));
}

/** tally's requests/s over the faster PostGraphile's, per round (whichever was faster in that round). */
export function ratioToFastestPostgraphile(runs: Run[], c: CaseName, conns: number): Spread | null {
  const rounds = [...new Set(runs.map((r) => r.round))];
  const pick = (round: number, who: ContenderKey) => runs.find((r) => r.round === round && r.case === c && r.connections === conns && r.contender === who)?.rps;
  const present = POSTGRAPHILES.filter((k) => runs.some((r) => r.contender === k));
  if (!present.length) return null;
  return spread(rounds.map((round) => (pick(round, 'tally') ?? NaN) / Math.max(...present.map((k) => pick(round, k) ?? NaN))));
}

export interface Goal {
  goal: string;
  measured: string;
  met: boolean | null;
}

export function goals(report: Report): Goal[] {
  const { runs } = report;
  const conns = report.settings.connections;
  const list: Goal[] = [];
  const many = Math.max(...conns);
  const one = Math.min(...conns);
  for (const c of CASES) {
    const thr = ratioToFastestPostgraphile(runs, c, many);
    list.push({
      goal: `${c}, ${many} connections: throughput ≥ 1.2× the faster of PostGraphile 4 and 5 (stretch 1.5×)`,
      measured: ratioText(thr),
      met: thr ? thr.median >= 1.2 : null,
    });
  }
  const cpu = spread(runs.filter((r) => r.case === 'page' && r.connections === many && r.contender === 'tally').map((r) => r.serverCpuMs));
  list.push({ goal: `page, ${many} connections: Node CPU per request ≤ 0.6 ms`, measured: `${spreadText(cpu, 3)} ms`, met: cpu ? cpu.median <= 0.6 : null });
  const p50 = pairedRatio(runs, 'page', one, 'p50', 'tally', 'floor');
  list.push({ goal: `page, ${one} connection: p50 ≤ 2× the floor`, measured: ratioText(p50), met: p50 ? p50.median <= 2 : null });
  const p99 = pairedRatio(runs, 'page', one, 'p99', 'tally', 'floor');
  list.push({ goal: `page, ${one} connection: p99 ≤ 5× the floor`, measured: ratioText(p99), met: p99 ? p99.median <= 5 : null });
  for (const c of ['page', 'filtered'] as const) {
    const n = report.verification.tally[c].statementsPerRequest;
    list.push({ goal: `SQL statements per request, ${c} (sorted${c === 'filtered' ? ' and filtered' : ''} by an aggregate) = 1`, measured: fmt(n, 2), met: n === 1 });
  }
  for (const s of report.statementChecks) {
    list.push({ goal: `SQL statements per request, ${s.title} ≤ 2`, measured: fmt(s.statementsPerRequest, 2), met: s.statementsPerRequest <= 2 });
  }
  const readers = report.refresh?.readers;
  if (readers) {
    const ratio = readers.concurrently.p99 / readers.idle.p99;
    list.push({
      goal: 'reader p99 during a CONCURRENTLY refresh ≤ 5× idle p99',
      measured: `${fmt(ratio, 2)}× (${fmt(readers.concurrently.p99, 2)} ms vs ${fmt(readers.idle.p99, 2)} ms)`,
      met: ratio <= 5,
    });
    list.push({ goal: 'no reader request over 50 ms during it', measured: `max ${fmt(readers.concurrently.max, 1)} ms`, met: readers.concurrently.max <= 50 });
    list.push({ goal: '0 errors during it', measured: String(readers.concurrently.errors), met: readers.concurrently.errors === 0 });
  }
  if (report.cache) list.push(...cacheGoals(report.cache));
  return list;
}

/** The response cache's goals, from the section's figures. */
export function cacheGoals(c: CacheSection): Goal[] {
  const thr = cacheRatio(c, 'hit', 'rps', 'tally-cached', 'postgraphile5');
  const hits = cacheRuns(c, 'hit', 'tally-cached');
  const cpu = spread(hits.map((r) => r.serverCpuMs));
  // A run with wrong answers, failures or timeouts shows no goal met.
  const errors = [...hits, ...cacheRuns(c, 'hit', 'postgraphile5')].reduce((n, r) => n + r.errors, 0);
  const failed = errors ? `; ${errors} errors` : '';
  return [
    {
      goal: `hit path, ${c.connections} connections: throughput ≥ 5× PostGraphile 5`,
      measured: ratioText(thr) + failed,
      met: thr ? thr.median >= 5 && !errors : null,
    },
    { goal: 'server CPU per hit < 0.1 ms', measured: `${spreadText(cpu, 3)} ms${failed}`, met: cpu ? cpu.median < 0.1 && !errors : null },
  ];
}

function cacheRuns(c: CacheSection, load: CacheLoad, entry: string): CacheRun[] {
  return c.runs.filter((r) => r.load === load && r.entry === entry);
}

/** a/b per round (a and b ran next to each other in time), then the median and range. */
function cacheRatio(c: CacheSection, load: CacheLoad, figure: Figure, a: string, b: string): Spread | null {
  const pick = (round: number, who: string) => c.runs.find((r) => r.round === round && r.load === load && r.entry === who)?.[figure];
  const rounds = [...new Set(c.runs.map((r) => r.round))];
  return spread(rounds.map((round) => (pick(round, a) ?? NaN) / (pick(round, b) ?? NaN)));
}

/** The response cache section of a report (also the body of bench:cache's own file). */
export function cacheMarkdown(c: CacheSection): string[] {
  const L: string[] = [];
  const loads = Object.keys(CACHE_LOAD_TITLES) as CacheLoad[];
  const repeated = fmt(c.repeatedShare * 100, 0);
  L.push('## Response cache', '');
  L.push(
    `The 50-item page at ${c.connections} connections, in two loads: the **same page** repeated (after the first request, every answer of tally's cache is a hit: ` +
      `the hit path) and a **${repeated}/${fmt(100 - c.repeatedShare * 100, 0)} mix**: ${repeated}% that page, the rest each a request never seen before ` +
      `(a variable the query ignores makes it a new key: a miss, computed and stored). ` +
      `tally runs twice, in processes of its own, with \`RESPONSE_CACHE=on\` and \`off\`; ` +
      `each figure is the median over ${c.rounds} rounds of ${c.durationS} s after ${c.warmupS} s of warm-up per server and load, servers interleaved, range in brackets. ` +
      'Every answer must be the one verified before timing (the same rows as the reference, and the same bytes on a second request).',
    '',
    '| server | load | requests/s | p50 ms | p99 ms | server CPU ms/req | DB CPU ms/req | RSS MiB | from the cache | errors (all rounds) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const load of loads) {
    for (const e of c.entries) {
      const runs = cacheRuns(c, load, e.key);
      if (!runs.length) continue;
      const f = (figure: Figure) => spread(runs.map((r) => r[figure]));
      const hits = spread(runs.map((r) => (r.cacheHitShare ?? NaN) * 100));
      L.push(
        `| ${e.title} | ${CACHE_LOAD_TITLES[load]} | ${spreadText(f('rps'), 0)} | ${spreadText(f('p50'), 2)} | ${spreadText(f('p99'), 2)} | ` +
          `${spreadText(f('serverCpuMs'), 3)} | ${spreadText(f('dbCpuMs'), 3)} | ${spreadText(f('rssMiB'), 0)} | ` +
          `${hits ? `${spreadText(hits, 1)}%` : ''} | ` +
          `${runs.reduce((n, r) => n + r.errors, 0)} |`,
      );
    }
  }
  L.push('', `| ratio, per round | ${loads.map((l) => CACHE_LOAD_TITLES[l]).join(' | ')} |`, `|---|${loads.map(() => '---|').join('')}`);
  const title = (key: string) => c.entries.find((e) => e.key === key)?.short ?? key;
  const row = (what: string, figure: Figure, a: string, b: string) => {
    if (!c.entries.some((e) => e.key === a) || !c.entries.some((e) => e.key === b)) return;
    L.push(`| ${title(a)} / ${title(b)}, ${what} | ${loads.map((l) => ratioText(cacheRatio(c, l, figure, a, b))).join(' | ')} |`);
  };
  for (const other of ['postgraphile5', 'postgraphile', 'floor', 'tally-uncached']) row('requests/s', 'rps', 'tally-cached', other);
  for (const other of ['postgraphile5', 'floor']) row('server CPU per request', 'serverCpuMs', 'tally-cached', other);
  const others = spread(c.runs.map((r) => r.othersCpuShare * 100));
  L.push(
    '',
    `Other processes used ${fmt(others?.median, 0)}% of the machine's CPU during the median run of this section, up to ${fmt(others?.max, 0)}%. ` +
      '"From the cache": the share of answers tally counted as response-cache hits (its /metrics) during the run.',
    '',
  );
  return L;
}

function goalRow(g: Goal): string {
  return `| ${g.goal} | ${g.measured} | ${g.met == null ? '?' : g.met ? 'yes' : '**no**'} |`;
}

export function fmt(x: number | null | undefined, digits = 1): string {
  if (x == null || !Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function spreadText(s: Spread | null, digits = 1): string {
  if (!s) return 'n/a';
  return s.min === s.max ? fmt(s.median, digits) : `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

function ratioText(s: Spread | null): string {
  if (!s) return 'n/a';
  return `${fmt(s.median, 2)}× (${fmt(s.min, 2)}–${fmt(s.max, 2)})`;
}

export function markdown(report: Report): string {
  const s = summarize(report.runs);
  const L: string[] = [];
  const m = report.machine;
  L.push(`# Benchmark: ${report.scale} scale`, '');
  L.push(
    `\`${report.command}\`, ${report.startedAt} to ${report.finishedAt}. ` +
      `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Node ${m.node}; PostgreSQL ${report.database.version} (${report.database.server}). ` +
      `Data: ${report.database.counts.categories.toLocaleString('en-US')} categories, ${report.database.counts.items.toLocaleString('en-US')} items, ` +
      `${report.database.counts.reviews.toLocaleString('en-US')} reviews` +
      (report.database.seedSeconds == null ? ' (reused).' : ` (generated in ${fmt(report.database.seedSeconds)} s).`),
    '',
  );
  L.push(
    `Each figure is the median over ${report.settings.rounds} rounds, range in brackets; every run lasts ${report.settings.durationS} s, ` +
      `contenders interleaved (${CONTENDERS.join(', ')}, then again) after a ${report.settings.warmupS} s warm-up each. ` +
      `Ratios are taken per round, between runs next to each other in time, then their median.`,
    '',
  );
  L.push('## Goals', '', '| goal | measured | met |', '|---|---|---|');
  L.push(...goals(report).map(goalRow));
  L.push('');

  L.push('## Machine load while timing', '');
  L.push(...report.notes.map((n) => `- ${n}`), '');

  for (const c of CASES) {
    L.push(`## ${CASE_TITLES[c]}`, '');
    L.push(
      '| contender | conns | requests/s | p50 ms | p99 ms | server CPU ms/req | DB CPU ms/req | RSS MiB | statements/req | errors |',
      '|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const conns of report.settings.connections) {
      for (const k of CONTENDERS) {
        const f = s[`${c}/${conns}/${k}`];
        if (!f) continue;
        const v = report.verification[k][c];
        L.push(
          `| ${CONTENDER_TITLES[k]} | ${conns} | ${spreadText(f.rps, 0)} | ${spreadText(f.p50, 2)} | ${spreadText(f.p99, 2)} | ` +
            `${spreadText(f.serverCpuMs, 3)} | ${spreadText(f.dbCpuMs, 3)} | ${spreadText(f.rssMiB, 0)} | ${fmt(v.statementsPerRequest, 2)} | ${f.errors?.max ?? 'n/a'} |`,
        );
      }
    }
    L.push('', '| ratio | ' + report.settings.connections.map((n) => `${n} conn`).join(' | ') + ' |', '|---|' + report.settings.connections.map(() => '---|').join(''));
    const row = (title: string, figure: Figure, a: ContenderKey, b: ContenderKey) =>
      L.push(`| ${title} | ${report.settings.connections.map((n) => ratioText(pairedRatio(report.runs, c, n, figure, a, b))).join(' | ')} |`);
    row('tally / PostGraphile 4, requests/s', 'rps', 'tally', 'postgraphile');
    row('tally / PostGraphile 5, requests/s', 'rps', 'tally', 'postgraphile5');
    row('tally / floor, requests/s', 'rps', 'tally', 'floor');
    row('tally / floor, p50', 'p50', 'tally', 'floor');
    row('tally / floor, p99', 'p99', 'tally', 'floor');
    row('PostGraphile 4 / floor, p50', 'p50', 'postgraphile', 'floor');
    row('PostGraphile 5 / floor, p50', 'p50', 'postgraphile5', 'floor');
    L.push('');
  }

  if (report.cache) L.push(...cacheMarkdown(report.cache));

  if (report.statementChecks.length) {
    L.push('## SQL statements per request, tally, other shapes', '', '| query | statements/req |', '|---|---|');
    for (const x of report.statementChecks) L.push(`| ${x.title} | ${fmt(x.statementsPerRequest, 2)} |`);
    L.push('');
  }

  if (report.refresh) {
    const r = report.refresh;
    L.push('## Refreshing the views', '', '| view | plain ms | CONCURRENTLY ms |', '|---|---|---|');
    const views = Object.keys(r.plain[0] ?? {}) as (keyof RefreshTimes)[];
    for (const v of views) {
      L.push(`| ${v === 'all' ? '**all, in order**' : v} | ${spreadText(spread(r.plain.map((t) => t[v])), 0)} | ${spreadText(spread(r.concurrently.map((t) => t[v])), 0)} |`);
    }
    L.push('');
    if (r.readers) {
      L.push(
        `A reader (tally, page query, ${r.readerConnections} connection) while the views are refreshed back to back:`,
        '',
        '| while | requests/s | p50 ms | p99 ms | max ms | errors | refreshes done |',
        '|---|---|---|---|---|---|---|',
      );
      for (const [title, f] of [
        ['idle', r.readers.idle],
        ['refresh CONCURRENTLY', r.readers.concurrently],
        ['plain refresh', r.readers.plain],
      ] as const) {
        L.push(`| ${title} | ${fmt(f.rps, 0)} | ${fmt(f.p50, 2)} | ${fmt(f.p99, 2)} | ${fmt(f.max, 1)} | ${f.errors} | ${f.refreshes} |`);
      }
      L.push('');
    }
  }

  if (report.baselines) {
    L.push('## What the views save: the same rows computed live (plain SQL, prepared, no HTTP)', '', '| query | rows | ms |', '|---|---|---|');
    for (const b of report.baselines) L.push(`| ${b.title} | ${b.rows} | ${spreadText(b.ms, 1)} |`);
    L.push('');
  }

  L.push(
    '## How it is measured',
    '',
    '- Load: autocannon in the bench process, closed loop (each connection sends the next request when the last is answered), keep-alive, on loopback; latency from every answer. ' +
      'Every answer is compared with the one verified before timing: any other body, a non-2xx status, a timeout or a connection error counts as an error.',
    '- Before timing, each contender\'s answer to each query is checked against reference rows: for the item pages, aggregates computed live from gear_review (GROUP BY); for the tree, the views read directly.',
    `- CPU per request: user + system time of the server process (/proc/<pid>/stat) over the run, divided by the answers; "DB CPU" the same for the PostgreSQL backends of that server (found by application_name in pg_stat_activity). RSS: VmRSS at the end of the run. Every pool holds at most ${report.settings.poolMax} connections.`,
    '- SQL statements per request: counted on the wire by a relay between the server and PostgreSQL (each Query or Execute message is one statement), over 20 requests after a warm-up, in a separate pass with fresh server processes; the relay is not in the path while timing.',
    '- tally: `dist/src/main.js` as `npm start` runs it, NODE_ENV=production, its defaults otherwise. The floor: `node:http` and a node-postgres pool, one named (prepared) statement per query, the same JSON as tally (checked byte for byte). ' +
      'PostGraphile 4.14 with postgraphile-plugin-connection-filter, `orderByNullsLast`, smart tags giving the views their primary keys and relations (from graphile-utils makeJSONPgSmartTagsPlugin, not comments on the views: tally keeps its view versions there), and an index on gear_item_stats (review_rating desc nulls last, gear_item_id) for its sort (tally\'s indexes sort on coalesce(); the index is dropped while refresh times are taken). ' +
      'PostGraphile 5.1.5 (Grafast) with its V4 preset (`makeV4Preset`, the same options), the connection-filter preset 4.0.1 and the same smart tags, so it answers the same queries; on Node 20 with a `Promise.withResolvers` polyfill (it asks for Node 22); it shares the index.',
    '- Response cache: tally with `RESPONSE_CACHE=on` and `off`, PostGraphile 4 and 5 and the floor, started afresh for the section (after the main timing, the refreshes and the baselines), each verified against the reference rows; the mix sends every tenth request with a `variables` object never sent before, which the query does not use (every server must still give the verified answer).',
    "- Refresh times: tally's own refresh of every view (`refreshAllViews`: one transaction, advisory locks, the refresh log; each view `REFRESH MATERIALIZED VIEW [CONCURRENTLY]` in dependency order), per view as it reports them and the whole run by the wall clock, with nothing else running. The reader runs against the tally server while the same refresh repeats back to back.",
    '',
  );
  return L.join('\n');
}

/** bench:cache's own file: the response cache section alone. */
export function cacheReportMarkdown(r: {
  scale: string;
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: Record<string, string | number>;
  database: { server: string; version: string; counts: Record<string, number> };
  load1: [number, number];
  cache: CacheSection;
}): string {
  const m = r.machine;
  const L = [
    `# Response cache benchmark: ${r.scale} scale`,
    '',
    `\`${r.command}\`, ${r.startedAt} to ${r.finishedAt}. ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Node ${m.node}; ` +
      `PostgreSQL ${r.database.version} (${r.database.server}); ${r.database.counts.items.toLocaleString('en-US')} items, ` +
      `${r.database.counts.reviews.toLocaleString('en-US')} reviews. Load average (1 min) ${fmt(r.load1[0], 2)} at the start, ${fmt(r.load1[1], 2)} at the end. ` +
      'The same section runs at the end of `npm run bench`.',
    '',
    '## Goals',
    '',
    '| goal | measured | met |',
    '|---|---|---|',
    ...cacheGoals(r.cache).map(goalRow),
    '',
    ...cacheMarkdown(r.cache),
  ];
  return L.join('\n');
}
