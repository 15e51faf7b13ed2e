import { MikroORM } from '@mikro-orm/postgresql';
import { migrationsList } from '../../migrations';
import type { Logger } from '../logger';
import { createOrmConfig } from '../mikro-orm.config';
import type { ViewVersions } from '../modules/views/names';

/**
 * MikroORM on one connection of its own, without a statement timeout (a view build at
 * scale takes longer than any request may): for the migrations, the schema diff and the
 * tests that check them. The server itself never holds it open.
 */
export async function openOrm(url: string, log: Logger): Promise<MikroORM> {
  return MikroORM.init(
    createOrmConfig(url, {
      pool: { min: 0, max: 1 },
      driverOptions: { connection: { statement_timeout: 0, application_name: 'tally-migrate' } },
      logger: (msg) => log.debug({ orm: msg }),
      debug: log.isLevelEnabled('debug') ? ['query', 'query-params', 'info'] : false,
    }),
  );
}

/** Applies every pending migration; returns the names applied. */
export async function migrateUp(url: string, log: Logger): Promise<string[]> {
  const orm = await openOrm(url, log);
  try {
    const applied = await orm.getMigrator().up();
    return applied.map((m) => m.name);
  } finally {
    await orm.close(true);
  }
}

/**
 * The version of every view that this code's migrations leave behind: the last migration
 * that names a view sets it. The server checks the views against it at start-up.
 */
export function migratedViewVersions(): ViewVersions {
  const out: ViewVersions = {};
  for (const { class: migration } of migrationsList) {
    Object.assign(out, (migration as { views?: ViewVersions }).views ?? {});
  }
  return out;
}
