-- v3: v2 with its sort indexes covering the aggregates (INCLUDE): a page filtered on them
-- while sorted by another is read from the index alone (an index-only scan) where the
-- visibility map allows, which a refresh keeps set (it vacuums the views it refreshed).
-- One row per item, items without reviews included (count 0, rating null). Reviews are
-- aggregated before the join so the GROUP BY runs over gear_review alone.
create materialized view gear_item_stats as
select i.id as gear_item_id,
       coalesce(r.review_count, 0)::int as review_count,
       r.review_rating,
       coalesce(r.rating_sum, 0)::bigint as rating_sum,
       r.last_reviewed_at
  from gear_item i
  left join (
    select gear_item_id,
           count(*) as review_count,
           avg(rating)::float8 as review_rating,
           sum(rating) as rating_sum,
           max(created_at) as last_reviewed_at
      from gear_review
     group by gear_item_id
  ) r on r.gear_item_id = i.id
with data;

create unique index gear_item_stats_gear_item_id_uidx on gear_item_stats (gear_item_id);
-- Sorts end with id ascending. A null mean sorts last both ways: the query sorts on
-- coalesce(review_rating, -/+Infinity), so a keyset bound is a single index range. Each
-- holds both aggregates, so a filter on the other one is checked on the index entry, not
-- on a heap row fetched for every entry walked past.
create index gear_item_stats_rating_desc_idx on gear_item_stats ((coalesce(review_rating, '-Infinity'::float8)) desc, gear_item_id) include (review_count, review_rating);
create index gear_item_stats_rating_asc_idx on gear_item_stats ((coalesce(review_rating, 'Infinity'::float8)) asc, gear_item_id) include (review_count, review_rating);
create index gear_item_stats_count_desc_idx on gear_item_stats (review_count desc, gear_item_id) include (review_rating);
create index gear_item_stats_count_asc_idx on gear_item_stats (review_count asc, gear_item_id) include (review_rating);
