import { Migration } from '@mikro-orm/migrations';

// The shared buckets of the rate limiter (src/security/rate-limit.ts): the table that
// rate-limiter-flexible's RateLimiterPostgres expects, created here rather than by the library
// at run time, so the server never runs DDL. Not an entity: listed in schemaGenerator.skipTables.
// UNLOGGED: budgets are worth nothing after a crash, and their upserts then skip the WAL.
export class Migration20261125200000_rate_limit extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create unlogged table "rate_limit" ("key" varchar(255) primary key, "points" integer not null default 0, "expire" bigint);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "rate_limit";`);
  }
}
