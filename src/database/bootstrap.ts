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
export async function openMigratedDatabase(config: Config, log: Logger): Promise<Database> {
  let embedded: EmbeddedDatabase | null = null;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.embedded, log);
    await embedded.ensureDatabase(EMBEDDED_DB_NAME);
    url = embedded.urlFor(EMBEDDED_DB_NAME);
  }
  let orm: MikroORM | undefined;
  try {
    orm = await openDatabase({ url, poolMax: config.poolMax, log });
    const applied = await migrateUp(orm);
    if (applied.length) log.info({ applied }, 'migrations applied');
    const sql = Sql.of(orm.em.fork());
    if ((config.demoData ?? embedded !== null) && (await catalogIsEmpty(sql))) {
      const counts = await seedCatalog(sql, DEMO_SIZES, (m) => log.info(`demo data: ${m}`));
      const { statementTimeoutMs, lockTimeoutMs } = config.refresh;
      await refreshAllViews(sql, { by: 'startup', log, statementTimeoutMs, lockTimeoutMs });
      log.info(counts, 'demo data loaded and views populated');
    }
  } catch (err) {
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
