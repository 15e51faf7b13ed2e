import 'reflect-metadata';
import autocannon from 'autocannon';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { APPLICATION_NAMES, startContender, type ContenderKey, type RunningContender } from './contenders';
import { prepareDatabase, type Scale } from './dataset';
import { timedRun } from './load';
import { cpuMs } from './proc';
import { ensurePostgraphileInstalled, freePort } from './setup';

// The response cache (docs/cache.md) against PostGraphile, the floor and tally without it:
// the same page repeated (the hit path), and a mix of 90% that page and 10% new pages (a
// variable the query ignores makes each a different request: a miss, computed and stored).
// A section of its own, so that it merges beside other changes to main.ts.
const USAGE = `npm run bench:cache -- [--scale small] [--duration S] [--warmup S] [--connections 8] [--out DIR]`;

type Entry = { key: string; title: string; contender: ContenderKey; env?: Record<string, string> };
const ENTRIES: Entry[] = [
  { key: 'tally-cached', title: 'tally, response cache on', contender: 'tally', env: { RESPONSE_CACHE: 'on' } },
  { key: 'tally-uncached', title: 'tally, cache off', contender: 'tally', env: { RESPONSE_CACHE: 'off' } },
  { key: 'postgraphile', title: 'PostGraphile (as in the main bench)', contender: 'postgraphile' },
  { key: 'floor', title: 'floor (node:http + pg, prepared)', contender: 'floor' },
];

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  serverCpuMs: number;
  errors: number;
}

async function main() {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: 'small' },
      duration: { type: 'string', default: '6' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '8' },
      out: { type: 'string', default: 'bench/results' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return void console.log(USAGE);
  const durationS = Number(values.duration);
  const warmupS = Number(values.warmup);
  const connections = Number(values.connections);
  const say = (m: string) => console.log(`[bench:cache] ${m}`);
  const load1 = os.loadavg()[0];
  ensurePostgraphileInstalled(say);
  const db = await prepareDatabase(values.scale as Scale, say);
  const monitor = new pg.Client({ connectionString: db.url, application_name: 'bench-monitor' });
  await monitor.connect();
  const rootId = (await monitor.query<{ id: number }>('select id from category_tree where depth = 0 order by ord limit 1')).rows[0].id;
  const results: { entry: Entry; hit: Figures; mix: Figures }[] = [];
  try {
    const only = process.env.BENCH_CACHE_ONLY?.split(',');
    for (const entry of ENTRIES.filter((e) => !only || only.includes(e.key))) {
      say(`${entry.title}: starting`);
      const c = await startContender(entry.contender, { databaseUrl: db.url, port: await freePort(), rootId, logName: `cache-${entry.key}`, env: entry.env });
      try {
        const { body: expectBody } = await c.fetchRows('page');
        const req = c.request('page');
        const target = { ...req, expectBody, pid: c.pid, applicationName: APPLICATION_NAMES[entry.contender] };
        await timedRun(target, { connections, durationS: warmupS }, monitor, db.name);
        const hit = await timedRun(target, { connections, durationS }, monitor, db.name);
        say(`${entry.title}: same page ${hit.rps.toFixed(0)} req/s, server CPU ${hit.serverCpuMs.toFixed(3)} ms/req`);
        const mix = await mixedRun(c, req, connections, durationS);
        say(`${entry.title}: 90/10 mix ${mix.rps.toFixed(0)} req/s, server CPU ${mix.serverCpuMs.toFixed(3)} ms/req`);
        results.push({ entry, hit: { ...hit }, mix });
      } finally {
        await c.stop();
      }
    }
  } finally {
    await monitor.end();
    await db.close();
  }
  const pg5 = results.find((r) => r.entry.key === 'postgraphile');
  const cached = results.find((r) => r.entry.key === 'tally-cached');
  const lines = [
    `# Response cache benchmark (${values.scale})`,
    '',
    `${new Date().toISOString()}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${load1.toFixed(2)} at the start: a shared machine, figures are indicative.`,
    `${connections} connections, ${durationS} s per run after ${warmupS} s of warm-up; the page: 50 items with their cached aggregates.`,
    '',
    '| server | same page: req/s | p50 ms | p99 ms | server CPU ms/req | 90/10 mix: req/s | p50 ms | p99 ms | server CPU ms/req | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      ({ entry, hit, mix }) =>
        `| ${entry.title} | ${hit.rps.toFixed(0)} | ${hit.p50.toFixed(2)} | ${hit.p99.toFixed(2)} | ${hit.serverCpuMs.toFixed(3)} | ${mix.rps.toFixed(0)} | ${mix.p50.toFixed(2)} | ${mix.p99.toFixed(2)} | ${mix.serverCpuMs.toFixed(3)} | ${hit.errors + mix.errors} |`,
    ),
    '',
    pg5 && cached
      ? `Hit path: ${(cached.hit.rps / pg5.hit.rps).toFixed(1)}× PostGraphile's throughput on the page (goal ≥ 5×); server CPU per hit ${cached.hit.serverCpuMs.toFixed(3)} ms (goal < 0.1 ms).`
      : '',
    '',
  ];
  mkdirSync(values.out!, { recursive: true });
  const file = join(values.out!, `cache-${values.scale}.md`);
  writeFileSync(file, lines.join('\n'));
  console.log(lines.join('\n'));
  say(`written to ${file}`);
}

/** 90% the page itself, 10% a new request each (an ignored variable that is never repeated). */
async function mixedRun(c: RunningContender, req: { url: string; body: string }, connections: number, durationS: number): Promise<Figures> {
  const base = JSON.parse(req.body) as Record<string, unknown>;
  let n = 0;
  const cpu0 = cpuMs(c.pid) ?? NaN;
  const latencies: number[] = [];
  const started = process.hrtime.bigint();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const inst = autocannon(
      {
        url: req.url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        connections,
        duration: durationS,
        requests: [
          {
            setupRequest: (r) => ({
              ...r,
              body: Math.random() < 0.9 ? req.body : JSON.stringify({ ...base, variables: { bench: ++n } }),
            }),
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    inst.on('response', (_c, _s, _b, t) => latencies.push(t));
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const sorted = latencies.sort((a, b) => a - b);
  return {
    rps: (latencies.length * 1000) / ms,
    p50: sorted[Math.floor(sorted.length / 2)] ?? NaN,
    p99: sorted[Math.floor(sorted.length * 0.99)] ?? NaN,
    serverCpuMs: ((cpuMs(c.pid) ?? NaN) - cpu0) / latencies.length,
    errors: result.non2xx + result.errors,
  };
}


main().catch((err) => {
  console.error(err);
  process.exit(1);
});
