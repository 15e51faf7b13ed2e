import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from './config';
import { Sql, type EntityManager } from './database/database';
import type { Logger } from './logger';
import { createCatalogLoaders } from './modules/catalog/catalog.loaders';
import { createCategoryLoaders } from './modules/categories/categories.loaders';
import { CursorCodec } from './modules/common/cursor';
import { createViewLoaders } from './modules/views/view-reads';
import { ViewService } from './modules/views/views.service';
import { CostBoundsCache } from './security/cost-bounds';
import { RateLimiter } from './security/rate-limit';

export function createLoaders(sql: Sql) {
  return { ...createCatalogLoaders(sql), ...createCategoryLoaders(sql), ...createViewLoaders(sql) };
}
export type Loaders = ReturnType<typeof createLoaders>;

/** What lives for the whole server: built once at start-up. */
export interface AppServices {
  orm: MikroORM;
  config: Config;
  log: Logger;
  cursors: CursorCodec;
  /** The materialized views: registry, refresh, freshness, schedule. */
  views: ViewService;
  /** What the lists can return, for the cost model (security/cost.ts). */
  costBounds: CostBoundsCache;
  /** Cost budgets per client; null when RATE_LIMIT is off. */
  rateLimiter: RateLimiter | null;
}

/** Everything a resolver may use, made fresh for each request. */
export interface Context {
  requestId: string;
  /** The raw Authorization header, checked only by operations that need a token. */
  authorization: string | undefined;
  /** Who the request is from, for rate limits (security/rate-limit.ts clientKey). */
  client: string;
  em: EntityManager;
  sql: Sql;
  loaders: Loaders;
  cursors: CursorCodec;
  config: Config;
  log: Logger;
  views: ViewService;
  /** SQL statements this request sent (the batching tests and the benchmark read it). */
  statements: { count: number };
}

export function createServices(orm: MikroORM, config: Config, log: Logger): AppServices {
  const views = new ViewService(orm, config, log);
  const costBounds = new CostBoundsCache(
    () => Sql.of(orm.em.fork()),
    undefined,
    (err) => log.warn({ err }, 'could not read the cost bounds; keeping the last ones'),
  );
  // The tree's figures change with its refresh.
  views.onRefreshed(() => void costBounds.reload());
  const rateLimiter = config.rateLimit ? new RateLimiter(orm.em.getKnex(), config.rateLimit, log) : null;
  return { orm, config, log, cursors: new CursorCodec(config.cursorSecret), views, costBounds, rateLimiter };
}

export function createContext(
  services: AppServices,
  req: { authorization?: string; requestId?: string; client?: string },
): Context {
  const requestId = req.requestId ?? randomUUID();
  const statements = { count: 0 };
  // Reads go through `sql` (plain rows); the forked EntityManager is made on first use only,
  // since most requests never touch it.
  let em: EntityManager | undefined;
  let log: Logger | undefined;
  const sql = Sql.of(services.orm.em as EntityManager, () => statements.count++);
  return {
    requestId,
    authorization: req.authorization,
    client: req.client ?? 'local',
    get em() {
      return (em ??= services.orm.em.fork({ loggerContext: { requestId } }) as EntityManager);
    },
    sql,
    loaders: createLoaders(sql),
    cursors: services.cursors,
    config: services.config,
    // A child logger per request costs a serializer setup; make it when something logs.
    get log() {
      return (log ??= services.log.child({ requestId }));
    },
    views: services.views,
    statements,
  };
}
