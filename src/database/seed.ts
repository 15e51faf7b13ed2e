import { sql, type Sql } from './sql';

export interface SeedSizes {
  /** Root categories; each category below has `branching` children, `depth` levels in all. */
  roots: number;
  branching: number;
  depth: number;
  items: number;
  reviews: number;
  /** Share of items that get no review at all (0..1). */
  unreviewedShare: number;
}

export const DEMO_SIZES: SeedSizes = { roots: 4, branching: 3, depth: 4, items: 600, reviews: 6000, unreviewedShare: 0.1 };

const ROOTS = ['Camping', 'Climbing', 'Cycling', 'Hiking', 'Paddling', 'Running', 'Skiing', 'Travel'];
const WORDS = ['Shelter', 'Sleep', 'Kitchen', 'Light', 'Packs', 'Apparel', 'Footwear', 'Safety', 'Tools', 'Water'];
const ADJECTIVES = ['Alpine', 'Trail', 'Ultralight', 'Summit', 'Rugged', 'Compact', 'Expedition', 'Coastal', 'Basecamp', 'Ridge'];
const NOUNS = ['Tent', 'Sleeping Bag', 'Stove', 'Headlamp', 'Backpack', 'Jacket', 'Boot', 'Helmet', 'Rope', 'Bottle', 'Pad', 'Tarp'];

/**
 * Fills the catalog with generated data in a few set-based statements (generate_series),
 * so that a million rows take seconds. Deterministic for given sizes (setseed, on the one
 * connection of its transaction); all or nothing. Returns the number of categories, items
 * and reviews written.
 */
export function seedCatalog(db: Sql, s: SeedSizes, progress: (msg: string) => void = () => {}) {
  return db.transaction(async (tx) => {
    const counts = await seedIn(tx, s, progress);
    // Fresh statistics, so the planner knows the sizes at once (autovacuum may be slow or off).
    await tx.rows(sql.query`analyze gear_category, gear_item, gear_review`);
    return counts;
  });
}

async function seedIn(tx: Sql, s: SeedSizes, progress: (msg: string) => void) {
  await tx.rows(sql.query`select setseed(0.42)`);
  progress(`categories: ${s.roots} roots, ${s.branching} children each, ${s.depth} levels`);
  // Level by level: each parent of the previous level gets `branching` children.
  const roots = sql.value(ROOTS);
  await tx.rows(
    sql.query`insert into gear_category (name)
     select (${roots}::text[])[1 + (g - 1) % array_length(${roots}::text[], 1)] || case when g > array_length(${roots}::text[], 1) then ' ' || g else '' end
       from generate_series(1, ${sql.value(s.roots)}::int) g`,
  );
  for (let level = 1; level < s.depth; level++) {
    const words = sql.value(WORDS);
    await tx.rows(
      sql.query`insert into gear_category (parent_id, name)
       select p.id, (${words}::text[])[1 + (p.id * 7 + k) % array_length(${words}::text[], 1)] || ' ' || k
         from gear_category p
         cross join generate_series(1, ${sql.value(s.branching)}::int) k
        where not exists (select 1 from gear_category c where c.parent_id = p.id)`,
    );
  }
  const [{ n: categories }] = await tx.rows<{ n: number }>(sql.query`select count(*)::int as n from gear_category`);

  progress(`items: ${s.items}`);
  const [adjectives, nouns] = [sql.value(ADJECTIVES), sql.value(NOUNS)];
  await tx.rows(
    sql.query`with cats as (select array_agg(id order by id) as ids from gear_category)
     insert into gear_item (name, description, category_id, created_at)
     select (${adjectives}::text[])[1 + floor(random() * array_length(${adjectives}::text[], 1))::int] || ' ' ||
            (${nouns}::text[])[1 + floor(random() * array_length(${nouns}::text[], 1))::int] || ' ' || g,
            case when random() < 0.7 then 'Generated demo item ' || g end,
            cats.ids[1 + floor(random() * ${sql.value(categories)}::int)::int],
            now() - random() * interval '730 days'
       from cats cross join generate_series(1, ${sql.value(s.items)}::int) g`,
  );

  progress(`reviews: ${s.reviews}`);
  // Reviews go to the first (1 - unreviewedShare) of the items, skewed towards some; each
  // item has its own leaning, so means differ.
  await tx.rows(
    sql.query`with bounds as (select min(id) as lo, floor(count(*) * (1 - ${sql.value(s.unreviewedShare)}::float8))::int as n from gear_item)
     insert into gear_review (gear_item_id, rating, body, created_at)
     select r.item_id,
            least(5, greatest(1, round(1 + ((r.item_id * 2654435761::bigint) % 5) * 0.8 + (random() - 0.5) * 3)))::smallint,
            case when random() < 0.5 then 'Review ' || g end,
            now() - random() * interval '700 days'
       from bounds b
       cross join generate_series(1, ${sql.value(s.reviews)}::int) g
       cross join lateral (select b.lo + floor(power(random(), 1.5) * greatest(b.n, 1))::int + g * 0 as item_id) r
      where b.n > 0`,
  );
  const [{ items, reviews }] = await tx.rows<{ items: number; reviews: number }>(
    sql.query`select (select count(*)::int from gear_item) as items, (select count(*)::int from gear_review) as reviews`,
  );
  return { categories, items, reviews };
}

export async function catalogIsEmpty(db: Sql): Promise<boolean> {
  const row = await db.one<{ empty: boolean }>(
    sql.query`select not exists (select 1 from gear_category) and not exists (select 1 from gear_item) as empty`,
  );
  return row?.empty ?? true;
}
