import { Migration } from '@mikro-orm/migrations';

// Indexes for gearItems pages on gear_item's own columns (the view's columns have theirs in
// the views migration). Declared on the GearItem entity too, so the schema diff stays empty.
export class Migration20261124002000_item_query_indexes extends Migration {
  override async up(): Promise<void> {
    // Sorts by name or createdAt end with id ascending; descending, the index is read
    // backwards and an incremental sort orders the (rare) equal keys by id.
    this.addSql(`create index "gear_item_name_id_index" on "gear_item" ("name", "id");`);
    this.addSql(`create index "gear_item_created_at_id_index" on "gear_item" ("created_at", "id");`);
    // nameContains is ILIKE '%…%': only trigrams can narrow an infix match. pg_trgm is a
    // trusted extension (PostgreSQL 13+), so the database owner may create it.
    this.addSql(`create extension if not exists pg_trgm;`);
    this.addSql(`create index "gear_item_name_trgm_index" on "gear_item" using gin ("name" gin_trgm_ops);`);
  }

  override async down(): Promise<void> {
    // pg_trgm stays: it may have been there before, or serve other objects.
    this.addSql(`drop index if exists "gear_item_name_trgm_index";`);
    this.addSql(`drop index if exists "gear_item_created_at_id_index";`);
    this.addSql(`drop index if exists "gear_item_name_id_index";`);
  }
}
