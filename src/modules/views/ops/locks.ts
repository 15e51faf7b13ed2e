import { sql, type Sql } from '../../../database/sql';
import { REFRESH_LOCK_CLASS } from '../names';

const lockSql = (name: string) => sql.query`
  select c.oid::int as locked, pg_advisory_xact_lock(${sql.value(REFRESH_LOCK_CLASS)}, c.oid::int)
    from pg_class c
   where c.relname = ${sql.value(name)} and c.relkind = 'm' and c.relnamespace = current_schema()::regnamespace`;

/**
 * Takes the view's refresh lock (see REFRESH_LOCK_CLASS) until the transaction ends. A view
 * migration swaps a new view in under the old one's lock (ddl/swap.v1.ts): a run that
 * waited for it then holds the lock of a dropped view, and locks the new one by its oid too
 * before it refreshes.
 */
export async function lockView(tx: Sql, name: string): Promise<void> {
  let locked = (await tx.one<{ locked: number }>(lockSql(name)))?.locked;
  for (;;) {
    const current = (await tx.one<{ oid: number | null }>(sql.query`select to_regclass(${sql.value(sql.escapeSqlIdentifier(name))})::oid::int as oid`))!.oid;
    // A missing view is reported by its refresh.
    if (current === null || current === locked) return;
    locked = (await tx.one<{ locked: number }>(lockSql(name)))?.locked;
  }
}
