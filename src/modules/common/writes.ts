import { BadUserInputError } from '../../errors';
import { checkText } from './filters';

/** A name from a client: trimmed, then 1..max characters, no NUL; BAD_USER_INPUT names `field`. */
export function checkName(raw: string, field: string, max = 200): string {
  const name = checkText(raw.trim(), field, max);
  if (name === '') throw new BadUserInputError(`${field} must be 1 to ${max} characters after trimming`, field);
  return name;
}
