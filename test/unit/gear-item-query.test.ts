import { describe, expect, it } from 'vitest';
import { sql } from '../../src/database/sql';
import { PublicError } from '../../src/errors';
import { countSql, cursorScope, filterHolds, filterIsLiteral, filterSql, normalizeFilter, normalizeOrder, pageSql, partsFor } from '../../src/modules/catalog/gear-item.query';
import { GearItemOrderField as F, type GearItemFilter } from '../../src/modules/catalog/gear-item.inputs';
import { containsPattern, OrderDirection as D } from '../../src/modules/common/filters';
import { NO_ITEM_STATS } from '../../src/modules/views/reads';
import { matches, type ItemsModel, type ModelItem } from '../support/items-data';

describe('orderBy, normalised', () => {
  it('ends with id ascending, drops repeated fields and anything after id', () => {
    expect(normalizeOrder(null)).toEqual([{ field: F.ID, dir: D.ASC }]);
    expect(normalizeOrder([{ field: F.REVIEW_RATING, direction: D.DESC }, { field: F.REVIEW_RATING }, { field: F.NAME }])).toEqual([
      { field: F.REVIEW_RATING, dir: D.DESC },
      { field: F.NAME, dir: D.ASC },
      { field: F.ID, dir: D.ASC },
    ]);
    expect(normalizeOrder([{ field: F.ID, direction: D.DESC }, { field: F.NAME }])).toEqual([{ field: F.ID, dir: D.DESC }]);
  });
});

describe('filters, normalised', () => {
  it('make filters that say the same equal, and so share cursors', () => {
    const same = [undefined, null, {}, { nameContains: '' }, { reviewCount: {} }, { reviewRating: { lt: null } }];
    for (const f of same) expect(normalizeFilter(f)).toEqual({});
    expect(normalizeFilter({ categoryId: '07', reviewRating: { gte: 1, lt: null } })).toEqual(normalizeFilter({ categoryId: '7', reviewRating: { gte: 1.0 } }));
    const order = normalizeOrder([{ field: F.NAME }]);
    expect(cursorScope(normalizeFilter({ categoryId: '07' }), order)).toBe(cursorScope(normalizeFilter({ categoryId: '7' }), order));
    expect(cursorScope(normalizeFilter({ categoryId: '7' }), order)).not.toBe(cursorScope(normalizeFilter({ categoryId: '8' }), order));
  });

  it('bind cursors to what the client asked, never to the SQL that runs it', () => {
    const filter = normalizeFilter({ nameContains: 'tent', reviewCount: { gte: 2 } });
    const scope = cursorScope(filter, normalizeOrder(null));
    expect(scope).not.toMatch(/select|ilike|x\.|\$\d/i);
    expect(scope).toContain('"nameContains":"tent"');
  });

  it('refuse bad input, naming the field', () => {
    const refused = (f: Parameters<typeof normalizeFilter>[0]) => {
      try {
        normalizeFilter(f);
        return null;
      } catch (err) {
        return (err as PublicError).extensions;
      }
    };
    expect(refused({ categoryId: 'x' })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.categoryId' });
    expect(refused({ reviewRating: { gte: Infinity } })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.reviewRating.gte' });
    expect(refused({ nameContains: 'a\u0000' })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.nameContains' });
    expect(refused({ nameContains: 'a'.repeat(201) })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.nameContains' });
  });

  it('reach SQL text only as parameters, numbers written in as checked literals', () => {
    const hostile = "'; drop table gear_item; --";
    const { text, values } = sql.compile(sql.join(filterSql(normalizeFilter({ nameContains: hostile })), ' and '));
    expect(text).not.toContain('drop table');
    expect(values).toEqual([containsPattern(hostile)]);
    const numbers = sql.compile(sql.join(filterSql(normalizeFilter({ categoryId: '07', reviewCount: { gte: -3 }, reviewRating: { lt: 4.25 } })), ' and '));
    expect(numbers.values).toEqual([]);
    expect(numbers.text).toContain('x.category_id = 7::int');
    expect(numbers.text).toContain('x.review_count >= -3::int');
    expect(numbers.text).toContain("x.review_rating < '4.25'::float::float8");
  });

  it('are prepared (all in the text) unless a name term sends text as a parameter', () => {
    for (const f of [{}, { reviewCount: { gte: 50 }, reviewRating: { gte: 4 } }, { inCategory: '3', or: [{ categoryId: '4' }, { not: { reviewCount: { eq: 0 } } }] }]) {
      expect(filterIsLiteral(normalizeFilter(f)), JSON.stringify(f)).toBe(true);
    }
    for (const f of [{ nameContains: 'tent' }, { and: [{ reviewCount: { gte: 1 } }, { or: [{ categoryId: '1' }, { not: { nameContains: 'x' } }] }] }]) {
      expect(filterIsLiteral(normalizeFilter(f)), JSON.stringify(f)).toBe(false);
    }
    // Each set of values is a statement of its own, planned for its values.
    const text = (rating: number) => sql.compile(pageSql(normalizeFilter({ reviewRating: { gte: rating } }), normalizeOrder(null), { after: null, before: null, backward: false }, 11)).text;
    expect(text(4)).not.toBe(text(1));
  });
});

describe('keyset pages', () => {
  const compile = (after: (string | number | null)[] | null, orderBy = [{ field: F.REVIEW_RATING, direction: D.DESC }]) =>
    sql.compile(pageSql({}, normalizeOrder(orderBy), { after, before: null, backward: false }, 21));

  it('start after the cursor: a range on the first key, then the lexicographic rest', () => {
    const { text, values } = compile([4.5, 12]);
    expect(values).toEqual([4.5, 12]);
    // The first key bounds an index range; nulls sort last through the same coalesce as the index.
    expect(text).toContain("coalesce(x.review_rating, '-Infinity'::float8) <= coalesce($1::float8, '-Infinity'::float8)");
    expect(text).toContain('x.id > $2::int');
    // Each part of the union is sorted and limited on its own, then the merge again.
    expect(text.match(/limit 21/g)).toHaveLength(3);
  });

  it('send the same text for every cursor of one order (so a prepared page is planned once)', () => {
    expect(compile([4.5, 12]).text).toBe(compile([1, 999]).text);
    expect(compile(null).values).toEqual([]);
  });
});

describe('items created since the last refresh (read with count 0, rating null)', () => {
  const pending = (filter: GearItemFilter | null) => partsFor(normalizeFilter(filter)).pending;
  const byRating = normalizeOrder([{ field: F.REVIEW_RATING, direction: D.DESC }]);
  const page = (filter: GearItemFilter | null) => sql.compile(pageSql(normalizeFilter(filter), byRating, { after: null, before: null, backward: false }, 51));

  it('are read only when the filter can match one of them', () => {
    for (const f of [
      { reviewCount: { gte: 50 }, reviewRating: { gte: 4 } },
      { reviewCount: { gt: 0 } },
      { reviewCount: { ne: 0 } },
      { reviewCount: { eq: 3 } },
      { reviewRating: { gte: 4 } },
      { reviewRating: { lt: 5 } },
      { reviewRating: { isNull: false } },
      { reviewRating: { isNull: true, gte: 1 } },
      { categoryId: '3', reviewCount: { gte: 1 } },
      { and: [{ nameContains: 'tent' }, { reviewRating: { eq: 4 } }] },
      { or: [{ reviewRating: { gte: 4 } }, { reviewCount: { gte: 2 } }] },
      { not: { reviewRating: { isNull: true } } },
      { not: { reviewCount: { lte: 0 } } },
      { not: {} },
      { or: [] },
    ] as GearItemFilter[]) {
      expect(pending(f), JSON.stringify(f)).toBe(false);
    }
    for (const f of [
      null,
      { reviewCount: { eq: 0 } },
      { reviewCount: { lte: 0, gte: 0 } },
      { reviewCount: { lt: 1 } },
      { reviewRating: { isNull: true } },
      { not: { reviewRating: { gte: 4 } } },
      { not: { reviewCount: { gt: 0 } } },
      { categoryId: '3' },
      { inCategory: '3', nameContains: 'tent' },
      { or: [{ reviewRating: { gte: 4 } }, { categoryId: '3' }] },
      { or: [{ reviewRating: { gte: 4.5 } }, { reviewCount: { eq: 0 } }] },
      { not: { and: [{ categoryId: '3' }, { reviewCount: { eq: 0 } }] } },
    ] as (GearItemFilter | null)[]) {
      expect(pending(f), JSON.stringify(f)).toBe(true);
    }
  });

  it('are left out of the statement, not just filtered in it, when none can match', () => {
    const filtered = page({ reviewCount: { gte: 50 }, reviewRating: { gte: 4 } });
    expect(filtered.text).not.toContain('gear_item_stats_pending');
    expect(filtered.text).not.toContain('union all');
    expect(filtered.text.match(/limit 51/g)).toHaveLength(1);
    expect(filtered.values).toEqual([]);
    expect(sql.compile(countSql(normalizeFilter({ reviewRating: { gte: 4 } }))).text).not.toContain('gear_item_stats_pending');
    for (const f of [null, { reviewCount: { eq: 0 } }]) {
      expect(page(f).text).toContain('gear_item_stats_pending');
      expect(sql.compile(countSql(normalizeFilter(f))).text).toContain('gear_item_stats_pending');
    }
  });

  it('agree with the contract on every such item, whatever its category and name', () => {
    // The contract's model (support/items-data.ts) on items with the pending part's figures.
    const model: ItemsModel = {
      items: [],
      cat: {},
      subtree: new Map([
        [1, new Set([1, 2])],
        [2, new Set([2])],
      ]),
      pending: [],
    };
    const rows: ModelItem[] = [null, 1, 2, 3].flatMap((categoryId) =>
      ['Tent', 'tarp', ''].map((name) => ({ id: 0, name, categoryId, createdAt: 0, ...NO_ITEM_STATS, nameRank: 0 })),
    );
    // Random filters (fixed seed) over the terms a client can send.
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 48271) % 2147483647), Math.floor((seed / 2147483647) * n));
    const pick = <T>(xs: readonly T[]) => xs[rand(xs.length)];
    const comparison = (values: readonly number[], nullable: boolean) => {
      const c: Record<string, number | boolean> = {};
      for (const op of ['eq', 'ne', 'gt', 'gte', 'lt', 'lte']) if (rand(4) === 0) c[op] = pick(values);
      if (nullable && rand(4) === 0) c.isNull = rand(2) === 0;
      return c;
    };
    const filter = (depth: number): GearItemFilter => {
      const f: GearItemFilter = {};
      if (rand(5) === 0) f.categoryId = String(pick([1, 2, 3]));
      if (rand(6) === 0) f.inCategory = String(pick([1, 2]));
      if (rand(6) === 0) f.nameContains = pick(['t', 'ar', 'x']);
      if (rand(2) === 0) f.reviewCount = comparison([-1, 0, 1, 2], false);
      if (rand(2) === 0) f.reviewRating = comparison([0, 1, 4.5], true);
      if (depth < 3 && rand(4) === 0) f.and = Array.from({ length: rand(3) }, () => filter(depth + 1));
      if (depth < 3 && rand(4) === 0) f.or = Array.from({ length: rand(3) }, () => filter(depth + 1));
      if (depth < 3 && rand(4) === 0) f.not = filter(depth + 1);
      return f;
    };
    const seen = { always: 0, never: 0, maybe: 0 };
    for (let i = 0; i < 3000; i++) {
      const f = filter(0);
      if (JSON.stringify(f).split(':').length > 40) continue; // beyond MAX_FILTER_TERMS, refused
      const holds = filterHolds(normalizeFilter(f), NO_ITEM_STATS);
      seen[holds]++;
      const matched = rows.filter((row) => matches(model, row, f)).length;
      if (holds === 'never') expect(matched, JSON.stringify(f)).toBe(0);
      if (holds === 'always') expect(matched, JSON.stringify(f)).toBe(rows.length);
      expect(partsFor(normalizeFilter(f)).pending, JSON.stringify(f)).toBe(holds !== 'never');
    }
    // Each verdict came up often enough to mean something.
    for (const n of Object.values(seen)) expect(n).toBeGreaterThan(300);
  });
});
