import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { cacheFigures } from './cache-section';
import type { RunningContender } from './contenders';
import { prepareDatabase } from './dataset';
import { machineInfo } from './proc';
import { cacheGoals, cacheReportMarkdown } from './report';
import { ensurePostgraphileInstalled, positive, scaleOf, timingOptions } from './setup';

// A shortcut to the response cache section of `npm run bench` (cache-section.ts), alone.
const USAGE = `npm run bench:cache -- [--scale small|medium|large] [--duration S] [--warmup S] [--rounds N] [--connections 8] [--out DIR]

The response cache section of \`npm run bench\` alone, on the same data set: the 50-item page
repeated (the hit path) and a 90/10 mix of it and new requests, against tally with the cache
off, PostGraphile 4 and 5 and the floor. Writes DIR/cache-<scale>.md (default DIR:
bench/results). BENCH_CACHE_ONLY=tally-cached,postgraphile5 runs a subset.`;

async function main() {
  const { values } = parseArgs({
    options: timingOptions('8'),
  });
  if (values.help) return void console.log(USAGE);
  const scale = scaleOf(values.scale);
  const [durationS, warmupS, rounds, connections] = (['duration', 'warmup', 'rounds', 'connections'] as const).map((k) => positive(values[k], `--${k}`));
  const say = (m: string) => console.log(`[bench:cache] ${m}`);
  const startedAt = new Date().toISOString();
  const load1 = os.loadavg()[0];

  ensurePostgraphileInstalled(say);
  const db = await prepareDatabase(scale, say);
  const monitor = new pg.Client({ connectionString: db.url, application_name: 'bench-monitor' });
  await monitor.connect();
  const running: RunningContender[] = [];
  process.once('SIGINT', () => {
    console.error('interrupted: stopping the servers');
    void Promise.allSettled(running.map((c) => c.stop())).finally(() => db.close().finally(() => process.exit(130)));
  });
  try {
    const rootId = (await monitor.query<{ id: number }>('select id from category_tree where depth = 0 order by ord limit 1')).rows[0].id;
    const cache = await cacheFigures(db, rootId, monitor, { connections, durationS, warmupS, rounds, running }, say);
    const text = cacheReportMarkdown({
      scale,
      command: `npm run bench:cache -- ${process.argv.slice(2).join(' ') || `--scale ${scale}`}`,
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: machineInfo(),
      database: { server: db.server, version: db.serverVersion, counts: db.counts },
      load1: [load1, os.loadavg()[0]],
      cache,
    });
    mkdirSync(values.out!, { recursive: true });
    const file = join(values.out!, `cache-${scale}.md`);
    writeFileSync(file, text);
    say(`written to ${file}`);
    for (const g of cacheGoals(cache)) console.log(`  ${g.met == null ? '?' : g.met ? 'met ' : 'MISS'}  ${g.goal}: ${g.measured}`);
  } finally {
    await monitor.end().catch(() => {});
    await db.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
