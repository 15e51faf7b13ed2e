import { ApolloServer, type ApolloServerPlugin, type GraphQLRequestListener } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { unwrapResolverError } from '@apollo/server/errors';
import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { responseCachePlugin } from './cache/plugin';
import { ResponseCache } from './cache/response-cache';
import type { AppServices, Context } from './context';
import { poolStatsOf } from './database/pool-stats';
import { sql } from './database/sql';
import { classifyError, formatError, formatErrorHidingSchema } from './errors';
import { explorerRouter } from './http/explorer';
import { graphqlEndpoint } from './http/graphql-endpoint';
import { applyHttpLimits, httpErrorHandler, notFound, readinessProbe } from './http/hygiene';
import { limitRules } from './limits';
import { Metrics } from './metrics/metrics';
import { opsPageRouter } from './ops-page/route';
import { readRoutingPlugin } from './read-routing';
import { jitGateway, type JitCounters } from './execution/jit-gateway';
import { createSchema } from './schema';
import { executionBudgetPlugin } from './security/budget';
import { costLimitPlugin } from './security/cost-limit';
import { HeavyGate } from './security/heavy-gate';
import { hasOpsToken } from './modules/auth/ops-token';
import { readNotifyMode } from './modules/views/ops/staleness';

export interface RunningServer {
  url: string;
  port: number;
  apollo: ApolloServer<Context>;
  /** Null when RESPONSE_CACHE=off. */
  responseCache: ResponseCache | null;
  /** Stops taking requests, lets the ones in flight finish (bounded), then resolves. */
  stop(): Promise<void>;
}

/** Logs every error a client was not meant to cause, under the id the client is given. */
const errorListener: GraphQLRequestListener<Context> = {
  async didEncounterErrors({ errors, contextValue }) {
    for (const error of errors) {
      const kind = classifyError(error);
      if (kind === 'public') continue;
      const original = unwrapResolverError(error);
      if (kind === 'unavailable') {
        contextValue.log.warn({ err: original, path: error.path }, 'database unavailable');
        continue;
      }
      contextValue.log.error({ err: original, path: error.path }, 'unexpected error');
      // formatError copies this into the response; it holds nothing but our own id.
      (error.extensions as Record<string, unknown>).requestId = contextValue.requestId;
    }
  },
};
const errorLogging: ApolloServerPlugin<Context> = {
  // One listener for every request: it keeps nothing of its own.
  async requestDidStart() {
    return errorListener;
  },
};

export async function createApollo(
  services: AppServices,
  httpServer?: http.Server,
  extraPlugins: ApolloServerPlugin<Context>[] = [],
  jitCounters?: JitCounters,
): Promise<ApolloServer<Context>> {
  const schema = await createSchema();
  const { limits, opsToken, jit } = services.config;
  const { rateLimiter } = services;
  // The cost model's figures must be known before the first request is priced.
  await services.costBounds.reload();
  const apollo = new ApolloServer<Context>({
    // A gateway hands Apollo the schema and runs each operation Apollo has parsed and validated.
    ...(jit ? { gateway: jitGateway(schema, jit, jitCounters) } : { schema }),
    // Parsing stops at maxTokens; then every fragment spread expanded must stay under
    // maxSelections, checked before the other rules (which Apollo runs only if it passes).
    parseOptions: { maxTokens: limits.maxTokens },
    maxRecursiveSelections: limits.maxSelections,
    validationRules: limitRules(limits),
    formatError: services.config.isProduction ? formatErrorHidingSchema : formatError,
    // Apollo's defaults follow NODE_ENV: introspection and the landing page in development only.
    introspection: !services.config.isProduction,
    // No "Did you mean …?" in production: it would list the schema that introspection hides.
    hideSchemaDetailsFromClientErrors: services.config.isProduction,
    includeStacktraceInErrorResponses: false,
    // main.ts owns the signals: it drains this server, then closes the pool and the database.
    stopOnTerminationSignals: false,
    // Apollo installs cache-control by default; it wraps every field resolver and tally
    // sends no cache hints, so it would only cost time on every field. Inline tracing is
    // installed too, for federated subgraphs only (tally is none): off, its hook is not called
    // on every request.
    plugins: [
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      errorLogging,
      costLimitPlugin(schema, {
        maxComplexity: limits.maxComplexity,
        countRowsPerPoint: limits.countRowsPerPoint,
        bounds: services.costBounds,
        priced: (ctx, cost) => {
          if (ctx.cacheTicket) ctx.cacheTicket.cost = cost;
        },
        gate: new HeavyGate({ heavyCost: limits.heavy.cost, concurrency: limits.heavy.concurrency, queue: limits.heavy.queue, maxWaitMs: limits.requestTimeoutMs, pointsPerSecond: limits.heavy.pointsPerSecond }),
        // The ops token is exempt from rate limits; every other caller pays for what it asks.
        charge: rateLimiter ? (ctx, cost, op, fragments) => (hasOpsToken(ctx.authorization, opsToken) ? Promise.resolve() : rateLimiter.charge(ctx.client, cost, op, fragments)) : undefined,
      }),
      executionBudgetPlugin({
        timeoutMs: limits.requestTimeoutMs,
        maxFields: limits.maxResponseFields,
        exempt: (ctx) => hasOpsToken(ctx.authorization, opsToken),
      }),
      readRoutingPlugin,
      responseCachePlugin(schema, { versions: services.changes }),
      ...(httpServer ? [ApolloServerPluginDrainHttpServer({ httpServer })] : []),
      ...extraPlugins,
    ],
  });
  return apollo;
}

/**
 * With tally.notify_changes = 'first', a write is announced only once per refresh cycle: the
 * versions of tables would not move on every write, so the response cache stays off
 * (docs/cache.md). Read at start-up; a change of the setting takes a restart.
 */
async function cacheableNotifyMode(services: AppServices): Promise<boolean> {
  const mode = await readNotifyMode(services.db.primary).catch((err: unknown) => {
    services.log.warn({ err }, 'could not read tally.notify_changes; the response cache stays off');
    return 'first' as const;
  });
  if (mode === 'first') services.log.warn('tally.notify_changes is first: writes are not all announced, so the response cache is off');
  return mode === 'all';
}

export async function startServer(services: AppServices): Promise<RunningServer> {
  const { config, db, log } = services;
  const app = express();
  app.disable('x-powered-by');
  // An ETag hashes every response body: pure cost on these small JSON answers.
  app.set('etag', false);
  const responseCache = config.responseCache && (await cacheableNotifyMode(services)) ? new ResponseCache(config.responseCache.maxBytes, services.changes) : null;
  const metrics = new Metrics({ log, token: config.metricsToken, responseCache: responseCache ?? undefined, viewStatuses: () => services.views.statuses(), poolStats: poolStatsOf(db.listPools) });
  // /graphql skips express (http/graphql-endpoint.ts), but for GET, which may be a browser
  // asking for the explorer; every other route goes through express. (`endpoint` is made
  // below, with Apollo; no request arrives before the server listens.)
  const httpServer = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (req.method !== 'GET' && (url === '/graphql' || url.startsWith('/graphql?'))) void endpoint(req, res);
    else app(req, res);
  });
  applyHttpLimits(httpServer, config.http);
  const unobserve = services.views.observe(metrics.refreshObserver);
  // Apollo's landing pages load from a CDN: off. Outside production GraphiQL, served by us, replaces it.
  const apollo = await createApollo(services, httpServer, [metrics.plugin(), ApolloServerPluginLandingPageDisabled()]);
  await apollo.start();
  const limiter = services.rateLimiter;
  limiter?.start();
  const endpoint = graphqlEndpoint(services, apollo, {
    responseCache,
    cacheCounters: { hit: () => metrics.responseCache.hits.inc(), miss: () => metrics.responseCache.misses.inc() },
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const ready = readinessProbe(() => db.reads.rows(sql.query`select 1`).then(() => true));
  app.get('/readyz', async (_req, res) => {
    const ok = await ready();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'database unavailable' });
  });
  app.get('/metrics', metrics.handler());
  app.use('/ops', opsPageRouter());
  if (!config.isProduction) app.use(explorerRouter());
  app.all('/graphql', (req, res) => endpoint(req, res));

  // Express's own error pages are HTML with a stack in development: answer JSON instead.
  app.use(notFound);
  app.use(httpErrorHandler(config.limits.maxBodyBytes, log));

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}/graphql`;
  log.info({ url }, 'tally is serving');
  return {
    url,
    port,
    apollo,
    responseCache,
    // apollo.stop() closes the listener and waits for requests in flight (the drain plugin).
    stop: async () => {
      await apollo.stop().finally(unobserve);
      await limiter?.stop();
    },
  };
}
