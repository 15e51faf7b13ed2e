import { randomUUID } from 'node:crypto';
import type { CacheTicket } from './cache/response-cache';
import type { Config } from './config';
import type { Database } from './database/database';
import { migratedViewVersions } from './database/migrate';
import type { ReadSession } from './database/replicas';
import { Sql } from './database/sql';
import type { Logger } from './logger';
import { createCatalogLoaders } from './modules/catalog/catalog.loaders';
import { createCategoryLoaders } from './modules/categories/categories.loaders';
import { CursorCodec } from './modules/common/cursor';
import { ChangeListener } from './modules/views/ops/notifications';
import { ViewService } from './modules/views/ops/views.service';
import { createViewLoaders, type ViewLoaders } from './modules/views/reads';
import { CostBoundsCache } from './security/cost-bounds';
import { RateLimiter } from './security/rate-limit';

type CatalogLoaders = ReturnType<typeof createCatalogLoaders>;
type CategoryLoaders = ReturnType<typeof createCategoryLoaders>;
export type Loaders = CatalogLoaders & CategoryLoaders & ViewLoaders;

/**
 * A request's DataLoaders, each module's made when one of them is first used: a request
 * uses one or two modules' loaders, or none (an error, an ops query). The getters sit on
 * the prototype, so a loader a module adds is listed here too (`implements` says so).
 */
class RequestLoaders implements Loaders {
  private catalog: CatalogLoaders | undefined;
  private category: CategoryLoaders | undefined;
  private view: ViewLoaders | undefined;

  constructor(private readonly sql: Sql) {}

  private get catalogLoaders(): CatalogLoaders {
    return (this.catalog ??= createCatalogLoaders(this.sql));
  }
  private get categoryLoaders(): CategoryLoaders {
    return (this.category ??= createCategoryLoaders(this.sql));
  }
  private get viewLoaders(): ViewLoaders {
    return (this.view ??= createViewLoaders(this.sql));
  }

  get items() {
    return this.catalogLoaders.items;
  }
  get reviews() {
    return this.catalogLoaders.reviews;
  }
  get reviewPages() {
    return this.catalogLoaders.reviewPages;
  }
  get reviewTotals() {
    return this.catalogLoaders.reviewTotals;
  }
  get categories() {
    return this.categoryLoaders.categories;
  }
  get children() {
    return this.categoryLoaders.children;
  }
  get itemStats() {
    return this.viewLoaders.itemStats;
  }
  get lastReviewedAt() {
    return this.viewLoaders.lastReviewedAt;
  }
  get categoryStats() {
    return this.viewLoaders.categoryStats;
  }
}

export function createLoaders(sql: Sql): Loaders {
  return new RequestLoaders(sql);
}

/**
 * Stops a request's statements not yet sent: what Sql reads of the AbortSignal it is given
 * (`aborted` and `reason`, database/sql.ts), without an AbortController, which Node builds as
 * an EventTarget: microseconds on every request, where almost none is ever aborted.
 */
export class RequestCancel {
  aborted = false;
  reason: unknown = undefined;

  /** The first reason stays, as with AbortController. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
  }
}

/** What lives for the whole server: built once at start-up. */
export interface AppServices {
  db: Database;
  config: Config;
  log: Logger;
  cursors: CursorCodec;
  /** The materialized views: registry, refresh, freshness, schedule. */
  views: ViewService;
  /** What the lists can return, for the cost model (security/cost.ts). */
  costBounds: CostBoundsCache;
  /** Cost budgets per client; null when RATE_LIMIT is off. */
  rateLimiter: RateLimiter | null;
  /** Data versions per table and view, from the change channel (started by main). */
  changes: ChangeListener;
}

/** Everything a resolver may use, made fresh for each request. */
export interface Context {
  requestId: string;
  /** The raw Authorization header, checked only by operations that need a token. */
  authorization: string | undefined;
  /** Who the request is from, for rate limits (security/rate-limit.ts clientKey). */
  client: string;
  /**
   * Reads: on the request's read target (a standby, or the primary), with the short
   * statement timeout, a few connections at a time.
   */
  sql: Sql;
  /**
   * Where this request reads (`reads.target`), chosen once per request; a mutation moves it
   * to the primary before it runs (read-routing.ts).
   */
  reads: ReadSession;
  /** Writes: the primary pool. */
  primary: Sql;
  loaders: Loaders;
  cursors: CursorCodec;
  config: Config;
  log: Logger;
  views: ViewService;
  /** SQL statements this request sent (the batching tests and the benchmark read it). */
  statements: { count: number };
  /** Aborted (with the error to answer) when the request is past a bound: its statements not yet sent are not sent. */
  cancel: RequestCancel;
  /** Set when the response cache may store this request's answer (cache/plugin.ts). */
  cacheTicket?: CacheTicket;
}

export function createServices(db: Database, config: Config, log: Logger): AppServices {
  const changes = new ChangeListener({ url: db.url, log });
  const views = new ViewService(db.primary, config, log, migratedViewVersions(), changes);
  const costBounds = new CostBoundsCache(
    () => db.reads,
    undefined,
    (err) => log.warn({ err }, 'could not read the cost bounds; keeping the last ones'),
  );
  // The tree's figures change with its refresh.
  views.observe({ refreshed: () => void costBounds.reload(), failed: () => {} });
  const rateLimiter = config.rateLimit ? new RateLimiter(db.primaryPool, config.rateLimit, log) : null;
  return { db, config, log, cursors: new CursorCodec(config.cursorSecret), views, changes, costBounds, rateLimiter };
}

/**
 * A class, so that the logger stays lazy: Apollo copies the context object per operation,
 * which would run a getter defined on the object itself; one on the prototype is not copied.
 */
class RequestContext implements Context {
  readonly sql: Sql;
  readonly reads: ReadSession;
  readonly primary: Sql;
  readonly loaders: Loaders;
  readonly cursors: CursorCodec;
  readonly config: Config;
  readonly views: ViewService;
  readonly statements = { count: 0 };
  readonly cancel = new RequestCancel();
  private childLog: Logger | undefined;

  constructor(
    private readonly services: AppServices,
    readonly requestId: string,
    readonly authorization: string | undefined,
    readonly client: string,
    readonly cacheTicket?: CacheTicket,
  ) {
    const onStatement = () => this.statements.count++;
    const signal = this.cancel;
    // The loaders read through this Sql too, so a later switch of target moves them as well.
    this.reads = services.db.readSession();
    this.sql = new Sql(this.reads, { onStatement, signal, maxConcurrent: services.config.db.maxConnectionsPerRequest });
    this.primary = services.db.primary.scoped({ onStatement, signal, maxConcurrent: services.config.db.maxConnectionsPerRequest });
    this.loaders = createLoaders(this.sql);
    this.cursors = services.cursors;
    this.config = services.config;
    this.views = services.views;
  }

  // A child logger per request costs a serializer setup; made when something logs.
  get log(): Logger {
    return (this.childLog ??= this.services.log.child({ requestId: this.requestId }));
  }
}

export function createContext(
  services: AppServices,
  req: { authorization?: string; requestId?: string; client?: string; cacheTicket?: CacheTicket },
): Context {
  return new RequestContext(services, req.requestId ?? randomUUID(), req.authorization, req.client ?? 'local', req.cacheTicket);
}
