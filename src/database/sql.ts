import { createHash } from 'node:crypto';
import pg from 'pg';
import * as sql from 'pg-sql2';

// The SQL layer: statements as composable pg-sql2 fragments, run on a plain pg.Pool. It
// imports nothing of the app, so anything may use it (migrations' DDL excepted: those run
// through MikroORM's own connection).
//
// pg-sql2 (PostGraphile's builder) over sql-template-tag: values must be wrapped in
// sql.value() and raw text in sql.raw(), so a client string interpolated by mistake throws
// instead of becoming SQL, and placeholders are numbered once, when the statement compiles.
export { sql };
export type SqlFragment = sql.SQL;

export interface PoolOptions {
  url: string;
  max: number;
  /** statement_timeout of every connection (ms; 0: none). */
  statementTimeoutMs: number;
  applicationName: string;
  /** How long a caller waits for a connection (ms; default 10 s). */
  connectionTimeoutMs?: number;
  /** An idle connection failed (the server went away): pg.Pool emits it, and unheard it would crash the process. */
  onIdleError: (err: Error) => void;
}

export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max,
    // A request waits at most this long for a connection, then fails as unavailable.
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: opts.statementTimeoutMs,
    application_name: opts.applicationName,
  });
  pool.on('error', opts.onIdleError);
  return pool;
}

export interface SqlOptions {
  /** Called once per statement sent (the request context counts them). */
  onStatement?: () => void;
  /**
   * At most this many statements in flight at once (each holds a pooled connection): one
   * request cannot take the whole pool, whatever its shape. Infinity: no limit.
   */
  maxConcurrent?: number;
  /**
   * Aborted: statements not yet sent (waiting for their turn, or later) are not sent; they
   * reject with the signal's reason. One already running ends at its statement timeout.
   * Only `aborted` and `reason` are read: an AbortSignal, or the request's RequestCancel.
   */
  signal?: Pick<AbortSignal, 'aborted' | 'reason'>;
}

/**
 * What statements run on: a pool, one pooled connection (a transaction), or anything that
 * picks a pool per statement (database/replicas.ts routes a request's reads to a standby).
 */
export interface Runner {
  query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

/**
 * Plain rows, never hydrated entities. Parameters go to PostgreSQL as parameters, and
 * `prepared` statements are parsed once per connection.
 */
export class Sql {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly maxConcurrent: number;
  private readonly onStatement: () => void;
  private readonly signal: SqlOptions['signal'];

  constructor(
    private readonly runner: Runner,
    opts: SqlOptions = {},
    private readonly pool: pg.Pool | null = runner instanceof pg.Pool ? runner : null,
  ) {
    this.maxConcurrent = opts.maxConcurrent ?? Infinity;
    this.onStatement = opts.onStatement ?? noop;
    this.signal = opts.signal;
  }

  /** The same pool, counted and limited for one request. */
  scoped(opts: SqlOptions): Sql {
    if (!this.pool) throw new Error('a transaction cannot be scoped');
    return new Sql(this.pool, opts, this.pool);
  }

  /**
   * `prepared`: a named prepared statement, eligible for a cached plan. Only for statements
   * whose best plan does not depend on the values (lookups by id, unfiltered pages): a
   * value-dependent filter must be planned anew.
   */
  async rows<T>(query: SqlFragment, opts: { prepared?: boolean; rawTimestamps?: boolean } = {}): Promise<T[]> {
    const { text, values } = sql.compile(query);
    return this.run<T>(text, values ?? [], opts.prepared ? statementName(text) : undefined, opts.rawTimestamps ? RAW_TIMESTAMP_TYPES : ROW_TYPES);
  }

  /** Sends one compiled statement, within this scope's limit. */
  protected async run<T>(text: string, values: unknown[], name?: string, types: typeof ROW_TYPES = ROW_TYPES): Promise<T[]> {
    // A finished statement hands its slot straight to the next waiting one.
    if (this.inFlight < this.maxConcurrent) this.inFlight++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      if (this.signal?.aborted) throw this.signal.reason;
      this.onStatement();
      const result = await this.runner.query<T & pg.QueryResultRow>({ name, text, values, types });
      return result.rows;
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.inFlight--;
    }
  }

  async one<T>(query: SqlFragment): Promise<T | null> {
    const rows = await this.rows<T>(query);
    return rows[0] ?? null;
  }

  /** Runs `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    if (!this.pool) throw new Error('transactions do not nest');
    const client = await this.pool.connect();
    let broken: unknown;
    try {
      await client.query('begin');
      const result = await fn(new Sql(client, { onStatement: this.onStatement }, null));
      await client.query('commit');
      return result;
    } catch (err) {
      await client.query('rollback').catch((rollbackErr: unknown) => (broken = rollbackErr));
      throw err;
    } finally {
      // A connection that could not roll back is in an unknown state: destroyed, not reused.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }
}

const noop = () => {};

/** Prepared statement names by text; capped, so odd clients cannot grow it (or the backends). */
const statementNames = new Map<string, string>();
const MAX_PREPARED = 500;

function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_PREPARED) {
    name = `tally_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return name;
}

const TIMESTAMPTZ_OID = 1184;

/**
 * timestamptz as Date without node-postgres' general date parser: PostgreSQL prints
 * "2026-01-02 03:04:05.678+00" with the session's offset, which is ISO 8601 once the
 * offset has minutes.
 */
const ROW_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMPTZ_OID) {
      return parseTimestamptz;
    }
    return pg.types.getTypeParser(oid, format);
  },
};

/**
 * `rawTimestamps`: timestamptz columns stay PostgreSQL's text, for a caller that parses
 * (parseTimestamptz) only the values a client reads: a page parses none of its rows' dates
 * unless they are selected.
 */
const RAW_TIMESTAMP_TYPES: typeof ROW_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMPTZ_OID) return (text: string) => text;
    return pg.types.getTypeParser(oid, format);
  },
};

/** String slicing instead of two regular-expression replaces: it runs for every row's timestamps. */
export function parseTimestamptz(text: string): Date {
  // "YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM[:SS]]", or infinity/-infinity (Invalid Date, as before).
  const iso = text.length > 10 && text.charCodeAt(10) === 32 ? `${text.slice(0, 10)}T${text.slice(11)}` : text;
  const sign = iso.charCodeAt(iso.length - 3);
  return new Date(sign === 43 || sign === 45 ? `${iso}:00` : iso);
}
