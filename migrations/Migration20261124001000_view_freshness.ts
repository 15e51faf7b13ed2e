import { Migration } from '@mikro-orm/migrations';

// Freshness of the materialized views: a log of every refresh (a MikroORM entity, generated
// DDL) and, kept by statement-level triggers, when each table a view reads from last changed
// (hand-written, out of schema diffing). Both record transaction ids, so "changed after the
// refresh began" is decided by snapshot visibility, not by comparing clocks.
export class Migration20261124001000_view_freshness extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "view_refresh_log" ("id" bigserial primary key, "view_name" varchar(63) not null, "started_at" timestamptz(6) not null, "finished_at" timestamptz(6) not null, "duration_ms" double precision not null, "concurrently" boolean not null, "snapshot" text not null, "xid" bigint not null, "refreshed_by" varchar(20) not null);`);
    this.addSql(`create index "view_refresh_log_view_name_id_index" on "view_refresh_log" ("view_name", "id");`);

    // A writing statement stamps its table once per transaction, in one of 64 rows per table
    // (by backend), so that concurrent writers seldom queue on the same row. A row's lock is
    // held until its writer commits, so the stamp that survives in a row is its last
    // committer's: a snapshot that misses any write also misses that row's surviving stamp.
    this.addSql(`create table view_source_change (
      table_name text not null,
      shard smallint not null,
      changed_at timestamptz not null,
      changed_xid bigint not null,
      primary key (table_name, shard)
    );`);
    this.addSql(`
      create function view_source_touch() returns trigger language plpgsql as $$
      begin
        insert into view_source_change as c (table_name, shard, changed_at, changed_xid)
        values (tg_table_schema || '.' || tg_table_name, pg_backend_pid() % 64, now(), pg_current_xact_id()::text::bigint)
        on conflict (table_name, shard) do update set changed_at = excluded.changed_at, changed_xid = excluded.changed_xid
          where c.changed_xid <> excluded.changed_xid;
        return null;
      end $$;`);
    for (const table of ['gear_category', 'gear_item', 'gear_review']) {
      this.addSql(`create trigger view_source_changed after insert or update or delete or truncate on ${table}
        for each statement execute function view_source_touch();`);
    }
  }

  override async down(): Promise<void> {
    for (const table of ['gear_category', 'gear_item', 'gear_review']) {
      this.addSql(`drop trigger if exists view_source_changed on ${table};`);
    }
    this.addSql(`drop function if exists view_source_touch();`);
    this.addSql(`drop table if exists view_source_change;`);
    this.addSql(`drop table if exists "view_refresh_log" cascade;`);
  }
}
