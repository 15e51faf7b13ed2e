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
 * The format this server writes. A cursor names its format first, so that a later release
 * can still read this one (or refuse it, saying so) instead of mistaking it for garbage.
 */
const FORMAT = 'v1';

/**
 * Opaque keyset cursors: `v1.<key>.<mac>`, the sort key of a row bound to what the client
 * asked (`scope`: the list, and its filter and order as normalised from the arguments,
 * never the SQL that runs them), signed so that an edited cursor is refused rather than
 * silently starting somewhere else.
 */
export class CursorCodec {
  constructor(private readonly secret: string) {}

  encode(scope: string, key: readonly CursorValue[]): string {
    const body = Buffer.from(JSON.stringify(key)).toString('base64url');
    return `${FORMAT}.${body}.${this.sign(scope, body)}`;
  }

  /**
   * The key the cursor holds, each position passing its check; BAD_USER_INPUT naming
   * `field` unless it was made by encode(scope) for a key of that shape.
   */
  decode(cursor: string, scope: string, field: string, checks: readonly CursorCheck[]): CursorValue[] {
    const bad = () => new BadUserInputError(`${field} is not a cursor from this query (same filter and orderBy)`, field);
    if (cursor.length > 2048) throw bad();
    const [format, body, mac, extra] = cursor.split('.');
    if (format !== FORMAT || body === undefined) {
      throw new BadUserInputError(`${field} is a cursor of a format this server does not read; start again from the first page`, field);
    }
    if (!body || !mac || extra !== undefined) throw bad();
    const expected = Buffer.from(this.sign(scope, body));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad();
    let key: unknown;
    try {
      key = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw bad();
    }
    if (!Array.isArray(key) || key.length !== checks.length || !checks.every((check, i) => check(key[i]))) throw bad();
    return key as CursorValue[];
  }

  private sign(scope: string, body: string): string {
    return createHmac('sha256', this.secret).update(FORMAT).update('\0').update(scope).update('\0').update(body).digest('base64url').slice(0, 22);
  }
}
