-- One row per item, items without reviews included (count 0, rating null). Reviews are
-- aggregated before the join so the GROUP BY runs over gear_review alone.
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
with data;

create unique index gear_item_stats_gear_item_id_uidx on gear_item_stats (gear_item_id);
-- Sorts end with id ascending. A null mean sorts last both ways: the query sorts on
-- coalesce(review_rating, -/+Infinity), so a keyset bound is a single index range.
create index gear_item_stats_rating_desc_idx on gear_item_stats ((coalesce(review_rating, '-Infinity'::float8)) desc, gear_item_id);
create index gear_item_stats_rating_asc_idx on gear_item_stats ((coalesce(review_rating, 'Infinity'::float8)) asc, gear_item_id);
create index gear_item_stats_count_desc_idx on gear_item_stats (review_count desc, gear_item_id);
create index gear_item_stats_count_asc_idx on gear_item_stats (review_count asc, gear_item_id);
