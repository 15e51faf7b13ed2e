import { BadUserInputError } from '../../errors';
import { checkText } from './filters';

/** A name from a client: trimmed, then 1..max characters, no NUL; BAD_USER_INPUT names `field`. */
export function checkName(raw: string, field: string, max = 200): string {
  const name = checkText(raw.trim(), field, max);
  if (name === '') throw new BadUserInputError(`${field} must be 1 to ${max} characters after trimming`, field);
  return name;
}

/**
 * Runs a one-statement write whose only foreign key is the id the client gave as `field`:
 * when that row does not exist (foreign_key_violation), nothing was written and the client
 * is told which field is wrong. Checking first would race with a concurrent delete.
 */
export async function referenceMustExist<T>(write: Promise<T>, field: string, what: string): Promise<T> {
  try {
    return await write;
  } catch (err) {
    if ((err as { code?: unknown }).code === '23503') throw new BadUserInputError(`${field}: there is no ${what}`, field);
    throw err;
  }
}
