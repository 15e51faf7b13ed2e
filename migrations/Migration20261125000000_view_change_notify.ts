import { Migration } from '@mikro-orm/migrations';

// Change notifications and refresh failures (docs/freshness.md). Hand-written, pinned: the
// channel name and payloads are part of the contract with running servers
// (src/modules/views/names.ts CHANGE_CHANNEL), so they are spelled out here, not imported.
//
// - view_source_touch() also NOTIFYs `tally_changes` with 't:<schema>.<table>'. NOTIFY is
//   delivered at commit and dropped on rollback, and PostgreSQL folds identical
//   notifications of one transaction into one. Stamps now carry clock_timestamp() (the
//   writing statement's time, nearer the commit than the transaction's start) for staleSince.
// - staleSince needs the first change a view has not seen, but a stamp row keeps only its
//   last writer. So each row also keeps the first stamp of its current run (first_at,
//   first_xid): a run starts again when the row's previous stamp was seen by every view that
//   reads the table, which each refresh records in view_source_seen (its snapshot, per table
//   it reads). Writers only read view_source_seen; only refreshes write it.
// - With the setting tally.notify_changes = 'first' (ALTER DATABASE … SET, for writers'
//   sessions), a write is announced only when it starts a new run in its row, i.e. at most
//   once per backend and refresh cycle: NOTIFY serialises the commits of the transactions
//   that send it, which costs write throughput (docs/freshness.md). Default: every writing
//   transaction.
// - view_refresh_failure: the last failed refresh of each view, written after the failed
//   run rolled back, so every instance can report it.
export class Migration20261125000000_view_change_notify extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table view_source_seen (
      table_name text not null,
      view_name text not null,
      snapshot text not null,
      primary key (table_name, view_name)
    );`);
    this.addSql(`alter table view_source_change add column first_at timestamptz, add column first_xid bigint;`);
    this.addSql(`update view_source_change set first_at = changed_at, first_xid = changed_xid;`);
    this.addSql(`alter table view_source_change alter column first_at set not null, alter column first_xid set not null;`);
    this.addSql(`
      create or replace function view_source_touch() returns trigger language plpgsql as $$
      declare
        started boolean;
      begin
        insert into view_source_change as c (table_name, shard, changed_at, changed_xid, first_at, first_xid)
        values (tg_table_schema || '.' || tg_table_name, pg_backend_pid() % 64, clock_timestamp(), pg_current_xact_id()::text::bigint,
                clock_timestamp(), pg_current_xact_id()::text::bigint)
        on conflict (table_name, shard) do update
          set changed_at = excluded.changed_at, changed_xid = excluded.changed_xid,
              (first_at, first_xid) = (
                select case when r.seen then excluded.first_at else c.first_at end,
                       case when r.seen then excluded.first_xid else c.first_xid end
                  -- Seen by every view that recorded what it saw of the table (in the statement,
                  -- not a function: plpgsql keeps its plan).
                  from (select coalesce(bool_and(pg_visible_in_snapshot(c.changed_xid::text::xid8, s.snapshot::pg_snapshot)), false) as seen
                          from view_source_seen s where s.table_name = c.table_name) r)
          where c.changed_xid <> excluded.changed_xid
        returning c.first_xid = c.changed_xid into started;
        if started or coalesce(current_setting('tally.notify_changes', true), '') <> 'first' then
          perform pg_notify('tally_changes', 't:' || tg_table_schema || '.' || tg_table_name);
        end if;
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
    this.addSql(`alter table view_source_change drop column if exists first_at, drop column if exists first_xid;`);
    this.addSql(`
      create or replace function view_source_touch() returns trigger language plpgsql as $$
      begin
        insert into view_source_change as c (table_name, shard, changed_at, changed_xid)
        values (tg_table_schema || '.' || tg_table_name, pg_backend_pid() % 64, now(), pg_current_xact_id()::text::bigint)
        on conflict (table_name, shard) do update set changed_at = excluded.changed_at, changed_xid = excluded.changed_xid
          where c.changed_xid <> excluded.changed_xid;
        return null;
      end $$;`);
    this.addSql(`drop table if exists view_source_seen;`);
  }
}
