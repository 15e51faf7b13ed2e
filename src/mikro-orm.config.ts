import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { existsSync, readFileSync } from 'node:fs';
import { migrationsList } from '../migrations';
import { GearItem } from './modules/catalog/gear-item.entity';
import { GearReview } from './modules/catalog/gear-review.entity';
import { GearCategory } from './modules/categories/gear-category.entity';
import { CategoryStats, CategoryTreeRow, GearItemStats, ViewRefreshLog } from './modules/views/entities';
import { MANAGED_VIEW_NAMES, VIEW_SIDE_TABLES } from './modules/views/names';

export const entities = [GearCategory, GearItem, GearReview, GearItemStats, CategoryTreeRow, CategoryStats, ViewRefreshLog];

/** The one MikroORM configuration: used by the server, the CLI (default export) and the tests. */
export function createOrmConfig(clientUrl: string, overrides: Partial<Options> = {}): Options {
  return defineConfig({
    clientUrl,
    entities,
    // Decorator metadata from tsc/swc; no ts-morph at run time.
    discovery: { requireEntitiesArray: true },
    forceUtcTimezone: true,
    // View entities are the owners of their 1:1 links; loading an item must not join a view.
    autoJoinOneToOneOwner: false,
    extensions: [Migrator],
    migrations: {
      // Listed explicitly, so the same code runs from tsc output, vitest and the CLI.
      migrationsList,
      path: 'dist/migrations',
      pathTs: 'migrations',
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      emit: 'ts',
    },
    // The views are built by hand-written migrations; the diff must never touch them, nor the
    // rate limiter's table (not an entity: rate-limiter-flexible reads and writes it).
    schemaGenerator: { skipTables: [...MANAGED_VIEW_NAMES, ...VIEW_SIDE_TABLES, 'rate_limit'] },
    ...overrides,
  });
}

/** For the MikroORM CLI: DATABASE_URL, else the embedded cluster started by `npm start`. */
export function cliUrl(): string {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const dataDir = process.env.EMBEDDED_PG_DATA_DIR ?? '.data/postgres';
  const secret = `${dataDir.replace(/\/+$/, '')}.password`;
  if (!existsSync(secret)) throw new Error('Set DATABASE_URL, or run `npm start` once to create the embedded database');
  const password = readFileSync(secret, 'utf8').trim();
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${process.env.EMBEDDED_PG_PORT ?? 54329}/tally`;
}

export default () => createOrmConfig(cliUrl());
