import { sql, type Sql } from '../../../database/sql';
import { MANAGED_VIEW_NAMES, type ViewVersions } from '../names';

// "tally view gear_item_stats v2 sha256=<file> def=<md5 of pg_get_viewdef>", as the view
// migrations write it (ddl/swap.v1.ts): the def hash catches a view recreated by hand, the
// file hash a definition edited after it was applied.
const COMMENT = /^tally view (\w+) v(\d+) sha256=([0-9a-f]{64}) def=([0-9a-f]{32})$/;

export interface RecordedViewVersion {
  name: string;
  /** Null: no version recorded (built outside the view migrations). */
  version: number | null;
  problem: string | null;
  /** The view is at a newer version than this code knows: a newer release migrated it. */
  ahead: boolean;
}

/**
 * The version each managed view runs, from its comment, against `expected` (what this
 * release's migrations build): a problem when it is older, when it was built from another
 * file than the one those migrations apply, or when its query is not what was built
 * (changed by hand).
 */
export async function readViewVersions(db: Sql, expected: ViewVersions): Promise<RecordedViewVersion[]> {
  const rows = await db.rows<{ name: string; comment: string | null; def_hash: string | null }>(
    sql.query`select v.name, obj_description(c.oid, 'pg_class') as comment, md5(pg_get_viewdef(c.oid)) as def_hash
       from unnest(${sql.value([...MANAGED_VIEW_NAMES])}::text[]) as v(name)
       left join pg_class c on c.relname = v.name and c.relkind = 'm' and c.relnamespace = current_schema()::regnamespace`,
  );
  return rows.map(({ name, comment, def_hash }) => {
    const want = expected[name];
    const m = comment ? COMMENT.exec(comment) : null;
    const version = m && m[1] === name ? Number(m[2]) : null;
    const problem = (() => {
      if (!def_hash) return `materialized view ${name} is missing (run the migrations)`;
      if (!want) return `materialized view ${name} is built by no migration`;
      if (version === null) return `materialized view ${name} records no definition version (built outside the view migrations?)`;
      if (m![4] !== def_hash) return `materialized view ${name}'s query is not the one v${version} built (changed by hand?)`;
      if (version < want.version) return `materialized view ${name} runs v${version}, migrations/views has v${want.version} (this release's migrations build it): run the migrations`;
      if (version > want.version) return `materialized view ${name} runs v${version}, newer than this release's migrations (v${want.version})`;
      if (m![3] !== want.sha256) {
        return `materialized view ${name} v${version} was built from another migrations/views/${name}.v${version}.sql than this release's migrations apply (edited after it was applied?)`;
      }
      return null;
    })();
    return { name, version, problem, ahead: version !== null && !!want && version > want.version };
  });
}
