import { Field, Float, InputType, Int, registerEnumType } from 'type-graphql';
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

/** Collects SQL conditions with numbered parameters. */
export class SqlConditions {
  readonly conditions: string[] = [];
  constructor(readonly params: unknown[] = []) {}

  param(value: unknown, cast: string): string {
    this.params.push(value);
    return `$${this.params.length}::${cast}`;
  }

  add(condition: string): void {
    this.conditions.push(condition);
  }

  /** Every given comparison of an Int/Float filter on `expr`. SQL comparisons never match null. */
  compare(expr: string, filter: IntFilter | FloatFilter | null | undefined, cast: string, field: string): void {
    if (!filter) return;
    for (const [op, sqlOp] of Object.entries(COMPARISONS)) {
      const value = (filter as Record<string, number | null | undefined>)[op];
      if (value == null) continue;
      // graphql-js turns a Float literal such as 1e400 into Infinity without complaint.
      if (!Number.isFinite(value)) throw new BadUserInputError(`${field}.${op} must be a finite number`, `${field}.${op}`);
      this.add(`${expr} ${sqlOp} ${this.param(value, cast)}`);
    }
    const isNull = (filter as FloatFilter).isNull;
    if (isNull != null) this.add(`${expr} is ${isNull ? '' : 'not '}null`);
  }

  where(): string {
    return this.conditions.length ? `where ${this.conditions.join(' and ')}` : '';
  }
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
