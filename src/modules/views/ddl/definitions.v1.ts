import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { ViewVersion, ViewVersions } from '../names';

// Pinned (see pins.json): applied migrations build views with this parser. A change of
// behaviour goes into definitions.v2.ts, which new migrations import.

/**
 * One version of one view, from migrations/views/<view>.v<N>.sql: the CREATE MATERIALIZED
 * VIEW statement, then the CREATE [UNIQUE] INDEX statements on it. A version, once a
 * migration applies it, never changes: a change is a new version (the hash catches edits).
 */
export interface ViewDefinition {
  view: string;
  version: number;
  /** sha256 of the file's text (line ends normalised). */
  sha256: string;
  /** CREATE MATERIALIZED VIEW ... WITH DATA, comments stripped. */
  create: string;
  indexes: { name: string; sql: string }[];
  /** Managed views it reads (names written in its query). */
  reads: string[];
  file: string;
}

const FILE_NAME = /^([a-z_][a-z0-9_]*)\.v([1-9][0-9]*)\.sql$/;

/**
 * migrations/views, found upwards from here: the same folder serves vitest (src/) and the
 * compiled server (dist/src/), which tsc does not copy .sql files into.
 */
export function definitionsDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'migrations', 'views');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`migrations/views not found above ${__dirname}`);
  }
}

const hashDefinition = (text: string) => createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('hex');

/** A name as a whole identifier: `gear_item_stats` but not `gear_item_stats_pending`. */
export const identifierPattern = (name: string) => new RegExp(`(?<![A-Za-z0-9_$"])${name}(?![A-Za-z0-9_$"])`, 'g');

/** One definition file; `views` are the views that have definitions (what it may read). */
export function parseDefinition(file: string, text: string, views: readonly string[]): ViewDefinition {
  const match = FILE_NAME.exec(file.split('/').pop()!);
  if (!match) throw new Error(`${file}: expected <view>.v<N>.sql`);
  const [, view, version] = match;
  const statements = text
    .replace(/--[^\n]*/g, '')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
  const [create, ...rest] = statements;
  if (!create || !new RegExp(`^create materialized view ${view} as\\b[\\s\\S]*\\bwith data$`, 'i').test(create)) {
    throw new Error(`${file}: must start with "create materialized view ${view} as ... with data;"`);
  }
  const indexes = rest.map((sql) => {
    const m = new RegExp(`^create (?:unique )?index ([a-z_][a-z0-9_]*) on ${view} `, 'i').exec(sql);
    if (!m) throw new Error(`${file}: after the view, only "create [unique] index <name> on ${view} ...;" statements: ${sql.slice(0, 80)}`);
    // Built as <name>__next before the swap; PostgreSQL would silently cut a longer name.
    if (m[1].length > 57) throw new Error(`${file}: index name ${m[1]} is longer than 57 characters`);
    return { name: m[1], sql };
  });
  const body = create.slice(create.indexOf(' as') + 3);
  const reads = views.filter((other) => other !== view && identifierPattern(other).test(body));
  return { view, version: Number(version), sha256: hashDefinition(text), create, indexes, reads, file };
}

/** Every definition in migrations/views, by view, oldest version first. */
export function loadDefinitions(dir = definitionsDir()): Map<string, ViewDefinition[]> {
  const byView = new Map<string, ViewDefinition[]>();
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const views = [...new Set(files.map((f) => FILE_NAME.exec(f)?.[1]).filter((v): v is string => !!v))];
  for (const file of files) {
    const def = parseDefinition(file, readFileSync(resolve(dir, file), 'utf8'), views);
    byView.set(def.view, [...(byView.get(def.view) ?? []), def]);
  }
  for (const [view, defs] of byView) {
    defs.sort((a, b) => a.version - b.version);
    defs.forEach((d, i) => {
      if (d.version !== i + 1) throw new Error(`${view}: versions must run 1, 2, 3… without gaps (found v${d.version})`);
    });
  }
  return byView;
}

/** The definition a migration names, refusing a file edited since the migration was generated. */
export function definitionFor(view: string, want: ViewVersion, all = loadDefinitions()): ViewDefinition {
  const def = all.get(view)?.find((d) => d.version === want.version);
  if (!def) throw new Error(`migrations/views/${view}.v${want.version}.sql is missing`);
  if (def.sha256 !== want.sha256) {
    throw new Error(`${def.file} changed after its migration was written; add ${view}.v${(all.get(view)?.length ?? 0) + 1}.sql instead`);
  }
  return def;
}

/** The newest version of every managed view. */
export function newestVersions(all = loadDefinitions()): ViewVersions {
  const out: ViewVersions = {};
  for (const [view, defs] of all) {
    const last = defs[defs.length - 1];
    out[view] = { version: last.version, sha256: last.sha256 };
  }
  return out;
}

/** `views` ordered so every view comes after the views it reads. */
export function inDependencyOrder(defs: ViewDefinition[]): ViewDefinition[] {
  const names = new Set(defs.map((d) => d.view));
  const out: ViewDefinition[] = [];
  const done = new Set<string>();
  while (out.length < defs.length) {
    const ready = defs.filter((d) => !done.has(d.view) && d.reads.every((r) => !names.has(r) || done.has(r)));
    if (!ready.length) throw new Error(`view definitions read each other in a cycle`);
    for (const d of ready) {
      done.add(d.view);
      out.push(d);
    }
  }
  return out;
}
