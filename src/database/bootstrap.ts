import type { Config } from '../config';
import type { Logger } from '../logger';
import { refreshAllViews } from '../modules/views/ops/refresh';
import { openDatabase, type Database } from './database';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded';
import { migrateUp } from './migrate';
import { DEMO_SIZES, catalogIsEmpty, seedCatalog } from './seed';

export interface OpenedDatabase {
  db: Database;
  embedded: EmbeddedDatabase | null;
  close(): Promise<void>;
}

const EMBEDDED_DB_NAME = 'tally';

/**
 * config → a migrated database: DATABASE_URL as given, or the embedded cluster (started,
 * its `tally` database created on first use). Demo data goes into an empty catalog on the
 * embedded default only, unless DEMO_DATA says otherwise.
 */
export async function openMigratedDatabase(
  config: Config,
  log: Logger,
  opts: { statementTimeoutMs?: number } = {},
): Promise<OpenedDatabase> {
  let embedded: EmbeddedDatabase | null = null;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.embedded, log);
    await embedded.ensureDatabase(EMBEDDED_DB_NAME);
    url = embedded.urlFor(EMBEDDED_DB_NAME);
  }
  let db: Database | undefined;
  try {
    const applied = await migrateUp(url, log);
    if (applied.length) log.info({ applied }, 'migrations applied');
    db = openDatabase({ url, log, ...config.db, replicas: config.replicas, ...opts });
    if ((config.demoData ?? embedded !== null) && (await catalogIsEmpty(db.primary))) {
      const counts = await seedCatalog(db.primary, DEMO_SIZES, (m) => log.info(`demo data: ${m}`));
      const { statementTimeoutMs, lockTimeoutMs } = config.refresh;
      await refreshAllViews(db.primary, { by: 'startup', log, statementTimeoutMs, lockTimeoutMs });
      log.info(counts, 'demo data loaded and views populated');
    }
  } catch (err) {
    await db?.close().catch(() => {});
    await embedded?.stop().catch(() => {});
    throw err;
  }
  const opened = db;
  return {
    db: opened,
    embedded,
    close: async () => {
      await opened.close();
      await embedded?.stop();
    },
  };
}
