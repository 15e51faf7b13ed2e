-- The tree from the roots down. sort_key holds the sibling ranks along the path, so
-- ordering by it is depth-first pre-order; ord numbers that order, and a subtree is the
-- range ord..subtree_end. Rows in a cycle are unreachable from a root and left out; the
-- path check keeps the recursion finite whatever the table holds.
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
with data;

create unique index category_tree_id_uidx on category_tree (id);
create unique index category_tree_ord_uidx on category_tree (ord) include (subtree_end);
create index category_tree_parent_id_idx on category_tree (parent_id);
create index category_tree_path_gin on category_tree using gin (path);
