import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { loadDotEnv } from '../env-file';
import { loadConfig, type Config } from '../config';
import { openMigratedDatabase } from '../database/bootstrap';
import { openDatabase } from '../database/database';
import { migratedViewVersions } from '../database/migrate';
import { BadUserInputError, ViewRefreshError, refreshErrorToPublic } from '../errors';
import { createLogger, type Logger } from '../logger';
import { cliUrl } from '../mikro-orm.config';
import { ViewService } from '../modules/views/ops/views.service';

const USAGE = `npm run refresh -- [view…] [--plain] [--stale]
Refreshes the named materialized views (all when none is named) and every view that reads
from them, in dependency order, as the refreshViews mutation does (same locks, same log),
and prints each view with how long it took. Exit status: 0 done, 1 failed, 2 bad usage.
  --plain   without CONCURRENTLY (readers wait; what a never-populated view gets anyway)
  --stale   only the views that are stale (what REFRESH_INTERVAL_SECONDS does)
Uses DATABASE_URL; without it, the embedded database of a running \`npm start\`, else starts it.`;

/** DATABASE_URL as the server opens it; else the running embedded cluster, else a started one. */
async function open(config: Config, log: Logger) {
  if (!config.databaseUrl) {
    const url = await runningEmbeddedUrl();
    if (url) {
      const db = openDatabase({ url, log, ...config.db, poolMax: 1, primaryPoolMax: 2 });
      return { db, close: () => db.close() };
    }
  }
  return openMigratedDatabase(config, log);
}

async function runningEmbeddedUrl(): Promise<string | null> {
  let url: string;
  try {
    url = cliUrl();
  } catch {
    return null; // never started: no password file yet
  }
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return url;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => {});
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      plain: { type: 'boolean', default: false },
      stale: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.stale && positionals.length) {
    console.error('--stale takes no view names: it refreshes whichever views are stale');
    return 2;
  }
  loadDotEnv();
  const config = loadConfig({ ...process.env, DEMO_DATA: 'false' });
  // The structured lines go to the server's logs; here each refresh is printed instead.
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const db = await open(config, log);
  try {
    const views = new ViewService(db.db.primary, config, log, migratedViewVersions());
    const started = Date.now();
    const refreshed = values.stale
      ? await views.refreshStale('cli')
      : await views.refresh({ views: positionals.length ? positionals : null, concurrently: !values.plain }, 'cli');
    const width = Math.max(0, ...refreshed.map((r) => r.name.length));
    for (const r of refreshed) {
      console.log(`${r.name.padEnd(width)}  ${(r.concurrently ? 'concurrently' : 'plain').padEnd(12)}  ${r.durationMs.toFixed(1).padStart(9)} ms`);
    }
    console.log(
      refreshed.length ? `refreshed ${refreshed.length} view(s) in ${Date.now() - started} ms` : 'nothing to refresh: every view is fresh',
    );
    return 0;
  } catch (err) {
    if (err instanceof BadUserInputError) {
      console.error(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof ViewRefreshError) {
      console.error(refreshErrorToPublic(err).message);
      return 1;
    }
    throw err;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
