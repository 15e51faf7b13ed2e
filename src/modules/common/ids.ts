import { BadUserInputError } from '../../errors';

const MAX_ID = 2_147_483_647;

/**
 * Ids are PostgreSQL `integer` serials exposed as GraphQL IDs. Anything that is not a whole
 * number in 1..2^31-1 cannot name a row: BAD_USER_INPUT naming the argument.
 */
export function parseId(raw: string | number, field: string): number {
  const text = String(raw).trim();
  if (/^[0-9]{1,10}$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= MAX_ID) return n;
  }
  throw new BadUserInputError(`${field} is not a valid id`, field);
}

export function parseOptionalId(raw: string | number | null | undefined, field: string): number | null {
  return raw == null ? null : parseId(raw, field);
}
