import { createHmac, timingSafeEqual } from 'node:crypto';
import { BadUserInputError } from '../../errors';

export type CursorValue = string | number | null;
/** Checks one position of a cursor's key, as the list that reads it expects it. */
export type CursorCheck = (v: CursorValue) => boolean;

export const isInt: CursorCheck = (v) => typeof v === 'number' && Number.isInteger(v);
export const isText: CursorCheck = (v) => typeof v === 'string';
export const isTimestamp: CursorCheck = (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
export const isFiniteOrNull: CursorCheck = (v) => v === null || (typeof v === 'number' && Number.isFinite(v));

/**
 * Formats: a cursor names its format first, so that a later release can still read an older
 * one (or refuse it, saying so) instead of mistaking it for garbage. v1: the key alone. v2:
 * the key, then the generation of the cached data the row was read from (an integer), as
 * one more position; lists over live data write v1, lists over the views v2.
 */
const V1 = 'v1';
const V2 = 'v2';

/** A cursor's contents: the sort key, and the generation it was read at (null: a v1 cursor, which has none). */
export interface DecodedCursor {
  key: CursorValue[];
  generation: number | null;
}

/**
 * Opaque keyset cursors: `v1.<key>.<mac>` or `v2.<key+generation>.<mac>`, the sort key of a
 * row bound to what the client asked (`scope`: the list, and its filter and order as
 * normalised from the arguments, never the SQL that runs them), signed so that an edited
 * cursor is refused rather than silently starting somewhere else.
 */
export class CursorCodec {
  constructor(private readonly secret: string) {}

  /** v1 without `generation`, v2 with it. */
  encode(scope: string, key: readonly CursorValue[], generation?: number | null): string {
    const format = generation == null ? V1 : V2;
    const body = Buffer.from(JSON.stringify(generation == null ? key : [...key, generation])).toString('base64url');
    return `${format}.${body}.${this.sign(format, scope, body)}`;
  }

  /** The key of a cursor of either format (see decodeWithGeneration). */
  decode(cursor: string, scope: string, field: string, checks: readonly CursorCheck[]): CursorValue[] {
    return this.decodeWithGeneration(cursor, scope, field, checks).key;
  }

  /**
   * The key the cursor holds, each position passing its check, and its generation;
   * BAD_USER_INPUT naming `field` unless it was made by encode(scope) for a key of that shape.
   */
  decodeWithGeneration(cursor: string, scope: string, field: string, checks: readonly CursorCheck[]): DecodedCursor {
    const bad = () => new BadUserInputError(`${field} is not a cursor from this query (same filter and orderBy)`, field);
    if (cursor.length > 2048) throw bad();
    const [format, body, mac, extra] = cursor.split('.');
    if ((format !== V1 && format !== V2) || body === undefined) {
      throw new BadUserInputError(`${field} is a cursor of a format this server does not read; start again from the first page`, field);
    }
    if (!body || !mac || extra !== undefined) throw bad();
    const expected = Buffer.from(this.sign(format, scope, body));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad();
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw bad();
    }
    if (!Array.isArray(parsed)) throw bad();
    const key = format === V2 ? parsed.slice(0, -1) : parsed;
    const generation = format === V2 ? parsed[parsed.length - 1] : null;
    if (format === V2 && !isInt(generation)) throw bad();
    if (key.length !== checks.length || !checks.every((check, i) => check(key[i]))) throw bad();
    return { key: key as CursorValue[], generation: generation as number | null };
  }

  private sign(format: string, scope: string, body: string): string {
    return createHmac('sha256', this.secret).update(format).update('\0').update(scope).update('\0').update(body).digest('base64url').slice(0, 22);
  }
}
