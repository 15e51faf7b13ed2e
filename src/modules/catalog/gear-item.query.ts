import { BadUserInputError } from '../../errors';
import type { CursorValue } from '../common/cursor';
import { SqlConditions, checkText, containsPattern, OrderDirection } from '../common/filters';
import { parseOptionalId } from '../common/ids';
import { ITEMS_WITH_STATS_PARTS, ratingSortKey, subtreeIdsSql } from '../views/view-reads';
import { GearItemOrderField, type GearItemFilter, type GearItemOrder } from './gear-item.inputs';

// Builds the one statement that filters, sorts and pages items in PostgreSQL (keyset, no
// OFFSET), over `x` = every item with its cached aggregates.

interface FieldSpec {
  column: string;
  cast: string;
  /** The sort key: equal to the column except where nulls must sort last. */
  key: (expr: string, dir: OrderDirection) => string;
  /** Checks a value taken from a cursor. */
  valid: (v: CursorValue) => boolean;
}

const plain = (expr: string) => expr;
const isInt = (v: CursorValue) => typeof v === 'number' && Number.isInteger(v);
const FIELDS: Record<GearItemOrderField, FieldSpec> = {
  ID: { column: 'id', cast: 'int', key: plain, valid: isInt },
  NAME: { column: 'name', cast: 'text', key: plain, valid: (v) => typeof v === 'string' },
  CREATED_AT: {
    column: 'created_at',
    cast: 'timestamptz',
    key: plain,
    valid: (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)),
  },
  REVIEW_COUNT: { column: 'review_count', cast: 'int', key: plain, valid: isInt },
  REVIEW_RATING: {
    column: 'review_rating',
    cast: 'float8',
    key: ratingSortKey,
    valid: (v) => v === null || (typeof v === 'number' && Number.isFinite(v)),
  },
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

/** The cursor value of a row for each term (dates as ISO text, as the cursor carries them). */
export function sortKeyOf(row: Record<string, unknown>, terms: Term[]): CursorValue[] {
  return terms.map((t) => {
    const v = row[FIELDS[t.field].column];
    return v instanceof Date ? v.toISOString() : (v as CursorValue);
  });
}

/** Filter conditions on `x`, with their parameters; BAD_USER_INPUT names the bad field. */
export function filterConditions(filter: GearItemFilter | null | undefined): SqlConditions {
  const c = new SqlConditions();
  if (!filter) return c;
  const categoryId = parseOptionalId(filter.categoryId, 'filter.categoryId');
  if (categoryId !== null) c.add(`x.category_id = ${c.param(categoryId, 'int')}`);
  const inCategory = parseOptionalId(filter.inCategory, 'filter.inCategory');
  if (inCategory !== null) c.add(`x.category_id in (${subtreeIdsSql(c.param(inCategory, 'int'))})`);
  if (filter.nameContains != null) {
    const text = checkText(filter.nameContains, 'filter.nameContains', 200);
    if (text !== '') c.add(`x.name ilike ${c.param(containsPattern(text), 'text')}`);
  }
  c.compare('x.review_count', filter.reviewCount, 'int', 'filter.reviewCount');
  c.compare('x.review_rating', filter.reviewRating, 'float8', 'filter.reviewRating');
  return c;
}

/**
 * Rows strictly after `after` in the order of `terms`: the first term's bound is a plain
 * range (so the sort index can start there), then the lexicographic comparison.
 */
function keysetCondition(c: SqlConditions, terms: Term[], after: CursorValue[]): void {
  const keys = terms.map((t) => FIELDS[t.field].key(`x.${FIELDS[t.field].column}`, t.dir));
  const params = terms.map((t, i) => FIELDS[t.field].key(c.param(after[i], FIELDS[t.field].cast), t.dir));
  const beyond = (i: number) => (terms[i].dir === OrderDirection.DESC ? '<' : '>');
  const alternatives = terms.map((_, i) =>
    [...keys.slice(0, i).map((k, j) => `${k} = ${params[j]}`), `${keys[i]} ${beyond(i)} ${params[i]}`].join(' and '),
  );
  c.add(`${keys[0]} ${beyond(0)}= ${params[0]}`);
  c.add(`(${alternatives.join(' or ')})`);
}

export function decodeKey(key: CursorValue[], terms: Term[], field: string): CursorValue[] {
  if (key.length !== terms.length || !terms.every((t, i) => FIELDS[t.field].valid(key[i]))) {
    throw new BadUserInputError(`${field} is not a cursor from this query (same filter and orderBy)`, field);
  }
  return key;
}

const COLUMNS = 'x.id, x.name, x.description, x.category_id, x.created_at, x.review_count, x.review_rating';

/**
 * Each part of the item list (see ITEMS_WITH_STATS_PARTS) filtered, sorted and cut to
 * `limit` on its own, so the view's sort indexes serve it; then the parts' rows, at most
 * `limit` each, merged in the same order and cut again.
 */
export function pageQuery(filter: SqlConditions, terms: Term[], after: CursorValue[] | null, limit: number) {
  const c = new SqlConditions([...filter.params]);
  filter.conditions.forEach((cond) => c.add(cond));
  if (after) keysetCondition(c, terms, after);
  const order = terms
    .map((t) => `${FIELDS[t.field].key(`x.${FIELDS[t.field].column}`, t.dir)} ${t.dir === OrderDirection.DESC ? 'desc' : 'asc'}`)
    .join(', ');
  // The limit is written into the text (a checked integer, never client text): with it known,
  // PostgreSQL can reuse a generic plan of a prepared page instead of planning every call.
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`bad page limit ${limit}`);
  const tail = `order by ${order} limit ${limit}`;
  const parts = ITEMS_WITH_STATS_PARTS.map((part) => `(select ${COLUMNS} from (${part}) x ${c.where()} ${tail})`);
  const text = `select ${COLUMNS} from (${parts.join(' union all ')}) x ${tail}`;
  return { text, params: c.params };
}

/** Every match, counted in each part on its own (so the filter can use the parts' indexes). */
export function countQuery(filter: SqlConditions) {
  const counts = ITEMS_WITH_STATS_PARTS.map((part) => `(select count(*) from (${part}) x ${filter.where()})`);
  return { text: `select (${counts.join(' + ')})::int as n`, params: filter.params };
}
