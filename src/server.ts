import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { unwrapResolverError } from '@apollo/server/errors';
import express from 'express';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createContext, type AppServices, type Context } from './context';
import { poolStatsOf } from './database/pool-stats';
import { sql } from './database/sql';
import { classifyError, formatError } from './errors';
import { corsMiddleware } from './http/cors';
import { explorerRouter } from './http/explorer';
import { complexityPlugin, limitRules } from './limits';
import { Metrics } from './metrics/metrics';
import { opsPageRouter } from './ops-page/route';
import { readRoutingPlugin } from './read-routing';
import { createSchema } from './schema';

export interface RunningServer {
  url: string;
  port: number;
  apollo: ApolloServer<Context>;
  /** Stops taking requests, lets the ones in flight finish (bounded), then resolves. */
  stop(): Promise<void>;
}

/** Logs every error a client was not meant to cause, under the id the client is given. */
const errorLogging: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    return {
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
  },
};

export async function createApollo(
  services: AppServices,
  httpServer?: http.Server,
  extraPlugins: ApolloServerPlugin<Context>[] = [],
): Promise<ApolloServer<Context>> {
  const schema = await createSchema();
  const { limits } = services.config;
  const apollo = new ApolloServer<Context>({
    schema,
    validationRules: limitRules(limits),
    formatError,
    // Apollo's defaults follow NODE_ENV: introspection and the landing page in development only.
    introspection: !services.config.isProduction,
    includeStacktraceInErrorResponses: false,
    // main.ts owns the signals: it drains this server, then closes the pool and the database.
    stopOnTerminationSignals: false,
    // Apollo installs cache-control by default; it wraps every field resolver and tally
    // sends no cache hints, so it would only cost time on every field.
    plugins: [
      ApolloServerPluginCacheControlDisabled(),
      errorLogging,
      complexityPlugin(schema, limits),
      readRoutingPlugin,
      ...(httpServer ? [ApolloServerPluginDrainHttpServer({ httpServer })] : []),
      ...extraPlugins,
    ],
  });
  return apollo;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export async function startServer(services: AppServices): Promise<RunningServer> {
  const { config, db, log } = services;
  const app = express();
  app.disable('x-powered-by');
  const httpServer = http.createServer(app);
  const metrics = new Metrics({ log, token: config.metricsToken, viewStatuses: () => services.views.statuses(), poolStats: poolStatsOf(db.listPools) });
  const unobserve = services.views.observe(metrics.refreshObserver);
  // Apollo's landing pages load from a CDN: off. Outside production GraphiQL, served by us, replaces it.
  const apollo = await createApollo(services, httpServer, [metrics.plugin(), ApolloServerPluginLandingPageDisabled()]);
  await apollo.start();

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = await Promise.race([
      db.reads.rows(sql.query`select 1`).then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000).unref()),
    ]);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'database unavailable' });
  });
  app.get('/metrics', metrics.handler());
  app.use('/ops', opsPageRouter());
  app.use('/graphql', corsMiddleware(config.cors));
  if (!config.isProduction) app.use(explorerRouter());
  app.use(
    '/graphql',
    express.json({ limit: config.limits.maxBodyBytes }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const given = req.header('x-request-id');
        const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('x-request-id', requestId);
        // Node keeps only the first of repeated Authorization headers; joined, they match no
        // bearer token, so an ambiguous request is refused rather than read one way.
        const authorization = req.headersDistinct.authorization?.join(', ');
        return createContext(services, { authorization, requestId });
      },
    }),
  );

  // Express's own error pages are HTML with a stack in development: answer JSON instead.
  app.use((err: { type?: string; status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const [status, code, message] =
      err.type === 'entity.too.large'
        ? [413, 'BAD_USER_INPUT', `The request body is over ${config.limits.maxBodyBytes} bytes`]
        : err.type === 'entity.parse.failed' || err.type === 'encoding.unsupported' || err.type === 'charset.unsupported'
          ? [400, 'BAD_USER_INPUT', 'The request body is not valid JSON']
          : [500, 'INTERNAL_SERVER_ERROR', 'Internal server error'];
    if (status === 500) log.error({ err }, 'unexpected HTTP error');
    res.status(status).json({ errors: [{ message, extensions: { code } }] });
  });

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
    // apollo.stop() closes the listener and waits for requests in flight (the drain plugin).
    stop: () => apollo.stop().finally(unobserve),
  };
}
