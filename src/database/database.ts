import type pg from 'pg';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { ReadRouter, describeUrl, type ReadSession, type Replica } from './replicas';
import { Sql, createPool } from './sql';

export type DatabaseOptions = Pick<Config['db'], 'poolMax' | 'primaryPoolMax' | 'readStatementTimeoutMs' | 'statementTimeoutMs'> & {
  url: string;
  log: Logger;
  /** Hot standbys for reads; none: every read goes to the primary. */
  replicas?: Config['replicas'];
};

/**
 * The database as the running server uses it: plain pg pools, no ORM. Reads and writes
 * have pools of their own, so each has its own statement timeout (anonymous reads are cut
 * short, a refresh is not) and a flood of reads cannot starve a write or a refresh of
 * connections. (MikroORM runs the migrations only: see migrate.ts.)
 */
export interface Database {
  /** Where the primary's pools connect (the change listener connects there too). */
  url: string;
  /**
   * The primary's read pool. Requests read through readSession() instead, which is this
   * pool or a standby's.
   */
  reads: Sql;
  /** For writes, refreshes, advisory locks and the refresh log. */
  primary: Sql;
  /** The pool behind `primary`, for libraries that take a pg pool (the rate limiter's shared store). */
  primaryPool: pg.Pool;
  /** Where requests read: the standbys in rotation, or the primary (replicas.ts). */
  router: ReadRouter;
  /** A request's reads: one target for the whole request (see ReadRouter). */
  readSession(): ReadSession;
  /** Every pool this database holds, named, so metrics can report each one. */
  listPools(): { name: string; pool: pg.Pool }[];
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
  const named = [
    { name: 'reads', pool: reads },
    { name: 'primary', pool: primary },
  ];
  const replicaOpts = opts.replicas;
  const replicas: Replica[] = (replicaOpts?.urls ?? []).map((url, i) => {
    const name = `replica ${i + 1}`;
    const replica: Replica = {
      name,
      kind: 'replica',
      where: describeUrl(url),
      // Reads on a standby have the reads' timeout; 'tally-replica' tells them apart in
      // the standby's pg_stat_activity.
      // A standby that has no free connection within a second is busy: the read is retried
      // on the primary well inside the request's deadline.
      pool: createPool({ url, max: replicaOpts!.poolMax, statementTimeoutMs: opts.readStatementTimeoutMs, applicationName: 'tally-replica', onIdleError, connectionTimeoutMs: 1000 }),
      monitor: createPool({ url, max: 1, statementTimeoutMs: 2000, applicationName: 'tally-replica-monitor', onIdleError, connectionTimeoutMs: 2000 }),
      statements: 0,
      state: 'unknown',
      lagSeconds: null,
      replayPaused: false,
      retried: { conflict: 0, busy: 0, unavailable: 0 },
    };
    named.push({ name, pool: replica.pool }, { name: `${name} monitor`, pool: replica.monitor });
    return replica;
  });
  const monitor = replicas.length
    ? createPool({ url: opts.url, max: 1, statementTimeoutMs: 2000, applicationName: 'tally-monitor', onIdleError, connectionTimeoutMs: 2000 })
    : null;
  if (monitor) named.push({ name: 'primary monitor', pool: monitor });
  const router = new ReadRouter({ name: 'primary', kind: 'primary', pool: reads, statements: 0 }, replicas, monitor, {
    maxLagSeconds: replicaOpts?.maxLagSeconds ?? 0,
    lagCheckMs: replicaOpts?.lagCheckMs ?? 1000,
    log: opts.log,
  });
  // Until the first lag check answers, replicas are out of rotation and reads go to the primary.
  router.start();
  return {
    url: opts.url,
    reads: new Sql(reads),
    primary: new Sql(primary),
    primaryPool: primary,
    router,
    readSession: () => router.session(),
    listPools: () => [...named],
    close: async () => {
      router.stop();
      await Promise.all(named.map((p) => p.pool.end()));
    },
  };
}

/** For scripts that seed or time the database (bench, reliability): small pools, no statement timeout. */
export function openScriptDatabase(url: string, log: Logger): Database {
  return openDatabase({ url, log, poolMax: 2, primaryPoolMax: 2, readStatementTimeoutMs: 0, statementTimeoutMs: 0 });
}
