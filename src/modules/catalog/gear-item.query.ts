import { sql, type SqlFragment } from '../../database/sql';
import { isFiniteOrNull, isInt, isText, isTimestamp, type CursorCheck, type CursorValue } from '../common/cursor';
import { checkText, comparisonsSql, containsPattern, normalizeComparisons, OrderDirection, type Comparisons } from '../common/filters';
import { parseOptionalId } from '../common/ids';
import { inSubtree, itemWithStats, itemsWithStatsCount, itemsWithStatsPage, ratingSortKey, type ItemWithStatsRow } from '../views/reads';
import { GearItemOrderField, type GearItemFilter, type GearItemOrder } from './gear-item.inputs';

// What a gearItems request asks, normalised (checked, defaults applied, equivalent
// spellings made one), and the one statement that filters, sorts and pages it in
// PostgreSQL (keyset, no OFFSET). Cursors are bound to the normalised request, never to
// the SQL, so rewording the SQL in a release leaves every cursor that clients hold working.

interface FieldSpec {
  column: SqlFragment;
  /** The row's value of this field, as a cursor carries it. */
  key: keyof ItemWithStatsRow;
  cast: string;
  /** The sort key: the column itself, except where nulls must sort last. */
  sortKey: (expr: SqlFragment, dir: OrderDirection) => SqlFragment;
  /** Checks a value taken from a cursor. */
  valid: CursorCheck;
}

const plain = (expr: SqlFragment) => expr;
const FIELDS: Record<GearItemOrderField, FieldSpec> = {
  ID: { column: itemWithStats.id, key: 'id', cast: 'int', sortKey: plain, valid: isInt },
  NAME: { column: itemWithStats.name, key: 'name', cast: 'text', sortKey: plain, valid: isText },
  CREATED_AT: { column: itemWithStats.createdAt, key: 'createdAt', cast: 'timestamptz', sortKey: plain, valid: isTimestamp },
  REVIEW_COUNT: { column: itemWithStats.reviewCount, key: 'reviewCount', cast: 'int', sortKey: plain, valid: isInt },
  REVIEW_RATING: { column: itemWithStats.reviewRating, key: 'reviewRating', cast: 'float8', sortKey: ratingSortKey, valid: isFiniteOrNull },
};

export interface Term {
  field: GearItemOrderField;
  dir: OrderDirection;
}

/**
 * The orderBy terms in force: as given, without repeats of a field (they can never decide),
 * cut after ID (a unique key), then ID ascending.
 */
export function normalizeOrder(orderBy: readonly GearItemOrder[] | null | undefined): Term[] {
  const terms: Term[] = [];
  for (const o of orderBy ?? []) {
    if (terms.some((t) => t.field === o.field)) continue;
    const term = { field: o.field, dir: o.direction ?? OrderDirection.ASC };
    terms.push(term);
    if (term.field === GearItemOrderField.ID) return terms;
  }
  terms.push({ field: GearItemOrderField.ID, dir: OrderDirection.ASC });
  return terms;
}

/** A filter as checked: only the terms given, ids as numbers, in one fixed key order. */
export interface NormalizedFilter {
  categoryId?: number;
  inCategory?: number;
  nameContains?: string;
  reviewCount?: Comparisons;
  reviewRating?: Comparisons;
}

/** Checks the filter (BAD_USER_INPUT names the bad field) and drops what does not filter. */
export function normalizeFilter(filter: GearItemFilter | null | undefined): NormalizedFilter {
  const out: NormalizedFilter = {};
  if (!filter) return out;
  const categoryId = parseOptionalId(filter.categoryId, 'filter.categoryId');
  if (categoryId !== null) out.categoryId = categoryId;
  const inCategory = parseOptionalId(filter.inCategory, 'filter.inCategory');
  if (inCategory !== null) out.inCategory = inCategory;
  if (filter.nameContains != null) {
    const text = checkText(filter.nameContains, 'filter.nameContains', 200);
    if (text !== '') out.nameContains = text;
  }
  const reviewCount = normalizeComparisons(filter.reviewCount, 'filter.reviewCount');
  if (reviewCount) out.reviewCount = reviewCount;
  const reviewRating = normalizeComparisons(filter.reviewRating, 'filter.reviewRating');
  if (reviewRating) out.reviewRating = reviewRating;
  return out;
}

/** The filter's conditions on the item rows. */
export function filterSql(f: NormalizedFilter): SqlFragment[] {
  const out: SqlFragment[] = [];
  if (f.categoryId !== undefined) out.push(sql.query`${itemWithStats.categoryId} = ${sql.value(f.categoryId)}::int`);
  if (f.inCategory !== undefined) out.push(inSubtree(itemWithStats.categoryId, f.inCategory));
  if (f.nameContains !== undefined) out.push(sql.query`${itemWithStats.name} ilike ${sql.value(containsPattern(f.nameContains))}::text`);
  if (f.reviewCount) out.push(...comparisonsSql(itemWithStats.reviewCount, f.reviewCount, 'int'));
  if (f.reviewRating) out.push(...comparisonsSql(itemWithStats.reviewRating, f.reviewRating, 'float8'));
  return out;
}

/** What a gearItems cursor is bound to: the normalised filter and order. */
export function cursorScope(filter: NormalizedFilter, terms: readonly Term[]): string {
  return `gearItems:${JSON.stringify([filter, terms])}`;
}

/** The checks a cursor's key must pass for these terms. */
export const cursorChecks = (terms: readonly Term[]): CursorCheck[] => terms.map((t) => FIELDS[t.field].valid);

/** The cursor value of a row for each term (dates as ISO text, as the cursor carries them). */
export function sortKeyOf(row: ItemWithStatsRow, terms: readonly Term[]): CursorValue[] {
  return terms.map((t) => {
    const v = row[FIELDS[t.field].key];
    return v instanceof Date ? v.toISOString() : v;
  });
}

const sortKey = (t: Term) => FIELDS[t.field].sortKey(FIELDS[t.field].column, t.dir);

/**
 * Rows strictly after `after` in the order of `terms`: the first term's bound is a plain
 * range (so the sort index can start there), then the lexicographic comparison.
 */
function keysetSql(terms: readonly Term[], after: readonly CursorValue[]): SqlFragment[] {
  const keys = terms.map(sortKey);
  const bounds = terms.map((t, i) => FIELDS[t.field].sortKey(sql.query`${sql.value(after[i])}::${sql.raw(FIELDS[t.field].cast)}`, t.dir));
  const beyond = (i: number) => sql.raw(terms[i].dir === OrderDirection.DESC ? '<' : '>');
  const alternatives = terms.map((_, i) =>
    sql.join([...keys.slice(0, i).map((k, j) => sql.query`${k} = ${bounds[j]}`), sql.query`${keys[i]} ${beyond(i)} ${bounds[i]}`], ' and '),
  );
  return [sql.query`${keys[0]} ${beyond(0)}= ${bounds[0]}`, sql.query`(${sql.join(alternatives, ' or ')})`];
}

/** The page statement: up to `limit` rows after `after` (null: from the start). */
export function pageSql(filter: NormalizedFilter, terms: readonly Term[], after: readonly CursorValue[] | null, limit: number): SqlFragment {
  const where = after ? [...filterSql(filter), ...keysetSql(terms, after)] : filterSql(filter);
  const order = sql.join(
    terms.map((t) => sql.query`${sortKey(t)} ${sql.raw(t.dir === OrderDirection.DESC ? 'desc' : 'asc')}`),
    ', ',
  );
  return itemsWithStatsPage(where, order, limit);
}

/** Every match, counted. */
export function countSql(filter: NormalizedFilter): SqlFragment {
  return itemsWithStatsCount(filterSql(filter));
}
