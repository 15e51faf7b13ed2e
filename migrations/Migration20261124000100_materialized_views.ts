import { Migration } from '@mikro-orm/migrations';

// The materialized views, by hand: MikroORM 6 does not generate views. Each has the unique
// index that REFRESH ... CONCURRENTLY needs, and the indexes the API's reads use.
export class Migration20261124000100_materialized_views extends Migration {
  override async up(): Promise<void> {
    // One row per item, items without reviews included (count 0, rating null). Reviews are
    // aggregated before the join so the GROUP BY runs over gear_review alone.
    this.addSql(`
      create materialized view gear_item_stats as
      select i.id as gear_item_id,
             coalesce(r.review_count, 0)::int as review_count,
             r.review_rating,
             coalesce(r.rating_sum, 0)::bigint as rating_sum
        from gear_item i
        left join (
          select gear_item_id,
                 count(*) as review_count,
                 avg(rating)::float8 as review_rating,
                 sum(rating) as rating_sum
            from gear_review
           group by gear_item_id
        ) r on r.gear_item_id = i.id
      with data;`);
    this.addSql(`create unique index gear_item_stats_gear_item_id_uidx on gear_item_stats (gear_item_id);`);
    // Sorts end with id ascending. A null mean sorts last both ways: the query sorts on
    // coalesce(review_rating, -/+Infinity), so a keyset bound is a single index range.
    this.addSql(`create index gear_item_stats_rating_desc_idx on gear_item_stats ((coalesce(review_rating, '-Infinity'::float8)) desc, gear_item_id);`);
    this.addSql(`create index gear_item_stats_rating_asc_idx on gear_item_stats ((coalesce(review_rating, 'Infinity'::float8)) asc, gear_item_id);`);
    this.addSql(`create index gear_item_stats_count_desc_idx on gear_item_stats (review_count desc, gear_item_id);`);
    this.addSql(`create index gear_item_stats_count_asc_idx on gear_item_stats (review_count asc, gear_item_id);`);

    // Items created since gear_item_stats was last refreshed: the reads list them with 0 / null
    // without scanning every item for a missing view row. A refresh deletes the ids it took in.
    this.addSql(`create table gear_item_stats_pending (gear_item_id int primary key references gear_item (id) on delete cascade);`);
    this.addSql(`
      create function gear_item_stats_pending_add() returns trigger language plpgsql as $$
      begin
        insert into gear_item_stats_pending (gear_item_id) select id from new_items on conflict do nothing;
        return null;
      end $$;`);
    this.addSql(`
      create trigger gear_item_stats_pending_add after insert on gear_item
      referencing new table as new_items for each statement execute function gear_item_stats_pending_add();`);

    // The tree from the roots down. sort_key holds the sibling ranks along the path, so
    // ordering by it is depth-first pre-order; ord numbers that order, and a subtree is the
    // range ord..subtree_end. Rows in a cycle are unreachable from a root and left out; the
    // path check keeps the recursion finite whatever the table holds.
    this.addSql(`
      create materialized view category_tree as
      with recursive ranked as (
        select c.id, c.parent_id, c.name,
               row_number() over (partition by c.parent_id order by c.name, c.id) as sibling_rank
          from gear_category c
      ), walk as (
        select r.id, r.parent_id, r.name, 0 as depth, array[r.id] as path, array[r.sibling_rank] as sort_key
          from ranked r
         where r.parent_id is null
        union all
        select r.id, r.parent_id, r.name, w.depth + 1, w.path || r.id, w.sort_key || r.sibling_rank
          from walk w
          join ranked r on r.parent_id = w.id
         where r.id <> all (w.path)
      ), ordered as (
        select w.*, row_number() over (order by w.sort_key)::int as ord from walk w
      ), sizes as (
        select a.id, count(*)::int as size from walk w cross join lateral unnest(w.path) as a(id) group by a.id
      )
      select o.id, o.parent_id, o.name::text as name, o.depth, o.path, o.ord, (o.ord + s.size - 1) as subtree_end
        from ordered o
        join sizes s on s.id = o.id
      with data;`);
    this.addSql(`create unique index category_tree_id_uidx on category_tree (id);`);
    this.addSql(`create unique index category_tree_ord_uidx on category_tree (ord) include (subtree_end);`);
    this.addSql(`create index category_tree_parent_id_idx on category_tree (parent_id);`);
    this.addSql(`create index category_tree_path_gin on category_tree using gin (path);`);

    // Aggregates over each category's whole subtree: per-category sums first, then rolled up
    // to every ancestor on the path. The mean is taken from summed ratings, not averaged means.
    this.addSql(`
      create materialized view category_stats as
      with direct as (
        select i.category_id,
               count(*) as item_count,
               coalesce(sum(s.review_count), 0) as review_count,
               coalesce(sum(s.rating_sum), 0) as rating_sum
          from gear_item i
          left join gear_item_stats s on s.gear_item_id = i.id
         where i.category_id is not null
         group by i.category_id
      )
      select a.category_id,
             coalesce(sum(d.item_count), 0)::int as item_count,
             coalesce(sum(d.review_count), 0)::int as review_count,
             (sum(d.rating_sum)::float8 / nullif(sum(d.review_count), 0)::float8) as review_rating
        from category_tree t
        cross join lateral unnest(t.path) as a(category_id)
        left join direct d on d.category_id = t.id
       group by a.category_id
      with data;`);
    this.addSql(`create unique index category_stats_category_id_uidx on category_stats (category_id);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop materialized view if exists category_stats;`);
    this.addSql(`drop materialized view if exists category_tree;`);
    this.addSql(`drop trigger if exists gear_item_stats_pending_add on gear_item;`);
    this.addSql(`drop function if exists gear_item_stats_pending_add();`);
    this.addSql(`drop table if exists gear_item_stats_pending;`);
    this.addSql(`drop materialized view if exists gear_item_stats;`);
  }
}
