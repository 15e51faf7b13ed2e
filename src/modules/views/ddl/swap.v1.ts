import type { Migration } from '@mikro-orm/migrations';
import type { ViewVersions } from '../names';
import { definitionFor, identifierPattern, inDependencyOrder, loadDefinitions, type ViewDefinition } from './definitions.v1';

// The views' DDL for migrations: the definitions in migrations/views, built side by side
// and swapped in, or recreated in place; and the version each view records in its COMMENT.
//
// Pinned (see pins.json): applied migrations call these, so what they do must never change
// with the code around them. Nothing here is imported from the live server; the two values
// it shares with the refresher are copied below (a unit test keeps them equal to names.ts).
// A change of behaviour goes into swap.v2.ts, which new migrations import.

/** names.ts REFRESH_LOCK_CLASS: swaps and refreshes exclude each other by these locks. */
export const REFRESH_LOCK_CLASS = 1952541804;

/** names.ts AFTER_REFRESH_SQL: what a refresh of each view also does, in its transaction. */
export const AFTER_BUILD_SQL: Record<string, string> = {
  gear_item_stats:
    'delete from gear_item_stats_pending p using gear_item_stats s where s.gear_item_id = p.gear_item_id',
};

/** The suffix a view and its indexes are built under before the swap renames them. */
const NEXT = '__next';

// "tally view gear_item_stats v2 sha256=<file> def=<md5 of pg_get_viewdef>": the def hash
// catches a view recreated by hand, the file hash a definition edited after it was applied.

type Run = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;
const runner = (m: Migration): Run => (sql, params) => m.execute(sql, params) as Promise<Record<string, unknown>[]>;

function resolveTargets(target: ViewVersions): ViewDefinition[] {
  const all = loadDefinitions();
  return inDependencyOrder(Object.entries(target).map(([view, want]) => definitionFor(view, want, all)));
}

/** A definition's statements with every view in `renamed` (itself included) spelled with `suffix`. */
function statementsFor(def: ViewDefinition, renamed: Set<string>, suffix: string): string[] {
  const rename = (sql: string) =>
    [...renamed].reduce((text, view) => text.replace(identifierPattern(view), `${view}${suffix}`), sql);
  return [
    rename(def.create),
    ...def.indexes.map((i) => rename(i.sql).replace(identifierPattern(i.name), `${i.name}${suffix}`)),
  ];
}

interface Built {
  def: ViewDefinition;
  snapshot: string;
  started: string;
  finished: string;
}

/** Builds each view (WITH DATA) and its indexes under `suffix`, statistics included. */
async function build(run: Run, defs: ViewDefinition[], suffix: string): Promise<Built[]> {
  const renamed = new Set(defs.map((d) => d.view));
  const built: Built[] = [];
  for (const def of defs) {
    // As in a refresh: the snapshot is taken just before the build, whose own can only see more.
    const [start] = await run(`select pg_current_snapshot()::text as snapshot, clock_timestamp()::text as started`);
    for (const statement of statementsFor(def, renamed, suffix)) await run(statement);
    await run(`analyze ${def.view}${suffix}`);
    const [end] = await run(`select clock_timestamp()::text as finished`);
    built.push({ def, snapshot: String(start.snapshot), started: String(start.started), finished: String(end.finished) });
  }
  return built;
}

/** Records the version (and the query PostgreSQL keeps) in the view's comment. */
const commentSql = (def: ViewDefinition) =>
  `do $$ begin execute format('comment on materialized view %I is %L', '${def.view}',
     'tally view ${def.view} v${def.version} sha256=${def.sha256} def=' || md5(pg_get_viewdef('${def.view}'::regclass))); end $$`;

/**
 * A refresh log row per view built (so staleness counts from the build, which took its
 * snapshot as a refresh does), only for a view refreshed before: one never refreshed stays
 * "stale until first refreshed", as after the migration that first built it.
 */
async function logBuilds(run: Run, built: Built[]): Promise<void> {
  for (const { def, snapshot, started, finished } of built) {
    await run(
      `insert into view_refresh_log (view_name, started_at, finished_at, duration_ms, "concurrently", snapshot, xid, refreshed_by)
       select ?, ?::timestamptz, ?::timestamptz, extract(epoch from ?::timestamptz - ?::timestamptz)::float8 * 1000,
              false, ?, pg_current_xact_id()::text::bigint, 'migration'
        where exists (select 1 from view_refresh_log where view_name = ?)`,
      [def.view, started, finished, finished, started, snapshot, def.view],
    );
  }
}

/** Once the views have their names: their comments, and the side work a refresh does. */
const installSql = (defs: ViewDefinition[]) =>
  defs.flatMap((def) => {
    const after = AFTER_BUILD_SQL[def.view];
    return after ? [commentSql(def), after] : [commentSql(def)];
  });

/**
 * Moves the views in `target` to the versions it names, while clients keep reading:
 *
 * 1. Each view is built WITH DATA under <name>__next, with its indexes (<index>__next) and
 *    statistics, in dependency order; a view that reads another of the targets reads its
 *    __next build. Readers still see the old views, locked only in ACCESS SHARE by the build.
 * 2. The swap: the refresh locks of the old views (so no refresh is half-way through them),
 *    then, sent as one batch, the old views are dropped (dependants first), the __next ones
 *    renamed, indexes too, and their comments set. Only this batch takes ACCESS EXCLUSIVE
 *    locks, and it is the migration's last, so they are held for one round trip and the
 *    commit. A reader that queued meanwhile finds the new view by name when they are released.
 *
 * Every view that reads a target must be a target too (the generator adds them): the old
 * one could not be dropped otherwise. Runs in the migration's transaction: all or nothing.
 */
export async function swapViews(m: Migration, target: ViewVersions): Promise<void> {
  const run = runner(m);
  const defs = resolveTargets(target);
  const built = await build(run, defs, NEXT);
  for (const view of defs.map((d) => d.view).sort()) {
    await run(
      `select pg_advisory_xact_lock(?, c.oid::int) from pg_class c
        where c.relname = ? and c.relkind = 'm' and c.relnamespace = current_schema()::regnamespace`,
      [REFRESH_LOCK_CLASS, view],
    );
  }
  await logBuilds(run, built);
  // One round trip from the first ACCESS EXCLUSIVE lock to the commit that follows.
  await run(
    [
      ...[...defs].reverse().map((def) => `drop materialized view ${def.view}`),
      ...defs.flatMap((def) => [
        `alter materialized view ${def.view}${NEXT} rename to ${def.view}`,
        ...def.indexes.map((index) => `alter index ${index.name}${NEXT} rename to ${index.name}`),
      ]),
      ...installSql(defs),
    ].join(';\n'),
  );
}

/**
 * Development only: drops the views in `target` (dependants first) and creates them again.
 * Readers wait (blocked, not failed) for as long as the builds take.
 */
export async function recreateViewsInPlace(m: Migration, target: ViewVersions): Promise<void> {
  const run = runner(m);
  const defs = resolveTargets(target);
  for (const def of [...defs].reverse()) await run(`drop materialized view ${def.view}`);
  const built = await build(run, defs, '');
  await logBuilds(run, built);
  for (const statement of installSql(defs)) await run(statement);
}

/**
 * For views built before versions were recorded: checks that each one is exactly what its
 * definition file creates (built WITH NO DATA under __next, the two queries compared as
 * PostgreSQL prints them), then records the version.
 */
export async function recordViewVersions(m: Migration, target: ViewVersions): Promise<void> {
  const run = runner(m);
  for (const def of resolveTargets(target)) {
    await run(statementsFor(def, new Set([def.view]), NEXT)[0].replace(/\bwith data$/i, 'with no data'));
    const [{ same }] = await run(
      `select pg_get_viewdef('${def.view}'::regclass) = pg_get_viewdef('${def.view}${NEXT}'::regclass) as same`,
    );
    await run(`drop materialized view ${def.view}${NEXT}`);
    if (!same) throw new Error(`materialized view ${def.view} is not what ${def.file} creates`);
    await run(commentSql(def));
  }
}

/** Comments removed: the `down` of recordViewVersions. */
export async function forgetViewVersions(m: Migration, target: ViewVersions): Promise<void> {
  for (const view of Object.keys(target)) await runner(m)(`comment on materialized view ${view} is null`);
}
