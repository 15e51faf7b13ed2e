import 'reflect-metadata';
import { loadConfig } from './config';
import { createServices } from './context';
import { openMigratedDatabase, type OpenedDatabase } from './database/bootstrap';
import { loadDotEnv } from './env-file';
import { createLogger } from './logger';
import { withDevOpsToken } from './modules/auth/ops-token';
import type { ChangeListener } from './modules/views/ops/notifications';
import type { ViewService } from './modules/views/ops/views.service';
import { startServer, type RunningServer } from './server';
import { assertPortFree } from './startup-checks';

const DRAIN_LIMIT_MS = 10_000;

/** Start-up only: config → database → migrations → server; a graceful stop on signals. */
async function main(): Promise<void> {
  const envFile = loadDotEnv();
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  if (envFile) log.info({ file: envFile }, 'read .env (the environment wins over it)');
  let db: Promise<OpenedDatabase | null> | undefined;
  let server: RunningServer | undefined;
  let views: ViewService | undefined;
  let changes: ChangeListener | undefined;
  let stopping = false;

  // Registered before anything starts, so that a signal during start-up (say, while the
  // embedded cluster initialises) still stops what was started.
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: draining requests');
    // A request that hangs must not keep the process alive: past the drain limit, close the
    // database anyway (the embedded cluster must not outlive us), then exit non-zero.
    const force = setTimeout(() => {
      log.error(`requests did not finish in ${DRAIN_LIMIT_MS / 1000} s; exiting`);
      setTimeout(() => process.exit(1), 3000).unref();
      void db?.then((d) => d?.close()).finally(() => process.exit(1));
    }, DRAIN_LIMIT_MS);
    force.unref();
    try {
      views?.stop();
      await server?.stop();
      await changes?.close();
      await (await db)?.close();
      log.info('stopped');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'error while stopping');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  // Before the database starts or migrates: a start that could not serve does nothing.
  await assertPortFree(config.host, config.port, 'PORT', 'the HTTP server');
  // A failed start has already closed what it opened (see openMigratedDatabase).
  db = openMigratedDatabase(config, log).catch((err) => {
    if (!stopping) throw err;
    return null;
  });
  const opened = await db;
  if (!opened || stopping) return;
  try {
    const services = createServices(opened.db, await withDevOpsToken(config, log), log);
    // Checks the views (failing fast, naming what is missing) and starts the refresh schedule.
    views = services.views;
    // The change listener first: the staleness bound that start() may begin subscribes to it.
    changes = services.changes;
    changes.start();
    await views.start();
    server = await startServer(services);
  } catch (err) {
    await changes?.close();
    await opened.close();
    throw err;
  }
}

main().catch((err) => {
  // pino may not exist yet (bad config): plain stderr, then a non-zero exit.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
