import { describe, expect, it } from 'vitest';
import { sql } from '../../src/database/sql';
import { PublicError } from '../../src/errors';
import { cursorScope, filterSql, normalizeFilter, normalizeOrder, pageSql } from '../../src/modules/catalog/gear-item.query';
import { GearItemOrderField as F } from '../../src/modules/catalog/gear-item.inputs';
import { containsPattern, OrderDirection as D } from '../../src/modules/common/filters';

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

  it('reach SQL only as parameters', () => {
    const hostile = "'; drop table gear_item; --";
    const { text, values } = sql.compile(sql.join(filterSql(normalizeFilter({ nameContains: hostile })), ' and '));
    expect(text).not.toContain('drop table');
    expect(values).toEqual([containsPattern(hostile)]);
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
