import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import type { Knex } from '@mikro-orm/knex';
import { createHash } from 'node:crypto';
import { types as pgTypes } from 'pg';
import { createOrmConfig } from '../mikro-orm.config';
import type { Logger } from '../logger';

export type { EntityManager };

export interface DatabaseOptions {
  url: string;
  poolMax: number;
  log: Logger;
  /** Sent as statement_timeout on every pooled connection (ms). */
  statementTimeoutMs?: number;
}

export async function openDatabase(opts: DatabaseOptions): Promise<MikroORM> {
  const timeout = opts.statementTimeoutMs ?? 30_000;
  return MikroORM.init(
    createOrmConfig(opts.url, {
      pool: { min: 0, max: opts.poolMax, acquireTimeoutMillis: 10_000 },
      driverOptions: { connection: { statement_timeout: timeout, application_name: 'tally' } },
      logger: (msg) => opts.log.debug({ orm: msg }),
      debug: opts.log.isLevelEnabled('debug') ? ['query', 'query-params', 'info'] : false,
    }),
  );
}

/** Applies every pending migration; returns the names applied. */
export async function migrateUp(orm: MikroORM): Promise<string[]> {
  const applied = await orm.getMigrator().up();
  return applied.map((m) => m.name);
}

/**
 * Plain-row SQL for the hot read paths: parameters go to PostgreSQL as parameters (MikroORM's
 * own execute() inlines them, so every call would be planned afresh) and rows are not
 * hydrated into entities. `onStatement` lets the request context count what it sends.
 */
export class Sql {
  constructor(
    private readonly knex: Knex,
    private readonly onStatement: () => void = () => {},
  ) {}

  static of(em: EntityManager, onStatement?: () => void): Sql {
    return new Sql(em.getKnex(), onStatement);
  }

  /**
   * `prepared`: send it as a named prepared statement, parsed once per connection and
   * eligible for a cached plan. Only for statements whose best plan does not depend on the
   * values (lookups by id, unfiltered pages): a value-dependent filter must be planned anew.
   */
  async rows<T>(text: string, values: readonly unknown[] = [], opts: { prepared?: boolean } = {}): Promise<T[]> {
    this.onStatement();
    const name = opts.prepared ? statementName(text) : undefined;
    const client = this.knex.client as unknown as {
      acquireConnection(): Promise<PgConnection>;
      releaseConnection(c: PgConnection): Promise<void>;
    };
    const conn = await client.acquireConnection();
    try {
      const result = await conn.query({ name, text, values: values as unknown[], types: ROW_TYPES });
      return result.rows as T[];
    } finally {
      await client.releaseConnection(conn);
    }
  }

  async one<T>(text: string, values: readonly unknown[] = []): Promise<T | null> {
    const rows = await this.rows<T>(text, values);
    return rows[0] ?? null;
  }

  /**
   * Runs `fn` in one transaction on one connection (knex's transaction client hands the
   * same connection to every statement): committed when `fn` resolves, rolled back when it
   * throws.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.knex.transaction((trx) => fn(new Sql(trx, this.onStatement)));
  }
}

interface PgConnection {
  query(q: { name?: string; text: string; values: unknown[]; types: typeof ROW_TYPES }): Promise<{ rows: unknown[] }>;
}

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
 * MikroORM registers a global parser that leaves timestamps as text (it converts them
 * itself); plain rows get Dates. PostgreSQL prints "2026-01-02 03:04:05.678+00" with the
 * session's offset, which becomes ISO 8601 once the offset has minutes.
 */
const ROW_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMPTZ_OID) {
      return (text: string) => new Date(text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
    }
    return pgTypes.getTypeParser(oid, format);
  },
};
