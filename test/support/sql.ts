import { Sql, type SqlFragment } from '../../src/database/sql';

/**
 * The tests' own SQL client: what the server's Sql does (so it can be handed to the code
 * under test), and also plain text with $n parameters, as a person at psql would write
 * to arrange data and check what the server did.
 */
export class TestSql extends Sql {
  override rows<T>(query: SqlFragment | string, valuesOrOpts?: readonly unknown[] | { prepared?: boolean }): Promise<T[]> {
    if (typeof query === 'string') return this.run<T>(query, [...((valuesOrOpts as readonly unknown[] | undefined) ?? [])]);
    return super.rows<T>(query, valuesOrOpts as { prepared?: boolean } | undefined);
  }

  override async one<T>(query: SqlFragment | string, values?: readonly unknown[]): Promise<T | null> {
    const rows = await this.rows<T>(query, values);
    return rows[0] ?? null;
  }
}
