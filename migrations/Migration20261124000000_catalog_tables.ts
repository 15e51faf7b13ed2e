import { Migration } from '@mikro-orm/migrations';

// Generated from the entities by MikroORM's schema generator, then named.
export class Migration20261124000000_catalog_tables extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "gear_category" ("id" serial primary key, "parent_id" int null, "name" varchar(200) not null);`);
    this.addSql(`create index "gear_category_parent_id_name_id_index" on "gear_category" ("parent_id", "name", "id");`);

    this.addSql(`create table "gear_item" ("id" serial primary key, "name" varchar(200) not null, "description" text null, "category_id" int null, "created_at" timestamptz(3) not null default now());`);
    this.addSql(`create index "gear_item_category_id_index" on "gear_item" ("category_id");`);

    this.addSql(`create table "gear_review" ("id" serial primary key, "gear_item_id" int not null, "rating" smallint not null, "body" text null, "created_at" timestamptz(3) not null default now(), constraint gear_review_rating_check check (rating >= 1 and rating <= 5));`);
    this.addSql(`create index "gear_review_gear_item_id_created_at_id_index" on "gear_review" ("gear_item_id", "created_at", "id");`);

    this.addSql(`alter table "gear_category" add constraint "gear_category_parent_id_foreign" foreign key ("parent_id") references "gear_category" ("id") on update cascade on delete restrict;`);
    this.addSql(`alter table "gear_item" add constraint "gear_item_category_id_foreign" foreign key ("category_id") references "gear_category" ("id") on update cascade on delete set null;`);
    this.addSql(`alter table "gear_review" add constraint "gear_review_gear_item_id_foreign" foreign key ("gear_item_id") references "gear_item" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "gear_review" cascade;`);
    this.addSql(`drop table if exists "gear_item" cascade;`);
    this.addSql(`drop table if exists "gear_category" cascade;`);
  }
}
