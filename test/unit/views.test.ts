import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { definitionsDir, inDependencyOrder, loadDefinitions, parseDefinition } from '../../src/modules/views/ddl/definitions.v1';
import { AFTER_BUILD_SQL, REFRESH_LOCK_CLASS as SWAP_LOCK_CLASS } from '../../src/modules/views/ddl/swap.v1';
import { AFTER_REFRESH_SQL, MANAGED_VIEW_NAMES, REFRESH_LOCK_CLASS } from '../../src/modules/views/names';
import { ViewRegistry } from '../../src/modules/views/ops/registry';

const DDL = join(__dirname, '../../src/modules/views/ddl');

describe('the views migrations apply', () => {
  it('use DDL procedures that never change once pinned (a change goes into a new .vN file)', () => {
    const pins = JSON.parse(readFileSync(join(DDL, 'pins.json'), 'utf8')) as Record<string, string>;
    const versioned = readdirSync(DDL).filter((f) => /\.v\d+\.ts$/.test(f)).sort();
    expect(Object.keys(pins).sort()).toEqual(versioned);
    for (const file of versioned) {
      const hash = createHash('sha256').update(readFileSync(join(DDL, file), 'utf8').replace(/\r\n/g, '\n')).digest('hex');
      expect(hash, `${file} changed after migrations used it: restore it and add the change as a new version`).toBe(pins[file]);
    }
  });

  it('share the refresh lock and the after-refresh work with the live refresher', () => {
    expect(SWAP_LOCK_CLASS).toBe(REFRESH_LOCK_CLASS);
    expect(AFTER_BUILD_SQL).toEqual(AFTER_REFRESH_SQL);
  });

  it('define every managed view, each version after the views it reads', () => {
    const all = loadDefinitions(definitionsDir());
    expect([...all.keys()].sort()).toEqual([...MANAGED_VIEW_NAMES].sort());
    const newest = [...all.values()].map((defs) => defs[defs.length - 1]);
    const order = inDependencyOrder(newest).map((d) => d.view);
    for (const def of newest) for (const read of def.reads) expect(order.indexOf(read)).toBeLessThan(order.indexOf(def.view));
  });
});

describe('a view definition file', () => {
  const views = ['a_stats', 'b_stats'];
  it('gives the view, its indexes and the views it reads', () => {
    const def = parseDefinition(
      'b_stats.v3.sql',
      '-- note\ncreate materialized view b_stats as select x from a_stats with data;\ncreate unique index b_stats_x on b_stats (x);\n',
      views,
    );
    expect(def).toMatchObject({ view: 'b_stats', version: 3, reads: ['a_stats'], indexes: [{ name: 'b_stats_x' }] });
  });

  it('is refused when it is anything else', () => {
    expect(() => parseDefinition('b_stats.v1.sql', 'create view b_stats as select 1;', views)).toThrow(/must start with/);
    expect(() => parseDefinition('b_stats.v1.sql', 'create materialized view b_stats as select 1 with data;\ndrop table t;', views)).toThrow(
      /only "create \[unique\] index/,
    );
    expect(() => parseDefinition('b_stats.sql', '', views)).toThrow(/expected <view>\.v<N>\.sql/);
  });
});

describe('the refresh order', () => {
  const registry = new ViewRegistry([
    { name: 'category_stats', dependsOn: ['gear_item_stats', 'category_tree'], tables: [] },
    { name: 'gear_item_stats', dependsOn: [], tables: ['public.gear_review'] },
    { name: 'category_tree', dependsOn: [], tables: ['public.gear_category'] },
  ]);

  it('puts every view after the views it reads, ties by name', () => {
    expect(registry.names).toEqual(['category_tree', 'gear_item_stats', 'category_stats']);
  });

  it('adds every view that reads a named one', () => {
    expect(registry.withDependants(['gear_item_stats']).map((v) => v.name)).toEqual(['gear_item_stats', 'category_stats']);
    expect(registry.withDependants(null).map((v) => v.name)).toEqual(registry.names);
  });

  it('refuses an unknown name, never using it as an identifier', () => {
    expect(() => registry.withDependants(['gear_item_stats', 'x"; drop'])).toThrow(/unknown materialized view "x\\"; drop"/);
  });

  it('refuses views that read each other', () => {
    expect(() => new ViewRegistry([
      { name: 'a', dependsOn: ['b'], tables: [] },
      { name: 'b', dependsOn: ['a'], tables: [] },
    ])).toThrow(/cycle/);
  });
});
