import 'reflect-metadata';
import { loadConfig } from './config';
import { createServices } from './context';
import { openMigratedDatabase } from './database/bootstrap';
import { createLogger } from './logger';
import { startServer } from './server';

/** Start-up only: config → database → migrations → server; a graceful stop on signals. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const db = await openMigratedDatabase(config, log);
  const server = await startServer(createServices(db.orm, config, log)).catch(async (err) => {
    await db.close();
    throw err;
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: draining requests');
    // A request that hangs must not keep the process (and the embedded cluster) alive.
    const force = setTimeout(() => {
      log.error('requests did not finish in 10 s; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    try {
      await server.stop();
      await db.close();
      log.info('stopped');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'error while stopping');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  // pino may not exist yet (bad config): plain stderr, then a non-zero exit.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
