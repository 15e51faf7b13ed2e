import { sql, type Sql } from '../../../database/sql';
import { BadUserInputError } from '../../../errors';
import { CHANGE_TRIGGER_NAME, MANAGED_VIEW_NAMES } from '../names';

export interface ManagedView {
  name: string;
  /** Managed views this one reads from directly (or through plain views), in refresh order. */
  dependsOn: string[];
  /** Tables it reads from directly (or through plain views), as `schema.table`. */
  tables: string[];
}

/**
 * The managed materialized views and what each reads, as PostgreSQL's catalog has them:
 * a view's rewrite rule depends (pg_depend) on every relation its query reads.
 */
export class ViewRegistry {
  /** Refresh order: every view after the views it reads from; ties by name. */
  readonly views: readonly ManagedView[];
  private readonly byName: ReadonlyMap<string, ManagedView>;

  constructor(views: ManagedView[]) {
    this.views = topologicalOrder(views);
    this.byName = new Map(this.views.map((v) => [v.name, v]));
  }

  get names(): string[] {
    return this.views.map((v) => v.name);
  }

  get(name: string): ManagedView | undefined {
    return this.byName.get(name);
  }

  /**
   * The named views (all when `names` is null) and every view that reads from them,
   * directly or through other views, in refresh order. Names are looked up, never used as
   * identifiers: an unknown one is BAD_USER_INPUT naming `field`.
   */
  withDependants(names: readonly string[] | null | undefined, field = 'views'): ManagedView[] {
    if (names == null) return [...this.views];
    const unknown = [...new Set(names.filter((n) => !this.byName.has(n)))];
    if (unknown.length) {
      const shown = unknown.slice(0, 5).map((n) => JSON.stringify(n.slice(0, 100)));
      throw new BadUserInputError(
        `${field}: unknown materialized view${unknown.length > 1 ? 's' : ''} ${shown.join(', ')}` +
          `${unknown.length > 5 ? ' and more' : ''}; known: ${this.names.join(', ')}`,
        field,
      );
    }
    const wanted = new Set(names);
    // Refresh order puts every view after what it reads, so one pass collects dependants.
    for (const v of this.views) {
      if (v.dependsOn.some((d) => wanted.has(d))) wanted.add(v.name);
    }
    return this.views.filter((v) => wanted.has(v.name));
  }
}

function topologicalOrder(views: ManagedView[]): ManagedView[] {
  const pending = new Map(views.map((v) => [v.name, v]));
  const done = new Set<string>();
  const out: ManagedView[] = [];
  while (pending.size) {
    const ready = [...pending.values()]
      .filter((v) => v.dependsOn.every((d) => done.has(d)))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    if (!ready.length) throw new Error(`materialized views read each other in a cycle: ${[...pending.keys()].join(', ')}`);
    for (const v of ready) {
      pending.delete(v.name);
      done.add(v.name);
      out.push({ ...v, dependsOn: [...v.dependsOn] });
    }
  }
  const position = new Map(out.map((v, i) => [v.name, i]));
  for (const v of out) v.dependsOn.sort((a, b) => position.get(a)! - position.get(b)!);
  return out;
}

/** Thrown at start-up when the database lacks what the managed views need. */
export class ViewRegistryError extends Error {
  constructor(readonly problems: string[]) {
    super(`The materialized views are not as tally needs them:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ViewRegistryError';
  }
}

// Relations each managed view reads, following plain views down to what they read.
const readsSql = (names: readonly string[]) => sql.query`
  with recursive managed as (
    select c.oid, c.relname::text as name
      from pg_class c
     where c.relkind = 'm' and c.relnamespace = current_schema()::regnamespace and c.relname = any(${sql.value(names)}::text[])
  ), reads (view_oid, rel_oid) as (
    select m.oid, d.refobjid
      from managed m
      join pg_rewrite r on r.ev_class = m.oid
      join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
                      and d.refclassid = 'pg_class'::regclass and d.refobjid <> m.oid
    union
    select rd.view_oid, d.refobjid
      from reads rd
      join pg_class v on v.oid = rd.rel_oid and v.relkind = 'v'
      join pg_rewrite r on r.ev_class = v.oid
      join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
                      and d.refclassid = 'pg_class'::regclass and d.refobjid <> v.oid
  )
  select distinct m.name as view, n.nspname as schema, c.relname as name, c.relkind as kind,
         (c.relnamespace = current_schema()::regnamespace) as local,
         exists (select 1 from pg_trigger t
                  where t.tgrelid = c.oid and t.tgname = ${sql.value(CHANGE_TRIGGER_NAME)} and t.tgenabled <> 'D') as tracked
    from reads rd
    join managed m on m.oid = rd.view_oid
    join pg_class c on c.oid = rd.rel_oid
    join pg_namespace n on n.oid = c.relnamespace
   where c.relkind in ('r', 'p', 'm', 'f')
   order by 1, 2, 3`;

// REFRESH ... CONCURRENTLY needs a unique index on plain columns, without a WHERE clause.
const viewsSql = (names: readonly string[]) => sql.query`
  select c.relname::text as name,
         exists (select 1 from pg_index i
                  where i.indrelid = c.oid and i.indisunique and i.indisvalid
                    and i.indpred is null and i.indexprs is null) as has_unique_index
    from pg_class c
   where c.relkind = 'm' and c.relnamespace = current_schema()::regnamespace and c.relname = any(${sql.value(names)}::text[])`;

/**
 * Reads the managed views and their dependencies from the catalog and checks that each one
 * can be refreshed and tracked: it exists, has the unique index CONCURRENTLY needs, reads
 * only managed views, and every table it reads has the change-tracking trigger. Throws a
 * ViewRegistryError listing everything missing.
 */
export async function loadViewRegistry(db: Sql, names: readonly string[] = MANAGED_VIEW_NAMES): Promise<ViewRegistry> {
  const [found, reads] = await Promise.all([
    db.rows<{ name: string; has_unique_index: boolean }>(viewsSql(names)),
    db.rows<{ view: string; schema: string; name: string; kind: string; local: boolean; tracked: boolean }>(readsSql(names)),
  ]);
  const problems: string[] = [];
  const present = new Map(found.map((f) => [f.name, f]));
  for (const name of names) {
    const view = present.get(name);
    if (!view) problems.push(`materialized view ${name} is missing (run the migrations)`);
    else if (!view.has_unique_index) {
      problems.push(`materialized view ${name} has no unique index on plain columns (REFRESH ... CONCURRENTLY needs one)`);
    }
  }
  const views = new Map(found.map((f) => [f.name, { name: f.name, dependsOn: [] as string[], tables: [] as string[] }]));
  for (const r of reads) {
    const view = views.get(r.view)!;
    const qualified = `${r.schema}.${r.name}`;
    if (r.kind === 'm') {
      if (r.local && views.has(r.name)) view.dependsOn.push(r.name);
      else problems.push(`${r.view} reads materialized view ${qualified}, which tally does not manage`);
    } else if (r.kind === 'f') {
      problems.push(`${r.view} reads foreign table ${qualified}, whose changes cannot be tracked`);
    } else {
      view.tables.push(qualified);
      if (!r.tracked) {
        problems.push(`table ${qualified} (read by ${r.view}) has no ${CHANGE_TRIGGER_NAME} trigger, so its changes would not make ${r.view} stale`);
      }
    }
  }
  if (problems.length) throw new ViewRegistryError(problems);
  return new ViewRegistry([...views.values()]);
}
