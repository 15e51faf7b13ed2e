import { loadConfig } from '../../src/config';
import { createServices, type AppServices } from '../../src/context';
import { openDatabase, type Database } from '../../src/database/database';
import { createLogger } from '../../src/logger';
import { startServer, type RunningServer } from '../../src/server';
import { OPS_TOKEN } from './app';

export interface HttpInstance {
  base: string;
  server: RunningServer;
  db: Database;
  services: AppServices;
  close(): Promise<void>;
}

/**
 * Another tally server process, as far as the database can tell: its own pool and services
 * on the given database, listening on a free loopback port.
 */
export async function startInstance(url: string, env: Record<string, string> = {}): Promise<HttpInstance> {
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: url, OPS_TOKEN, LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1', ...env });
  const log = createLogger(config.logLevel);
  const db = openDatabase({ url, log, ...config.db, poolMax: 3, primaryPoolMax: 3 });
  const services = createServices(db, config, log);
  await services.views.start();
  const server = await startServer(services);
  return {
    base: `http://127.0.0.1:${server.port}`,
    server,
    db,
    services,
    close: async () => {
      services.views.stop();
      await services.changes.close();
      await server.stop();
      await db.close();
    },
  };
}

/** POST /graphql as a client would. */
export async function postGraphql(base: string, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { res, body: (await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] } };
}
