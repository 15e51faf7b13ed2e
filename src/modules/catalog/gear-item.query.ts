import { sql, type SqlFragment } from '../../database/sql';
import { isFiniteOrNull, isInt, isText, isTimestamp, type CursorCheck, type CursorValue } from '../common/cursor';
import {
  allHold,
  anyHolds,
  checkText,
  comparisonsHold,
  comparisonsSql,
  containsPattern,
  holdsNot,
  normalizeComparisons,
  OrderDirection,
  type Comparisons,
  type Holds,
} from '../common/filters';
import { parseOptionalId } from '../common/ids';
import { BadUserInputError } from '../../errors';
import type { Selection } from '../common/selection';
import {
  ALL_ITEM_COLUMNS,
  inSubtree,
  itemWithStats,
  itemsWithStatsCount,
  itemsWithStatsPage,
  NO_ITEM_STATS,
  ratingSortKey,
  type ItemColumns,
  type ItemStats,
  type ItemsWithStatsParts,
  type ItemWithStatsRow,
} from '../views/reads';
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

/** A filter as checked: only the terms given, ids as numbers, in one fixed key order; combinators last. */
export interface NormalizedFilter {
  categoryId?: number;
  inCategory?: number;
  nameContains?: string;
  reviewCount?: Comparisons;
  reviewRating?: Comparisons;
  /** Each holds; never empty (no condition is no `and`). */
  and?: NormalizedFilter[];
  /** One holds; empty: nothing matches. */
  or?: NormalizedFilter[];
  /** Does not hold. */
  not?: NormalizedFilter;
}

/** How deep and/or/not may nest (the top filter is level 0), and how many terms a filter may hold in all. */
export const MAX_FILTER_DEPTH = 5;
export const MAX_FILTER_TERMS = 50;

/**
 * Checks the filter (BAD_USER_INPUT names the bad field, e.g. `filter.or[1].not.reviewCount`)
 * and drops what does not filter: `{}`, an `and` of nothing, an `or` with a filter that
 * holds always. Bounded: at most MAX_FILTER_DEPTH levels of and/or/not and MAX_FILTER_TERMS
 * terms (each field given, each nested filter).
 */
export function normalizeFilter(filter: GearItemFilter | null | undefined): NormalizedFilter {
  return normalizeAt(filter, 'filter', 0, { terms: 0 });
}

function normalizeAt(filter: GearItemFilter | null | undefined, path: string, depth: number, count: { terms: number }): NormalizedFilter {
  const out: NormalizedFilter = {};
  if (!filter) return out;
  if (depth > MAX_FILTER_DEPTH) {
    throw new BadUserInputError(`${path} nests and/or/not deeper than ${MAX_FILTER_DEPTH} levels`, path);
  }
  const term = (field: string) => {
    if (++count.terms > MAX_FILTER_TERMS) throw new BadUserInputError(`filter has more than ${MAX_FILTER_TERMS} terms (at ${field})`, field);
  };
  const keep = <K extends 'categoryId' | 'inCategory' | 'nameContains' | 'reviewCount' | 'reviewRating'>(key: K, value: NormalizedFilter[K] | null) => {
    if (value == null) return;
    term(`${path}.${key}`);
    out[key] = value;
  };
  keep('categoryId', parseOptionalId(filter.categoryId, `${path}.categoryId`));
  keep('inCategory', parseOptionalId(filter.inCategory, `${path}.inCategory`));
  if (filter.nameContains != null) keep('nameContains', checkText(filter.nameContains, `${path}.nameContains`, 200) || null);
  keep('reviewCount', normalizeComparisons(filter.reviewCount, `${path}.reviewCount`));
  keep('reviewRating', normalizeComparisons(filter.reviewRating, `${path}.reviewRating`));
  const nested = (f: GearItemFilter, at: string) => {
    term(at);
    return normalizeAt(f, at, depth + 1, count);
  };
  if (filter.and != null) {
    const all = filter.and.map((f, i) => nested(f, `${path}.and[${i}]`)).filter((f) => !holdsAlways(f));
    if (all.length) out.and = all;
  }
  if (filter.or != null) {
    const any = filter.or.map((f, i) => nested(f, `${path}.or[${i}]`));
    if (!any.some(holdsAlways)) out.or = any;
  }
  if (filter.not != null) out.not = nested(filter.not, `${path}.not`);
  return out;
}

const holdsAlways = (f: NormalizedFilter) => Object.keys(f).length === 0;

/**
 * The filter's conditions on the item rows, to be ANDed. (filterHolds follows it term by term.)
 * Ids and numbers are written into the text (checked integers and finite numbers), text is
 * sent as a parameter: a filter without text is a statement of its own for each set of
 * values, which the page can prepare (filterIsLiteral).
 */
export function filterSql(f: NormalizedFilter): SqlFragment[] {
  const out: SqlFragment[] = [];
  if (f.categoryId !== undefined) out.push(sql.query`${itemWithStats.categoryId} = ${sql.literal(f.categoryId)}::int`);
  if (f.inCategory !== undefined) out.push(inSubtree(itemWithStats.categoryId, f.inCategory));
  if (f.nameContains !== undefined) out.push(sql.query`${itemWithStats.name} ilike ${sql.value(containsPattern(f.nameContains))}::text`);
  if (f.reviewCount) out.push(...comparisonsSql(itemWithStats.reviewCount, f.reviewCount, 'int'));
  if (f.reviewRating) out.push(...comparisonsSql(itemWithStats.reviewRating, f.reviewRating, 'float8'));
  for (const part of f.and ?? []) out.push(...filterSql(part));
  if (f.or) out.push(f.or.length ? sql.query`(${sql.join(f.or.map(conjunction), ' or ')})` : sql.raw('false'));
  // A comparison with a null rating is null, and NOT null is null: `is not true` makes the
  // complement exact (the item is in `not X` whenever X does not hold for it).
  if (f.not) out.push(sql.query`(${conjunction(f.not)}) is not true`);
  return out;
}

function conjunction(f: NormalizedFilter): SqlFragment {
  const parts = filterSql(f);
  return parts.length ? sql.query`(${sql.join(parts, ' and ')})` : sql.raw('true');
}

/**
 * Whether filterSql(f) holds for rows with these aggregates, whatever their other columns
 * (those terms are undecided). Term by term as filterSql writes them.
 */
export function filterHolds(f: NormalizedFilter, stats: ItemStats): Holds {
  const terms: Holds[] = [];
  if (f.categoryId !== undefined) terms.push('maybe');
  if (f.inCategory !== undefined) terms.push('maybe');
  if (f.nameContains !== undefined) terms.push('maybe');
  if (f.reviewCount) terms.push(...comparisonsHold(stats.reviewCount, f.reviewCount, 'int'));
  if (f.reviewRating) terms.push(...comparisonsHold(stats.reviewRating, f.reviewRating, 'float8'));
  for (const part of f.and ?? []) terms.push(filterHolds(part, stats));
  if (f.or) terms.push(anyHolds(f.or.map((g) => filterHolds(g, stats))));
  if (f.not) terms.push(holdsNot(filterHolds(f.not, stats)));
  return allHold(terms);
}

/**
 * Whether the filter's SQL holds its values in its text (no name term, the only one sent as
 * a parameter). Such a page can be a prepared statement like an unfiltered one: each set of
 * values is a text of its own, planned for those values on its first run on a connection,
 * and that plan reused after. A parameter's value would be planned for blind (a generic
 * plan), and which plan is best depends on the values: a leaf's subtree or a root's, a rare
 * count or a common one.
 */
export function filterIsLiteral(f: NormalizedFilter): boolean {
  return f.nameContains === undefined && [...(f.and ?? []), ...(f.or ?? []), ...(f.not ? [f.not] : [])].every(filterIsLiteral);
}

/** The parts of the item rows a filter may match: items not yet in the view are read with NO_ITEM_STATS. */
export function partsFor(f: NormalizedFilter): ItemsWithStatsParts {
  return { pending: filterHolds(f, NO_ITEM_STATS) !== 'never' };
}

/** What a gearItems cursor is bound to: the normalised filter and order. */
export function cursorScope(filter: NormalizedFilter, terms: readonly Term[]): string {
  return `gearItems:${JSON.stringify([filter, terms])}`;
}

/** The checks a cursor's key must pass for these terms. */
export const cursorChecks = (terms: readonly Term[]): CursorCheck[] => terms.map((t) => FIELDS[t.field].valid);

/**
 * The columns a page's rows must carry for what its client selects: those of the item's
 * fields asked for, the sort keys and generation when a cursor is, the generation for
 * cachedAt and generationChanged. Without a selection (another caller): every column.
 */
export function pageColumns(selection: Selection | undefined, terms: readonly Term[]): ItemColumns {
  if (!selection) return ALL_ITEM_COLUMNS;
  const edges = selection.below('edges');
  const node = edges.below('node');
  const pageInfo = selection.below('pageInfo');
  const cursors = edges.has('cursor') || pageInfo.has('startCursor') || pageInfo.has('endCursor');
  return {
    description: node.has('description'),
    categoryId: node.has('category'),
    createdAt: node.has('createdAt') || (cursors && terms.some((t) => t.field === GearItemOrderField.CREATED_AT)),
    generation: cursors || selection.has('cachedAt') || selection.has('generationChanged'),
  };
}

/** The cursor value of a row for each term (dates as ISO text, as the cursor carries them). */
export function sortKeyOf(row: ItemWithStatsRow, terms: readonly Term[]): CursorValue[] {
  return terms.map((t) => {
    const v = row[FIELDS[t.field].key];
    return v instanceof Date ? v.toISOString() : v;
  });
}

const sortKey = (t: Term) => FIELDS[t.field].sortKey(FIELDS[t.field].column, t.dir);

/**
 * Rows strictly after `bound` in the order of `terms` (`side` after), or strictly before it
 * (`side` before): the first term's bound is a plain range (so the sort index can start
 * there), then the lexicographic comparison.
 */
function keysetSql(terms: readonly Term[], bound: readonly CursorValue[], side: 'after' | 'before'): SqlFragment[] {
  const keys = terms.map(sortKey);
  const bounds = terms.map((t, i) => FIELDS[t.field].sortKey(sql.query`${sql.value(bound[i])}::${sql.raw(FIELDS[t.field].cast)}`, t.dir));
  const beyond = (i: number) => sql.raw((terms[i].dir === OrderDirection.DESC) === (side === 'after') ? '<' : '>');
  const alternatives = terms.map((_, i) =>
    sql.join([...keys.slice(0, i).map((k, j) => sql.query`${k} = ${bounds[j]}`), sql.query`${keys[i]} ${beyond(i)} ${bounds[i]}`], ' and '),
  );
  return [sql.query`${keys[0]} ${beyond(0)}= ${bounds[0]}`, sql.query`(${sql.join(alternatives, ' or ')})`];
}

/** Where a page is cut: after one key and/or before another; `backward` reads from the `before` end. */
export interface PageBounds {
  after: readonly CursorValue[] | null;
  before: readonly CursorValue[] | null;
  backward: boolean;
}

/**
 * The page statement: up to `limit` rows after `after` and before `before` (null: no bound),
 * in the order of `terms`, or, `backward`, the ones nearest `before` in the reverse order
 * (the caller puts them back). Keyset both ways: the same index, scanned the other way.
 */
export function pageSql(filter: NormalizedFilter, terms: readonly Term[], bounds: PageBounds, limit: number, columns = ALL_ITEM_COLUMNS): SqlFragment {
  const where = [
    ...filterSql(filter),
    ...(bounds.after ? keysetSql(terms, bounds.after, 'after') : []),
    ...(bounds.before ? keysetSql(terms, bounds.before, 'before') : []),
  ];
  const order = sql.join(
    terms.map((t) => sql.query`${sortKey(t)} ${sql.raw((t.dir === OrderDirection.DESC) !== bounds.backward ? 'desc' : 'asc')}`),
    ', ',
  );
  return itemsWithStatsPage(where, order, limit, partsFor(filter), columns);
}

/** Every match, counted. */
export function countSql(filter: NormalizedFilter): SqlFragment {
  return itemsWithStatsCount(filterSql(filter), partsFor(filter));
}

/**
 * True when a filter (as the client sent it) has a term no index serves together with the
 * page's order: a name substring, or a combinator (`or`, `not`) that the planner cannot turn
 * into index ranges. Such a page may read every item to find a few matches.
 */
export function filterScansItems(filter: unknown): boolean {
  if (!filter || typeof filter !== 'object') return false;
  const f = filter as Record<string, unknown>;
  if (typeof f.nameContains === 'string' && f.nameContains !== '') return true;
  if (f.not != null || (Array.isArray(f.or) && f.or.length > 0)) return true;
  return Array.isArray(f.and) && f.and.some(filterScansItems);
}
