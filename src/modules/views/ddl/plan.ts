import type { ViewVersions } from '../names';
import { newestVersions, type ViewDefinition } from './definitions.v1';

/** What a view migration declares (static members of the generated class). */
export interface ViewMigrationClass {
  /** The versions after `up`. */
  views?: ViewVersions;
  /** The versions after `down`. */
  previous?: ViewVersions;
}

export type ViewMigrationPlan =
  | { kind: 'current' }
  /** Problems a new migration cannot fix: a definition edited after a migration applied it, … */
  | { kind: 'invalid'; problems: string[] }
  /** The changed views, and `to`/`from` for them and every view that reads them. */
  | { kind: 'needed'; changed: string[]; to: ViewVersions; from: ViewVersions };

/**
 * Compares the definitions with what the migrations (in order) apply: the last migration that
 * names a view sets its version. A migration is needed when a view's newest definition is
 * not applied; it then rebuilds every view that reads a changed one, at its current version.
 */
export function planViewMigration(all: Map<string, ViewDefinition[]>, migrations: readonly ViewMigrationClass[]): ViewMigrationPlan {
  const applied: ViewVersions = {};
  const used: { view: string; version: number; sha256: string }[] = [];
  for (const { views = {}, previous = {} } of migrations) {
    Object.assign(applied, views);
    for (const [view, v] of [...Object.entries(views), ...Object.entries(previous)]) used.push({ view, ...v });
  }
  const problems = used.flatMap(({ view, version, sha256 }) => {
    const def = all.get(view)?.find((d) => d.version === version);
    if (!def) return [`migrations/views/${view}.v${version}.sql is missing, but a migration applies it`];
    return def.sha256 === sha256 ? [] : [`${def.file} changed after a migration applied it; restore it and add ${view}.v${all.get(view)!.length + 1}.sql instead`];
  });
  const newest = newestVersions(all);
  const changed = new Set(Object.keys(newest).filter((v) => applied[v]?.version !== newest[v].version));
  const names = withDependants(changed, all);
  for (const v of names) {
    if (!applied[v]) problems.push(`no migration creates ${v}: write its first migration by hand (a new view needs its entity and change triggers)`);
  }
  if (problems.length) return { kind: 'invalid', problems: [...new Set(problems)] };
  if (!changed.size) return { kind: 'current' };
  return {
    kind: 'needed',
    changed: [...changed],
    to: Object.fromEntries([...names].map((v) => [v, newest[v]])),
    from: Object.fromEntries([...names].map((v) => [v, applied[v]])),
  };
}

/** The changed views and every view that reads them, directly or not. */
function withDependants(changed: Set<string>, all: Map<string, ViewDefinition[]>): Set<string> {
  const out = new Set(changed);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [view, defs] of all) {
      if (!out.has(view) && defs[defs.length - 1].reads.some((r) => out.has(r))) {
        out.add(view);
        grew = true;
      }
    }
  }
  return out;
}
