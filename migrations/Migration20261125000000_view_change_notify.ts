import { Migration } from '@mikro-orm/migrations';

// Change notifications and refresh failures (docs/freshness.md). Hand-written, pinned: the
// channel name and payloads are part of the contract with running servers
// (src/modules/views/names.ts CHANGE_CHANNEL), so they are spelled out here, not imported.
//
// - view_source_touch() also NOTIFYs `tally_changes` with 't:<schema>.<table>'. NOTIFY is
//   delivered at commit and dropped on rollback, and PostgreSQL folds identical
//   notifications of one transaction into one. Stamps now carry clock_timestamp() (the
//   writing statement's time, nearer the commit than the transaction's start) for staleSince.
// - view_refresh_failure: the last failed refresh of each view, written after the failed
//   run rolled back, so every instance can report it.
export class Migration20261125000000_view_change_notify extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create or replace function view_source_touch() returns trigger language plpgsql as $$
      begin
        insert into view_source_change as c (table_name, shard, changed_at, changed_xid)
        values (tg_table_schema || '.' || tg_table_name, pg_backend_pid() % 64, clock_timestamp(), pg_current_xact_id()::text::bigint)
        on conflict (table_name, shard) do update set changed_at = excluded.changed_at, changed_xid = excluded.changed_xid
          where c.changed_xid <> excluded.changed_xid;
        perform pg_notify('tally_changes', 't:' || tg_table_schema || '.' || tg_table_name);
        return null;
      end $$;`);
    this.addSql(`create table view_refresh_failure (
      view_name text primary key,
      failed_at timestamptz not null,
      message text not null,
      sql_state text,
      refreshed_by text not null
    );`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists view_refresh_failure;`);
    this.addSql(`
      create or replace function view_source_touch() returns trigger language plpgsql as $$
      begin
        insert into view_source_change as c (table_name, shard, changed_at, changed_xid)
        values (tg_table_schema || '.' || tg_table_name, pg_backend_pid() % 64, now(), pg_current_xact_id()::text::bigint)
        on conflict (table_name, shard) do update set changed_at = excluded.changed_at, changed_xid = excluded.changed_xid
          where c.changed_xid <> excluded.changed_xid;
        return null;
      end $$;`);
  }
}
