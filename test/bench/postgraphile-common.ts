import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

// What the PostGraphile 4 and 5 contenders share: their settings from the environment, a
// `require` into their own install, and the smart tags that give the views their keys.

export function postgraphileSettings(applicationName: string) {
  const url = process.env.BENCH_DATABASE_URL;
  const port = Number(process.env.BENCH_PORT);
  const dir = process.env.BENCH_POSTGRAPHILE_DIR;
  if (!url || !port || !dir) throw new Error('set BENCH_DATABASE_URL, BENCH_PORT and BENCH_POSTGRAPHILE_DIR');
  const named = new URL(url);
  named.searchParams.set('application_name', applicationName);
  return { url: named.toString(), port, load: createRequire(join(resolve(dir), 'package.json')) };
}

/**
 * The views' primary keys and relations, for makeJSONPgSmartTagsPlugin (from a plugin rather
 * than smart comments on the views: tally keeps each view's definition version in its comment).
 */
export const VIEW_SMART_TAGS = {
  version: 1,
  config: {
    class: {
      gear_item_stats: { tags: { primaryKey: 'gear_item_id', foreignKey: '(gear_item_id) references gear_item (id)' } },
      category_tree: { tags: { primaryKey: 'id' } },
      category_stats: { tags: { primaryKey: 'category_id', foreignKey: '(category_id) references category_tree (id)' } },
    },
  },
} as const;

/**
 * PostGraphile 4's options as its documentation recommends for production, plus nulls last in
 * orderBy; PostGraphile 5 takes the same ones through makeV4Preset.
 */
export const V4_OPTIONS = {
  graphileBuildOptions: { orderByNullsLast: true },
  disableDefaultMutations: true,
  subscriptions: false,
  dynamicJson: true,
  setofFunctionsContainNulls: false,
  ignoreRBAC: false,
  legacyRelations: 'omit',
  disableQueryLog: true,
  graphiql: false,
} as const;
