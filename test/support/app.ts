import type { ApolloServer } from '@apollo/server';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { GraphQLFormattedError } from 'graphql';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../src/config';
import { createContext, createServices, type AppServices, type Context } from '../../src/context';
import { openDatabase, type Database } from '../../src/database/database';
import { migratedViewVersions, openOrm } from '../../src/database/migrate';
import { createPool } from '../../src/database/sql';
import { createLogger } from '../../src/logger';
import { ViewService } from '../../src/modules/views/ops/views.service';
import { createApollo } from '../../src/server';
import { TestSql } from './sql';

export const OPS_TOKEN = 'test-ops-token-0123456789';

export interface ExecResult<T> {
  data: T | null | undefined;
  errors: readonly GraphQLFormattedError[] | undefined;
  /** SQL statements the request sent. */
  statements: number;
}

export interface TestApp {
  url: string;
  /** MikroORM on the suite's database: migrations and the schema diff. */
  orm: MikroORM;
  /** The pools the server reads and writes through. */
  db: Database;
  services: AppServices;
  config: Config;
  apollo: ApolloServer<Context>;
  /** SQL on the suite's database, on a pool of its own (arrange and check). */
  sql: TestSql;
  exec<T, V extends Record<string, unknown>>(
    doc: TypedDocumentNode<T, V> | string,
    variables?: V,
    opts?: { token?: string | null; authorization?: string },
  ): Promise<ExecResult<T>>;
  close(): Promise<void>;
}

export function urlWithDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function adminQuery(text: string): Promise<void> {
  const client = new Client({ connectionString: inject('adminUrl') });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/**
 * A migrated database of the suite's own and the GraphQL server a client would use,
 * driven through executeOperation with a fresh per-request context.
 */
export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const database = `tally_test_${randomBytes(5).toString('hex')}`;
  await adminQuery(`create database ${database}`);
  const url = urlWithDatabase(inject('adminUrl'), database);
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: url, OPS_TOKEN, LOG_LEVEL: 'silent', ...env });
  const log = createLogger(config.logLevel);
  const orm = await openOrm(url, log);
  await orm.getMigrator().up();
  const db = openDatabase({ url, log, ...config.db, poolMax: 5, primaryPoolMax: 3 });
  const services = createServices(db, config, log);
  const testPool = createPool({ url, max: 3, statementTimeoutMs: 0, applicationName: 'tally-test', onIdleError: () => {} });
  const apollo = await createApollo(services);
  await apollo.start();

  return {
    url,
    orm,
    db,
    services,
    config,
    apollo,
    sql: new TestSql(testPool),
    async exec(doc, variables, opts = {}) {
      const authorization = opts.authorization ?? (opts.token ? `Bearer ${opts.token}` : undefined);
      const contextValue = createContext(services, { authorization });
      const res = await apollo.executeOperation({ query: doc as never, variables }, { contextValue });
      if (res.body.kind !== 'single') throw new Error('expected a single result');
      const { data, errors } = res.body.singleResult;
      return { data: data as never, errors, statements: contextValue.statements.count };
    },
    async close() {
      services.views.stop();
      await services.changes.close();
      await apollo.stop();
      await orm.close(true);
      await db.close();
      await testPool.end();
      await adminQuery(`drop database if exists ${database} with (force)`);
    },
  };
}

/** The database as another server instance would open it: pools of its own. */
export function openInstanceDatabase(url: string, poolMax = 3): Database {
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: url });
  return openDatabase({ url, log: createLogger('silent'), ...config.db, poolMax, primaryPoolMax: poolMax });
}

/** The views service another server instance would run on `db`. */
export function instanceViews(db: Database, config: Config): ViewService {
  return new ViewService(db.primary, config, createLogger('silent'), migratedViewVersions());
}
