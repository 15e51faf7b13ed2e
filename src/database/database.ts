import type pg from 'pg';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { Sql, createPool } from './sql';

export type DatabaseOptions = Pick<Config['db'], 'poolMax' | 'primaryPoolMax' | 'readStatementTimeoutMs' | 'statementTimeoutMs'> & {
  url: string;
  log: Logger;
};

/**
 * The database as the running server uses it: plain pg pools, no ORM. Reads and writes
 * have pools of their own, so each has its own statement timeout (anonymous reads are cut
 * short, a refresh is not) and a flood of reads cannot starve a write or a refresh of
 * connections. (MikroORM runs the migrations only: see migrate.ts.)
 */
export interface Database {
  /** Where the pools connect (the primary; the change listener connects there too). */
  url: string;
  /** For GraphQL reads; scope it per request with `reads.scoped(...)`. */
  reads: Sql;
  /** For writes, refreshes, advisory locks and the refresh log. */
  primary: Sql;
  pools: { reads: pg.Pool; primary: pg.Pool };
  close(): Promise<void>;
}

export function openDatabase(opts: DatabaseOptions): Database {
  const onIdleError = (err: Error) => opts.log.warn({ err }, 'an idle database connection failed');
  const reads = createPool({
    url: opts.url,
    max: opts.poolMax,
    statementTimeoutMs: opts.readStatementTimeoutMs,
    applicationName: 'tally',
    onIdleError,
  });
  const primary = createPool({
    url: opts.url,
    max: opts.primaryPoolMax,
    statementTimeoutMs: opts.statementTimeoutMs,
    applicationName: 'tally-primary',
    onIdleError,
  });
  return {
    url: opts.url,
    reads: new Sql(reads),
    primary: new Sql(primary),
    pools: { reads, primary },
    close: async () => {
      await Promise.all([reads.end(), primary.end()]);
    },
  };
}

/** For scripts that seed or time the database (bench, reliability): small pools, no statement timeout. */
export function openScriptDatabase(url: string, log: Logger): Database {
  return openDatabase({ url, log, poolMax: 2, primaryPoolMax: 2, readStatementTimeoutMs: 0, statementTimeoutMs: 0 });
}
