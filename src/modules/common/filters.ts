import { Field, Float, InputType, Int, registerEnumType } from 'type-graphql';
import { sql, type SqlFragment } from '../../database/sql';
import { BadUserInputError } from '../../errors';

export enum OrderDirection {
  ASC = 'ASC',
  DESC = 'DESC',
}
registerEnumType(OrderDirection, { name: 'OrderDirection', description: 'Sort direction.' });

@InputType({ description: 'Comparisons on an integer; all given terms must hold.' })
export class IntFilter {
  @Field(() => Int, { nullable: true, description: 'Equal to.' })
  eq?: number | null;
  @Field(() => Int, { nullable: true, description: 'Not equal to.' })
  ne?: number | null;
  @Field(() => Int, { nullable: true, description: 'Greater than.' })
  gt?: number | null;
  @Field(() => Int, { nullable: true, description: 'Greater than or equal to.' })
  gte?: number | null;
  @Field(() => Int, { nullable: true, description: 'Less than.' })
  lt?: number | null;
  @Field(() => Int, { nullable: true, description: 'Less than or equal to.' })
  lte?: number | null;
}

@InputType({ description: 'Comparisons on a nullable float; all given terms must hold.' })
export class FloatFilter {
  @Field(() => Float, { nullable: true, description: 'Equal to (never matches null).' })
  eq?: number | null;
  @Field(() => Float, { nullable: true, description: 'Greater than (never matches null).' })
  gt?: number | null;
  @Field(() => Float, { nullable: true, description: 'Greater than or equal to (never matches null).' })
  gte?: number | null;
  @Field(() => Float, { nullable: true, description: 'Less than (never matches null).' })
  lt?: number | null;
  @Field(() => Float, { nullable: true, description: 'Less than or equal to (never matches null).' })
  lte?: number | null;
  @Field(() => Boolean, { nullable: true, description: 'true: only nulls; false: only non-nulls.' })
  isNull?: boolean | null;
}

const COMPARISONS = { eq: '=', ne: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
type Comparison = keyof typeof COMPARISONS;

/** The terms of an Int/Float filter that were given, checked, in one fixed order; isNull last. */
export type Comparisons = Partial<Record<Comparison, number>> & { isNull?: boolean };

/**
 * The given terms of an Int/Float filter, checked (BAD_USER_INPUT naming `field`); null
 * when none is given, so that `{}` and no filter are the same.
 */
export function normalizeComparisons(filter: IntFilter | FloatFilter | null | undefined, field: string): Comparisons | null {
  if (!filter) return null;
  const out: Comparisons = {};
  for (const op of Object.keys(COMPARISONS) as Comparison[]) {
    const value = (filter as Record<string, number | null | undefined>)[op];
    if (value == null) continue;
    // graphql-js turns a Float literal such as 1e400 into Infinity without complaint.
    if (!Number.isFinite(value)) throw new BadUserInputError(`${field}.${op} must be a finite number`, `${field}.${op}`);
    out[op] = value;
  }
  const isNull = (filter as FloatFilter).isNull;
  if (isNull != null) out.isNull = isNull;
  return Object.keys(out).length ? out : null;
}

/**
 * Every comparison on `expr`; SQL comparisons never match null. (comparisonsHold follows it.)
 * The numbers are written into the text (sql.literal: checked finite numbers only), so a
 * statement's text says its values and it can be prepared: see filterSql.
 */
export function comparisonsSql(expr: SqlFragment, c: Comparisons, cast: string): SqlFragment[] {
  const out: SqlFragment[] = [];
  for (const op of Object.keys(COMPARISONS) as Comparison[]) {
    const value = c[op];
    if (value !== undefined) out.push(sql.query`${expr} ${sql.raw(COMPARISONS[op])} ${sql.literal(value)}::${sql.raw(cast)}`);
  }
  if (c.isNull !== undefined) out.push(sql.query`${expr} is ${sql.raw(c.isNull ? 'null' : 'not null')}`);
  return out;
}

/**
 * Whether a condition holds for rows of which some columns are known: for every such row,
 * for none, or it depends on the others. A WHERE keeps a row only when its condition is
 * true, and a filter's only negation is `is not true` (filterSql), so null counts as not
 * holding at every level.
 */
export type Holds = 'always' | 'never' | 'maybe';

/** `a and b and …` (true: nothing to hold). */
export const allHold = (terms: readonly Holds[]): Holds =>
  terms.includes('never') ? 'never' : terms.every((t) => t === 'always') ? 'always' : 'maybe';
/** `a or b or …` (false: nothing can hold). */
export const anyHolds = (terms: readonly Holds[]): Holds =>
  terms.includes('always') ? 'always' : terms.every((t) => t === 'never') ? 'never' : 'maybe';
/** `(a) is not true`. */
export const holdsNot = (term: Holds): Holds => (term === 'always' ? 'never' : term === 'never' ? 'always' : 'maybe');

/** Each comparison, as SQL makes it between two numbers. */
const COMPARE: Record<Comparison, (a: number, b: number) => boolean> = {
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  gt: (a, b) => a > b,
  gte: (a, b) => a >= b,
  lt: (a, b) => a < b,
  lte: (a, b) => a <= b,
};

/**
 * Whether each condition of comparisonsSql(expr, c, cast) holds when `expr` is `value`, in
 * the same order. A bound that the cast could change (not an integer, for int) is undecided.
 */
export function comparisonsHold(value: number | null, c: Comparisons, cast: 'int' | 'float8'): Holds[] {
  const out: Holds[] = [];
  for (const op of Object.keys(COMPARISONS) as Comparison[]) {
    const bound = c[op];
    if (bound === undefined) continue;
    if (value === null) out.push('never');
    else if (cast === 'int' && !Number.isSafeInteger(bound)) out.push('maybe');
    else out.push(COMPARE[op](value, bound) ? 'always' : 'never');
  }
  if (c.isNull !== undefined) out.push((value === null) === c.isNull ? 'always' : 'never');
  return out;
}

/** Text from a client: PostgreSQL cannot store NUL, and nothing we keep is longer than `max`. */
export function checkText(value: string, field: string, max: number): string {
  if (value.includes('\u0000')) throw new BadUserInputError(`${field} must not contain NUL characters`, field);
  if (value.length > max) throw new BadUserInputError(`${field} must be at most ${max} characters`, field);
  return value;
}

/** A LIKE pattern matching `text` literally anywhere: %, _ and \ are plain characters. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
