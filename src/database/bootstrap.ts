import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { refreshAllViews } from '../modules/views/refresh';
import { Sql, migrateUp, openDatabase } from './database';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded';
import { DEMO_SIZES, catalogIsEmpty, seedCatalog } from './seed';

export interface Database {
  orm: MikroORM;
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
): Promise<Database> {
  let embedded: EmbeddedDatabase | null = null;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.embedded, log);
    await embedded.ensureDatabase(EMBEDDED_DB_NAME);
    url = embedded.urlFor(EMBEDDED_DB_NAME);
  }
  let setup: MikroORM | undefined;
  let orm: MikroORM | undefined;
  try {
    // Migrations (a view build at scale) and demo data may take longer than any request
    // should: they run on a connection of their own, without the statement timeout.
    setup = await openDatabase({ url, poolMax: 1, log, statementTimeoutMs: 0 });
    const applied = await migrateUp(setup);
    if (applied.length) log.info({ applied }, 'migrations applied');
    const sql = Sql.of(setup.em.fork());
    if ((config.demoData ?? embedded !== null) && (await catalogIsEmpty(sql))) {
      const counts = await seedCatalog(sql, DEMO_SIZES, (m) => log.info(`demo data: ${m}`));
      const { statementTimeoutMs, lockTimeoutMs } = config.refresh;
      await refreshAllViews(sql, { by: 'startup', log, statementTimeoutMs, lockTimeoutMs });
      log.info(counts, 'demo data loaded and views populated');
    }
    await setup.close(true);
    orm = await openDatabase({ url, poolMax: config.poolMax, log, statementTimeoutMs: opts.statementTimeoutMs });
  } catch (err) {
    await setup?.close(true).catch(() => {});
    await orm?.close(true).catch(() => {});
    await embedded?.stop().catch(() => {});
    throw err;
  }
  const opened = orm;
  return {
    orm: opened,
    embedded,
    close: async () => {
      await opened.close(true);
      await embedded?.stop();
    },
  };
}
