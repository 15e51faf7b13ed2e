import { Extensions } from 'type-graphql';
import { VIEWS } from '../views/names';

/**
 * What a field's value is read from, for the response cache (src/cache, docs/cache.md):
 * tables as `schema.table`, materialized views by name, as the change channel names them.
 * Every field of every output type declares it (a test walks the schema): `@Reads()` with no
 * names for a value derived only from its parent's row (which the parent field declares).
 */
export const READ_TABLES = {
  item: 'public.gear_item',
  review: 'public.gear_review',
  category: 'public.gear_category',
} as const;

/** Materialized views by name (their names belong to modules/views). */
export const READ_VIEWS = VIEWS;

/** The field extension key. */
export const READS_EXTENSION = 'reads';

/** An answer holding this field is never cached (ops fields, anything that needs a token). */
export const UNCACHEABLE = 'uncacheable';

export function Reads(...names: string[]): MethodDecorator & PropertyDecorator {
  return Extensions({ [READS_EXTENSION]: names });
}

export function Uncacheable(): MethodDecorator & PropertyDecorator {
  return Extensions({ [READS_EXTENSION]: UNCACHEABLE });
}

/** The field extension key of a mutation's writes. */
export const WRITES_EXTENSION = 'writes';

/**
 * What a mutation writes: on this instance their versions move as soon as it has run
 * (ChangeListener.touch), before its response is sent. A refresh moves its views itself.
 */
export function Writes(...names: string[]): MethodDecorator & PropertyDecorator {
  return Extensions({ [WRITES_EXTENSION]: names });
}
