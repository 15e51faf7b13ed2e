import { createHmac, timingSafeEqual } from 'node:crypto';
import { BadUserInputError } from '../../errors';

export type CursorValue = string | number | null;

/**
 * Opaque keyset cursors: the sort key of a row, bound to the query it came from (`scope`:
 * the list and its order), and signed so that an edited cursor is refused rather than
 * silently starting somewhere else.
 */
export class CursorCodec {
  constructor(private readonly secret: string) {}

  encode(scope: string, key: readonly CursorValue[]): string {
    const body = Buffer.from(JSON.stringify(key)).toString('base64url');
    return `${body}.${this.sign(scope, body)}`;
  }

  /** The key the cursor holds; BAD_USER_INPUT (naming `field`) unless made by encode(scope). */
  decode(cursor: string, scope: string, field: string): CursorValue[] {
    const bad = () => new BadUserInputError(`${field} is not a cursor from this query (same filter and orderBy)`, field);
    if (cursor.length > 2048) throw bad();
    const [body, mac, extra] = cursor.split('.');
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
    if (!Array.isArray(key) || !key.every((v) => v === null || typeof v === 'string' || typeof v === 'number')) {
      throw bad();
    }
    return key as CursorValue[];
  }

  private sign(scope: string, body: string): string {
    return createHmac('sha256', this.secret).update(scope).update('\0').update(body).digest('base64url').slice(0, 22);
  }
}
