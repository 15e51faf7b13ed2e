-- Aggregates over each category's whole subtree: per-category sums first, then rolled up
-- to every ancestor on the path. The mean is taken from summed ratings, not averaged means.
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
with data;

create unique index category_stats_category_id_uidx on category_stats (category_id);
