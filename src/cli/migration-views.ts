import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { migrationsList } from '../../migrations';
import { definitionsDir, loadDefinitions } from '../modules/views/ddl/definitions.v1';
import { planViewMigration, type ViewMigrationClass } from '../modules/views/ddl/plan';
import { MANAGED_VIEW_NAMES, type ViewVersions } from '../modules/views/names';

// `npm run migration:views [-- --check | --in-place]`: writes the migration that moves the
// views to the newest versions in migrations/views, when the migrations do not already.
//   --check     writes nothing; exits 1 when a migration is missing or a definition that a
//               migration applies was edited (CI).
//   --in-place  the migration drops and recreates the views: readers block while they build.

const usage = 'usage: npm run migration:views [-- --check | --in-place]';

function timestamp(): string {
  const now = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const last = migrationsList.map((m) => /^Migration(\d{14})/.exec(m.name)?.[1] ?? '0').sort().pop()!;
  return now > last ? now : String(Number(last) + 1);
}

const literal = (v: ViewVersions) =>
  `{\n${Object.entries(v)
    .map(([view, { version, sha256 }]) => `    ${view}: { version: ${version}, sha256: '${sha256}' },`)
    .join('\n')}\n  }`;

function migrationSource(name: string, to: ViewVersions, from: ViewVersions, inPlace: boolean): string {
  const changes = Object.keys(to)
    .map((v) => (to[v].version === from[v].version ? `${v} v${to[v].version} (rebuilt: reads a changed view)` : `${v} v${from[v].version} → v${to[v].version}`))
    .join(', ');
  const fn = inPlace ? 'recreateViewsInPlace' : 'swapViews';
  const how = inPlace
    ? 'dropped and recreated in place: readers of these views BLOCK while they build (development only)'
    : 'built side by side and swapped in; readers keep reading (see swapViews)';
  return `import { Migration } from '@mikro-orm/migrations';
import type { ViewVersions } from '../src/modules/views/names';
import { ${fn} } from '../src/modules/views/ddl/swap.v1';

// Written by \`npm run migration:views\`${inPlace ? ' --in-place' : ''}: ${changes};
// ${how}.
export class ${name} extends Migration {
  /** The versions after \`up\` (read by the generator). */
  static readonly views: ViewVersions = ${literal(to)};

  /** The versions \`down\` goes back to. */
  static readonly previous: ViewVersions = ${literal(from)};

  override async up(): Promise<void> {
    await ${fn}(this, ${name}.views);
  }

  override async down(): Promise<void> {
    await ${fn}(this, ${name}.previous);
  }
}
`;
}

function appendToIndex(indexPath: string, name: string): void {
  const text = readFileSync(indexPath, 'utf8');
  const lastImport = text.lastIndexOf('\nimport ');
  const importEnd = text.indexOf('\n', lastImport + 1);
  const listEnd = text.lastIndexOf('];');
  if (lastImport < 0 || listEnd < importEnd) throw new Error(`${indexPath}: cannot find its imports and list`);
  writeFileSync(
    indexPath,
    text.slice(0, importEnd + 1) +
      `import { ${name} } from './${name}';\n` +
      text.slice(importEnd + 1, listEnd) +
      `  { name: '${name}', class: ${name} },\n` +
      text.slice(listEnd),
  );
}

function main(args: string[]): number {
  const check = args.includes('--check');
  const inPlace = args.includes('--in-place');
  if (args.some((a) => a !== '--check' && a !== '--in-place') || (check && inPlace)) {
    console.error(usage);
    return 2;
  }
  const definitions = loadDefinitions();
  const unmanaged = [...definitions.keys()].filter((v) => !(MANAGED_VIEW_NAMES as readonly string[]).includes(v));
  if (unmanaged.length) {
    console.error(`migrations/views defines ${unmanaged.join(', ')}, which names.ts does not list as managed`);
    return 1;
  }
  const plan = planViewMigration(
    definitions,
    migrationsList.map((m) => m.class as ViewMigrationClass),
  );
  if (plan.kind === 'invalid') {
    for (const p of plan.problems) console.error(p);
    return 1;
  }
  if (plan.kind === 'current') {
    console.log('views: every definition in migrations/views is applied by a migration; nothing to do');
    return 0;
  }
  const { changed, to, from } = plan;
  const summary = changed.map((v) => `${v} v${from[v].version} → v${to[v].version}`).join(', ');
  if (check) {
    console.error(`views: no migration applies ${summary}; run \`npm run migration:views\``);
    return 1;
  }
  const migrationsDir = dirname(definitionsDir());
  const name = `Migration${timestamp()}_views_${changed.map((v) => `${v}_v${to[v].version}`).join('_')}`;
  writeFileSync(resolve(migrationsDir, `${name}.ts`), migrationSource(name, to, from, inPlace));
  appendToIndex(resolve(migrationsDir, 'index.ts'), name);
  console.log(`views: wrote migrations/${name}.ts (${summary}${inPlace ? ', in place' : ''}) and listed it in migrations/index.ts`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
